//! Layering against nixpkgs' own outputs (`tests/golden/layering/`, see its README), plus
//! one test per class of bad input.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use strata::command::layers::{Algorithm, compute};
use strata::layering::{Graph, Layers, popularity};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/layering")
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("graph.json").is_file())
        .collect();
    v.sort();
    assert_eq!(v.len(), 9, "golden cases missing");
    v
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn layers_of(v: &Value) -> Layers {
    serde_json::from_value(v.clone()).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap()
}

fn show(expected: &impl std::fmt::Debug, got: &impl std::fmt::Debug) -> String {
    format!("\n--- expected\n{expected:#?}\n--- got\n{got:#?}\n")
}

#[test]
fn popularity_order_matches_closure_graph_py() {
    for case in cases() {
        let g = Graph::read(&case.join("graph.json")).unwrap();
        let expected = strs(&read_json(&case.join("popularity.json")));
        let got = popularity::order_graph(&g);
        assert!(
            expected == got,
            "{}{}",
            case.display(),
            show(&expected, &got)
        );
    }
}

#[test]
fn popularity_legacy_split_matches_jq() {
    for case in cases() {
        let g = Graph::read(&case.join("graph.json")).unwrap();
        for n in [2, 5, 100] {
            let file = case.join(format!("popularity-layers-{n}.json"));
            let expected = layers_of(&read_json(&file));
            let got = compute(&g, Algorithm::Popularity, Some(n), None, &[]).unwrap();
            assert!(
                expected == got,
                "{}{}",
                file.display(),
                show(&expected, &got)
            );
        }
    }
}

/// Closure size of a set of paths, computed here independently of the crate.
fn closure_size(nodes: &HashMap<String, (u64, Vec<String>)>, paths: &[String]) -> u64 {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut total = 0;
    while let Some(p) = stack.pop() {
        if seen.insert(p) {
            let (size, refs) = &nodes[p];
            total += size;
            stack.extend(refs.iter().map(String::as_str));
        }
    }
    total
}

/// Groups of consecutive positions whose layers have equal closure size.
///
/// The stored `nondeterminism.json` lists the tie groups where two seeds gave different
/// outputs; `collisions` has ties too (auto-10, auto-99) that happened to agree under
/// seeds 0 and 1 but vary with other seeds. Ties are therefore found from the graph, and
/// every group listed in `nondeterminism.json` must be among them.
fn tie_groups(case: &Path, layers: &Layers, exclude: &HashSet<String>) -> Vec<Vec<usize>> {
    let graph = read_json(&case.join("graph.json"));
    let nodes: HashMap<String, (u64, Vec<String>)> = graph["graph"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["path"].as_str().unwrap().to_string(),
                (n["narSize"].as_u64().unwrap(), strs(&n["references"])),
            )
        })
        .collect();
    // Excluded paths were in the layer when its closure was measured; without them a
    // layer's closure can only shrink, so equal sizes of the visible part are what can tie
    // only when no excluded path is involved. The cases with exclusions have no ties.
    assert!(
        layers.iter().flatten().all(|p| !exclude.contains(p)),
        "excluded path in stored output"
    );
    let sizes: Vec<u64> = layers.iter().map(|l| closure_size(&nodes, l)).collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < sizes.len() {
        let mut j = i + 1;
        while j < sizes.len() && sizes[j] == sizes[i] {
            j += 1;
        }
        if j - i > 1 {
            groups.push((i..j).collect());
        }
        i = j;
    }
    groups
}

