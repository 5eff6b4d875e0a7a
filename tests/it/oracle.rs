//! Differential tests against CPython's `tarfile` (the library nixpkgs' streamer uses), on
//! inputs the golden cases do not reach: undecodable and non-ASCII names, sort-order
//! traps, long names and link targets, FIFOs, devices, hard links, set-uid bits, owner ids
//! beyond ustar's range, long and non-ASCII owner names, pre-1970 mtimes.
//! The oracle is `tests/oracle/store_layer.py`; CI has CPython 3.11.
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::common::*;

fn python() -> Command {
    Command::new("python3")
}

/// Builds a store with awkward contents; returns (store dir, store paths).
fn awkward_store(root: &Path) -> (PathBuf, Vec<PathBuf>) {
    let store = root.join("nix/store");
    let a = store.join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-awkward-1.0");
    let mk = |p: &Path| std::fs::create_dir_all(p).expect("mkdir");
    let put = |p: &Path, data: &[u8]| std::fs::write(p, data).expect("write");
    mk(&a.join("order"));
    for name in ["a", "a-b", "a.b", "B", "_x", "z", "ü", "a b"] {
        mk(&a.join("order").join(name));
        put(&a.join("order").join(name).join("f"), name.as_bytes());
    }
    put(&a.join("order/a/b"), b"b");
    // Undecodable names, and one that sorts around the surrogates Python makes of them.
    put(&a.join(OsStr::from_bytes(b"bad-\xff\xfe")), b"undecodable");
    put(
        &a.join(OsStr::from_bytes(b"bad-\xe4\xbd")),
        b"truncated utf-8",
    );
    put(&a.join("bad-\u{e000}"), b"private use");
    put(&a.join("名前.txt"), "日本語".as_bytes());
    let deep = a.join("d".repeat(60)).join("e".repeat(60));
    mk(&deep);
    put(&deep.join("f".repeat(90)), &vec![1u8; 70_000]);
    std::os::unix::fs::symlink("t".repeat(150), a.join("longlink")).expect("symlink");
    std::os::unix::fs::symlink("名前.txt", a.join("unilink")).expect("symlink");
    std::os::unix::fs::symlink("/nowhere", a.join("dangling")).expect("symlink");
    put(&a.join("hard1"), b"shared inode");
    std::fs::hard_link(a.join("hard1"), a.join("hard2")).expect("hard link");
    put(&a.join("empty"), b"");
    put(&a.join("suid"), b"#!/bin/sh\n");
    let st = Command::new("chmod")
        .arg("4755")
        .arg(a.join("suid"))
        .status()
        .expect("chmod");
    assert!(st.success());
    let st = Command::new("mkfifo")
        .arg(a.join("fifo"))
        .status()
        .expect("mkfifo");
    assert!(st.success());
    let st = Command::new("mknod")
        .arg(a.join("chardev"))
        .args(["c", "1", "3"])
        .status()
        .expect("mknod");
    assert!(st.success(), "mknod needs root");
    let st = Command::new("mknod")
        .arg(a.join("blockdev"))
        .args(["b", "259", "70000"])
        .status()
        .expect("mknod");
    assert!(st.success(), "mknod needs root");
    // A store path that is a symlink, and one that is a plain file.
    let l = store.join("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-link");
    std::os::unix::fs::symlink(&a, &l).expect("symlink");
    let f = store.join("cccccccccccccccccccccccccccccccc-file");
    put(&f, b"just a file\n");
    (store, vec![a, l, f])
}

fn compare(owner: serde_json::Value) {
    let tmp = tempdir();
    let (store, paths) = awkward_store(tmp.path());
    // The oracle's layer.
    let mut args = owner.clone();
    args["paths"] = json!(paths);
    let args_path = tmp.path().join("args.json");
    write_json(&args_path, &args);
    let out = run(python()
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/store_layer.py"))
        .arg(&args_path));
    assert!(out.status.success(), "oracle failed: {}", stderr(&out));
    let want = out.stdout;

    // strata's layer: stream a one-layer image and take the first member.
    let custom = store.join("dddddddddddddddddddddddddddddddd-custom");
    empty_customisation_layer(&custom);
    let mut conf = json!({
        "architecture": "amd64", "config": {}, "store_dir": store, "from_image": null,
        "store_layers": [paths], "customisation_layer": custom, "repo_tag": "x:y",
        "created": "1970-01-01T00:00:01+00:00",
    });
    for k in ["mtime", "uid", "gid", "uname", "gname"] {
        conf[k] = owner[k].clone();
    }
    let conf_path = tmp.path().join("conf.json");
    write_json(&conf_path, &conf);
    let out = run(strata().arg("stream").arg(&conf_path));
    assert!(out.status.success(), "strata failed: {}", stderr(&out));
    let members = tar_members(&out.stdout);
    let (name, got) = &members[0];
    assert_eq!(
        name,
        &format!("{}/layer.tar", sha256_hex(got)),
        "member named by its digest"
    );
    if *got != want {
        let at = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let block = at / 512 * 512;
        panic!(
            "layer differs from CPython's at byte {at} (sizes {} vs {})\n got block: {:?}\nwant block: {:?}",
            got.len(),
            want.len(),
            String::from_utf8_lossy(&got[block..(block + 512).min(got.len())]),
            String::from_utf8_lossy(&want[block..(block + 512).min(want.len())]),
        );
    }
}

