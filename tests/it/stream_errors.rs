//! Bad input to `strata stream`: one clear line on stderr naming the key / path / member,
//! a non-zero exit, never a panic, never a success after a partial stream.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::common::*;

/// Runs `strata stream conf` expecting failure; returns stderr. Checks it is one line
/// mentioning every `needle`, and that it is no panic.
fn expect_error(conf: &Path, needles: &[&str]) -> String {
    let out = run(strata().arg("stream").arg(conf));
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "expected failure for {}, got success",
        conf.display()
    );
    assert_ne!(out.status.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr, got: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr should mention {n:?}: {err}");
    }
    err
}

fn basic_conf(tmp: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> PathBuf {
    golden_fixture();
    let mut conf = read_json(&stream_cases().join("basic/conf.json"));
    edit(conf.as_object_mut().expect("object"));
    let p = tmp.join("conf.json");
    write_json(&p, &conf);
    p
}

#[test]
fn conf_not_json() {
    let tmp = tempdir();
    let p = tmp.path().join("conf.json");
    std::fs::write(&p, b"{\"architecture\": ").expect("write");
    expect_error(&p, &["conf.json", "not valid JSON"]);
}

#[test]
fn conf_missing() {
    let tmp = tempdir();
    expect_error(
        &tmp.path().join("nope.json"),
        &["nope.json", "No such file"],
    );
}

#[test]
fn conf_missing_key() {
    let tmp = tempdir();
    let p = basic_conf(tmp.path(), |c| {
        c.remove("store_layers");
    });
    expect_error(&p, &["store_layers", "missing"]);
}

#[test]
fn conf_mistyped_keys() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("store_layers", json!("not a list"), "store_layers"),
        ("store_layers", json!([["/x"], 3]), "store_layers[1]"),
        ("uid", json!([1]), "uid"),
        ("gid", json!("zero"), "gid"),
        ("created", json!("last tuesday"), "created"),
        ("mtime", json!(12), "mtime"),
        ("customisation_layer", json!(null), "customisation_layer"),
        ("repo_tag", json!(5), "repo_tag"),
    ];
    for (key, value, needle) in cases {
        let tmp = tempdir();
        let p = basic_conf(tmp.path(), |c| {
            c.insert(key.into(), value.clone());
        });
        expect_error(&p, &[needle]);
    }
}

#[test]
fn store_path_outside_store_dir() {
    let tmp = tempdir();
    let p = basic_conf(tmp.path(), |c| {
        c.insert("store_layers".into(), json!([["/etc"]]));
    });
    expect_error(&p, &["/etc", "store_dir", "/tmp/strata-golden/nix/store"]);
}

#[test]
fn store_path_missing() {
    let tmp = tempdir();
    let missing = "/tmp/strata-golden/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-gone";
    let p = basic_conf(tmp.path(), |c| {
        c.insert("store_layers".into(), json!([[missing]]));
    });
    expect_error(&p, &[missing, "No such file"]);
}

/// Runs strata as `nobody` (root reads everything) over a store it can read except for
/// `hidden` (relative to the store path, made mode `mode`); returns stderr after
/// checking the run failed without a panic.
fn stream_as_nobody_with_unreadable(hidden: &str, mode: &str) -> String {
    let tmp = tempdir();
    let store = tmp.path().join("nix/store");
    let pkg = store.join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-pkg");
    std::fs::create_dir_all(pkg.join("share/private")).expect("mkdir");
    std::fs::write(pkg.join("share/ok"), b"ok").expect("write");
    std::fs::write(pkg.join("share/secret"), b"secret").expect("write");
    std::fs::write(pkg.join("share/private/data"), b"data").expect("write");
    let custom = store.join("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-custom");
    empty_customisation_layer(&custom);
    let conf = tmp.path().join("conf.json");
    write_json(
        &conf,
        &json!({
            "architecture": "amd64", "config": {}, "store_dir": store, "from_image": null,
            "store_layers": [[pkg]], "customisation_layer": custom, "repo_tag": "x:y",
            "created": "1970-01-01T00:00:01+00:00"
        }),
    );
    // A copy of the binary `nobody` can run, wherever the checkout lives.
    let bin = tmp.path().join("strata");
    std::fs::copy(env!("CARGO_BIN_EXE_strata"), &bin).expect("copy binary");
    for (mode, path) in [("-R", tmp.path().to_path_buf()), (mode, pkg.join(hidden))] {
        let mut chmod = Command::new("chmod");
        if mode == "-R" {
            chmod.args(["-R", "a+rX"]);
        } else {
            chmod.arg(mode);
        }
        let st = chmod.arg(&path).status().expect("chmod");
        assert!(st.success());
    }
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .arg("stream")
        .arg(&conf));
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "must fail on unreadable {hidden}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn unreadable_file_in_a_store_path() {
    let err = stream_as_nobody_with_unreadable("share/secret", "600");
    assert!(
        err.contains("share/secret") && err.contains("Permission denied"),
        "{err}"
    );
}

