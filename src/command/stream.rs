//! `strata stream`: conf.json → plan → docker-archive on stdout (or a file).
use std::fs::File;
use std::io::BufWriter;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::Plan;
use crate::sink::docker_archive;

/// Arguments of `strata stream`. Unambiguous prefixes of long options are accepted
/// (`--repo`), as argparse accepts them for nixpkgs' script.
#[derive(Debug, clap::Args)]
#[command(infer_long_args = true)]
pub struct StreamArgs {
    /// The conf.json written by `streamLayeredImage` or `strata conf`.
    pub conf: PathBuf,
    /// Write the archive to this file (atomically: a temporary name, then renamed)
    /// instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Replace the image's RepoTags entry (`NAME:TAG`); `--repo_tag` and `-t` are
    /// accepted too, as nixpkgs' script takes them.
    #[arg(
        short = 't',
        long = "repo-tag",
        visible_alias = "repo_tag",
        value_name = "TAG"
    )]
    pub repo_tag: Option<String>,
    /// Threads hashing store layers (default: the number of CPUs). Output is the same
    /// whatever the number.
    #[arg(short = 'j', long = "jobs")]
    pub jobs: Option<usize>,
}

/// Runs `strata stream`.
pub fn run(args: StreamArgs) -> Result<()> {
    let conf = Conf::load(&args.conf, args.repo_tag.as_deref())?;
    let repo_tag = conf
        .repo_tag
        .clone()
        .ok_or_else(|| Error::Usage("no repo tag".into()))?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let plan = Plan::build(&conf, &repo_tag, jobs)?;
    write_plan(&plan, args.output.as_deref())
}

/// Writes the docker-archive of `plan` to `output` (atomically) or to stdout.
pub fn write_plan(plan: &Plan, output: Option<&Path>) -> Result<()> {
    match output {
        None => {
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(Error::Write)?;
            docker_archive::write(plan, Output::new(File::from(fd)))
        }
        Some(path) => match std::fs::metadata(path) {
            // A FIFO, a device, /dev/stdout: write into it, never rename over it.
            Ok(meta) if !meta.is_file() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io(path, e))?;
                docker_archive::write(plan, Output::new(file))
            }
            _ => write_atomically(path, |out| docker_archive::write(plan, out)),
        },
    }
}

/// Writes `path` through a temporary file in the same directory, renamed into place only
/// when `f` succeeds; on failure the temporary file is removed.
pub fn write_atomically(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{}: not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let result = f(&mut out).and_then(|()| {
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
