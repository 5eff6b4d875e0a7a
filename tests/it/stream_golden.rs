//! `strata stream` against nixpkgs' own outputs: every golden case byte-for-byte, and the
//! variations that must not change a byte (threads, time zone, locale, umask, `-o`,
//! equivalent conf spellings, other base-image compressions).
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::common::*;

/// Streams a golden case (with its args.json) and returns the bytes, failing on error.
fn stream_case(case: &str, extra: &[&str]) -> Vec<u8> {
    golden_fixture();
    let dir = stream_cases().join(case);
    let mut cmd = strata();
    cmd.arg("stream").arg(dir.join("conf.json"));
    let args = dir.join("args.json");
    if args.exists() {
        for a in read_json(&args).as_array().expect("args.json is a list") {
            cmd.arg(a.as_str().expect("args are strings"));
        }
    }
    cmd.args(extra);
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "strata stream {case} failed: {}",
        stderr(&out)
    );
    out.stdout
}

/// Compares with the reference; on mismatch, says where the archives first differ.
fn assert_matches_reference(case: &str, got: &[u8]) {
    let dir = stream_cases().join(case);
    let expected = read_json(&dir.join("expected.json"));
    let want_sha = expected["archive_sha256"].as_str().expect("archive_sha256");
    if sha256_hex(got) == want_sha {
        return;
    }
    // Explain the difference: config, manifest, members.
    let members = tar_members(got);
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = expected["archive_members"]
        .as_array()
        .expect("archive_members")
        .iter()
        .map(|v| v.as_str().expect("member name"))
        .collect();
    let want_config =
        std::fs::read(dir.join("expected-config.json")).expect("expected-config.json");
    let got_config = members
        .iter()
        .find(|(n, _)| n.ends_with(".json") && n != "manifest.json")
        .map(|(_, d)| d.clone())
        .unwrap_or_default();
    panic!(
        "case {case}: archive sha256 {} != reference {want_sha} (size {} vs {})\n\
         --- expected members\n{want_names:#?}\n--- got members\n{names:#?}\n\
         --- expected config\n{}\n--- got config\n{}",
        sha256_hex(got),
        got.len(),
        expected["archive_size"],
        String::from_utf8_lossy(&want_config),
        String::from_utf8_lossy(&got_config),
    );
}

macro_rules! golden {
    ($($test:ident => $case:literal,)*) => {$(
        #[test]
        fn $test() {
            let got = stream_case($case, &[]);
            assert_matches_reference($case, &got);
        }
    )*};
}

golden! {
    golden_all_in_one_layer => "all-in-one-layer",
    golden_basic => "basic",
    golden_from_image => "from-image",
    golden_from_image_gz => "from-image-gz",
    golden_legacy_conf => "legacy-conf",
    golden_no_store_layers => "no-store-layers",
    golden_nonroot => "nonroot",
    golden_one_path_per_layer => "one-path-per-layer",
    golden_repo_tag_override => "repo-tag-override",
    golden_tricky => "tricky",
}

#[test]
fn thread_count_does_not_change_a_byte() {
    for jobs in ["1", "2", "7"] {
        let got = stream_case("one-path-per-layer", &["--jobs", jobs]);
        assert_matches_reference("one-path-per-layer", &got);
    }
}

