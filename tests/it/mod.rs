//! The integration-test modules, one per line.
pub mod consumers;
