//! Base images (`fromImage`): reading a docker-archive — plain, gzip or zstd, detected by
//! content — in either layout docker has written (`<id>/layer.tar` members, or
//! `blobs/sha256/<hex>` members from docker 25+), as CPython's `tarfile` reads it.
//!
//! Only reads: nothing is extracted to the file system. A first pass indexes the members
//! (keeping small ones, such as the manifest and config, in memory); layers are later
//! copied verbatim from their offsets, re-opening a compressed archive only when the
//! manifest asks for them out of archive order.
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::tar::{self, Num};

/// How the archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
}

/// A member's header as `tarfile` holds it after reading, ready to be written again.
#[derive(Debug, Clone)]
pub struct MemberHeader {
    /// Name (after PAX `path`, GNU long names and the ustar prefix are applied).
    pub name: Vec<u8>,
    /// Mode bits.
    pub mode: u32,
    /// Owner id.
    pub uid: i128,
    /// Group id.
    pub gid: i128,
    /// Data size.
    pub size: u64,
    /// Modification time (a float when a PAX record gave one).
    pub mtime: Num,
    /// Type flag.
    pub typeflag: u8,
    /// Link target.
    pub linkname: Vec<u8>,
    /// Owner name.
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Device major.
    pub devmajor: u64,
    /// Device minor.
    pub devminor: u64,
    /// The PAX records that came with it, in order.
    pub pax: Vec<(Vec<u8>, Vec<u8>)>,
}

impl MemberHeader {
    /// The name as written (directories get their trailing `/` back, as
    /// `TarInfo.get_info` does).
    pub fn written_name(&self) -> Vec<u8> {
        let mut name = self.name.clone();
        if self.typeflag == tar::DIRTYPE && !name.ends_with(b"/") {
            name.push(b'/');
        }
        name
    }

    /// The header as the writer takes it, under `name` (see [`Self::written_name`]).
    pub fn to_header<'a>(&'a self, name: &'a [u8]) -> tar::Header<'a> {
        tar::Header {
            name,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            size: self.size,
            mtime: self.mtime,
            typeflag: self.typeflag,
            linkname: &self.linkname,
            uname: &self.uname,
            gname: &self.gname,
            devmajor: self.devmajor,
            devminor: self.devminor,
            pax: &self.pax,
        }
    }
}

/// One indexed member.
#[derive(Debug, Clone)]
struct Member {
    header: MemberHeader,
    data_offset: u64,
}

/// One base layer, in manifest order.
#[derive(Debug, Clone)]
pub struct BaseLayer {
    /// The member's header, re-written into the output as read.
    pub header: MemberHeader,
    /// Where its data starts in the (decompressed) archive.
    pub data_offset: u64,
    /// Its diff_id without the `sha256:` prefix, as the base config gives it.
    pub diff_id: String,
}

/// An indexed base image.
#[derive(Debug)]
pub struct BaseImage {
    /// The archive.
    pub archive: PathBuf,
    /// Its compression.
    pub compression: Compression,
    /// Its layers in manifest order (a layer listed twice appears twice).
    pub layers: Vec<BaseLayer>,
    /// The base image's config JSON (the whole `<config>.json`).
    pub config: Value,
}

/// Members up to this size are kept in memory during the indexing pass.
const SMALL_MEMBER: u64 = 1 << 20;
/// At most this much is kept in memory in all.
const SMALL_TOTAL: u64 = 16 << 20;
/// The manifest and config may not be larger than this.
const JSON_LIMIT: u64 = 64 << 20;

fn detect(path: &Path) -> Result<Compression> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut magic = [0u8; 6];
    let mut n = 0;
    while n < magic.len() {
        match f.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    let m = &magic[..n];
    let base_err = |msg: &str| Error::Base {
        archive: path.to_path_buf(),
        msg: msg.to_string(),
    };
    if m.starts_with(&[0x1f, 0x8b]) {
        Ok(Compression::Gzip)
    } else if m.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Compression::Zstd)
    } else if m.starts_with(b"BZh") {
        Err(base_err(
            "bzip2-compressed archives are not supported (use plain, gzip or zstd)",
        ))
    } else if m.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(base_err(
            "xz-compressed archives are not supported (use plain, gzip or zstd)",
        ))
    } else {
        Ok(Compression::None)
    }
}

