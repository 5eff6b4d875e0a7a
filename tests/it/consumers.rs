//! Real consumers read strata's images: docker, podman, skopeo (also through a local
//! registry) and umoci load, verify, unpack and run what `strata stream` and `strata demo`
//! write.
//!
//! The tools and services come from `.ci/run` (CI) or, locally, from
//! `eval "$(.ci/services.sh start)"`, which exports the variables read here:
//! `STRATA_TEST_DOCKER_HOST` (else `DOCKER_HOST`), `CONTAINERS_CONF` /
//! `CONTAINERS_STORAGE_CONF` (podman) and `STRATA_TEST_REGISTRY` (default
//! `127.0.0.1:5000`). A missing tool or service fails the test, naming what to start:
//! these tests never skip.
//!
//! Each test builds its own fixture store in a fresh temp dir: Debian's static busybox
//! as a store path, and a customisation layer (made by GNU tar, as nixpkgs does) with
//! `/bin/sh` etc. pointing into it. Inner layer names are absolute host paths, so the
//! symlinks point at the temp store's absolute path, which is where the files are
//! inside the image. Every test uses its own image name, so tests run in parallel.
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{sha256_hex, strata};

/// What the fixture image's default command prints.
const HELLO: &str = "hello from strata";
/// The content of a data file in the fixture's busybox store path.
const GREETING: &str = "greetings from the store\n";
/// Debian's static busybox (package busybox-static).
const BUSYBOX: &str = "/bin/busybox";
/// The letters of Nix's base-32 alphabet (no e, o, u, t).
const NIX_BASE32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";
/// Applets linked to busybox, in the store path and as `/bin/<applet>` in the image.
const APPLETS: [&str; 4] = ["cat", "echo", "ls", "sh"];

/// Runs `cmd`, panicking with its whole output unless it exits 0. `what` names the step.
fn run(cmd: &mut Command, what: &str) -> Output {
    let out = spawn_output(cmd, what);
    if !out.status.success() {
        panic!(
            "{what}: {:?} failed ({})\n{}",
            cmd,
            out.status,
            show_output(&out)
        );
    }
    out
}

/// Runs `cmd` to completion, panicking (with how to get the tool) if it cannot start.
fn spawn_output(cmd: &mut Command, what: &str) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "{what}: could not start {:?}: {e}\n\
             .ci/run installs every tool the tests use; locally, apt-get install the \
             packages .ci/run names and `eval \"$(.ci/services.sh start)\"`",
            cmd.get_program()
        )
    })
}

/// A command's stdout and stderr as labelled blocks.
fn show_output(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts `got` equals `expected`, printing both as blocks.
fn assert_same(what: &str, expected: &str, got: &str) {
    assert!(
        expected == got,
        "{what}\n--- expected ---\n{expected}\n--- got ---\n{got}\n--- end ---"
    );
}

/// A 32-letter Nix base-32 hash part derived from `seed` (any stable text).
fn nix_hash(seed: &str) -> String {
    Sha256::digest(seed.as_bytes())
        .iter()
        .map(|b| char::from(NIX_BASE32[usize::from(b % 32)]))
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()))
        .permissions()
        .mode()
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