#[test]
fn auto_layer_matches_up_to_tie_groups() {
    let mut exact = 0;
    for case in cases() {
        let g = Graph::read(&case.join("graph.json")).unwrap();
        let args = read_json(&case.join("auto-args.json"));
        let exclude = strs(&args["exclude_paths"]);
        let nondet = std::fs::read(case.join("nondeterminism.json"))
            .ok()
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap());
        for n in args["layer_limits"].as_array().unwrap() {
            let n = n.as_u64().unwrap() as usize;
            let name = format!("auto-{n}.json");
            let file = case.join(&name);
            let expected = layers_of(&read_json(&file));
            let got = compute(&g, Algorithm::Auto, Some(n), None, &exclude).unwrap();
            let ex: HashSet<String> = exclude.iter().cloned().collect();
            let groups = tie_groups(&case, &expected, &ex);
            let listed: Vec<Vec<usize>> = nondet
                .as_ref()
                .and_then(|v| v.get(&name))
                .map(|v| serde_json::from_value(v["tie_groups"].clone()).unwrap())
                .unwrap_or_default();
            for t in &listed {
                assert!(
                    groups.iter().any(|g| t.iter().all(|i| g.contains(i))),
                    "{}: listed tie group {t:?} is not a run of equal closure sizes",
                    file.display()
                );
            }
            // Ties not in nondeterminism.json are only allowed where they are known to
            // be seed-dependent in nixpkgs (checked: collisions auto-99 gave 5 distinct
            // outputs over PYTHONHASHSEED 0-7 with auto-layer.py's algorithm; seeds 0 and
            // 1, the two the golden run compared, agree).
            let case_name = case.file_name().unwrap().to_string_lossy().into_owned();
            let known_unlisted = case_name == "collisions" && (n == 10 || n == 99);
            for grp in &groups {
                let covered = listed.iter().any(|t| grp.iter().all(|i| t.contains(i)));
                assert!(
                    covered || known_unlisted,
                    "{}: layers {grp:?} tie on closure size but no listed group covers them",
                    file.display()
                );
            }
            assert_eq!(
                expected.len(),
                got.len(),
                "{}{}",
                file.display(),
                show(&expected, &got)
            );
            let mut in_group = vec![false; expected.len()];
            for grp in &groups {
                let mut a: Vec<&Vec<String>> = grp.iter().map(|&i| &expected[i]).collect();
                let mut b: Vec<&Vec<String>> = grp.iter().map(|&i| &got[i]).collect();
                a.sort();
                b.sort();
                assert!(
                    a == b,
                    "{} tie group {grp:?}{}",
                    file.display(),
                    show(&a, &b)
                );
                grp.iter().for_each(|&i| in_group[i] = true);
            }
            for i in (0..expected.len()).filter(|&i| !in_group[i]) {
                assert!(
                    expected[i] == got[i],
                    "{} layer {i}{}",
                    file.display(),
                    show(&expected[i], &got[i])
                );
            }
            if groups.is_empty() {
                assert_eq!(expected, got);
                exact += 1;
            }
        }
    }
    assert!(exact >= 20, "only {exact} auto outputs without ties");
}

#[test]
fn auto_layer_is_deterministic() {
    let case = golden().join("ties");
    let g = Graph::read(&case.join("graph.json")).unwrap();
    let first = compute(&g, Algorithm::Auto, Some(99), None, &[]).unwrap();
    for _ in 0..5 {
        let again = Graph::read(&case.join("graph.json")).unwrap();
        assert_eq!(
            first,
            compute(&again, Algorithm::Auto, Some(99), None, &[]).unwrap()
        );
    }
}

#[test]
fn pipelines_match_flatten_references_graph() {
    let mut count = 0;
    for case in cases() {
        let g = Graph::read(&case.join("graph.json")).unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".args.json"))
            .collect();
        files.sort();
        for args in files {
            let out = PathBuf::from(args.to_string_lossy().replace(".args.json", ".json"));
            let expected = layers_of(&read_json(&out));
            // The args file is the tool's own input shape: pipeline + exclude_paths.
            let got = compute(&g, Algorithm::Pipeline, None, Some(&args), &[]).unwrap();
            assert!(
                expected == got,
                "{}{}",
                out.display(),
                show(&expected, &got)
            );
            count += 1;
        }
    }
    assert_eq!(count, 70);
}

#[test]
fn lattice_popularity_exceeds_64_bits() {
    // The order depends on exact counts above 2^64 (see the golden README).
    let case = golden().join("lattice");
    let g = Graph::read(&case.join("graph.json")).unwrap();
    let expected = strs(&read_json(&case.join("popularity.json")));
    assert_eq!(expected, popularity::order_graph(&g));
}

fn text_graph(json: &Value) -> String {
    let mut s = String::new();
    for n in json["graph"].as_array().unwrap() {
        let refs = strs(&n["references"]);
        s += &format!("{}\n\n{}\n", n["path"].as_str().unwrap(), refs.len());
        for r in refs {
            s += &format!("{r}\n");
        }
    }
    s
}

#[test]
fn text_graph_format_gives_the_same_popularity() {
    for case in cases() {
        let text = text_graph(&read_json(&case.join("graph.json")));
        let g = Graph::parse(text.as_bytes(), Path::new("graph.txt")).unwrap();
        let expected = strs(&read_json(&case.join("popularity.json")));
        assert_eq!(expected, popularity::order_graph(&g), "{}", case.display());
    }
}

