//! pyjson (in progress).
