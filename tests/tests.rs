//! The one integration-test binary: each module under `it/` is one area.
mod it;