/// A forward reader over the decompressed archive that knows its position and can go
/// back (seeking a plain file, re-opening a compressed one).
pub struct ArchiveReader {
    path: PathBuf,
    compression: Compression,
    inner: Box<dyn Read + Send>,
    plain: Option<BufReader<File>>,
    pos: u64,
}

impl ArchiveReader {
    /// Opens the archive at its start.
    pub fn open(path: &Path, compression: Compression) -> Result<ArchiveReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let (inner, plain): (Box<dyn Read + Send>, _) = match compression {
            Compression::None => (
                Box::new(io::empty()),
                Some(BufReader::with_capacity(256 * 1024, file)),
            ),
            Compression::Gzip => (
                Box::new(BufReader::with_capacity(
                    256 * 1024,
                    flate2::read::MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, file)),
                )),
                None,
            ),
            Compression::Zstd => (
                Box::new(BufReader::with_capacity(
                    256 * 1024,
                    zstd::stream::read::Decoder::new(file).map_err(|e| Error::io(path, e))?,
                )),
                None,
            ),
        };
        Ok(ArchiveReader {
            path: path.to_path_buf(),
            compression,
            inner,
            plain,
            pos: 0,
        })
    }

    fn base_err(&self, msg: String) -> Error {
        Error::Base {
            archive: self.path.clone(),
            msg,
        }
    }

    /// Moves to `offset` in the decompressed stream.
    pub fn seek_to(&mut self, offset: u64) -> Result<()> {
        if let Some(f) = self.plain.as_mut() {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::io(&self.path, e))?;
            self.pos = offset;
            return Ok(());
        }
        if offset < self.pos {
            *self = ArchiveReader::open(&self.path, self.compression)?;
        }
        let skip = offset - self.pos;
        let copied = io::copy(&mut (&mut *self).take(skip), &mut io::sink())
            .map_err(|e| self.base_err(format!("reading: {e}")))?;
        if copied != skip {
            return Err(self.base_err(format!("truncated: the archive ends at byte {}", self.pos)));
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes, or reports how many were there.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.base_err(format!("reading at byte {}: {e}", self.pos))),
            }
        }
        Ok(n)
    }
}

