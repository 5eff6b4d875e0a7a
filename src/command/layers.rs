//! `strata layers`: split a closure's reference graph into layers and print them as JSON.
//!
//! Output: one line of JSON, a list of layers, each a list of store paths. With
//! `--algorithm popularity` and no `--layers`, the flat popularity order (a list of paths,
//! what `referencesByPopularity` writes) instead.
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::layering::{self, Graph, LayeringError, Layers, auto, pipeline, popularity};
use crate::{Error, Result};

/// Which layering algorithm to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Algorithm {
    /// referencesByPopularity + the legacy split: the N−1 most popular paths one per
    /// layer, everything else in the last.
    Popularity,
    /// nixpkgs' auto-layer (the streamLayeredImage default): at most N layers, the largest
    /// paths first with the dependencies only they use.
    Auto,
    /// A layeringPipeline (`--pipeline FILE`), as nixpkgs' flatten_references_graph runs it.
    Pipeline,
}

/// Arguments of `strata layers`.
#[derive(Debug, clap::Args)]
pub struct LayersArgs {
    /// The reference graph: the structured-attrs JSON (`{"graph": [...]}` or a bare list)
    /// or the exportReferencesGraph text file (popularity only: it has no narSize).
    #[arg(long, value_name = "FILE")]
    pub graph: PathBuf,
    /// The algorithm.
    #[arg(long, value_enum)]
    pub algorithm: Algorithm,
    /// Number of layers available for store paths (popularity: optional, without it the
    /// flat order is printed; auto: required; pipeline: not allowed, the pipeline's own
    /// `limit_layers` decides).
    #[arg(long, value_name = "N")]
    pub layers: Option<usize>,
    /// The pipeline: a JSON list of steps, or an object with `pipeline` (and optionally
    /// `exclude_paths`, added to --exclude), as flatten_references_graph reads it.
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// A store path to leave out of the output (repeatable).
    #[arg(long = "exclude", value_name = "PATH")]
    pub exclude: Vec<String>,
}

/// Runs `strata layers`.
pub fn run(args: LayersArgs) -> Result<()> {
    if args.algorithm != Algorithm::Pipeline && args.pipeline.is_some() {
        return Err(Error::Usage(
            "--pipeline is only used with --algorithm pipeline".into(),
        ));
    }
    let graph = Graph::read(&args.graph)?;
    let out: Value = if args.algorithm == Algorithm::Popularity && args.layers.is_none() {
        let order = popularity::order_graph(&graph);
        Value::from(
            order
                .into_iter()
                .filter(|p| !args.exclude.contains(p))
                .collect::<Vec<_>>(),
        )
    } else {
        Value::from(compute(
            &graph,
            args.algorithm,
            args.layers,
            args.pipeline.as_deref(),
            &args.exclude,
        )?)
    };
    let mut stdout = std::io::stdout().lock();
    let text = serde_json::to_string(&out).map_err(|e| Error::Usage(e.to_string()))?;
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(Error::Write)
}

/// The layers of `graph` for an algorithm: `layers` is the number of layers available
/// (popularity, auto), `pipeline` the pipeline file (pipeline), `exclude` the paths left
/// out: for popularity removed from the ordered list before the split (nixpkgs used
/// `grep -v PATH`, a substring match; here the match is exact), for auto its ignore list
/// (taking part in the layering, dropped at the end), for a pipeline its exclude_paths
/// (removed from the graph first).
pub fn compute(
    graph: &Graph,
    algorithm: Algorithm,
    layers: Option<usize>,
    pipeline: Option<&Path>,
    exclude: &[String],
) -> Result<Layers> {
    match algorithm {
        Algorithm::Popularity => {
            let n = layers.ok_or_else(|| Error::Usage("popularity needs --layers N".into()))?;
            let order = popularity::order_graph(graph);
            let kept = order.into_iter().filter(|p| !exclude.contains(p)).collect();
            Ok(popularity::legacy_split(kept, n)?)
        }
        Algorithm::Auto => {
            let n = layers.ok_or_else(|| Error::Usage("auto needs --layers N".into()))?;
            if n == 0 {
                return Err(LayeringError::Limit(
                    "auto: the number of layers must be at least 1".into(),
                )
                .into());
            }
            let ex = exclude.iter().map(String::as_str).collect();
            Ok(auto::auto_layer(graph, &ex, n)?)
        }
        Algorithm::Pipeline => {
            if layers.is_some() {
                return Err(Error::Usage(
                    "--layers has no meaning with a pipeline: its `limit_layers` step sets the count"
                        .into(),
                ));
            }
            let file = pipeline
                .ok_or_else(|| Error::Usage("--algorithm pipeline needs --pipeline FILE".into()))?;
            let (steps, mut ex) = read_pipeline(file)?;
            ex.extend(exclude.iter().cloned());
            Ok(pipeline::run(graph, &steps, &ex)?)
        }
    }
}

/// Reads a pipeline file: a list of steps, or an object with `pipeline` and optionally
/// `exclude_paths`. Returns the checked steps and those extra excluded paths.
pub fn read_pipeline(file: &Path) -> Result<(Vec<pipeline::Step>, Vec<String>)> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: file.to_path_buf(),
        source,
    })?;
    let key_err = |key: &str, msg: &str| Error::ConfKey {
        path: file.to_path_buf(),
        key: key.into(),
        msg: msg.into(),
    };
    let (steps, exclude) = match &value {
        Value::Array(_) => (&value, Vec::new()),
        Value::Object(o) => {
            let steps = o
                .get("pipeline")
                .ok_or_else(|| key_err("pipeline", "missing (expected a list of steps)"))?;
            let exclude = match o.get("exclude_paths") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| key_err("exclude_paths", "expected store path strings"))
                    })
                    .collect::<Result<_>>()?,
                Some(_) => return Err(key_err("exclude_paths", "expected a list of store paths")),
            };
            (steps, exclude)
        }
        _ => {
            return Err(key_err(
                "pipeline",
                "expected a list of steps or an object with `pipeline`",
            ));
        }
    };
    Ok((layering::pipeline::parse(steps)?, exclude))
}