#[test]
fn bare_list_and_other_key_are_read() {
    let case = golden().join("small-image");
    let json = read_json(&case.join("graph.json"));
    let expected = strs(&read_json(&case.join("popularity.json")));
    let bare = serde_json::to_vec(&json["graph"]).unwrap();
    let g = Graph::parse(&bare, Path::new("bare")).unwrap();
    assert_eq!(expected, popularity::order_graph(&g));
    let other = serde_json::json!({"exclude_paths": ["/x"], "closure": json["graph"]});
    let g = Graph::parse(other.to_string().as_bytes(), Path::new("other")).unwrap();
    assert_eq!(expected, popularity::order_graph(&g));
}

#[test]
fn identical_duplicates_and_self_references_are_tolerated() {
    let j = r#"[{"path":"/s/a-x","narSize":8,"references":["/s/a-x","/s/b-y","/s/b-y"]},
               {"path":"/s/b-y","narSize":8,"references":["/s/b-y"]},
               {"path":"/s/a-x","narSize":8,"references":["/s/b-y","/s/a-x"]}]"#;
    let g = Graph::parse(j.as_bytes(), Path::new("g")).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(popularity::order_graph(&g), vec!["/s/b-y", "/s/a-x"]);
}

// ---- the binary: CLI surface and one test per error class ----

fn strata(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Runs, expects failure with a one-line message containing every `needle`, no panic.
fn fails(args: &[&str], needles: &[&str]) {
    let (code, stdout, stderr) = strata(args);
    assert_ne!(code, 0, "{args:?} should fail; stdout: {stdout}");
    assert_ne!(code, 101, "{args:?} panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: expected {n:?} in: {stderr}");
    }
}

/// `strata layers --algorithm pipeline` on graph `g` with pipeline file `p` must fail
/// naming every needle.
fn fails_pipeline(g: &str, p: &str, needles: &[&str]) {
    fails(
        &[
            "layers",
            "--graph",
            g,
            "--algorithm",
            "pipeline",
            "--pipeline",
            p,
        ],
        needles,
    );
}

#[test]
fn cli_prints_layers_json() {
    let case = golden().join("doc-example");
    let graph = case.join("graph.json");
    let graph = graph.to_str().unwrap();
    let (code, out, err) = strata(&[
        "layers",
        "--graph",
        graph,
        "--algorithm",
        "auto",
        "--layers",
        "10",
    ]);
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got, read_json(&case.join("auto-10.json")));
    let (code, out, _) = strata(&[
        "layers",
        "--graph",
        graph,
        "--algorithm",
        "popularity",
        "--layers",
        "5",
    ]);
    assert_eq!(code, 0);
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got, read_json(&case.join("popularity-layers-5.json")));
    let (code, out, _) = strata(&["layers", "--graph", graph, "--algorithm", "popularity"]);
    assert_eq!(code, 0);
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got, read_json(&case.join("popularity.json")));
    let args = case.join("pipeline-nested.args.json");
    let (code, out, err) = strata(&[
        "layers",
        "--graph",
        graph,
        "--algorithm",
        "pipeline",
        "--pipeline",
        args.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got, read_json(&case.join("pipeline-nested.json")));
}

#[test]
fn cli_exclude_applies_to_each_algorithm() {
    let case = golden().join("small-image");
    let args = read_json(&case.join("auto-args.json"));
    let graph = case.join("graph.json");
    let mut argv: Vec<String> = [
        "layers",
        "--graph",
        graph.to_str().unwrap(),
        "--algorithm",
        "auto",
        "--layers",
        "10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for p in strs(&args["exclude_paths"]) {
        argv.push("--exclude".into());
        argv.push(p);
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (code, out, err) = strata(&argv);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        read_json(&case.join("auto-10.json"))
    );
}

#[test]
fn error_graph_file_missing() {
    fails(
        &[
            "layers",
            "--graph",
            "/nonexistent/g.json",
            "--algorithm",
            "popularity",
        ],
        &["/nonexistent/g.json"],
    );
}

#[test]
fn error_graph_not_json() {
    let d = tempfile::tempdir().unwrap();
    let g = write(d.path(), "g.json", "{\"graph\": [");
    fails(
        &["layers", "--graph", &g, "--algorithm", "popularity"],
        &["g.json", "not valid JSON"],
    );
}