#[test]
fn awkward_tree_matches_cpython_tarfile() {
    compare(
        json!({"mtime": "1970-01-01T00:00:01+00:00", "uid": "0", "gid": "0", "uname": "root", "gname": "root"}),
    );
}

#[test]
fn out_of_range_owner_and_time_match_cpython_tarfile() {
    compare(json!({
        "mtime": "1960-06-01T00:00:00.75-03:00",
        "uid": 70000000,
        "gid": "-1",
        "uname": "ünïcode-user",
        "gname": "a-group-name-that-is-longer-than-32-bytes",
    }));
}

#[test]
fn far_future_mtime_matches_cpython_tarfile() {
    compare(
        json!({"mtime": "9999-12-31T23:59:59Z", "uid": "1000", "gid": "100", "uname": "alice", "gname": "users"}),
    );
}

/// Base images as other tools write them: strata's output must begin with exactly the
/// bytes CPython's tarfile writes when it re-writes their layers (what nixpkgs does).
#[test]
fn base_image_variants_are_rewritten_as_cpython_does() {
    golden_fixture();
    let tmp = tempdir();
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let out = run(python()
        .arg(oracle.join("base_variants.py"))
        .arg("/tmp/strata-golden/base/hello-basic.tar")
        .arg(tmp.path()));
    assert!(out.status.success(), "base_variants.py: {}", stderr(&out));
    for variant in ["global-pax", "pax-float", "gnu-long", "links"] {
        let base = tmp.path().join(format!("{variant}.tar"));
        let out = run(python().arg(oracle.join("base_prefix.py")).arg(&base));
        assert!(
            out.status.success(),
            "base_prefix.py {variant}: {}",
            stderr(&out)
        );
        let want = out.stdout;
        let mut conf = read_json(&stream_cases().join("from-image/conf.json"));
        conf["from_image"] = json!(base);
        let conf_path = tmp.path().join(format!("{variant}.conf.json"));
        write_json(&conf_path, &conf);
        let out = run(strata().arg("stream").arg(&conf_path));
        assert!(out.status.success(), "{variant}: {}", stderr(&out));
        let got = &out.stdout[..want.len().min(out.stdout.len())];
        if got != &want[..] {
            let at = got
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len());
            let block = at / 512 * 512;
            panic!(
                "{variant}: base layers differ from CPython's at byte {at}\n got: {:?}\nwant: {:?}",
                String::from_utf8_lossy(&got[block..(block + 512).min(got.len())]),
                String::from_utf8_lossy(&want[block..(block + 512).min(want.len())]),
            );
        }
    }
}

