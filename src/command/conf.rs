//! `strata conf` (not yet implemented).
use crate::Result;

/// Arguments of `strata conf`.
#[derive(Debug, clap::Args)]
pub struct ConfArgs {}

/// Runs `strata conf`.
pub fn run(_args: ConfArgs) -> Result<()> {
    Err(crate::Error::Usage(
        "strata conf: not implemented yet".into(),
    ))
}