fn link(target: impl AsRef<Path>, at: &Path) {
    symlink(target.as_ref(), at).unwrap_or_else(|e| {
        panic!(
            "symlink {} -> {}: {e}",
            at.display(),
            target.as_ref().display()
        )
    });
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// One member of a (docker-archive) tar file, read with GNU tar.
fn archive_member(archive: &Path, member: &str) -> Vec<u8> {
    run(
        Command::new("tar").arg("-xOf").arg(archive).arg(member),
        &format!("reading {member} from {}", archive.display()),
    )
    .stdout
}

/// What a docker-archive says about itself: its config's sha256 (the image ID), the
/// config, and its repo tags.
struct ArchiveFacts {
    image_id: String,
    config: Value,
    repo_tags: Vec<String>,
}

impl ArchiveFacts {
    /// Reads `manifest.json` and the config it names, checking the config's file name
    /// is its own digest.
    fn read(archive: &Path) -> ArchiveFacts {
        let manifest: Value = serde_json::from_slice(&archive_member(archive, "manifest.json"))
            .expect("manifest.json is JSON");
        let entry = &manifest[0];
        let config_name = entry["Config"]
            .as_str()
            .expect("manifest Config is a string");
        let config_bytes = archive_member(archive, config_name);
        let image_id = sha256_hex(&config_bytes);
        assert_same(
            "the config member is named after its sha256",
            &format!("{image_id}.json"),
            config_name,
        );
        let repo_tags = entry["RepoTags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        ArchiveFacts {
            image_id,
            config: serde_json::from_slice(&config_bytes).expect("the config is JSON"),
            repo_tags,
        }
    }

    fn diff_ids(&self) -> &Value {
        &self.config["rootfs"]["diff_ids"]
    }
}

/// A fixture store with a busybox store path and a customisation layer, and the
/// conf.json `strata stream` reads, all in a fresh temp dir.
struct Fixture {
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// The busybox store path: an absolute host path, and the same path in the image.
    busybox: PathBuf,
    /// The image's `name:tag`, unique to the test (and process).
    tag: String,
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("strata-consumers-")
            .tempdir()
            .expect("create a temp dir");
        let store = dir.path().join("nix/store");

        let busybox = store.join(format!("{}-busybox-1.35.0", nix_hash(test)));
        mkdir(&busybox.join("bin"));
        mkdir(&busybox.join("share"));
        let bb = busybox.join("bin/busybox");
        fs::copy(BUSYBOX, &bb)
            .unwrap_or_else(|e| panic!("copy {BUSYBOX} (apt-get install busybox-static): {e}"));
        set_mode(&bb, 0o555);
        for applet in APPLETS {
            link("busybox", &busybox.join("bin").join(applet));
        }
        let greeting = busybox.join("share/greeting.txt");
        write(&greeting, GREETING.as_bytes());
        set_mode(&greeting, 0o444);

        // The customisation layer, as nixpkgs' mkCustomisationLayer makes it: GNU tar
        // over a directory of symlinks into the store, plus its sha256 in `checksum`.
        let staging = dir.path().join("customisation");
        mkdir(&staging.join("bin"));
        for applet in APPLETS {
            link(
                busybox.join("bin/busybox"),
                &staging.join("bin").join(applet),
            );
        }
        mkdir(&staging.join("etc"));
        write(&staging.join("etc/motd"), b"built by strata\n");
        set_mode(&staging.join("etc/motd"), 0o644);
        mkdir(&staging.join("tmp"));
        set_mode(&staging.join("tmp"), 0o1777);
        let custom = store.join(format!(
            "{}-{test}-customisation-layer",
            nix_hash(&format!("{test}-customisation"))
        ));
        mkdir(&custom);
        run(
            Command::new("tar")
                .args([
                    "--sort=name",
                    "--mtime=@1",
                    "--owner=0",
                    "--group=0",
                    "--numeric-owner",
                    "-C",
                ])
                .arg(&staging)
                .arg("-cf")
                .arg(custom.join("layer.tar"))
                .args(["bin", "etc", "tmp"]),
            "GNU tar making the customisation layer",
        );
        let layer = fs::read(custom.join("layer.tar")).expect("read the customisation layer");
        write(&custom.join("checksum"), sha256_hex(&layer).as_bytes());

        let tag = format!(
            "strata-it-{}:{}",
            test.replace('_', "-"),
            std::process::id()
        );
        let conf = json!({
            "architecture": "amd64",
            "config": {
                "Cmd": ["/bin/sh", "-c", format!("echo {HELLO}")],
                "Env": ["PATH=/bin"],
                "WorkingDir": "/"
            },
            "os": "linux",
            "store_dir": store,
            "from_image": null,
            "store_layers": [[busybox]],
            "customisation_layer": custom,
            "repo_tag": tag,
            "created": "1970-01-01T00:00:01+00:00",
            "mtime": "1970-01-01T00:00:01+00:00",
            "uid": "0",
            "gid": "0",
            "uname": "root",
            "gname": "root"
        });
        let conf_path = dir.path().join("conf.json");
        write(
            &conf_path,
            serde_json::to_string_pretty(&conf)
                .expect("serialize conf.json")
                .as_bytes(),
        );
        Fixture {
            dir,
            conf: conf_path,
            busybox,
            tag,
        }
    }

    /// A path inside the fixture's temp dir.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `strata stream conf.json -o image.tar`; returns the archive's path.
    fn stream(&self) -> PathBuf {
        let image = self.path("image.tar");
        run(
            strata().arg("stream").arg(&self.conf).arg("-o").arg(&image),
            "strata stream -o",
        );
        let facts = ArchiveFacts::read(&image);
        assert_eq!(
            facts.repo_tags,
            vec![self.tag.clone()],
            "RepoTags of the streamed archive"
        );
        assert_eq!(
            facts.diff_ids().as_array().map(Vec::len),
            Some(2),
            "one store layer plus the customisation layer: {}",
            facts.diff_ids()
        );
        image
    }
}

