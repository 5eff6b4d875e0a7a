//! The one integration-test binary: one module per area, one line each.
mod it {
    pub mod conf_cmd;
    pub mod layering;
}