#[test]
fn time_zone_locale_and_umask_do_not_change_a_byte() {
    golden_fixture();
    let conf = stream_cases().join("nonroot/conf.json");
    let out = run(strata()
        .arg("stream")
        .arg(&conf)
        .env("TZ", "Pacific/Kiritimati")
        .env("LC_ALL", "tr_TR.UTF-8")
        .env("LANG", "ja_JP.UTF-8"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_matches_reference("nonroot", &out.stdout);
    let out = run(std::process::Command::new("sh").arg("-c").arg(format!(
        "umask 077 && exec {} stream {}",
        env!("CARGO_BIN_EXE_strata"),
        conf.display()
    )));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_matches_reference("nonroot", &out.stdout);
}

#[test]
fn output_file_equals_stdout_and_leaves_no_temp_file() {
    golden_fixture();
    let tmp = tempdir();
    let file = tmp.path().join("image.tar");
    let out = run(strata()
        .arg("stream")
        .arg(stream_cases().join("tricky/conf.json"))
        .arg("-o")
        .arg(&file));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing on stdout with -o");
    assert_matches_reference("tricky", &std::fs::read(&file).expect("output file"));
    let entries: Vec<_> = std::fs::read_dir(tmp.path()).expect("readdir").collect();
    assert_eq!(entries.len(), 1, "only the output file remains");
}

#[test]
fn repo_tag_flag_spellings_are_equivalent() {
    let want = stream_case("repo-tag-override", &[]);
    // argparse (nixpkgs' script) also takes unambiguous prefixes.
    for flag in ["-t", "--repo-tag", "--repo_tag", "--repo", "--repo_t"] {
        golden_fixture();
        let out = run(strata()
            .arg("stream")
            .arg(stream_cases().join("repo-tag-override/conf.json"))
            .arg(flag)
            .arg("registry.example:5000/team/hello:v2"));
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        assert!(out.stdout == want, "{flag} gives other bytes");
    }
}

/// Writes a variant of a golden case's conf with `edit` applied; returns its path.
fn conf_variant(
    tmp: &Path,
    case: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> PathBuf {
    let mut conf = read_json(&stream_cases().join(case).join("conf.json"));
    edit(conf.as_object_mut().expect("conf is an object"));
    let path = tmp.join(format!("{case}.conf.json"));
    write_json(&path, &conf);
    path
}

fn stream_conf(conf: &Path) -> Vec<u8> {
    let out = run(strata().arg("stream").arg(conf));
    assert!(out.status.success(), "{}: {}", conf.display(), stderr(&out));
    out.stdout
}

#[test]
fn equivalent_conf_spellings_give_the_same_image() {
    golden_fixture();
    let tmp = tempdir();
    // Numbers for uid/gid, `Z` for the offset, unknown keys from later versions.
    let conf = conf_variant(tmp.path(), "nonroot", |c| {
        // Python's int(): a float truncates, `_` may separate digits.
        c.insert("uid".into(), json!(1000.7));
        c.insert("gid".into(), json!(" 1_00 "));
        c.insert("mtime".into(), json!("2024-01-01T00:00:00Z"));
        c.insert("some_future_key".into(), json!({"x": 1}));
    });
    assert_matches_reference("nonroot", &stream_conf(&conf));
}

#[test]
fn zstd_base_image_gives_the_reference_bytes() {
    golden_fixture();
    let tmp = tempdir();
    let plain = std::fs::read("/tmp/strata-golden/base/hello-basic.tar").expect("base");
    let zst = tmp.path().join("base.tar.zst");
    std::fs::write(&zst, zstd::encode_all(&plain[..], 3).expect("zstd")).expect("write");
    // Named .tar on purpose: detection is by content.
    let disguised = tmp.path().join("base-named-plain.tar");
    std::fs::copy(&zst, &disguised).expect("copy");
    let conf = conf_variant(tmp.path(), "from-image", |c| {
        c.insert("from_image".into(), json!(disguised));
    });
    assert_matches_reference("from-image", &stream_conf(&conf));
}

/// Re-packs the golden base image in docker 25's layout: `blobs/sha256/<hex>` members,
/// the config a blob too, the first layer gzip-compressed (as docker may store it).
fn docker25_base(dir: &Path) -> (PathBuf, Vec<Vec<u8>>) {
    let plain = std::fs::read("/tmp/strata-golden/base/hello-basic.tar").expect("base");
    let members = tar_members(&plain);
    let manifest: Value =
        serde_json::from_slice(member(&members, "manifest.json")).expect("manifest json");
    let config_name = manifest[0]["Config"].as_str().expect("Config");
    let config = members
        .iter()
        .find(|(n, _)| n == config_name)
        .expect("config")
        .1
        .clone();
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut layer_names = Vec::new();
    let mut layer_bytes = Vec::new();
    for (i, l) in manifest[0]["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .enumerate()
    {
        let data = members
            .iter()
            .find(|(n, _)| n == l.as_str().expect("str"))
            .expect("layer")
            .1
            .clone();
        let data = if i == 0 {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut enc, &data).expect("gzip");
            enc.finish().expect("gzip")
        } else {
            data
        };
        let name = format!("blobs/sha256/{}", sha256_hex(&data));
        layer_names.push(json!(name));
        layer_bytes.push(data.clone());
        if !blobs.iter().any(|(n, _)| *n == name) {
            blobs.push((name, data));
        }
    }
    let config_blob = format!("blobs/sha256/{}", sha256_hex(&config));
    blobs.push((config_blob.clone(), config));
    let manifest =
        json!([{"Config": config_blob, "RepoTags": ["hello:golden"], "Layers": layer_names}]);
    blobs.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).expect("json"),
    ));
    blobs.push((
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    ));
    let path = dir.join("docker25.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).expect("create"));
    for (name, data) in &blobs {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, &data[..]).expect("append");
    }
    b.finish().expect("finish");
    (path, layer_bytes)
}