/// The docker client, pointed at `STRATA_TEST_DOCKER_HOST` when that is set.
fn docker() -> Command {
    let mut cmd = Command::new("docker");
    if let Ok(host) = std::env::var("STRATA_TEST_DOCKER_HOST") {
        cmd.env("DOCKER_HOST", host);
    }
    cmd
}

/// Fails the test, saying how to start it, unless dockerd answers.
fn require_dockerd() {
    let out = spawn_output(
        docker().args(["version", "--format", "{{.Server.Version}}"]),
        "docker version",
    );
    if !out.status.success() {
        let host = std::env::var("STRATA_TEST_DOCKER_HOST")
            .or_else(|_| std::env::var("DOCKER_HOST"))
            .unwrap_or_else(|_| "(docker's default socket)".into());
        panic!(
            "dockerd not reachable at {host}: run `eval \"$(.ci/services.sh start)\"`\n{}",
            show_output(&out)
        );
    }
}

/// An image reference loaded into docker or podman, removed when dropped.
struct Loaded {
    tool: fn() -> Command,
    reference: String,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        // Best effort: a failed removal must not hide the test's own failure.
        let _ = (self.tool)()
            .args(["rmi", "-f", &self.reference])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The reference `docker load` / `podman load` printed ("Loaded image: REF" or
/// "Loaded image ID: REF"; podman prints "Loaded image(s): REF").
fn loaded_reference(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|line| line.split_once(": "))
        .filter(|(key, _)| key.starts_with("Loaded image"))
        .map(|(_, reference)| reference.trim().to_string())
        .next_back()
        .unwrap_or_else(|| panic!("no `Loaded image` line from load\n{}", show_output(out)))
}

/// Runs `docker run --rm --network none IMAGE ARGS…` and returns its stdout.
fn docker_run(image: &str, args: &[&str]) -> String {
    let out = run(
        docker()
            .args(["run", "--rm", "--network", "none", image])
            .args(args),
        &format!("docker run {image}"),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks docker holds `tag` as the image whose ID is the archive's config digest, and
/// that the image runs: its default command and a read of a store file.
fn check_docker_image(fixture: &Fixture, facts: &ArchiveFacts) {
    let out = run(
        docker().args(["image", "inspect", "--format", "{{.Id}}", &fixture.tag]),
        "docker image inspect",
    );
    assert_same(
        "docker's image ID is the archive's config digest",
        &format!("sha256:{}", facts.image_id),
        String::from_utf8_lossy(&out.stdout).trim(),
    );
    assert_same(
        "docker run IMAGE (default command)",
        &format!("{HELLO}\n"),
        &docker_run(&fixture.tag, &[]),
    );
    let greeting = fixture.busybox.join("share/greeting.txt");
    let greeting = greeting.to_str().expect("temp paths are UTF-8");
    assert_same(
        "docker run IMAGE /bin/cat <store file>",
        GREETING,
        &docker_run(&fixture.tag, &["/bin/cat", greeting]),
    );
}

#[test]
fn docker_loads_and_runs_stream_output() {
    require_dockerd();
    let fixture = Fixture::new("docker_load");
    let image = fixture.stream();
    let facts = ArchiveFacts::read(&image);
    let out = run(docker().arg("load").arg("-i").arg(&image), "docker load -i");
    let _loaded = Loaded {
        tool: docker,
        reference: fixture.tag.clone(),
    };
    assert_same(
        "docker load names the archive's tag",
        &fixture.tag,
        &loaded_reference(&out),
    );
    check_docker_image(&fixture, &facts);
}

#[test]
fn docker_loads_stream_through_a_pipe() {
    require_dockerd();
    let fixture = Fixture::new("docker_pipe");
    // strata's stderr goes to a file: a pipe nobody reads until docker load ends
    // could fill and stall both.
    let stream_log = fixture.path("stream.stderr");
    let mut stream = strata()
        .arg("stream")
        .arg(&fixture.conf)
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&stream_log).expect("create the stderr log"))
        .spawn()
        .expect("start strata stream");
    let pipe = stream.stdout.take().expect("strata's stdout is piped");
    let load = docker()
        .arg("load")
        .stdin(pipe)
        .output()
        .expect("start docker load (apt-get install docker.io)");
    let streamed = stream.wait().expect("wait for strata stream");
    let _loaded = Loaded {
        tool: docker,
        reference: fixture.tag.clone(),
    };
    assert!(
        streamed.success(),
        "strata stream | docker load: strata failed ({streamed})\n--- stderr ---\n{}",
        fs::read_to_string(&stream_log).unwrap_or_default()
    );
    assert!(
        load.status.success(),
        "strata stream | docker load: docker load failed ({})\n{}",
        load.status,
        show_output(&load)
    );
    // The same conf streamed to a file gives the facts docker must agree with.
    let facts = ArchiveFacts::read(&fixture.stream());
    check_docker_image(&fixture, &facts);
}

/// The podman client; it reads `CONTAINERS_CONF` / `CONTAINERS_STORAGE_CONF`.
fn podman() -> Command {
    Command::new("podman")
}

#[test]
fn podman_loads_and_runs_stream_output() {
    let fixture = Fixture::new("podman_load");
    let image = fixture.stream();
    let facts = ArchiveFacts::read(&image);
    let out = run(
        podman().arg("load").arg("-i").arg(&image),
        "podman load -i (podman needs CONTAINERS_CONF from .ci/services.sh)",
    );
    let _loaded = Loaded {
        tool: podman,
        reference: facts.image_id.clone(),
    };
    let reference = loaded_reference(&out);
    assert!(
        reference.ends_with(&fixture.tag),
        "podman load names the archive's tag {}\n{}",
        fixture.tag,
        show_output(&out)
    );
    let out = run(
        podman().args(["image", "inspect", "--format", "{{.Id}}", &reference]),
        "podman image inspect",
    );
    assert_same(
        "podman's image ID is the archive's config digest",
        &facts.image_id,
        String::from_utf8_lossy(&out.stdout).trim(),
    );
    let out = run(
        podman().args(["run", "--rm", &facts.image_id]),
        "podman run (podman needs CONTAINERS_CONF from .ci/services.sh)",
    );
    assert_same(
        "podman run IMAGE (default command)",
        &format!("{HELLO}\n"),
        &String::from_utf8_lossy(&out.stdout),
    );
}

/// The config of the single image in OCI layout `layout` under `tag`, by way of its
/// `index.json` and manifest.
fn oci_layout_config(layout: &Path, tag: &str) -> Value {
    let blob = |digest: &str| {
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("not a sha256 digest: {digest}"));
        layout.join("blobs/sha256").join(hex)
    };
    let index = read_json(&layout.join("index.json"));
    let manifests = index["manifests"].as_array().expect("index.json manifests");
    let entry = manifests
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no manifest tagged {tag} in {index}"));
    let manifest = read_json(&blob(entry["digest"].as_str().expect("manifest digest")));
    read_json(&blob(
        manifest["config"]["digest"]
            .as_str()
            .expect("config digest"),
    ))
}

