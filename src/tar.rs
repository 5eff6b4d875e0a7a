//! tar (in progress).