#[test]
fn docker25_blob_layout_base_with_a_compressed_layer() {
    golden_fixture();
    let tmp = tempdir();
    let (base, base_layers) = docker25_base(tmp.path());
    let conf = conf_variant(tmp.path(), "from-image", |c| {
        c.insert("from_image".into(), json!(base));
    });
    let out = stream_conf(&conf);
    let members = tar_members(&out);
    let manifest: Value = serde_json::from_slice(member(&members, "manifest.json")).expect("json");
    let layers = manifest[0]["Layers"].as_array().expect("Layers");
    assert_eq!(
        layers.len(),
        base_layers.len() + 2,
        "base layers + app + customisation"
    );
    for (i, want) in base_layers.iter().enumerate() {
        let name = layers[i].as_str().expect("str");
        assert!(
            name.starts_with("blobs/sha256/"),
            "base member name kept: {name}"
        );
        let got = member(&members, name);
        assert!(got == want, "base layer {i} copied verbatim");
    }
    // diff_ids of base layers come from the base config (uncompressed digests).
    let config_name = manifest[0]["Config"].as_str().expect("Config");
    let config: Value = serde_json::from_slice(member(&members, config_name)).expect("json");
    let expected = read_json(&stream_cases().join("from-image/expected.json"));
    assert_eq!(config["rootfs"]["diff_ids"], expected["diff_ids"]);
    let comment = config["history"][0]["comment"].as_str().expect("comment");
    assert_eq!(
        comment,
        format!("store paths: ['{}']", layers[0].as_str().expect("str"))
    );
}

#[test]
fn created_now_is_a_real_date_shared_with_mtime() {
    golden_fixture();
    let tmp = tempdir();
    let conf = conf_variant(tmp.path(), "basic", |c| {
        c.insert("created".into(), json!("now"));
        c.insert("mtime".into(), json!("now"));
    });
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let out = stream_conf(&conf);
    let members = tar_members(&out);
    let (_, config) = members
        .iter()
        .find(|(n, _)| n.ends_with(".json") && n != "manifest.json")
        .expect("config");
    let config: Value = serde_json::from_slice(config).expect("json");
    let created = config["created"].as_str().expect("created");
    assert!(
        created.starts_with("20") && created.ends_with("+00:00"),
        "{created}"
    );
    let mut ar = tar::Archive::new(&out[..]);
    let first = ar
        .entries()
        .expect("entries")
        .next()
        .expect("a member")
        .expect("entry");
    let mtime = first.header().mtime().expect("mtime");
    assert!(
        mtime >= before && mtime <= before + 60,
        "mtime {mtime} is now ({before})"
    );
}

#[test]
fn output_onto_a_fifo_writes_into_it() {
    // `-o` onto something that is not a regular file (a FIFO, /dev/stdout) must write into
    // it, not rename a temporary file over it.
    golden_fixture();
    let tmp = tempdir();
    let fifo = tmp.path().join("fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(st.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).expect("read fifo"))
    };
    let out = run(strata()
        .arg("stream")
        .arg(stream_cases().join("basic/conf.json"))
        .arg("-o")
        .arg(&fifo));
    assert!(out.status.success(), "{}", stderr(&out));
    let got = reader.join().expect("reader thread");
    assert_matches_reference("basic", &got);
    let ft = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&ft), "still a FIFO");
}
