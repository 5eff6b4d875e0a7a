//! Integration test modules, one line each.
pub mod common;
pub mod conf_cmd;
pub mod consumers;
pub mod layering;
pub mod oracle;
pub mod robustness;
pub mod stream_errors;
pub mod stream_golden;