#[test]
fn error_graph_node_shape() {
    let d = tempfile::tempdir().unwrap();
    let g = write(
        d.path(),
        "g.json",
        r#"{"graph":[{"path":"/s/a-x","references":"oops"}]}"#,
    );
    fails(
        &["layers", "--graph", &g, "--algorithm", "popularity"],
        &["graph[0]", "references"],
    );
    let g = write(
        d.path(),
        "h.json",
        r#"{"graph":[{"path":"/s/a-x","references":[],"narSize":-1}]}"#,
    );
    fails(
        &[
            "layers",
            "--graph",
            &g,
            "--algorithm",
            "auto",
            "--layers",
            "3",
        ],
        &["graph[0]", "narSize"],
    );
}

#[test]
fn error_dangling_reference() {
    let d = tempfile::tempdir().unwrap();
    let g = write(
        d.path(),
        "g.json",
        r#"[{"path":"/s/a-x","narSize":1,"references":["/s/zz-gone"]}]"#,
    );
    fails(
        &[
            "layers",
            "--graph",
            &g,
            "--algorithm",
            "auto",
            "--layers",
            "3",
        ],
        &["/s/a-x", "/s/zz-gone", "not in the graph"],
    );
}

#[test]
fn error_conflicting_duplicate() {
    let d = tempfile::tempdir().unwrap();
    let g = write(
        d.path(),
        "g.json",
        r#"[{"path":"/s/a-x","narSize":1,"references":[]},{"path":"/s/a-x","narSize":2,"references":[]}]"#,
    );
    fails(
        &["layers", "--graph", &g, "--algorithm", "popularity"],
        &["/s/a-x", "twice", "narSize"],
    );
}

#[test]
fn error_cycle() {
    let d = tempfile::tempdir().unwrap();
    let g = write(
        d.path(),
        "g.json",
        r#"[{"path":"/s/a-x","narSize":1,"references":["/s/b-y"]},{"path":"/s/b-y","narSize":1,"references":["/s/a-x"]}]"#,
    );
    fails(
        &["layers", "--graph", &g, "--algorithm", "popularity"],
        &["cycle"],
    );
}

