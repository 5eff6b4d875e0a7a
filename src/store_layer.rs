//! A store layer: the inner tar of a list of store paths, produced exactly as nixpkgs'
//! `archive_paths_to` does, written into any `Write` (a hasher, or the output stream).
//!
//! The same walk runs twice — once to learn the layer's sha256 and size, once to stream —
//! and never holds more than one directory listing per level in memory. Each run also
//! hashes every entry's name, type, mode, size and link target (the *fingerprint*): if a
//! file changes in any of these between the runs, the fingerprints differ and the stream
//! fails rather than emit a layer that disagrees with its digest.
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, Result};
use crate::output::ByteSink;
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
    /// A hash of every entry's name, type, mode, size, link target and device numbers,
    /// in order (not cryptographic: it only has to notice a file changing under us).
    pub fingerprint: u64,
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
pub fn write_layer<W: ByteSink>(
    paths: &[PathBuf],
    owner: &Owner,
    out: &mut W,
) -> Result<LayerSummary> {
    let mut w = LayerWriter {
        out,
        owner,
        written: 0,
        fingerprint: DefaultHasher::new(),
        header: Vec::with_capacity(2048),
        buf: vec![0u8; 256 * 1024],
    };
    for root in [&b"/nix/"[..], b"/nix/store/"] {
        w.put_header(root, 0o755, 0, tar::DIRTYPE, b"", (0, 0))?;
    }
    for path in paths {
        let raw = path.as_os_str().as_bytes();
        let st = rfs::statat(rfs::CWD, path, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| Error::io(path, e.into()))?;
        let mut full = raw.to_vec();
        let (parent, name) = match raw.iter().rposition(|&b| b == b'/') {
            Some(i) => (&raw[..i.max(1)], &raw[i + 1..]),
            None => (&b"."[..], raw),
        };
        // The store directory itself may be reached through symlinks, as Python would.
        let parent_fd = rfs::openat(
            rfs::CWD,
            OsStr::from_bytes(parent),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(Path::new(OsStr::from_bytes(parent)), e.into()))?;
        let name =
            CString::new(name).map_err(|_| Error::io(path, io::ErrorKind::InvalidInput.into()))?;
        w.entry(&parent_fd, &name, &full, &st)?;
        if file_type(&st) == FileType::Directory {
            let fd = open_dir(&parent_fd, &name, path)?;
            w.walk(&fd, &mut full)?;
        }
    }
    let end = tar::end_of_archive_len(w.written);
    w.zeros(end)?;
    Ok(LayerSummary {
        size: w.written,
        fingerprint: w.fingerprint.finish(),
    })
}

/// Hashes a store layer: its digest (the diff_id), size and header fingerprint.
pub fn hash_layer(paths: &[PathBuf], owner: &Owner) -> Result<(Digest, LayerSummary)> {
    let mut h = HashingWriter::new();
    let summary = write_layer(paths, owner, &mut h)?;
    let (digest, _) = h.finish();
    Ok((digest, summary))
}

struct LayerWriter<'a, W: ByteSink> {
    out: &'a mut W,
    owner: &'a Owner,
    written: u64,
    fingerprint: DefaultHasher,
    header: Vec<u8>,
    buf: Vec<u8>,
}

