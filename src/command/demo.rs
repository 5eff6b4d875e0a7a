//! `strata demo` (not yet implemented).
use crate::Result;

/// Arguments of `strata demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `strata demo`.
pub fn run(_args: DemoArgs) -> Result<()> {
    Err(crate::Error::Usage(
        "strata demo: not implemented yet".into(),
    ))
}