impl Read for ArchiveReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.plain.as_mut() {
            Some(f) => f.read(buf)?,
            None => self.inner.read(buf)?,
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads the archive's members as `tarfile` does. Returns the members (all of them, in
/// order) and the data of the small ones.
/// The indexing pass's result: every member in order, and the data of small ones by index.
type Index = (Vec<Member>, HashMap<usize, Vec<u8>>);

fn index(reader: &mut ArchiveReader) -> Result<Index> {
    let mut members = Vec::new();
    let mut small = HashMap::new();
    let mut small_total = 0u64;
    let mut global_pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut pending_pax: Option<Vec<(Vec<u8>, Vec<u8>)>> = None;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut block = [0u8; 512];
    loop {
        let at = reader.pos;
        let n = reader.read_full(&mut block)?;
        if n == 0 {
            if pending_pax.is_some() || long_name.is_some() || long_link.is_some() {
                return Err(reader.base_err(format!(
                    "truncated: the archive ends at byte {at} after an extended header"
                )));
            }
            break;
        }
        if n < 512 {
            return Err(reader.base_err(format!("truncated: a header at byte {at} is cut short")));
        }
        if block.iter().all(|&b| b == 0) {
            break;
        }
        if !tar::checksum_ok(&block) {
            return Err(reader.base_err(format!(
                "not a tar archive, or corrupt: bad header checksum at byte {at}"
            )));
        }
        let num = |r: &ArchiveReader, f: &[u8], what: &str| {
            tar::nti(f)
                .ok_or_else(|| r.base_err(format!("bad {what} field in the header at byte {at}")))
        };
        let size = num(reader, &block[124..136], "size")?;
        let size = u64::try_from(size)
            .map_err(|_| reader.base_err(format!("negative size in the header at byte {at}")))?;
        let typeflag = block[156];
        let data_offset = reader.pos;
        let read_data = |r: &mut ArchiveReader, limit: u64, what: &str| -> Result<Vec<u8>> {
            if size > limit {
                return Err(r.base_err(format!("{what} at byte {at} is too large ({size} bytes)")));
            }
            let mut data = vec![0u8; tar::padded(size) as usize];
            if r.read_full(&mut data)? < data.len() {
                return Err(r.base_err(format!("truncated: {what} at byte {at} is cut short")));
            }
            data.truncate(size as usize);
            Ok(data)
        };
        match typeflag {
            tar::XHDTYPE | tar::XGLTYPE => {
                let data = read_data(reader, JSON_LIMIT, "a PAX header")?;
                let mut records = if typeflag == tar::XGLTYPE {
                    std::mem::take(&mut global_pax)
                } else {
                    global_pax.clone()
                };
                parse_pax(&data, &mut records)
                    .map_err(|m| reader.base_err(format!("PAX header at byte {at}: {m}")))?;
                if typeflag == tar::XGLTYPE {
                    global_pax = records;
                } else {
                    pending_pax = Some(records);
                }
                continue;
            }
            tar::GNUTYPE_LONGNAME | tar::GNUTYPE_LONGLINK => {
                let data = read_data(reader, JSON_LIMIT, "a GNU long name")?;
                let v = tar::nts(&data).to_vec();
                if typeflag == tar::GNUTYPE_LONGNAME {
                    long_name = Some(v);
                } else {
                    long_link = Some(v);
                }
                continue;
            }
            _ => {}
        }
        let mut h = MemberHeader {
            name: tar::nts(&block[0..100]).to_vec(),
            mode: num(reader, &block[100..108], "mode")? as u32,
            uid: num(reader, &block[108..116], "uid")?,
            gid: num(reader, &block[116..124], "gid")?,
            size,
            mtime: Num::Int(num(reader, &block[136..148], "mtime")?),
            typeflag,
            linkname: tar::nts(&block[157..257]).to_vec(),
            uname: tar::nts(&block[265..297]).to_vec(),
            gname: tar::nts(&block[297..329]).to_vec(),
            devmajor: num(reader, &block[329..337], "devmajor")?.max(0) as u64,
            devminor: num(reader, &block[337..345], "devminor")?.max(0) as u64,
            pax: Vec::new(),
        };
        let prefix = tar::nts(&block[345..500]).to_vec();
        if h.typeflag == 0 && h.name.ends_with(b"/") {
            h.typeflag = tar::DIRTYPE;
        }
        if h.typeflag == tar::DIRTYPE {
            while h.name.ends_with(b"/") {
                h.name.pop();
            }
        }
        if !prefix.is_empty() {
            let mut full = prefix;
            full.push(b'/');
            full.extend_from_slice(&h.name);
            h.name = full;
        }
        if let Some(mut name) = long_name.take() {
            if h.typeflag == tar::DIRTYPE {
                while name.ends_with(b"/") {
                    name.pop();
                }
            }
            h.name = name;
        }
        if let Some(link) = long_link.take() {
            h.linkname = link;
        }
        // `tarfile` gives every member the global PAX records, then its own.
        if let Some(pax) = pending_pax.take() {
            apply_pax(&mut h, &pax);
            h.pax = pax;
        } else if !global_pax.is_empty() {
            apply_pax(&mut h, &global_pax);
            h.pax = global_pax.clone();
        }
        // Data follows; a PAX `size` overrides the header's.
        let end = data_offset + tar::padded(h.size);
        let idx = members.len();
        if h.size <= SMALL_MEMBER && small_total + h.size <= SMALL_TOTAL && has_data(h.typeflag) {
            let mut data = vec![0u8; tar::padded(h.size) as usize];
            if reader.read_full(&mut data)? < data.len() {
                return Err(reader.base_err(format!(
                    "truncated: member {} (at byte {at}) is cut short",
                    String::from_utf8_lossy(&h.name)
                )));
            }
            data.truncate(h.size as usize);
            small_total += h.size;
            small.insert(idx, data);
        } else if has_data(h.typeflag) {
            reader.seek_to(end).map_err(|_| {
                reader.base_err(format!(
                    "truncated: member {} (at byte {at}, {} bytes) is cut short",
                    String::from_utf8_lossy(&h.name),
                    h.size
                ))
            })?;
        }
        members.push(Member {
            header: h,
            data_offset,
        });
    }
    Ok((members, small))
}

/// True for members in GNU sparse form (old `S` type or PAX `GNU.sparse.*` records).
fn is_sparse(h: &MemberHeader) -> bool {
    h.typeflag == b'S' || h.pax.iter().any(|(k, _)| k.starts_with(b"GNU.sparse"))
}

/// Follows hard and symbolic links as `TarFile._find_link_target` does: a hard link names
/// an earlier member; a symlink is taken relative to its directory, anywhere in the
/// archive; names compared after normalisation. Returns the member holding the data.
fn resolve_link(members: &[Member], mut idx: usize) -> Option<usize> {
    for _ in 0..64 {
        let h = &members[idx].header;
        let (target, limit) = match h.typeflag {
            tar::LNKTYPE => (h.linkname.clone(), idx),
            tar::SYMTYPE => {
                let dir = match h.name.iter().rposition(|&b| b == b'/') {
                    Some(i) => &h.name[..i],
                    None => &b""[..],
                };
                let mut t = dir.to_vec();
                if !t.is_empty() && !h.linkname.is_empty() {
                    t.push(b'/');
                }
                t.extend_from_slice(&h.linkname);
                (t, members.len())
            }
            _ => return Some(idx),
        };
        let want = normpath(&target);
        idx = members[..limit]
            .iter()
            .rposition(|m| normpath(&m.header.name) == want)?;
    }
    None
}

/// `os.path.normpath` for relative archive names: drops `.` and empty components and
/// resolves `..`.
fn normpath(name: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.last().is_some_and(|l| l != b"..") {
                    out.pop();
                } else {
                    out.push(c.to_vec());
                }
            }
            _ => out.push(c.to_vec()),
        }
    }
    out
}

