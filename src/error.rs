//! Typed errors. Every variant names its culprit: the conf key, the file path,
//! the archive member, what was expected and what was found.
use std::io;
use std::path::PathBuf;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each with the offending key / path / member.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read, listed or inspected.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Writing the output failed (a closed pipe is reported by exit code only).
    #[error("writing output: {0}")]
    Write(#[source] io::Error),
    /// A JSON input is not valid JSON.
    #[error("{}: not valid JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A conf.json key is missing or holds the wrong kind of value.
    #[error("{}: key `{key}`: {msg}", path.display())]
    ConfKey {
        /// The conf file.
        path: PathBuf,
        /// The key, dotted for nested values (`store_layers[2][0]`).
        key: String,
        /// What is wrong with it.
        msg: String,
    },
    /// A store path in the conf is not inside `store_dir`.
    #[error("store path {path} is not inside store_dir {store_dir}")]
    OutsideStore {
        /// The path as the conf gives it.
        path: String,
        /// The conf's store_dir.
        store_dir: String,
    },
    /// A file that cannot go into a layer (a socket, say).
    #[error("{}: cannot put a {kind} into a layer", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Its kind.
        kind: &'static str,
    },
    /// A file changed between hashing a layer and streaming it.
    #[error("{}: changed while the image was being written ({what}); the layer would not match its digest", path.display())]
    Changed {
        /// The file (or the layer's first path when the file is not known).
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// A customisation layer's bytes do not match its `checksum` file.
    #[error("{}: sha256 is {found}, but {} says {expected}", path.display(), checksum_file.display())]
    DigestMismatch {
        /// The layer.tar.
        path: PathBuf,
        /// The checksum file.
        checksum_file: PathBuf,
        /// The digest it names.
        expected: String,
        /// The digest of the bytes.
        found: String,
    },
    /// A checksum file that does not hold a sha256 hex digest.
    #[error("{}: expected a sha256 hex digest (64 hex digits), found {found:?}", path.display())]
    BadChecksumFile {
        /// The file.
        path: PathBuf,
        /// Its (trimmed) contents, shortened.
        found: String,
    },
    /// A base image (fromImage) archive that cannot be used.
    #[error("base image {}: {msg}", archive.display())]
    Base {
        /// The archive.
        archive: PathBuf,
        /// What is wrong, naming the member.
        msg: String,
    },
    /// A layering input or pipeline that cannot be used.
    #[error(transparent)]
    Layering(#[from] crate::layering::LayeringError),
    /// A bad combination of command-line arguments.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the output's reader went away (`strata stream | head`): exit quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}
