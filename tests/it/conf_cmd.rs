//! `strata conf` against confs written by hand from nixpkgs' conf step (default.nix:
//! `jq '. + {store_dir, from_image, store_layers, customisation_layer, repo_tag, created,
//! mtime, uid, gid, uname, gname}'` over `baseJson`, `date -Iseconds`, `lib.toLower name`,
//! the hash part of `$out`, the layer budget from the base image manifest). The expected
//! layers were worked out by hand from the algorithms' definitions (see each test).
use std::path::{Path, PathBuf};
use std::process::Command;

const HASH: &str = "0123456789abcdfghijklmnpqrsvwxyz";

struct Fixture {
    dir: tempfile::TempDir,
    store: String,
    base: String,
    cust: String,
    glibc: String,
    hello: String,
    graph: String,
}

/// A closure: base.json (10 bytes, no refs), the customisation layer (100, refers to
/// hello), hello (500, refers to itself and glibc), glibc (1000, refers to itself).
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nix/store");
    std::fs::create_dir_all(&store).unwrap();
    let store = store.to_string_lossy().into_owned();
    let base = format!("{store}/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-hello-base.json");
    let cust = format!("{store}/cccccccccccccccccccccccccccccccc-hello-customisation-layer");
    let hello = format!("{store}/hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh-hello-2.12.1");
    let glibc = format!("{store}/gggggggggggggggggggggggggggggggg-glibc-2.40-66");
    std::fs::write(
        &base,
        r#"{"architecture":"amd64","config":{"Cmd":["/bin/hello"],"Env":["PATH=/bin"],"Labels":{"desc":"héllo \u007f \"q\""},"StopTimeout":1.0},"os":"linux"}"#,
    )
    .unwrap();
    let node = |p: &str, size: u64, refs: &[&str]| serde_json::json!({"closureSize": 0, "narHash": "sha256:x", "narSize": size, "path": p, "references": refs});
    let graph = serde_json::json!({
        "graph": [
            node(&base, 10, &[]),
            node(&cust, 100, &[&hello]),
            node(&glibc, 1000, &[&glibc]),
            node(&hello, 500, &[&glibc, &hello]),
        ],
        "exclude_paths": [],
    });
    let graph_file = dir.path().join("attrs.json");
    std::fs::write(&graph_file, graph.to_string()).unwrap();
    Fixture {
        graph: graph_file.to_string_lossy().into_owned(),
        dir,
        store,
        base,
        cust,
        glibc,
        hello,
    }
}

fn run(args: &[&str], env_out: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("conf").args(args).env_remove("out");
    if let Some(o) = env_out {
        cmd.env("out", o);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str], env_out: Option<&str>) -> String {
    let (code, out, err) = run(args, env_out);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn fails(args: &[&str], needles: &[&str]) {
    let (code, out, err) = run(args, None);
    assert_ne!(code, 0, "{args:?} should fail: {out}");
    assert_ne!(code, 101, "panic: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in {err}");
    }
}

/// The conf text as jq prints it, layers given as lists of paths.
fn expected(f: &Fixture, layers: &[&[&str]], tail: &str, from_image: &str) -> String {
    let mut s = String::from(
        "{\n  \"architecture\": \"amd64\",\n  \"config\": {\n    \"Cmd\": [\n      \"/bin/hello\"\n    ],\n    \"Env\": [\n      \"PATH=/bin\"\n    ],\n    \"Labels\": {\n      \"desc\": \"héllo \\u007f \\\"q\\\"\"\n    },\n    \"StopTimeout\": 1\n  },\n  \"os\": \"linux\",\n",
    );
    s += &format!("  \"store_dir\": \"{}\",\n", f.store);
    s += &format!("  \"from_image\": {from_image},\n");
    if layers.is_empty() {
        s += "  \"store_layers\": [],\n";
    } else {
        s += "  \"store_layers\": [\n";
        let ls: Vec<String> = layers
            .iter()
            .map(|l| {
                let ps: Vec<String> = l.iter().map(|p| format!("      \"{p}\"")).collect();
                format!("    [\n{}\n    ]", ps.join(",\n"))
            })
            .collect();
        s += &ls.join(",\n");
        s += "\n  ],\n";
    }
    s += &format!("  \"customisation_layer\": \"{}\",\n", f.cust);
    s += tail;
    s
}

