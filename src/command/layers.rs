//! `strata layers` (not yet implemented).
use crate::Result;

/// Arguments of `strata layers`.
#[derive(Debug, clap::Args)]
pub struct LayersArgs {}

/// Runs `strata layers`.
pub fn run(_args: LayersArgs) -> Result<()> {
    Err(crate::Error::Usage(
        "strata layers: not implemented yet".into(),
    ))
}
