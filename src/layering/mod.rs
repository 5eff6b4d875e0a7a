//! Layering: which store paths go into which layer (popularity, auto, pipeline).
//! Pure functions from a reference graph to a list of layers.
//!
//! - [`graph`] reads the reference graph Nix writes (text or structured-attrs JSON) and
//!   validates it (no dangling references, no cycles, no conflicting duplicates).
//! - [`popularity`] is `referencesByPopularity`'s ordering and the legacy split of it.
//! - [`auto`] is nixpkgs' `auto-layer.py`.
//! - [`pipeline`] is nixpkgs' `flatten_references_graph` (the `layeringPipeline` language).
//!
//! The exact observable contract of each is in `tests/golden/layering/README.md`; the
//! choices made where nixpkgs crashes or is non-deterministic are documented on each
//! function.
use std::path::PathBuf;

pub mod auto;
pub mod graph;
pub mod pipeline;
pub mod popularity;

pub use graph::Graph;

/// A list of layers, each a list of store paths, in output order.
pub type Layers = Vec<Vec<String>>;

/// Errors of graph reading and layering.
#[derive(Debug, thiserror::Error)]
pub enum LayeringError {
    /// The graph file is neither a valid text graph nor a usable JSON graph.
    #[error("graph {}: {msg}", file.display())]
    Format {
        /// The graph file.
        file: PathBuf,
        /// What is wrong, naming the line, node or key.
        msg: String,
    },
    /// A node refers to a path that has no node of its own.
    #[error("graph {}: {from} refers to {to}, which is not in the graph", file.display())]
    Dangling {
        /// The graph file.
        file: PathBuf,
        /// The referring path.
        from: String,
        /// The missing path.
        to: String,
    },
    /// The same path appears twice with different contents.
    #[error("graph {}: {path} appears twice with different {what}", file.display())]
    Duplicate {
        /// The graph file.
        file: PathBuf,
        /// The path.
        path: String,
        /// Which field differs.
        what: &'static str,
    },
    /// References form a cycle (other than a path referring to itself).
    #[error("graph {}: reference cycle through {path} (Nix store graphs have none)", file.display())]
    Cycle {
        /// The graph file.
        file: PathBuf,
        /// A path on the cycle.
        path: String,
    },
    /// The algorithm needs `narSize`, which this graph does not carry.
    #[error(
        "graph {}: the {algorithm} algorithm needs narSize for every path, and {detail}; \
         give the structured-attrs JSON graph (`__structuredAttrs = true`)",
        file.display()
    )]
    NoNarSize {
        /// The graph file.
        file: PathBuf,
        /// The algorithm asking.
        algorithm: &'static str,
        /// Why there is none.
        detail: String,
    },
    /// A malformed pipeline, or a step applied to a value it cannot take.
    #[error("pipeline {step}: {msg}")]
    Pipeline {
        /// Where in the pipeline (`step 2 (over) > step 1 (pipe)`).
        step: String,
        /// What is wrong.
        msg: String,
    },
    /// A layer count that cannot be used.
    #[error("{0}")]
    Limit(String),
}