#[test]
fn error_text_graph_has_no_nar_size() {
    let d = tempfile::tempdir().unwrap();
    // A deriver line may be filled or empty; blank lines at the end are fine.
    let g = write(
        d.path(),
        "g.txt",
        "/s/a-x\n/s/q-a.drv\n1\n/s/b-y\n/s/b-y\n\n0\n\n\n",
    );
    // Popularity works on it…
    let (code, out, _) = strata(&["layers", "--graph", &g, "--algorithm", "popularity"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        serde_json::json!(["/s/b-y", "/s/a-x"])
    );
    // …auto and pipeline refuse it.
    fails(
        &[
            "layers",
            "--graph",
            &g,
            "--algorithm",
            "auto",
            "--layers",
            "3",
        ],
        &["auto", "narSize"],
    );
    let p = write(d.path(), "p.json", r#"[["popularity_contest"]]"#);
    fails(
        &[
            "layers",
            "--graph",
            &g,
            "--algorithm",
            "pipeline",
            "--pipeline",
            &p,
        ],
        &["pipeline", "narSize"],
    );
}

#[test]
fn error_malformed_text_graph() {
    let d = tempfile::tempdir().unwrap();
    let g = write(d.path(), "g.txt", "/s/a-x\n\nmany\n");
    fails(
        &["layers", "--graph", &g, "--algorithm", "popularity"],
        &["line 3", "reference count"],
    );
    let g = write(d.path(), "h.txt", "/s/a-x\n\n2\n/s/b-y\n");
    fails(
        &["layers", "--graph", &g, "--algorithm", "popularity"],
        &["announces 2"],
    );
}

#[test]
fn error_pipeline_unknown_step() {
    let d = tempfile::tempdir().unwrap();
    let g = golden().join("doc-example/graph.json");
    let p = write(
        d.path(),
        "p.json",
        r#"[["popularity_contest"], ["over", "rest", ["frobnicate"]]]"#,
    );
    fails(
        &[
            "layers",
            "--graph",
            g.to_str().unwrap(),
            "--algorithm",
            "pipeline",
            "--pipeline",
            &p,
        ],
        &["step 2 (over)", "frobnicate", "unknown step"],
    );
}

#[test]
fn error_pipeline_bad_arguments() {
    let d = tempfile::tempdir().unwrap();
    let g = golden().join("doc-example/graph.json");
    let g = g.to_str().unwrap();
    for (text, needles) in [
        (
            r#"[["limit_layers", 0]]"#,
            &["step 1 (limit_layers)", "positive integer"][..],
        ),
        (
            r#"[["limit_layers"]]"#,
            &["step 1 (limit_layers)", "1 argument"][..],
        ),
        (
            r#"[["split_every", "3"]]"#,
            &["step 1 (split_every)", "positive integer"][..],
        ),
        (
            r#"[["subcomponent_in", "/s/a"]]"#,
            &["step 1 (subcomponent_in)", "list of store paths"][..],
        ),
        (
            r#"[["split_paths", [{"parents_of": "/s/a"}]]]"#,
            &["step 1 (split_paths)", "children_of"][..],
        ),
        (
            r#"[["pipe", [["reverse", 1]]]]"#,
            &["step 1 (pipe) > step 1 (reverse)", "0 argument"][..],
        ),
        (r#"[[]]"#, &["step 1", "empty step"][..]),
        (r#"{"pipeline": "x"}"#, &["expected a list of steps"][..]),
    ] {
        let p = write(d.path(), "p.json", text);
        fails_pipeline(g, &p, needles);
    }
}

#[test]
fn error_pipeline_step_on_wrong_value() {
    let d = tempfile::tempdir().unwrap();
    let g = golden().join("doc-example/graph.json");
    let g = g.to_str().unwrap();
    for (text, needles) in [
        (
            r#"[["limit_layers", 3]]"#,
            &["step 1 (limit_layers)", "expects a list, got a graph"][..],
        ),
        (
            r#"[["subcomponent_out", []], ["over", "common", ["popularity_contest"]]]"#,
            &["step 2 (over)", "`common`", "main, rest"][..],
        ),
        (
            r#"[["popularity_contest"], ["popularity_contest"]]"#,
            &["step 2", "expects a graph, got a list"][..],
        ),
    ] {
        let p = write(d.path(), "p.json", text);
        fails_pipeline(g, &p, needles);
    }
}

#[test]
fn error_usage_combinations() {
    let g = golden().join("doc-example/graph.json");
    let g = g.to_str().unwrap();
    fails(
        &["layers", "--graph", g, "--algorithm", "auto"],
        &["--layers"],
    );
    fails(
        &[
            "layers",
            "--graph",
            g,
            "--algorithm",
            "auto",
            "--layers",
            "0",
        ],
        &["at least 1"],
    );
    fails(
        &[
            "layers",
            "--graph",
            g,
            "--algorithm",
            "popularity",
            "--layers",
            "0",
        ],
        &["at least 1"],
    );
    fails(
        &["layers", "--graph", g, "--algorithm", "pipeline"],
        &["--pipeline"],
    );
    let p = golden().join("doc-example/pipeline-reverse.args.json");
    fails(
        &[
            "layers",
            "--graph",
            g,
            "--algorithm",
            "pipeline",
            "--pipeline",
            p.to_str().unwrap(),
            "--layers",
            "3",
        ],
        &["--layers", "limit_layers"],
    );
}

#[test]
fn limit_layers_merges_lists_of_graphs_like_igraph() {
    // Regression (review against the reference): python-igraph's `graph + [graphs]` joins
    // them, so limit_layers merges list items. Expected: nixpkgs' flatten_references_graph
    // (python-igraph 0.11.6) on this input, recorded 2026-12-04.
    let d = tempfile::tempdir().unwrap();
    let g = golden().join("doc-example/graph.json");
    let p = write(
        d.path(),
        "p.json",
        r#"[["popularity_contest"],["map",["split_every",1]],["limit_layers",2],["flatten"]]"#,
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "layers",
            "--graph",
            g.to_str().unwrap(),
            "--algorithm",
            "pipeline",
            "--pipeline",
            &p,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = serde_json::json!([
        ["/nix/store/9r43jzikypk9i2p8a2ix5svi5fg2b00r-pkg-f-1.0"],
        [
            "/nix/store/wb3s3rwqlxf6z05d6gk66ls7pdq7fcg0-pkg-e-1.0",
            "/nix/store/w71a2vg65v3rk9j5w11sp8a568w3ks0n-pkg-d-1.0",
            "/nix/store/l6qj5n2ilb747a7gd6pbhwyh1s0mxy09-pkg-c-1.0",
            "/nix/store/8r913nzhcc1njm8hpa5w218xix35wjmm-pkg-b-1.0",
            "/nix/store/w9bkpkw47v9gnm7fl3dpbh914fqb6zq6-pkg-g-1.0",
            "/nix/store/8av7apiz62bd6f84yr838bkqpcr0ggm1-pkg-a-1.0"
        ]
    ]);
    assert_eq!(got, want);
}