const DEFAULT_TAIL: &str = "  \"created\": \"1970-01-01T00:00:01+00:00\",\n  \"mtime\": \"1970-01-01T00:00:01+00:00\",\n  \"uid\": \"0\",\n  \"gid\": \"0\",\n  \"uname\": \"root\",\n  \"gname\": \"root\"\n}\n";

fn common(f: &Fixture) -> Vec<&str> {
    vec![
        "--base-json",
        &f.base,
        "--graph",
        &f.graph,
        "--customisation-layer",
        &f.cust,
        "--store-dir",
        &f.store,
    ]
}

#[test]
fn auto_default_tag_from_out_env() {
    // auto-layer, 99 layers: glibc, hello, cust, base become primary in that order, each
    // its own layer; closure sizes base 10 < glibc 1000 < hello 1500 < cust 1600; the two
    // roots are excluded, leaving [glibc], [hello]. Tag: hash part of $out; name lower-cased.
    let f = fixture();
    let mut args = common(&f);
    args.extend(["--name", "Hello"]);
    let out_path = format!("/nix/store/{HASH}-hello-conf.json");
    let got = ok(&args, Some(&out_path));
    let tail = format!("  \"repo_tag\": \"hello:{HASH}\",\n{DEFAULT_TAIL}");
    assert_eq!(
        got,
        expected(&f, &[&[&f.glibc], &[&f.hello]], &tail, "null")
    );
    // --out wins over nothing, gives the same.
    let mut args2 = args.clone();
    args2.extend(["--out", &out_path]);
    assert_eq!(ok(&args2, None), got);
}

#[test]
fn popularity_with_a_two_layer_budget() {
    // maxLayers 2 − customisation layer = 1 store layer. Popularity: glibc 3 (walks from
    // cust, hello, itself), hello 2, base 1, cust 1 → [glibc, hello] after exclusion, all
    // in the one layer.
    let f = fixture();
    let mut args = common(&f);
    args.extend([
        "--name",
        "hello",
        "--tag",
        "t",
        "--algorithm",
        "popularity",
        "--max-layers",
        "2",
    ]);
    let tail = format!("  \"repo_tag\": \"hello:t\",\n{DEFAULT_TAIL}");
    assert_eq!(
        ok(&args, None),
        expected(&f, &[&[&f.glibc, &f.hello]], &tail, "null")
    );
}

