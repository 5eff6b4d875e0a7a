//! The command-line surface: clap definitions only, no I/O.
//!
//! Each subcommand's arguments live beside its implementation in `command/`;
//! this enum only names them. Doc comments here are the `--help` text.
use clap::{Parser, Subcommand};

use crate::command;

/// Layered container images from Nix store closures, byte-compatible with nixpkgs' dockerTools.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stream a docker-archive (what `docker load` reads) from a conf.json written by
    /// `streamLayeredImage` (or by `strata conf`), byte-for-byte what nixpkgs writes.
    Stream(command::stream::StreamArgs),
    /// Split a closure's reference graph into layers (popularity, auto, pipeline) and
    /// print them as JSON: a list of lists of store paths.
    Layers(command::layers::LayersArgs),
    /// Write the conf.json that `strata stream` reads, as nixpkgs' conf derivation does.
    Conf(command::conf::ConfArgs),
    /// Build a small runnable demo image from a generated store (no Nix needed).
    Demo(command::demo::DemoArgs),
}