impl<W: ByteSink> LayerWriter<'_, W> {
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
        (name, mode, size, typeflag, linkname, dev).hash(&mut self.fingerprint);
        let r = self.write(&header);
        self.header = header;
        r
    }

    /// Walks a directory's children in Python's sorted order, depth first (which is the
    /// order `sorted()` gives whole paths: component by component). Every lookup is
    /// relative to the open directory, so the kernel never re-resolves the whole path.
    fn walk(&mut self, dir: &OwnedFd, path: &mut Vec<u8>) -> Result<()> {
        let as_path = |p: &[u8]| PathBuf::from(OsStr::from_bytes(p));
        let mut names: Vec<CString> = Vec::new();
        let mut entries =
            rfs::Dir::read_from(dir).map_err(|e| Error::io(as_path(path), e.into()))?;
        while let Some(entry) = entries.read() {
            let entry = entry.map_err(|e| Error::io(as_path(path), e.into()))?;
            let name = entry.file_name();
            if name.to_bytes() != b"." && name.to_bytes() != b".." {
                names.push(name.to_owned());
            }
        }
        drop(entries);
        names.sort_by(|a, b| tar::py_str_cmp(a.to_bytes(), b.to_bytes()));
        for name in names {
            let len = path.len();
            path.push(b'/');
            path.extend_from_slice(name.to_bytes());
            let st = rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| Error::io(as_path(path), e.into()))?;
            self.entry(dir, &name, path, &st)?;
            if file_type(&st) == FileType::Directory {
                let child = open_dir(dir, &name, &as_path(path))?;
                self.walk(&child, path)?;
            }
            path.truncate(len);
        }
        Ok(())
    }

    /// Writes one entry: `name` inside the open directory `dir`, whose full path is `path`.
    fn entry(&mut self, dir: &OwnedFd, name: &CStr, path: &[u8], st: &rfs::Stat) -> Result<()> {
        let as_path = || PathBuf::from(OsStr::from_bytes(path));
        let mode = st.st_mode & 0o7777;
        // `gettarinfo` strips leading slashes; `append_root` puts one back.
        let trimmed = &path[path.iter().take_while(|&&b| b == b'/').count()..];
        let mut tar_name = Vec::with_capacity(trimmed.len() + 2);
        tar_name.push(b'/');
        tar_name.extend_from_slice(trimmed);
        match file_type(st) {
            FileType::Directory => {
                tar_name.push(b'/');
                self.put_header(&tar_name, mode, 0, tar::DIRTYPE, b"", (0, 0))
            }
            FileType::Symlink => {
                let target = rfs::readlinkat(dir, name, Vec::new())
                    .map_err(|e| Error::io(as_path(), e.into()))?;
                self.put_header(&tar_name, mode, 0, tar::SYMTYPE, target.as_bytes(), (0, 0))
            }
            FileType::RegularFile => {
                // Hard links are written as regular files with their contents, as nixpkgs does.
                let size = st.st_size as u64;
                let fd = rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .map_err(|e| Error::io(as_path(), e.into()))?;
                let mut file = File::from(fd);
                self.put_header(&tar_name, mode, size, tar::REGTYPE, b"", (0, 0))?;
                self.copy_exact(&mut file, size, &as_path())?;
                self.zeros(tar::padding(size))
            }
            FileType::Fifo => self.put_header(&tar_name, mode, 0, tar::FIFOTYPE, b"", (0, 0)),
            t @ (FileType::CharacterDevice | FileType::BlockDevice) => {
                let kind = if t == FileType::CharacterDevice {
                    tar::CHRTYPE
                } else {
                    tar::BLKTYPE
                };
                let dev = st.st_rdev;
                self.put_header(
                    &tar_name,
                    mode,
                    0,
                    kind,
                    b"",
                    (dev_major(dev), dev_minor(dev)),
                )
            }
            _ => Err(Error::Unsupported {
                path: as_path(),
                kind: "socket",
            }),
        }
    }

    /// Copies exactly `size` bytes of `file`; a shorter file is an error.
    fn copy_exact(&mut self, file: &mut File, size: u64, path: &Path) -> Result<()> {
        let mut left = size;
        let short = |left: u64| Error::Changed {
            path: path.to_path_buf(),
            what: format!(
                "it has {} bytes, not the {size} its metadata gave",
                size - left
            ),
        };
        if let Some(moved) = self.out.splice_from(file, size).map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                Error::Write(e)
            } else {
                Error::io(path, e)
            }
        })? {
            self.written += moved;
            if moved < size {
                return Err(short(size - moved));
            }
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.buf);
        let r = (|| {
            while left > 0 {
                let want = (buf.len() as u64).min(left) as usize;
                let n = match file.read(&mut buf[..want]) {
                    Ok(0) => return Err(short(left)),
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

fn file_type(st: &rfs::Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Opens a directory (not following a symlink: it was just seen as a directory) relative
/// to `at`, for listing and lookups.
fn open_dir<P: rustix::path::Arg>(at: impl AsFd, name: P, path: &Path) -> Result<OwnedFd> {
    rfs::openat(
        at,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(path, e.into()))
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
