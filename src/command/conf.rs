//! `strata conf`: nixpkgs' `streamLayeredImage` conf step as one command.
//!
//! Reads the base JSON (`{architecture, config, os}`, what `baseJson` holds) and the
//! closure's reference graph, splits the store paths into layers and writes the conf.json
//! `strata stream` reads, byte for byte as nixpkgs' `jq` writes it.
//!
//! As in nixpkgs: the layer budget for popularity and auto is `--max-layers` minus the base
//! image's layers (from its `manifest.json`) minus one for the customisation layer, and
//! nothing left is an error; the base JSON path and the customisation layer are excluded
//! from the layers (plus any `--exclude`); `created` and `mtime` are re-printed as
//! `date -Iseconds` does (`now` kept); `uid`/`gid` are written as strings; the repo tag is
//! the lower-cased name, `:`, and the tag — by default the hash part of the output path
//! (`--out`, else `$out`). A pipeline (`--algorithm pipeline`) sets its own layer count,
//! as `layeringPipeline` does in nixpkgs: the budget is not applied to it.
//! `--no-store-paths` (`includeStorePaths = false`) gives `store_layers: []`.
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::command::layers::{Algorithm, compute};
use crate::confgen::{self, ConfFields};
use crate::layering::Graph;
use crate::{Error, Result};

/// Arguments of `strata conf`.
#[derive(Debug, clap::Args)]
pub struct ConfArgs {
    /// The base JSON (`{architecture, config, os}`); its path is excluded from the layers.
    #[arg(long, value_name = "FILE")]
    pub base_json: PathBuf,
    /// The reference graph of [base JSON, customisation layer] (structured-attrs JSON, or
    /// the text format for --algorithm popularity). Not needed with --no-store-paths.
    #[arg(long, value_name = "FILE")]
    pub graph: Option<PathBuf>,
    /// The customisation layer's store path (holding layer.tar and checksum).
    #[arg(long, value_name = "PATH")]
    pub customisation_layer: String,
    /// Image name; lower-cased for the repo tag.
    #[arg(long)]
    pub name: String,
    /// Image tag; default: the hash part of the output path (--out or $out).
    #[arg(long)]
    pub tag: Option<String>,
    /// The conf's own output path, whose hash part is the default tag (default: $out).
    #[arg(long, value_name = "PATH")]
    pub out: Option<String>,
    /// Total layer budget: base image layers, store layers and the customisation layer.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_layers: usize,
    /// The layering algorithm.
    #[arg(long, value_enum, default_value_t = Algorithm::Auto)]
    pub algorithm: Algorithm,
    /// The layering pipeline (JSON) for --algorithm pipeline.
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// A further store path to leave out of the layers (repeatable).
    #[arg(long = "exclude", value_name = "PATH")]
    pub exclude: Vec<String>,
    /// The base image archive (docker-archive; plain, gzip or zstd).
    #[arg(long, value_name = "PATH")]
    pub from_image: Option<PathBuf>,
    /// Image creation date (`date -d` syntax subset, or "now").
    #[arg(long, default_value = "1970-01-01T00:00:01Z")]
    pub created: String,
    /// Modification time of files in store layers (like --created).
    #[arg(long, default_value = "1970-01-01T00:00:01Z")]
    pub mtime: String,
    /// Owner uid of files in store layers.
    #[arg(long, default_value_t = 0)]
    pub uid: u32,
    /// Owner gid of files in store layers.
    #[arg(long, default_value_t = 0)]
    pub gid: u32,
    /// Owner user name of files in store layers.
    #[arg(long, default_value = "root")]
    pub uname: String,
    /// Owner group name of files in store layers.
    #[arg(long, default_value = "root")]
    pub gname: String,
    /// The Nix store directory.
    #[arg(long, value_name = "DIR", default_value = "/nix/store")]
    pub store_dir: String,
    /// No store layers at all (`includeStorePaths = false`).
    #[arg(long)]
    pub no_store_paths: bool,
    /// Where to write conf.json (default: stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `strata conf`.
pub fn run(args: ConfArgs) -> Result<()> {
    let text = conf_json(&args, std::env::var("out").ok())?;
    match &args.output {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(Error::Write)
        }
        Some(path) => write_atomic(path, text.as_bytes()),
    }
}