fn has_data(typeflag: u8) -> bool {
    !matches!(
        typeflag,
        tar::LNKTYPE | tar::SYMTYPE | tar::CHRTYPE | tar::BLKTYPE | tar::DIRTYPE | tar::FIFOTYPE
    )
}

/// Parses PAX records (`"%d %s=%s\n"`) into `records`, a later value replacing an
/// earlier one in its place, as a Python dict does.
fn parse_pax(
    data: &[u8],
    records: &mut Vec<(Vec<u8>, Vec<u8>)>,
) -> std::result::Result<(), String> {
    // `tarfile` records `hdrcharset` before any other record of the header.
    if let Some(i) = find_sub(data, b" hdrcharset=") {
        let start = i + b" hdrcharset=".len();
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |e| start + e);
        let v = data[start..end].to_vec();
        match records.iter_mut().find(|(key, _)| key == b"hdrcharset") {
            Some(slot) => slot.1 = v,
            None => records.push((b"hdrcharset".to_vec(), v)),
        }
    }
    let mut pos = 0;
    while pos < data.len() && data[pos] != 0 {
        let sp = data[pos..]
            .iter()
            .position(|&b| b == b' ')
            .ok_or("a record without a length")?;
        let len: usize = std::str::from_utf8(&data[pos..pos + sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("a record with a bad length")?;
        if len < sp + 2 || pos + len > data.len() {
            return Err("a record longer than the header".into());
        }
        let rec = &data[pos + sp + 1..pos + len - 1];
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a record without `=`")?;
        let (k, v) = (rec[..eq].to_vec(), rec[eq + 1..].to_vec());
        match records.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => records.push((k, v)),
        }
        pos += len;
    }
    Ok(())
}

fn find_sub(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `TarInfo._apply_pax_info`: path, linkpath, uname, gname, uid, gid, size, mtime.
fn apply_pax(h: &mut MemberHeader, pax: &[(Vec<u8>, Vec<u8>)]) {
    let int = |v: &[u8]| {
        std::str::from_utf8(v)
            .ok()
            .and_then(crate::conf::py_int)
            .unwrap_or(0)
    };
    for (k, v) in pax {
        match k.as_slice() {
            b"path" => {
                let mut n = v.clone();
                while n.ends_with(b"/") {
                    n.pop();
                }
                h.name = n;
            }
            b"linkpath" => h.linkname = v.clone(),
            b"uname" => h.uname = v.clone(),
            b"gname" => h.gname = v.clone(),
            b"uid" => h.uid = int(v),
            b"gid" => h.gid = int(v),
            b"size" => h.size = int(v).max(0) as u64,
            b"mtime" => {
                h.mtime = Num::Float(
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.trim().replace('_', "").parse::<f64>().ok())
                        .unwrap_or(0.0),
                )
            }
            _ => {}
        }
    }
}

