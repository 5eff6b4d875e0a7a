//! conf (in progress).