/// Unpacks `layout:tag` with umoci and returns the rootfs.
fn umoci_unpack(fixture: &Fixture, layout: &Path, tag: &str) -> PathBuf {
    let bundle = fixture.path(&format!("bundle-{tag}"));
    run(
        Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&bundle),
        "umoci unpack",
    );
    bundle.join("rootfs")
}

/// The path of absolute image path `path` inside `rootfs`.
fn in_rootfs(rootfs: &Path, path: &Path) -> PathBuf {
    rootfs.join(path.strip_prefix("/").unwrap_or(path))
}

/// Checks an unpacked rootfs holds the fixture's files with their modes and targets.
fn check_rootfs(fixture: &Fixture, rootfs: &Path) {
    let store_bb = fixture.busybox.join("bin/busybox");
    let bb = in_rootfs(rootfs, &store_bb);
    let expected = fs::read(BUSYBOX).expect("read /bin/busybox");
    let got = fs::read(&bb).unwrap_or_else(|e| panic!("read {}: {e}", bb.display()));
    assert!(got == expected, "{} differs from {BUSYBOX}", bb.display());
    assert_eq!(mode(&bb), 0o100555, "mode of {}", bb.display());

    let greeting = in_rootfs(rootfs, &fixture.busybox.join("share/greeting.txt"));
    assert_same(
        "store file content",
        GREETING,
        &fs::read_to_string(&greeting).unwrap_or_else(|e| panic!("{}: {e}", greeting.display())),
    );
    assert_eq!(mode(&greeting), 0o100444, "mode of {}", greeting.display());

    for applet in APPLETS {
        let in_store = in_rootfs(rootfs, &fixture.busybox.join("bin").join(applet));
        assert_eq!(
            fs::read_link(&in_store).ok(),
            Some(PathBuf::from("busybox")),
            "{} is a symlink to busybox",
            in_store.display()
        );
        let in_bin = rootfs.join("bin").join(applet);
        assert_eq!(
            fs::read_link(&in_bin).ok(),
            Some(store_bb.clone()),
            "{} (customisation layer) is a symlink into the store",
            in_bin.display()
        );
    }
    assert_eq!(mode(&rootfs.join("tmp")), 0o41777, "mode of /tmp");
    assert_eq!(
        mode(&rootfs.join("etc/motd")),
        0o100644,
        "mode of /etc/motd"
    );
    assert_eq!(
        mode(&rootfs.join("nix/store")),
        0o40755,
        "mode of /nix/store"
    );
}