#[test]
fn sparse_base_layers_are_refused() {
    golden_fixture();
    let tmp = tempdir();
    // A GNU sparse member, written by GNU tar from a file with a hole.
    let dir = tmp.path().join("src");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let layer = dir.join("layer.tar");
    let f = std::fs::File::create(&layer).expect("create");
    f.set_len(1 << 20).expect("hole");
    let base = tmp.path().join("sparse.tar");
    let st = Command::new("tar")
        .args(["--format=gnu", "-S", "-C"])
        .arg(&dir)
        .arg("-cf")
        .arg(&base)
        .arg("layer.tar")
        .status()
        .expect("tar");
    assert!(st.success());
    let err = strata::base::load(&base).expect_err("no manifest, or refused");
    assert!(err.to_string().contains("manifest.json"), "{err}");
    // With a manifest naming it, the sparse layer itself is refused by name.
    let manifest = tmp.path().join("manifest.json");
    std::fs::write(&manifest, r#"[{"Config":"c.json","Layers":["layer.tar"]}]"#).expect("write");
    std::fs::write(
        tmp.path().join("c.json"),
        r#"{"rootfs":{"diff_ids":["sha256:00"]}}"#,
    )
    .expect("write");
    let st = Command::new("tar")
        .args(["--format=gnu", "-C"])
        .arg(tmp.path())
        .arg("-rf")
        .arg(&base)
        .args(["manifest.json", "c.json"])
        .status()
        .expect("tar");
    assert!(st.success());
    let err = strata::base::load(&base).expect_err("sparse refused");
    assert!(
        err.to_string().contains("sparse") && err.to_string().contains("layer.tar"),
        "{err}"
    );
}

/// Conf dates: strata's reading of thousands of strings (what nixpkgs writes, the other
/// ISO 8601 forms, and random mutations of them) against CPython's `fromisoformat`.
#[test]
fn dates_are_read_as_cpython_fromisoformat_reads_them() {
    let mut corpus: Vec<String> = [
        "1970-01-01T00:00:01+00:00",
        "1970-01-01T00:00:01Z",
        "2024-06-01T12:30:00+02:00",
        "2024-02-29T23:30:00.5-01:30",
        "2024-01-01 00:00",
        "2024-01-01T12",
        "2024-01-01T1230",
        "2024-01-01T123045,25",
        "2024-01-01T12:30:45.1234567Z",
        "2024-01-01T12:30.5",
        "2024-01-01T00:00:00+05:30:15",
        "2024-01-01T00:00:00+0530",
        "2024-01-01T00:00:00-00:00",
        "2024-01-01T00:00:00+05:30:00.5",
        "2024-W01-1",
        "2024W011",
        "2024-W01",
        "2020-W53-7T10:00Z",
        "2021-W53-1",
        "20240101",
        "20240101T000000Z",
        "1969-12-31T23:59:59.5+00:00",
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59.999999+00:00",
        "2024-01-01T24:00:00",
        "2024-01-01T00:00:60",
        "2023-02-29",
        "2024-1-01",
        "2024-01-01T",
        "2024-01-01t00:00:00z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Deterministic mutations: replace, insert or delete characters, or cut.
    let alphabet: Vec<char> = "0123456789-:+.,TZW tz\u{e9}\u{a0}\u{65e5}\u{1f600}"
        .chars()
        .collect();
    let seeds = corpus.clone();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for round in 0..4000 {
        let mut c: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..1 + next(3) {
            if c.is_empty() {
                break;
            }
            let at = next(c.len());
            match next(4) {
                0 => c[at] = alphabet[next(alphabet.len())],
                1 => c.insert(at, alphabet[next(alphabet.len())]),
                2 => {
                    c.remove(at);
                }
                _ => c.truncate(at.max(7)),
            }
        }
        corpus.push(c.into_iter().collect());
    }
    let tmp = tempdir();
    let input = tmp.path().join("dates.json");
    write_json(&input, &json!(corpus));
    let out = run(python()
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/isoformat.py"))
        .arg(&input));
    assert!(out.status.success(), "isoformat.py: {}", stderr(&out));
    let want: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    let mut mismatches = Vec::new();
    for (s, w) in corpus.iter().zip(&want) {
        let got = match strata::time::DateTime::parse(s) {
            Ok(d) => json!([d.isoformat(), d.timestamp_secs()]),
            Err(_) => serde_json::Value::Null,
        };
        if &got != w {
            mismatches.push(format!("{s:?}: strata {got}, CPython {w}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} dates read differently:\n{}",
        mismatches.len(),
        corpus.len(),
        mismatches[..mismatches.len().min(25)].join("\n")
    );
}

/// History comments hold Python's `repr()` of member names: compare strata's with
/// CPython's over code points sampled across every plane (and the quote rules).
#[test]
fn repr_matches_cpython_across_unicode() {
    let mut items: Vec<String> = vec![
        "it's".into(),
        "say \"hi\"".into(),
        "both ' and \"".into(),
        "\\ \t\n\r".into(),
    ];
    let mut cp = 0u32;
    while cp < 0x11_0000 {
        let s: String = (0..8).filter_map(|k| char::from_u32(cp + k * 13)).collect();
        items.push(s);
        cp += 97;
    }
    let tmp = tempdir();
    let input = tmp.path().join("strings.json");
    std::fs::write(&input, serde_json::to_vec(&items).expect("json")).expect("write");
    let out = run(python()
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/repr.py"))
        .arg(&input));
    assert!(out.status.success(), "repr.py: {}", stderr(&out));
    let want = String::from_utf8(out.stdout).expect("utf-8");
    let got = strata::pyjson::repr_str_list(&items);
    if got != want {
        let at = got
            .chars()
            .zip(want.chars())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let g: String = got.chars().skip(at.saturating_sub(20)).take(60).collect();
        let w: String = want.chars().skip(at.saturating_sub(20)).take(60).collect();
        panic!("repr differs at char {at}:\n got: {g}\nwant: {w}");
    }
}

/// `strata conf` prints `created`/`mtime` as `date -Iseconds -d VALUE` does in the Nix
/// sandbox (TZ unset). Every value strata accepts must print as GNU date prints it.
#[test]
fn conf_dates_print_as_gnu_date_does() {
    let inputs = [
        "1970-01-01T00:00:01Z",
        "1970-01-01T00:00:01+00:00",
        "2024-06-01T12:30:00+02:00",
        "2024-06-01 12:30:00 +0530",
        "2024-06-01T12:30:00.999-01:00",
        "2024-06-01T23:30",
        "2024-06-01",
        "2024-06-01 10:00:00 UTC",
        "2024-02-29T23:59:59-12:00",
        "1969-07-20T20:17:40Z",
        "20240101",
        "20240101 10:00:00",
        "20240101 10:00:00+02:00",
        "@0",
        "@1700000000",
        "@-86400",
    ];
    for input in inputs {
        let ours = strata::confgen::iso_date(input, "created").expect("strata accepts it");
        let out = run(Command::new("date")
            .args(["-Iseconds", "-d", input])
            .env_remove("TZ")
            .env("TZ", ""));
        assert!(out.status.success(), "date -d {input:?}: {}", stderr(&out));
        let gnu = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(ours, gnu, "{input:?}");
    }
}
