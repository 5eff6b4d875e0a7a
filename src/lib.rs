//! strata: Nix store closures to layered container images.
//!
//! Data flows one way: a [`conf::Conf`] (the JSON nixpkgs' `streamLayeredImage` writes)
//! becomes a [`plan::Plan`] (every layer, its size and digest, known before a byte is
//! written), whose layer sources are then written by a sink (today the docker-archive
//! stream of [`sink::docker_archive`]).
#![deny(unsafe_code, unused_must_use)]
#![warn(missing_docs)]

pub mod base;
pub mod cli;
pub mod command;
pub mod conf;
pub mod confgen;
pub mod digest;
pub mod error;
pub mod layering;
pub mod output;
pub mod plan;
pub mod printable;
pub mod pyjson;
pub mod sink;
pub mod store_layer;
pub mod tar;
pub mod time;
pub mod userdb;

pub use error::{Error, Result};

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> Result<()> {
    match cli.command {
        cli::Command::Stream(args) => command::stream::run(args),
        cli::Command::Layers(args) => command::layers::run(args),
        cli::Command::Conf(args) => command::conf::run(args),
        cli::Command::Demo(args) => command::demo::run(args),
    }
}