#[test]
fn skopeo_verifies_and_umoci_unpacks_stream_output() {
    let fixture = Fixture::new("skopeo_umoci");
    let image = fixture.stream();
    let facts = ArchiveFacts::read(&image);
    let layout = fixture.path("oci");
    // skopeo copy checks every blob against its digest on the way.
    run(
        Command::new("skopeo")
            .arg("copy")
            .arg(format!("docker-archive:{}", image.display()))
            .arg(format!("oci:{}:strata", layout.display())),
        "skopeo copy docker-archive: oci:",
    );
    let config = oci_layout_config(&layout, "strata");
    assert_eq!(
        &config["rootfs"]["diff_ids"],
        facts.diff_ids(),
        "diff_ids after skopeo's conversion to OCI"
    );
    assert_eq!(
        config["config"]["Cmd"], facts.config["config"]["Cmd"],
        "Cmd after conversion"
    );
    let rootfs = umoci_unpack(&fixture, &layout, "strata");
    check_rootfs(&fixture, &rootfs);
}

/// `skopeo inspect --tls-verify=false [extra] docker://reference`: its stdout.
fn skopeo_inspect_bytes(reference: &str, extra: &[&str]) -> Vec<u8> {
    run(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .args(extra)
            .arg(format!("docker://{reference}")),
        "skopeo inspect (the registry comes from .ci/services.sh start)",
    )
    .stdout
}

