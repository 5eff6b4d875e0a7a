//! The docker-archive sink: the uncompressed tar `docker load` reads, byte-for-byte what
//! nixpkgs' `stream_layered_image.py` writes — base layers, store layers, the
//! customisation layer, `<image id>.json`, `manifest.json`, then the end-of-archive.
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::base::{ArchiveReader, MemberHeader};
use crate::digest::HashingWriter;
use crate::error::{Error, Result};
use crate::output::ByteSink;
use crate::plan::{Plan, Source};
use crate::store_layer;
use crate::tar;

/// Counts what passes through.
struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: ByteSink> ByteSink for Counting<W> {
    fn splice_from(&mut self, file: &File, len: u64) -> io::Result<Option<u64>> {
        let moved = self.inner.splice_from(file, len)?;
        self.pos += moved.unwrap_or(0);
        Ok(moved)
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the whole archive of `plan` into `out`.
pub fn write<W: ByteSink>(plan: &Plan, out: W) -> Result<()> {
    let mut out = Counting { inner: out, pos: 0 };
    let mut base_reader: Option<ArchiveReader> = None;
    for layer in &plan.layers {
        put_header(&mut out, &layer.header)?;
        let start = out.pos;
        match &layer.source {
            Source::Base(i) => {
                let base = plan.base.as_ref().ok_or_else(|| {
                    Error::Usage("internal: base layer without a base image".into())
                })?;
                let bl = &base.layers[*i];
                let reader = match base_reader.as_mut() {
                    Some(r) => r,
                    None => {
                        base_reader.insert(ArchiveReader::open(&base.archive, base.compression)?)
                    }
                };
                reader.seek_to(bl.data_offset)?;
                let copied = io::copy(&mut reader.take(bl.header.size), &mut out).map_err(|e| {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        Error::Write(e)
                    } else {
                        Error::Base {
                            archive: base.archive.clone(),
                            msg: format!(
                                "reading layer {}: {e}",
                                String::from_utf8_lossy(&bl.header.name)
                            ),
                        }
                    }
                })?;
                if copied != bl.header.size {
                    return Err(Error::Base {
                        archive: base.archive.clone(),
                        msg: format!(
                            "truncated: layer {} is cut short",
                            String::from_utf8_lossy(&bl.header.name)
                        ),
                    });
                }
            }
            Source::Store { paths, expect } => {
                let got = store_layer::write_layer(paths, &plan.owner, &mut out)?;
                if got != *expect {
                    let first = paths.first().cloned().unwrap_or_default();
                    return Err(Error::Changed {
                        path: first,
                        what: format!(
                            "a file in this layer changed size, type or name after hashing ({} bytes then, {} now)",
                            expect.size, got.size
                        ),
                    });
                }
            }
            Source::Customisation {
                layer_tar,
                checksum_file,
            } => {
                copy_verified(
                    layer_tar,
                    checksum_file,
                    &layer.header,
                    &layer.diff_id,
                    &mut out,
                )?;
            }
        }
        debug_assert_eq!(out.pos - start, layer.header.size);
        zeros(&mut out, tar::padding(layer.header.size))?;
    }
    put_member(&mut out, &plan.config_member(), &plan.config)?;
    put_member(&mut out, &plan.manifest_member(), &plan.manifest)?;
    let end = tar::end_of_archive_len(out.pos);
    zeros(&mut out, end)?;
    out.flush().map_err(Error::Write)
}

fn put_header<W: Write>(out: &mut W, h: &MemberHeader) -> Result<()> {
    let name = h.written_name();
    let mut buf = Vec::with_capacity(1024);
    h.to_header(&name).encode(&mut buf);
    out.write_all(&buf).map_err(Error::Write)
}

fn put_member<W: Write>(out: &mut W, h: &MemberHeader, data: &[u8]) -> Result<()> {
    put_header(out, h)?;
    out.write_all(data).map_err(Error::Write)?;
    zeros(out, tar::padding(data.len() as u64))
}

fn zeros<W: Write>(out: &mut W, mut n: u64) -> Result<()> {
    const Z: [u8; 4096] = [0; 4096];
    while n > 0 {
        let k = n.min(Z.len() as u64) as usize;
        out.write_all(&Z[..k]).map_err(Error::Write)?;
        n -= k as u64;
    }
    Ok(())
}

/// Streams the customisation layer.tar, hashing it on the way; its digest must be the
/// one its checksum file names.
fn copy_verified<W: Write>(
    layer_tar: &Path,
    checksum_file: &Path,
    h: &MemberHeader,
    expected: &str,
    out: &mut W,
) -> Result<()> {
    let mut file = File::open(layer_tar).map_err(|e| Error::io(layer_tar, e))?;
    let mut hasher = HashingWriter::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = h.size;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(Error::Changed {
                    path: layer_tar.to_path_buf(),
                    what: format!(
                        "it has {} bytes, not the {} its metadata gave",
                        h.size - left,
                        h.size
                    ),
                });
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(layer_tar, e)),
        };
        let _ = hasher.write_all(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Error::Write)?;
        left -= n as u64;
    }
    let (found, _) = hasher.finish();
    if found.hex() != expected {
        return Err(Error::DigestMismatch {
            path: layer_tar.to_path_buf(),
            checksum_file: checksum_file.to_path_buf(),
            expected: expected.to_string(),
            found: found.hex(),
        });
    }
    Ok(())
}
