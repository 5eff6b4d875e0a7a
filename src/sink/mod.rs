//! Output sinks: each writes a [`crate::plan::Plan`] in one format.
pub mod docker_archive;
