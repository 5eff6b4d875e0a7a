//! `strata stream` (not yet implemented).
use crate::Result;

/// Arguments of `strata stream`.
#[derive(Debug, clap::Args)]
pub struct StreamArgs {}

/// Runs `strata stream`.
pub fn run(_args: StreamArgs) -> Result<()> {
    Err(crate::Error::Usage("strata stream: not implemented yet".into()))
}