/// Loads a base image: indexes it, reads its manifest and config, and resolves its layers.
pub fn load(archive: &Path) -> Result<BaseImage> {
    let compression = detect(archive)?;
    let mut reader = ArchiveReader::open(archive, compression)?;
    let (members, mut small) = index(&mut reader)?;
    let err = |msg: String| Error::Base {
        archive: archive.to_path_buf(),
        msg,
    };
    // `getmember` finds the last member of a name (trailing slashes ignored).
    let find = |name: &str| -> Option<usize> {
        let name = name.trim_end_matches('/').as_bytes();
        members.iter().rposition(|m| m.header.name == name)
    };
    let mut read_member = |idx: usize, what: &str| -> Result<Vec<u8>> {
        // `extractfile` follows hard and symbolic links to the member they name.
        let idx = resolve_link(&members, idx).ok_or_else(|| {
            err(format!(
                "{what} is a link to a member the archive does not contain"
            ))
        })?;
        if let Some(d) = small.remove(&idx) {
            return Ok(d);
        }
        let m = &members[idx];
        if m.header.size > JSON_LIMIT {
            return Err(err(format!(
                "{what} is too large ({} bytes)",
                m.header.size
            )));
        }
        reader.seek_to(m.data_offset)?;
        let mut data = vec![0u8; m.header.size as usize];
        if reader.read_full(&mut data)? < data.len() {
            return Err(err(format!("truncated: {what} is cut short")));
        }
        Ok(data)
    };
    let manifest_idx = find("manifest.json")
        .ok_or_else(|| err("has no manifest.json (is it a docker-archive?)".into()))?;
    let manifest_bytes = read_member(manifest_idx, "manifest.json")?;
    let manifest: Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| err(format!("manifest.json is not valid JSON: {e}")))?;
    let first = manifest
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_object)
        .ok_or_else(|| err("manifest.json is not a list holding an image object".into()))?;
    let config_name = first
        .get("Config")
        .and_then(Value::as_str)
        .ok_or_else(|| err("manifest.json: key `Config` is missing or not a string".into()))?;
    let layer_names: Vec<&str> = match first.get("Layers") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| err("manifest.json: `Layers` holds a non-string".into()))
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(err(
                "manifest.json: key `Layers` is missing or not a list".into()
            ));
        }
    };
    let config_idx = find(config_name).ok_or_else(|| {
        err(format!(
            "manifest.json names config {config_name}, which the archive does not contain"
        ))
    })?;
    let config_bytes = read_member(config_idx, config_name)?;
    let config: Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| err(format!("{config_name} is not valid JSON: {e}")))?;
    let diff_ids: Vec<String> = match config.get("rootfs").and_then(|r| r.get("diff_ids")) {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.strip_prefix("sha256:").unwrap_or(s).to_string())
                    .ok_or_else(|| {
                        err(format!("{config_name}: rootfs.diff_ids holds a non-string"))
                    })
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(err(format!(
                "{config_name}: key `rootfs.diff_ids` is missing or not a list"
            )));
        }
    };
    if diff_ids.len() < layer_names.len() {
        return Err(err(format!(
            "manifest.json lists {} layers but {config_name} has only {} diff_ids",
            layer_names.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::with_capacity(layer_names.len());
    for (name, diff_id) in layer_names.iter().zip(diff_ids) {
        let idx = find(name).ok_or_else(|| {
            err(format!(
                "manifest.json names layer {name}, which the archive does not contain"
            ))
        })?;
        let m = &members[idx];
        if is_sparse(&m.header) {
            return Err(err(format!(
                "layer {name} is stored in GNU sparse format, which strata does not read"
            )));
        }
        let is_link = matches!(m.header.typeflag, tar::SYMTYPE | tar::LNKTYPE);
        // Docker before 25 saves a repeated layer as a symlink to the first copy; nixpkgs
        // re-writes such a member as it is (a link, no data), and so does strata.
        if is_link && m.header.size != 0 {
            return Err(err(format!(
                "layer {name} is a link with a data size ({} bytes)",
                m.header.size
            )));
        }
        if !has_data(m.header.typeflag) && !is_link {
            return Err(err(format!(
                "layer {name} is not a regular file in the archive"
            )));
        }
        layers.push(BaseLayer {
            header: m.header.clone(),
            data_offset: m.data_offset,
            diff_id,
        });
    }
    Ok(BaseImage {
        archive: archive.to_path_buf(),
        compression,
        layers,
        config,
    })
}
