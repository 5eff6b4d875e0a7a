//! One module per subcommand: its clap arguments and its `run`.
pub mod conf;
pub mod demo;
pub mod layers;
pub mod stream;