/// `skopeo inspect --tls-verify=false [extra] docker://reference` as JSON.
fn skopeo_inspect(reference: &str, extra: &[&str]) -> Value {
    let bytes = skopeo_inspect_bytes(reference, extra);
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "skopeo inspect {extra:?}: not JSON: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

#[test]
fn registry_push_and_pull_keep_digests() {
    let registry =
        std::env::var("STRATA_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let fixture = Fixture::new("registry");
    let image = fixture.stream();
    let facts = ArchiveFacts::read(&image);
    let reference = format!(
        "{registry}/strata-it/registry-{}:latest",
        std::process::id()
    );
    run(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("docker-archive:{}", image.display()))
            .arg(format!("docker://{reference}")),
        &format!(
            "skopeo copy to the registry at {registry} (start it: eval \"$(.ci/services.sh start)\")"
        ),
    );

    // The registry holds the archive's config byte for byte: same digest, same diff_ids.
    let raw_bytes = skopeo_inspect_bytes(&reference, &["--raw"]);
    let raw: Value = serde_json::from_slice(&raw_bytes).expect("the pushed manifest is JSON");
    assert_same(
        "config digest in the pushed manifest",
        &format!("sha256:{}", facts.image_id),
        raw["config"]["digest"].as_str().unwrap_or_default(),
    );
    let config = skopeo_inspect(&reference, &["--config"]);
    assert_eq!(
        &config["rootfs"]["diff_ids"],
        facts.diff_ids(),
        "diff_ids of the pushed config"
    );
    let inspected = skopeo_inspect(&reference, &[]);
    assert_same(
        "the registry's manifest digest is the sha256 of the manifest it serves",
        &format!("sha256:{}", sha256_hex(&raw_bytes)),
        inspected["Digest"].as_str().unwrap_or_default(),
    );

    // Pull it back (skopeo verifies every blob) and check the files arrived.
    let layout = fixture.path("pulled");
    run(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci:{}:pulled", layout.display())),
        "skopeo copy from the registry",
    );
    let pulled = oci_layout_config(&layout, "pulled");
    assert_eq!(
        &pulled["rootfs"]["diff_ids"],
        facts.diff_ids(),
        "diff_ids after the round trip"
    );
    let rootfs = umoci_unpack(&fixture, &layout, "pulled");
    check_rootfs(&fixture, &rootfs);
}

#[test]
fn demo_image_runs() {
    require_dockerd();
    let dir = tempfile::Builder::new()
        .prefix("strata-demo-")
        .tempdir()
        .expect("create a temp dir");
    let image = dir.path().join("image.tar");
    run(strata().arg("demo").arg("-o").arg(&image), "strata demo -o");
    let facts = ArchiveFacts::read(&image);
    let out = run(docker().arg("load").arg("-i").arg(&image), "docker load -i");
    // Remove by ID: the demo's tag is fixed, the ID is this archive's.
    let _loaded = Loaded {
        tool: docker,
        reference: format!("sha256:{}", facts.image_id),
    };
    let reference = loaded_reference(&out);
    let out = run(
        docker().args(["run", "--rm", "--network", "none", &reference]),
        "docker run (the demo image's default command)",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("strata"),
        "the demo image prints a line containing \"strata\"\n{}",
        show_output(&out)
    );
}

/// nixpkgs' "layered on top of a layered image" check: an image streamed with the first
/// (gzip-compressed, as buildLayeredImage stores it) as its fromImage keeps the base's
/// layers below its own, inherits Env, and runs in docker.
#[test]
fn docker_runs_an_image_layered_on_a_strata_base() {
    require_dockerd();
    let fixture = Fixture::new("docker_from_image");
    let base = fixture.stream();
    let base_facts = ArchiveFacts::read(&base);
    let base_gz = fixture.path("base.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(
        fs::File::create(&base_gz).expect("create base.tar.gz"),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut fs::File::open(&base).expect("open base"), &mut enc).expect("gzip");
    enc.finish().expect("gzip");

    let mut conf = read_json(&fixture.conf);
    let tag = format!("{}-top", fixture.tag);
    conf["from_image"] = json!(base_gz);
    conf["store_layers"] = json!([]);
    conf["repo_tag"] = json!(tag);
    conf["config"] = json!({
        "Cmd": ["/bin/sh", "-c", "echo $GREETING from the top"],
        "Env": ["GREETING=layered"]
    });
    let conf_path = fixture.path("top.json");
    write(
        &conf_path,
        serde_json::to_string(&conf).expect("json").as_bytes(),
    );
    let image = fixture.path("top.tar");
    run(
        strata().arg("stream").arg(&conf_path).arg("-o").arg(&image),
        "strata stream (from_image)",
    );
    let facts = ArchiveFacts::read(&image);
    let base_ids = base_facts
        .diff_ids()
        .as_array()
        .expect("base diff_ids")
        .clone();
    let ids = facts.diff_ids().as_array().expect("diff_ids").clone();
    assert_eq!(
        ids.len(),
        base_ids.len() + 1,
        "base layers + customisation layer"
    );
    assert_eq!(
        &ids[..base_ids.len()],
        &base_ids[..],
        "base layers first, same diff_ids"
    );
    assert_eq!(
        facts.config["config"]["Env"],
        json!(["PATH=/bin", "GREETING=layered"]),
        "Env: the base's first, then the image's"
    );
    run(
        docker().arg("load").arg("-i").arg(&image),
        "docker load -i (from_image)",
    );
    let _loaded = Loaded {
        tool: docker,
        reference: tag.clone(),
    };
    assert_same(
        "docker run of the layered image",
        "layered from the top\n",
        &docker_run(&tag, &[]),
    );
}