fn base_archive(dir: &Path, layers: usize, compression: &str) -> PathBuf {
    // A complete (if tiny) docker-archive: layers, config with diff_ids, manifest.
    let mut tar = ::tar::Builder::new(Vec::new());
    let mut add = |name: &str, body: &[u8]| {
        let mut h = ::tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, body).unwrap();
    };
    let mut names = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..layers {
        let layer = vec![i as u8; 10240];
        use sha2::Digest as _;
        let hex = hex::encode(sha2::Sha256::digest(&layer));
        names.push(format!("{hex}/layer.tar"));
        diff_ids.push(format!("sha256:{hex}"));
        add(&format!("{hex}/layer.tar"), &layer);
    }
    let config =
        serde_json::json!({"config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    add("c.json", config.to_string().as_bytes());
    let manifest =
        serde_json::json!([{"Config": "c.json", "RepoTags": ["base:1"], "Layers": names}]);
    add("manifest.json", manifest.to_string().as_bytes());
    let bytes = tar.into_inner().unwrap();
    let (name, data) = match compression {
        "gz" => {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&bytes).unwrap();
            ("base.tar.gz", e.finish().unwrap())
        }
        "zst" => ("base.tar.zst", zstd::encode_all(&bytes[..], 3).unwrap()),
        _ => ("base.tar", bytes),
    };
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn from_image_layers_come_off_the_budget() {
    // 2 base layers, maxLayers 4: 4 − 2 − 1 = 1 layer for store paths. auto with limit 1:
    // making glibc primary would give 2 keys > 1, so everything stays in one layer, sorted
    // by (name, hash): glibc, hello (the roots excluded).
    let f = fixture();
    for comp in ["plain", "gz", "zst"] {
        let archive = base_archive(f.dir.path(), 2, comp);
        let a = archive.to_string_lossy().into_owned();
        let mut args = common(&f);
        args.extend([
            "--name",
            "app",
            "--tag",
            "golden",
            "--from-image",
            &a,
            "--max-layers",
            "4",
        ]);
        let tail = format!("  \"repo_tag\": \"app:golden\",\n{DEFAULT_TAIL}");
        let from = format!("\"{a}\"");
        assert_eq!(
            ok(&args, None),
            expected(&f, &[&[&f.glibc, &f.hello]], &tail, &from),
            "{comp}"
        );
        // maxLayers 3 leaves nothing.
        let mut args = common(&f);
        args.extend([
            "--name",
            "app",
            "--tag",
            "g",
            "--from-image",
            &a,
            "--max-layers",
            "3",
        ]);
        fails(&args, &["3 layers", "base image (2)", "--max-layers is 3"]);
    }
}

#[test]
fn pipeline_sets_its_own_count() {
    // After excluding the roots: hello (500) and glibc (1000); popularity on that graph:
    // glibc 2, hello 1; limit_layers 1 merges both, in popularity order.
    let f = fixture();
    let p = f.dir.path().join("pipeline.json");
    std::fs::write(&p, r#"[["popularity_contest"], ["limit_layers", 1]]"#).unwrap();
    let p = p.to_string_lossy().into_owned();
    let mut args = common(&f);
    args.extend([
        "--name",
        "x",
        "--tag",
        "y",
        "--algorithm",
        "pipeline",
        "--pipeline",
        &p,
    ]);
    let tail = format!("  \"repo_tag\": \"x:y\",\n{DEFAULT_TAIL}");
    assert_eq!(
        ok(&args, None),
        expected(&f, &[&[&f.glibc, &f.hello]], &tail, "null")
    );
}

#[test]
fn owner_dates_name_and_no_store_paths() {
    let f = fixture();
    let out = f.dir.path().join("conf.json");
    let o = out.to_string_lossy().into_owned();
    let args = [
        "--base-json",
        &f.base,
        "--customisation-layer",
        &f.cust,
        "--store-dir",
        &f.store,
        "--name",
        "Registry.Example/NS/App",
        "--tag",
        "v1",
        "--no-store-paths",
        "--created",
        "2024-06-01T12:30:00+02:00",
        "--mtime",
        "now",
        "--uid",
        "1000",
        "--gid",
        "100",
        "--uname",
        "user",
        "--gname",
        "users",
        "-o",
        &o,
    ];
    assert_eq!(ok(&args, None), "");
    let tail = "  \"repo_tag\": \"registry.example/ns/app:v1\",\n  \"created\": \"2024-06-01T10:30:00+00:00\",\n  \"mtime\": \"now\",\n  \"uid\": \"1000\",\n  \"gid\": \"100\",\n  \"uname\": \"user\",\n  \"gname\": \"users\"\n}\n";
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        expected(&f, &[], tail, "null")
    );
}

#[test]
fn extra_exclude_is_honoured() {
    let f = fixture();
    let mut args = common(&f);
    args.extend(["--name", "h", "--tag", "t", "--exclude", &f.hello]);
    let tail = format!("  \"repo_tag\": \"h:t\",\n{DEFAULT_TAIL}");
    assert_eq!(ok(&args, None), expected(&f, &[&[&f.glibc]], &tail, "null"));
}

#[test]
fn conf_errors() {
    let f = fixture();
    let c = common(&f);
    fn join<'a>(c: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        c.iter().chain(extra).copied().collect()
    }
    let with = |extra: &[&'static str]| join(&c, extra);
    fails(
        &with(&["--name", "a", "--tag", "t", "--max-layers", "1"]),
        &["--max-layers", "greater than 1", "1"],
    );
    fails(&with(&["--name", "a"]), &["--tag", "$out"]);
    fails(
        &with(&["--name", "a", "--tag", "t", "--created", "yesterday"]),
        &["--created", "yesterday"],
    );
    fails(
        &with(&["--name", "a", "--tag", "t", "--mtime", "2024-02-30"]),
        &["--mtime"],
    );
    fails(
        &with(&[
            "--name",
            "a",
            "--tag",
            "t",
            "--from-image",
            "/nonexistent.tar",
        ]),
        &["/nonexistent.tar"],
    );
    let empty = base_archive(f.dir.path(), 0, "plain");
    let bogus = f.dir.path().join("bogus.tar");
    let mut tar = ::tar::Builder::new(Vec::new());
    let mut h = ::tar::Header::new_ustar();
    h.set_size(2);
    h.set_cksum();
    tar.append_data(&mut h, "other.json", &b"{}"[..]).unwrap();
    std::fs::write(&bogus, tar.into_inner().unwrap()).unwrap();
    let b = bogus.to_string_lossy().into_owned();
    fails(
        &join(&c, &["--name", "a", "--tag", "t", "--from-image", &b]),
        &["base image", "no manifest.json"],
    );
    assert!(empty.exists());
    let notobj = f.dir.path().join("list.json");
    std::fs::write(&notobj, "[1]").unwrap();
    let n = notobj.to_string_lossy().into_owned();
    fails(
        &[
            "--base-json",
            &n,
            "--graph",
            &f.graph,
            "--customisation-layer",
            &f.cust,
            "--name",
            "a",
            "--tag",
            "t",
        ],
        &["list.json", "object"],
    );
    fails(
        &[
            "--base-json",
            &f.base,
            "--customisation-layer",
            &f.cust,
            "--name",
            "a",
            "--tag",
            "t",
        ],
        &["--graph"],
    );
}

#[test]
fn conf_output_streams_into_an_image() {
    // The Nix wrapper runs `strata conf` then `strata stream` on its output: the whole
    // chain must give an image whose layers and config are the conf's.
    let f = fixture();
    std::fs::create_dir_all(format!("{}/bin", f.hello)).unwrap();
    std::fs::write(format!("{}/bin/hello", f.hello), b"#!/bin/sh\necho hello\n").unwrap();
    std::fs::create_dir_all(format!("{}/lib", f.glibc)).unwrap();
    std::fs::write(format!("{}/lib/libc.so.6", f.glibc), vec![7u8; 100_000]).unwrap();
    std::fs::create_dir_all(&f.cust).unwrap();
    let layer = vec![0u8; 10240];
    std::fs::write(format!("{}/layer.tar", f.cust), &layer).unwrap();
    use sha2::Digest as _;
    std::fs::write(
        format!("{}/checksum", f.cust),
        hex::encode(sha2::Sha256::digest(&layer)),
    )
    .unwrap();
    let mut args = common(&f);
    let conf_path = f.dir.path().join("conf.json");
    let conf_str = conf_path.to_string_lossy().into_owned();
    args.extend(["--name", "Hello", "--tag", "t", "-o", &conf_str]);
    ok(&args, None);
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("stream")
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let members = super::common::tar_members(&out.stdout);
    let manifest: serde_json::Value = serde_json::from_slice(
        &members
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["hello:t"]));
    assert_eq!(manifest[0]["Layers"].as_array().unwrap().len(), 3);
    let config_name = manifest[0]["Config"].as_str().unwrap();
    let config = &members.iter().find(|(n, _)| n == config_name).unwrap().1;
    let text = String::from_utf8_lossy(config);
    // nixpkgs' chain: jq (conf step) prints 1.0 as 1, then Python's json.dumps keeps the
    // int; non-ASCII and DEL are escaped by json.dumps.
    assert!(text.contains("\"StopTimeout\": 1\n"), "{text}");
    assert!(
        text.contains(r#""desc": "h\u00e9llo \u007f \"q\"""#),
        "{text}"
    );
    let comments: Vec<String> =
        serde_json::from_slice::<serde_json::Value>(config).unwrap()["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["comment"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(
        comments,
        vec![
            format!("store paths: ['{}']", f.glibc),
            format!("store paths: ['{}']", f.hello),
            format!("store paths: ['{}']", f.cust),
        ]
    );
}
