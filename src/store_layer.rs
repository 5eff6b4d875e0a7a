//! A store layer: the inner tar of a list of store paths, produced exactly as nixpkgs'
//! `archive_paths_to` does, written into any `Write` (a hasher, or the output stream).
//!
//! The same walk runs twice — once to learn the layer's sha256 and size, once to stream —
//! and never holds more than one directory listing per level in memory. Each run also
//! hashes the header bytes alone (the *fingerprint*): if a file's size, type, mode, name
//! or link target differs between the runs, the fingerprints differ and the stream fails
//! rather than emit a layer that disagrees with its digest.
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, Result};
use crate::tar::{self, Header, Num};

/// Who owns the files of store layers, and their mtime (all from the conf).
#[derive(Debug, Clone)]
pub struct Owner {
    /// Owner id.
    pub uid: i128,
    /// Group id.
    pub gid: i128,
    /// Owner name.
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Modification time of every entry.
    pub mtime: i64,
}

/// What one run over a layer produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSummary {
    /// Bytes written (the layer's size).
    pub size: u64,
    /// sha256 of all header bytes, in order.
    pub fingerprint: Digest,
}

/// Checks that `path` lies strictly inside `store_dir` (component-wise) and returns it as
/// Python's `pathlib` normalises it (no empty or `.` components, no trailing slash).
pub fn check_store_path(path: &str, store_dir: &str) -> Result<PathBuf> {
    let outside = || Error::OutsideStore {
        path: path.to_string(),
        store_dir: store_dir.to_string(),
    };
    let comps = |s: &str| -> Vec<String> {
        s.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    if !path.starts_with('/') || !store_dir.starts_with('/') {
        return Err(outside());
    }
    let p = comps(path);
    let d = comps(store_dir);
    if p.len() <= d.len() || p[..d.len()] != d[..] || p[d.len()..].iter().any(|c| c == "..") {
        return Err(outside());
    }
    Ok(PathBuf::from(format!("/{}", p.join("/"))))
}

/// Writes a store layer's tar into `out`, returning its size and header fingerprint.
/// `paths` must already be normalised by [`check_store_path`].
pub fn write_layer<W: Write>(
    paths: &[PathBuf],
    owner: &Owner,
    out: &mut W,
) -> Result<LayerSummary> {
    let mut w = LayerWriter {
        out,
        owner,
        written: 0,
        fingerprint: HashingWriter::new(),
        header: Vec::with_capacity(2048),
        buf: vec![0u8; 256 * 1024],
    };
    for root in [&b"/nix/"[..], b"/nix/store/"] {
        w.put_header(root, 0o755, 0, tar::DIRTYPE, b"", (0, 0))?;
    }
    for path in paths {
        let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
        let is_dir = meta.is_dir();
        w.entry(path, &meta)?;
        if is_dir {
            w.walk(path)?;
        }
    }
    let end = tar::end_of_archive_len(w.written);
    w.zeros(end)?;
    let (fingerprint, _) = w.fingerprint.finish();
    Ok(LayerSummary {
        size: w.written,
        fingerprint,
    })
}

/// Hashes a store layer: its digest (the diff_id), size and header fingerprint.
pub fn hash_layer(paths: &[PathBuf], owner: &Owner) -> Result<(Digest, LayerSummary)> {
    let mut h = HashingWriter::new();
    let summary = write_layer(paths, owner, &mut h)?;
    let (digest, _) = h.finish();
    Ok((digest, summary))
}

struct LayerWriter<'a, W: Write> {
    out: &'a mut W,
    owner: &'a Owner,
    written: u64,
    fingerprint: HashingWriter,
    header: Vec<u8>,
    buf: Vec<u8>,
}

