//! Layering: which store paths go into which layer (popularity, auto, pipeline).
//! Pure functions from a reference graph to a list of layers.

/// Errors of graph reading and layering.
#[derive(Debug, thiserror::Error)]
pub enum LayeringError {
    /// Placeholder until the graph reader lands.
    #[error("{0}")]
    Other(String),
}
