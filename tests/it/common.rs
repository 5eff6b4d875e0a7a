//! Shared test helpers: the binary, the golden fixture store, temp dirs, tar reading.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// The built `strata` binary.
pub fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

/// The repository's tests/golden directory.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The golden stream cases' root.
pub fn stream_cases() -> PathBuf {
    golden_dir().join("stream/cases")
}

static FIXTURE: Once = Once::new();

/// Extracts the golden fixture store at `/tmp/strata-golden` (its paths are inside the
/// layers' bytes, so the location is fixed). Needs root to keep owners, as CI runs.
pub fn golden_fixture() {
    FIXTURE.call_once(|| {
        let tarball = golden_dir().join("stream/fixture.tar.gz");
        let st = Command::new("tar")
            .args(["-C", "/", "-xzpf"])
            .arg(&tarball)
            .status()
            .expect("running tar to extract the golden fixture");
        assert!(st.success(), "extracting {} failed", tarball.display());
    });
}

/// sha256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Runs a command, returning its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .expect("spawning a command")
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("strata-test-")
        .tempdir()
        .expect("creating a temp dir")
}

/// The members of an uncompressed tar as (name, data), read with the `tar` crate (an
/// independent reader: the test does not trust strata's own).
pub fn tar_members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut ar = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in ar.entries().expect("reading tar entries") {
        let mut e = e.expect("a tar entry");
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).expect("reading entry data");
        out.push((name, data));
    }
    out
}

/// Writes `value` as JSON to `path`.
pub fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json")).expect("writing json");
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("reading json")).expect("parsing json")
}

/// The data of the member called `name` (the first one) in `tar_members` output.
pub fn member<'a>(members: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &members
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no member {name}"))
        .1
}

/// A customisation layer directory at `dir`: an empty tar (10240 zero bytes) and its
/// checksum file.
pub fn empty_customisation_layer(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("layer.tar"), vec![0u8; 10240]).expect("write");
    std::fs::write(dir.join("checksum"), sha256_hex(&[0u8; 10240])).expect("write");
}
