//! `strata demo`: the main job on a built-in default. Generates a small store (the running
//! strata binary itself — static, so it runs in an empty image — and a data path), a
//! customisation layer with `/bin/strata`, and a conf.json; then streams the image like
//! `strata stream` does. Needs no Nix, docker or network. Same binary, same bytes.
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::conf::Conf;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::tar::{self, Header, Num};

/// Arguments of `strata demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Write the image here instead of stdout (e.g. `demo.tar`, then `docker load -i demo.tar`).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Where to generate the demo store and conf (its path is inside the image's layers).
    #[arg(long = "dir", default_value = "/tmp/strata-demo")]
    pub dir: PathBuf,
    /// The image's repo tag.
    #[arg(short = 't', long = "repo-tag", default_value = "strata-demo:latest")]
    pub repo_tag: String,
}

/// The nix-base32 alphabet, for store-path-like hash parts.
const NIX32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

fn hash_part(seed: &[u8]) -> String {
    let d = Digest::of(seed).hex();
    d.bytes()
        .take(32)
        .map(|b| NIX32[(b % 32) as usize] as char)
        .collect()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Runs `strata demo`.
pub fn run(args: DemoArgs) -> Result<()> {
    let conf_path = generate(&args.dir)?;
    let conf = Conf::load(&conf_path, Some(&args.repo_tag))?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = Plan::build(&conf, &args.repo_tag, jobs)?;
    crate::command::stream::write_plan(&plan, args.output.as_deref())?;
    eprintln!(
        "strata demo: image {} ({} layers, tag {}) from {}",
        plan.image_id().prefixed(),
        plan.layers.len(),
        args.repo_tag,
        conf_path.display()
    );
    if !is_static(&std::fs::read("/proc/self/exe").unwrap_or_default()) {
        eprintln!(
            "strata demo: note: this strata binary is dynamically linked, so the image will not run; build with the repository's .cargo/config.toml (static)"
        );
    }
    Ok(())
}

/// True for an ELF file without a program interpreter (a static executable).
fn is_static(elf: &[u8]) -> bool {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&elf[o..o + 8]);
        u64::from_le_bytes(b) as usize
    };
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        // PT_INTERP = 3
        o + 4 <= elf.len() && u32::from_le_bytes([elf[o], elf[o + 1], elf[o + 2], elf[o + 3]]) != 3
    })
}

/// Writes the demo store and conf under `dir`; returns the conf's path.
fn generate(dir: &Path) -> Result<PathBuf> {
    let store = dir.join("nix/store");
    let exe_path = Path::new("/proc/self/exe");
    let exe = fs::read(exe_path).map_err(io_err(exe_path))?;
    let version = env!("CARGO_PKG_VERSION");
    let strata_pkg = store.join(format!("{}-strata-{version}", hash_part(&exe)));
    let greeting = b"Hello from an image strata streamed from a Nix-style store.\n";
    let data_pkg = store.join(format!("{}-demo-greeting", hash_part(greeting)));

    // Rewrite from scratch so stale files cannot leak into the image.
    if store.exists() {
        fs::remove_dir_all(&store).map_err(io_err(&store))?;
    }
    let bin = strata_pkg.join("bin");
    fs::create_dir_all(&bin).map_err(io_err(&bin))?;
    let exe_dst = bin.join("strata");
    fs::write(&exe_dst, &exe).map_err(io_err(&exe_dst))?;
    set_mode(&exe_dst, 0o555)?;
    let share = data_pkg.join("share");
    fs::create_dir_all(&share).map_err(io_err(&share))?;
    let txt = share.join("greeting.txt");
    fs::write(&txt, greeting).map_err(io_err(&txt))?;
    set_mode(&txt, 0o444)?;
    for d in [&bin, &share, &strata_pkg, &data_pkg] {
        set_mode(d, 0o555)?;
    }

    // The customisation layer: /bin/strata and /etc/greeting.txt as symlinks into the store.
    let layer = customisation_tar(&exe_dst, &txt);
    let custom = store.join(format!(
        "{}-strata-demo-customisation-layer",
        hash_part(&layer)
    ));
    fs::create_dir_all(&custom).map_err(io_err(&custom))?;
    let layer_tar = custom.join("layer.tar");
    fs::write(&layer_tar, &layer).map_err(io_err(&layer_tar))?;
    let checksum = custom.join("checksum");
    fs::write(&checksum, Digest::of(&layer).hex()).map_err(io_err(&checksum))?;

    let conf = json!({
        "architecture": "amd64",
        "config": {
            "Cmd": ["/bin/strata", "--version"],
            "Env": ["PATH=/bin"],
            "Labels": {"org.opencontainers.image.title": "strata demo"}
        },
        "os": "linux",
        "store_dir": store,
        "from_image": null,
        "store_layers": [[strata_pkg], [data_pkg]],
        "customisation_layer": custom,
        "repo_tag": "strata-demo:latest",
        "created": "1970-01-01T00:00:01+00:00",
        "mtime": "1970-01-01T00:00:01+00:00",
        "uid": "0",
        "gid": "0",
        "uname": "root",
        "gname": "root"
    });
    let conf_path = dir.join("conf.json");
    let text = serde_json::to_vec_pretty(&conf).map_err(|e| Error::Usage(e.to_string()))?;
    fs::write(&conf_path, text).map_err(io_err(&conf_path))?;
    Ok(conf_path)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

/// A small tar (the customisation layer) holding `./bin/strata` and `./etc/greeting.txt`
/// as symlinks to the store paths.
fn customisation_tar(exe: &Path, txt: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    let entry = |out: &mut Vec<u8>, name: &[u8], typeflag: u8, mode: u32, link: &[u8]| {
        Header {
            name,
            mode,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: Num::Int(1),
            typeflag,
            linkname: link,
            uname: b"root",
            gname: b"root",
            devmajor: 0,
            devminor: 0,
            pax: &[],
        }
        .encode(out)
    };
    entry(&mut out, b"./", tar::DIRTYPE, 0o755, b"");
    entry(&mut out, b"./bin/", tar::DIRTYPE, 0o755, b"");
    entry(
        &mut out,
        b"./bin/strata",
        tar::SYMTYPE,
        0o777,
        exe.as_os_str().as_bytes(),
    );
    entry(&mut out, b"./etc/", tar::DIRTYPE, 0o755, b"");
    entry(
        &mut out,
        b"./etc/greeting.txt",
        tar::SYMTYPE,
        0o777,
        txt.as_os_str().as_bytes(),
    );
    let end = tar::end_of_archive_len(out.len() as u64);
    out.resize(out.len() + end as usize, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_detection_reads_program_headers() {
        assert!(!is_static(b"not an elf"));
        // The test binary is built static by the repository's cargo config.
        let me = std::fs::read("/proc/self/exe").unwrap_or_default();
        assert_eq!(is_static(&me), cfg!(target_feature = "crt-static"));
    }
}