#[test]
fn unreadable_directory_in_a_store_path() {
    // nixpkgs' rglob would silently leave its contents out; strata refuses.
    let err = stream_as_nobody_with_unreadable("share/private", "700");
    assert!(
        err.contains("share/private") && err.contains("Permission denied"),
        "{err}"
    );
}

#[test]
fn checksum_file_malformed() {
    let tmp = tempdir();
    let custom = tmp.path().join("custom");
    std::fs::create_dir_all(&custom).expect("mkdir");
    std::fs::write(custom.join("layer.tar"), vec![0u8; 10240]).expect("write");
    std::fs::write(custom.join("checksum"), "abc123\n").expect("write");
    let p = basic_conf(tmp.path(), |c| {
        c.insert("customisation_layer".into(), json!(custom));
    });
    expect_error(&p, &["checksum", "abc123", "64 hex"]);
}

#[test]
fn customisation_layer_digest_mismatch_fails_after_streaming() {
    let tmp = tempdir();
    let custom = tmp.path().join("custom");
    std::fs::create_dir_all(&custom).expect("mkdir");
    std::fs::write(custom.join("layer.tar"), vec![0u8; 10240]).expect("write");
    std::fs::write(
        custom.join("checksum"),
        format!("{}\n", sha256_hex(b"something else")),
    )
    .expect("write");
    let p = basic_conf(tmp.path(), |c| {
        c.insert("customisation_layer".into(), json!(custom));
    });
    expect_error(
        &p,
        &[
            "layer.tar",
            "checksum",
            &sha256_hex(b"something else"),
            &sha256_hex(&[0u8; 10240]),
        ],
    );
}

