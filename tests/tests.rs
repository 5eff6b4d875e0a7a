//! strata's one integration-test binary: every test module is listed in `it/mod.rs`.
mod it;
