//! Digests and the writers that compute them as bytes pass: a validated sha256
//! [`Digest`], and [`HashingWriter`] (sha256 + byte count in one pass).
use std::fmt;
use std::io::{self, Write};

use sha2::{Digest as _, Sha256};

/// A sha256 digest. Cannot hold a malformed value; prints as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Parses 64 hex digits (either case), optionally prefixed by `sha256:`.
    pub fn parse_hex(s: &str) -> Option<Digest> {
        let hex_part = s.strip_prefix("sha256:").unwrap_or(s);
        if hex_part.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).ok()?;
        Some(Digest(out))
    }

    /// The sha256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// 64 lower-case hex digits.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `sha256:<hex>`, as diff_ids and descriptors spell it.
    pub fn prefixed(&self) -> String {
        format!("sha256:{}", self.hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

/// A writer that hashes and counts what is written and keeps nothing.
#[derive(Default, Clone)]
pub struct HashingWriter {
    hasher: Sha256,
    len: u64,
}

impl HashingWriter {
    /// A fresh writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest and byte count of everything written.
    pub fn finish(self) -> (Digest, u64) {
        (Digest(self.hasher.finalize().into()), self.len)
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_is_the_known_constant() {
        assert_eq!(
            Digest::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_malformed() {
        assert!(Digest::parse_hex("abc").is_none());
        assert!(Digest::parse_hex(&"g".repeat(64)).is_none());
        let d = Digest::of(b"x");
        assert_eq!(Digest::parse_hex(&d.prefixed()), Some(d));
        assert_eq!(Digest::parse_hex(&d.hex().to_uppercase()), Some(d));
    }
}