impl<W: Write> LayerWriter<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(Error::Write)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn zeros(&mut self, mut n: u64) -> Result<()> {
        const Z: [u8; 512] = [0; 512];
        while n > 0 {
            let k = n.min(512) as usize;
            self.write(&Z[..k])?;
            n -= k as u64;
        }
        Ok(())
    }

    fn put_header(
        &mut self,
        name: &[u8],
        mode: u32,
        size: u64,
        typeflag: u8,
        linkname: &[u8],
        dev: (u64, u64),
    ) -> Result<()> {
        let mut header = std::mem::take(&mut self.header);
        header.clear();
        Header {
            name,
            mode,
            uid: self.owner.uid,
            gid: self.owner.gid,
            size,
            mtime: Num::Int(self.owner.mtime as i128),
            typeflag,
            linkname,
            uname: &self.owner.uname,
            gname: &self.owner.gname,
            devmajor: dev.0,
            devminor: dev.1,
            pax: &[],
        }
        .encode(&mut header);
        let _ = self.fingerprint.write_all(&header);
        let r = self.write(&header);
        self.header = header;
        r
    }

    /// Walks a directory's children in Python's sorted order, depth first (which is the
    /// order `sorted()` gives whole paths: component by component).
    fn walk(&mut self, dir: &Path) -> Result<()> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            names.push(entry.file_name().into_vec());
        }
        names.sort_by(|a, b| tar::py_str_cmp(a, b));
        for name in names {
            let path = dir.join(std::ffi::OsStr::from_bytes(&name));
            let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            self.entry(&path, &meta)?;
            if meta.is_dir() {
                self.walk(&path)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, meta: &Metadata) -> Result<()> {
        let ft = meta.file_type();
        let mode = meta.mode() & 0o7777;
        let raw = path.as_os_str().as_bytes();
        // `gettarinfo` strips leading slashes; `append_root` puts one back.
        let trimmed = &raw[raw.iter().take_while(|&&b| b == b'/').count()..];
        let mut name = Vec::with_capacity(trimmed.len() + 2);
        name.push(b'/');
        name.extend_from_slice(trimmed);
        if ft.is_dir() {
            name.push(b'/');
            self.put_header(&name, mode, 0, tar::DIRTYPE, b"", (0, 0))
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(|e| Error::io(path, e))?;
            self.put_header(
                &name,
                mode,
                0,
                tar::SYMTYPE,
                target.as_os_str().as_bytes(),
                (0, 0),
            )
        } else if ft.is_file() {
            // Hard links are written as regular files with their contents, as nixpkgs does.
            let size = meta.len();
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            self.put_header(&name, mode, size, tar::REGTYPE, b"", (0, 0))?;
            self.copy_exact(&mut file, size, path)?;
            self.zeros(tar::padding(size))
        } else if ft.is_fifo() {
            self.put_header(&name, mode, 0, tar::FIFOTYPE, b"", (0, 0))
        } else if ft.is_char_device() || ft.is_block_device() {
            let t = if ft.is_char_device() {
                tar::CHRTYPE
            } else {
                tar::BLKTYPE
            };
            let dev = meta.rdev();
            self.put_header(&name, mode, 0, t, b"", (dev_major(dev), dev_minor(dev)))
        } else {
            Err(Error::Unsupported {
                path: path.to_path_buf(),
                kind: "socket",
            })
        }
    }

    /// Copies exactly `size` bytes of `file`; a shorter file is an error.
    fn copy_exact(&mut self, file: &mut File, size: u64, path: &Path) -> Result<()> {
        let mut left = size;
        let mut buf = std::mem::take(&mut self.buf);
        let r = (|| {
            while left > 0 {
                let want = (buf.len() as u64).min(left) as usize;
                let n = match file.read(&mut buf[..want]) {
                    Ok(0) => {
                        return Err(Error::Changed {
                            path: path.to_path_buf(),
                            what: format!(
                                "it has {} bytes, not the {size} its metadata gave",
                                size - left
                            ),
                        });
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io(path, e)),
                };
                self.write(&buf[..n])?;
                left -= n as u64;
            }
            Ok(())
        })();
        self.buf = buf;
        r
    }
}

/// glibc's `gnu_dev_major`.
fn dev_major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

/// glibc's `gnu_dev_minor`.
fn dev_minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_paths_must_be_inside_store_dir() {
        assert_eq!(
            check_store_path("/nix/store//abc-x/", "/nix/store").unwrap(),
            PathBuf::from("/nix/store/abc-x")
        );
        for bad in [
            "/nix/store",
            "/nix/storex/abc",
            "/etc/passwd",
            "nix/store/abc",
            "/nix/store/../etc",
        ] {
            assert!(check_store_path(bad, "/nix/store").is_err(), "{bad}");
        }
    }
}