/// The conf.json text for `args`; `env_out` is `$out`, the tag's fallback source.
pub fn conf_json(args: &ConfArgs, env_out: Option<String>) -> Result<String> {
    if args.max_layers <= 1 {
        return Err(Error::Usage(format!(
            "--max-layers must be greater than 1 (current value: {})",
            args.max_layers
        )));
    }
    let tag = match (&args.tag, args.out.clone().or(env_out)) {
        (Some(t), _) => t.clone(),
        (None, Some(out)) => hash_part(&out),
        (None, None) => {
            return Err(Error::Usage(
                "no --tag, and no --out or $out to take the hash part from".into(),
            ));
        }
    };
    let base = read_base(&args.base_json)?;
    let created = confgen::iso_date(&args.created, "--created")?;
    let mtime = confgen::iso_date(&args.mtime, "--mtime")?;
    let store_layers = if args.no_store_paths {
        Vec::new()
    } else {
        let graph_file = args
            .graph
            .as_deref()
            .ok_or_else(|| Error::Usage("--graph is required (or --no-store-paths)".into()))?;
        // Store paths as the graph spells them: no trailing or doubled slashes.
        let canonical = |p: &str| {
            let parts: Vec<&str> = p
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            format!("/{}", parts.join("/"))
        };
        let mut exclude = vec![
            canonical(&args.base_json.to_string_lossy()),
            canonical(&args.customisation_layer),
        ];
        exclude.extend(args.exclude.iter().map(|p| canonical(p)));
        let layers = match args.algorithm {
            Algorithm::Pipeline => None,
            _ => Some(available_layers(
                args.max_layers,
                args.from_image.as_deref(),
            )?),
        };
        let graph = Graph::read(graph_file)?;
        compute(
            &graph,
            args.algorithm,
            layers,
            args.pipeline.as_deref(),
            &exclude,
        )?
    };
    let fields = ConfFields {
        store_dir: args.store_dir.clone(),
        from_image: args
            .from_image
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        store_layers,
        customisation_layer: args.customisation_layer.clone(),
        repo_tag: format!("{}:{tag}", args.name.to_ascii_lowercase()),
        created,
        mtime,
        uid: args.uid.to_string(),
        gid: args.gid.to_string(),
        uname: args.uname.clone(),
        gname: args.gname.clone(),
    };
    Ok(confgen::jq_pretty(&confgen::assemble(base, fields)))
}

/// `$(basename "$out" | cut -d - -f 1)`: the hash part of a store path.
fn hash_part(out: &str) -> String {
    let base = out.trim_end_matches('/').rsplit('/').next().unwrap_or(out);
    base.split('-').next().unwrap_or(base).to_string()
}

/// `maxLayers − base image layers − 1`, or the error nixpkgs gives when nothing is left.
fn available_layers(max_layers: usize, from_image: Option<&Path>) -> Result<usize> {
    let base = match from_image {
        Some(p) => confgen::base_layer_count(p)?,
        None => 0,
    };
    let used = base + 1;
    if used >= max_layers {
        return Err(Error::Usage(format!(
            "{used} layers are used by the base image ({base}) and the customisation layer (1), \
             but --max-layers is {max_layers}: at least 1 layer is needed for store paths"
        )));
    }
    Ok(max_layers - used)
}

fn read_base(path: &Path) -> Result<serde_json::Map<String, Value>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Error::ConfKey {
            path: path.to_path_buf(),
            key: ".".into(),
            msg: format!(
                "the base JSON must be an object {{architecture, config, os}}, found {}",
                match other {
                    Value::Array(_) => "a list",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ),
        }),
    }
}

/// Writes `bytes` to a temporary name beside `path`, then renames it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "conf.json".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