/// Writes a base-image variant built from the golden base's members.
fn base_variant(tmp: &Path, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> PathBuf {
    golden_fixture();
    let plain = std::fs::read("/tmp/strata-golden/base/hello-basic.tar").expect("base");
    let mut members = tar_members(&plain);
    edit(&mut members);
    let path = tmp.join("base.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).expect("create"));
    for (name, data) in &members {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).expect("append");
    }
    b.finish().expect("finish");
    path
}

fn from_image_conf(tmp: &Path, base: &Path) -> PathBuf {
    let mut conf = read_json(&stream_cases().join("from-image/conf.json"));
    conf["from_image"] = json!(base);
    let p = tmp.join("conf.json");
    write_json(&p, &conf);
    p
}

#[test]
fn base_image_truncated() {
    golden_fixture();
    let tmp = tempdir();
    let plain = std::fs::read("/tmp/strata-golden/base/hello-basic.tar").expect("base");
    let base = tmp.path().join("base.tar");
    std::fs::write(&base, &plain[..50_000]).expect("write");
    let err = expect_error(
        &from_image_conf(tmp.path(), &base),
        &["base image", "base.tar", "truncated"],
    );
    assert!(err.contains("5a9fbb25"), "names the member: {err}");
}

#[test]
fn base_image_truncated_gzip() {
    golden_fixture();
    let tmp = tempdir();
    let gz = std::fs::read("/tmp/strata-golden/base/hello-basic.tar.gz").expect("base");
    let base = tmp.path().join("base.tar.gz");
    std::fs::write(&base, &gz[..gz.len() / 2]).expect("write");
    expect_error(
        &from_image_conf(tmp.path(), &base),
        &["base image", "base.tar.gz"],
    );
}

#[test]
fn base_image_without_manifest() {
    let tmp = tempdir();
    let base = base_variant(tmp.path(), |m| m.retain(|(n, _)| n != "manifest.json"));
    expect_error(
        &from_image_conf(tmp.path(), &base),
        &["base image", "manifest.json"],
    );
}

#[test]
fn base_image_names_a_missing_layer() {
    let tmp = tempdir();
    let base = base_variant(tmp.path(), |m| {
        m.retain(|(n, _)| !n.starts_with("aff5bcd0"))
    });
    expect_error(
        &from_image_conf(tmp.path(), &base),
        &[
            "base image",
            "aff5bcd059099dde690192553c3ccc45917872008d3f61a1a3f17a0486432648/layer.tar",
            "does not contain",
        ],
    );
}

#[test]
fn base_image_with_fewer_diff_ids_than_layers() {
    let tmp = tempdir();
    let base = base_variant(tmp.path(), |m| {
        for (name, data) in m.iter_mut() {
            if name.ends_with(".json") && name != "manifest.json" {
                let mut config: Value = serde_json::from_slice(data).expect("config");
                let ids = config["rootfs"]["diff_ids"]
                    .as_array_mut()
                    .expect("diff_ids");
                ids.pop();
                *data = serde_json::to_vec(&config).expect("json");
            }
        }
    });
    expect_error(
        &from_image_conf(tmp.path(), &base),
        &["base image", "4 layers", "3 diff_ids"],
    );
}

#[test]
fn base_image_not_a_tar() {
    let tmp = tempdir();
    let base = tmp.path().join("base.tar");
    std::fs::write(&base, vec![b'x'; 4096]).expect("write");
    expect_error(
        &from_image_conf(tmp.path(), &base),
        &["base image", "not a tar archive"],
    );
}

#[test]
fn closed_pipe_exits_quietly_and_non_zero() {
    golden_fixture();
    let mut child = strata()
        .arg("stream")
        .arg(stream_cases().join("all-in-one-layer/conf.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 512];
    stdout.read_exact(&mut first).expect("read the first block");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    assert!(
        !out.status.success(),
        "must not report success after the reader left"
    );
    assert!(
        out.stderr.is_empty(),
        "quiet on a closed pipe: {}",
        stderr(&out)
    );
}

#[test]
fn file_changed_between_hashing_and_streaming() {
    let tmp = tempdir();
    let store = tmp.path().join("nix/store");
    let pkg = store.join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-pkg");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::write(pkg.join("data"), vec![7u8; 5000]).expect("write");
    let custom = store.join("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-custom");
    empty_customisation_layer(&custom);
    let conf_path = tmp.path().join("conf.json");
    write_json(
        &conf_path,
        &json!({
            "architecture": "amd64", "config": {}, "store_dir": store, "from_image": null,
            "store_layers": [[pkg]], "customisation_layer": custom, "repo_tag": "x:y",
            "created": "1970-01-01T00:00:01+00:00"
        }),
    );
    let conf = strata::conf::Conf::load(&conf_path, None).expect("conf");
    let plan = strata::plan::Plan::build(&conf, "x:y", 2).expect("plan");
    // The file grows after the plan hashed it.
    std::fs::write(pkg.join("data"), vec![7u8; 6000]).expect("write");
    let mut sink = Vec::new();
    let err = strata::sink::docker_archive::write(&plan, &mut sink).expect_err("must fail");
    let msg = err.to_string();
    assert!(msg.contains("changed"), "{msg}");
    assert!(msg.contains("aaaaaaaa"), "names the store path: {msg}");
}
