//! The tar format exactly as CPython's `tarfile` writes it (PAX_FORMAT, its default),
//! and reading headers as `tarfile` reads them.
//!
//! Written by hand rather than with the `tar` crate because the bytes must equal what
//! nixpkgs' `stream_layered_image.py` produces: plain ustar headers whose checksum field is
//! `%06o\0 `, device fields all NUL for non-devices, non-ASCII replaced by `?` in the ustar
//! name, and a `././@PaxHeader` record block only when a value does not fit — with Python's
//! record order, its length-counts-itself rule and its `hdrcharset=BINARY` rule.
use std::cmp::Ordering;

/// A tar block.
pub const BLOCK: u64 = 512;
/// Archives are padded to a multiple of this (`tarfile.RECORDSIZE`, 20 blocks).
pub const RECORD: u64 = 20 * BLOCK;

/// Regular file.
pub const REGTYPE: u8 = b'0';
/// Hard link.
pub const LNKTYPE: u8 = b'1';
/// Symbolic link.
pub const SYMTYPE: u8 = b'2';
/// Character device.
pub const CHRTYPE: u8 = b'3';
/// Block device.
pub const BLKTYPE: u8 = b'4';
/// Directory.
pub const DIRTYPE: u8 = b'5';
/// FIFO.
pub const FIFOTYPE: u8 = b'6';
/// PAX extended header.
pub const XHDTYPE: u8 = b'x';
/// PAX global header.
pub const XGLTYPE: u8 = b'g';
/// GNU long name.
pub const GNUTYPE_LONGNAME: u8 = b'L';
/// GNU long link name.
pub const GNUTYPE_LONGLINK: u8 = b'K';

/// A numeric header value as Python holds it: an int, or a float read from a PAX record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// An integer.
    Int(i128),
    /// A float (only `mtime` from a base archive's PAX header).
    Float(f64),
}

/// One member's metadata, in the shape `tarfile.TarInfo.get_info()` hands to the writer.
/// Byte strings are the raw (file-system or archive) bytes; Python's surrogate-escaped
/// `str` round-trips to exactly these bytes.
#[derive(Clone, Debug)]
pub struct Header<'a> {
    /// Member name (directories already end in `/`).
    pub name: &'a [u8],
    /// Permission bits; only `& 0o7777` is written.
    pub mode: u32,
    /// Owner id.
    pub uid: i128,
    /// Group id.
    pub gid: i128,
    /// Data size.
    pub size: u64,
    /// Modification time.
    pub mtime: Num,
    /// Type flag byte.
    pub typeflag: u8,
    /// Link target.
    pub linkname: &'a [u8],
    /// Owner name.
    pub uname: &'a [u8],
    /// Group name.
    pub gname: &'a [u8],
    /// Device major (devices only).
    pub devmajor: u64,
    /// Device minor (devices only).
    pub devminor: u64,
    /// PAX records carried over from a read header, in their order.
    pub pax: &'a [(Vec<u8>, Vec<u8>)],
}

impl Header<'_> {
    /// Appends this header's bytes (a PAX header + records when needed, then the ustar
    /// block) to `out`, exactly as `TarInfo.tobuf(PAX_FORMAT, "utf-8", "surrogateescape")`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut pax: Vec<(&[u8], Vec<u8>)> = self
            .pax
            .iter()
            .map(|(k, v)| (k.as_slice(), v.clone()))
            .collect();
        let has = |pax: &Vec<(&[u8], Vec<u8>)>, key: &[u8]| pax.iter().any(|(k, _)| *k == key);
        for (value, key, limit) in [
            (self.name, &b"path"[..], 100usize),
            (self.linkname, b"linkpath", 100),
            (self.uname, b"uname", 32),
            (self.gname, b"gname", 32),
        ] {
            if has(&pax, key) {
                continue;
            }
            if !value.is_ascii() || value.len() > limit {
                pax.push((key, value.to_vec()));
            }
        }
        let mut nums = [
            (b"uid".as_slice(), Num::Int(self.uid), 8u32, 0u64),
            (b"gid", Num::Int(self.gid), 8, 0),
            (b"size", Num::Int(self.size as i128), 12, 0),
            (b"mtime", self.mtime, 12, 0),
        ];
        for (key, val, digits, field) in nums.iter_mut() {
            let limit = 8i128.pow(*digits - 1);
            let (as_int, is_float) = match *val {
                Num::Int(i) => (Some(i), false),
                Num::Float(f) => (round_half_even(f), true),
            };
            let needs_pax = match as_int {
                Some(i) if (0..limit).contains(&i) => {
                    *field = i as u64;
                    is_float
                }
                _ => {
                    *field = 0;
                    true
                }
            };
            if needs_pax && !has(&pax, key) {
                let text = match *val {
                    Num::Int(i) => i.to_string(),
                    Num::Float(f) => crate::pyjson::float_repr(f),
                };
                pax.push((key, text.into_bytes()));
            }
        }
        if !pax.is_empty() {
            let records = pax_records(&pax);
            let pax_header = RawHeader {
                name: b"././@PaxHeader",
                mode: 0,
                uid: 0,
                gid: 0,
                size: records.len() as u64,
                mtime: 0,
                typeflag: XHDTYPE,
                linkname: b"",
                uname: b"",
                gname: b"",
                dev: None,
            };
            pax_header.encode(out);
            out.extend_from_slice(&records);
            pad_vec(out);
        }
        let is_dev = matches!(self.typeflag, CHRTYPE | BLKTYPE);
        RawHeader {
            name: self.name,
            mode: self.mode & 0o7777,
            uid: nums[0].3,
            gid: nums[1].3,
            size: nums[2].3,
            mtime: nums[3].3,
            typeflag: self.typeflag,
            linkname: self.linkname,
            uname: self.uname,
            gname: self.gname,
            dev: is_dev.then_some((self.devmajor, self.devminor)),
        }
        .encode(out);
    }

    /// The number of bytes [`Header::encode`] appends.
    pub fn encoded_len(&self) -> u64 {
        let mut v = Vec::with_capacity(1024);
        self.encode(&mut v);
        v.len() as u64
    }
}

/// Python's `round()` of a float to an int (half to even); None when not finite.
fn round_half_even(f: f64) -> Option<i128> {
    if !f.is_finite() || f.abs() > 1e30 {
        return None;
    }
    let r = f.round_ties_even();
    Some(r as i128)
}

/// The PAX record block: `"%d %s=%s\n"` with the length counting itself, preceded by
/// `hdrcharset=BINARY` when a value is not valid UTF-8.
fn pax_records(pax: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    if pax.iter().any(|(_, v)| std::str::from_utf8(v).is_err()) {
        out.extend_from_slice(b"21 hdrcharset=BINARY\n");
    }
    for (key, value) in pax {
        let l = key.len() + value.len() + 3;
        let mut p = 0usize;
        loop {
            let n = l + p.to_string().len();
            if n == p {
                break;
            }
            p = n;
        }
        out.extend_from_slice(p.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(key);
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

/// A ustar block with every value already in range.
struct RawHeader<'a> {
    name: &'a [u8],
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    typeflag: u8,
    linkname: &'a [u8],
    uname: &'a [u8],
    gname: &'a [u8],
    dev: Option<(u64, u64)>,
}

impl RawHeader<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + BLOCK as usize, 0);
        let b = &mut out[start..];
        stn(&mut b[0..100], self.name);
        itn(&mut b[100..108], self.mode as u64);
        itn(&mut b[108..116], self.uid);
        itn(&mut b[116..124], self.gid);
        itn(&mut b[124..136], self.size);
        itn(&mut b[136..148], self.mtime);
        b[148..156].copy_from_slice(b"        ");
        b[156] = self.typeflag;
        stn(&mut b[157..257], self.linkname);
        b[257..265].copy_from_slice(b"ustar\x0000");
        stn(&mut b[265..297], self.uname);
        stn(&mut b[297..329], self.gname);
        if let Some((major, minor)) = self.dev {
            itn(&mut b[329..337], major);
            itn(&mut b[337..345], minor);
        }
        let sum: u32 = b.iter().map(|&x| x as u32).sum();
        let chk = format!("{sum:06o}\0");
        b[148..155].copy_from_slice(&chk.as_bytes()[..7]);
    }
}

/// `tarfile.stn` after `str.encode("ascii", "replace")`: each non-ASCII character (a UTF-8
/// sequence, or one undecodable byte) becomes `?`; truncated to the field, NUL-padded.
fn stn(field: &mut [u8], value: &[u8]) {
    let mut i = 0;
    let mut put = |c: u8| {
        if i < field.len() {
            field[i] = c;
            i += 1;
        }
    };
    if value.is_ascii() {
        for &c in value {
            put(c);
        }
        return;
    }
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            put(if c.is_ascii() { c as u8 } else { b'?' });
        }
        for _ in chunk.invalid() {
            put(b'?');
        }
    }
}

/// `tarfile.itn` for in-range values: zero-padded octal, NUL-terminated.
fn itn(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let mut v = value;
    // Callers keep values in range; out-of-range values keep their low digits.
    for slot in field[..digits].iter_mut().rev() {
        *slot = b'0' + (v & 7) as u8;
        v >>= 3;
    }
    field[digits] = 0;
}

fn pad_vec(out: &mut Vec<u8>) {
    let rem = out.len() % BLOCK as usize;
    if rem != 0 {
        out.resize(out.len() + BLOCK as usize - rem, 0);
    }
}

/// Bytes of NUL padding after `size` bytes of member data.
pub fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// `size` rounded up to whole blocks.
pub fn padded(size: u64) -> u64 {
    size + padding(size)
}

/// The end of an archive of `len` bytes so far: two zero blocks, then zeros up to a
/// multiple of [`RECORD`]. Returns the number of zero bytes to append.
pub fn end_of_archive_len(len: u64) -> u64 {
    let len2 = len + 2 * BLOCK;
    2 * BLOCK + (RECORD - len2 % RECORD) % RECORD
}

/// Orders two names as CPython orders the `str`s `os.fsdecode` makes of them: by code
/// point, undecodable bytes being the surrogates U+DC80..U+DCFF. For valid UTF-8 this is
/// byte order.
pub fn py_str_cmp(a: &[u8], b: &[u8]) -> Ordering {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(_), Ok(_)) => a.cmp(b),
        _ => py_code_points(a).cmp(py_code_points(b)),
    }
}

fn py_code_points(s: &[u8]) -> impl Iterator<Item = u32> + '_ {
    s.utf8_chunks().flat_map(|chunk| {
        chunk
            .valid()
            .chars()
            .map(|c| c as u32)
            .chain(chunk.invalid().iter().map(|&b| 0xDC00 + b as u32))
    })
}

/// Parses octal (or base-256) numeric fields as `tarfile.nti` does.
pub fn nti(field: &[u8]) -> Option<i128> {
    if field.first().is_some_and(|&b| b == 0o200 || b == 0o377) {
        let mut n: i128 = 0;
        for &b in &field[1..] {
            n = n.checked_mul(256)? + b as i128;
        }
        if field[0] == 0o377 {
            n -= 256i128.checked_pow(field.len() as u32 - 1)?;
        }
        return Some(n);
    }
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let text = std::str::from_utf8(&field[..end]).ok()?.trim();
    if text.is_empty() {
        return Some(0);
    }
    i128::from_str_radix(text, 8).ok()
}

/// `tarfile.nts`: the bytes up to the first NUL.
pub fn nts(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// True when a 512-byte block's stored checksum matches (unsigned or signed sum, as
/// `tarfile.calc_chksums` accepts either).
pub fn checksum_ok(block: &[u8]) -> bool {
    let Some(stored) = nti(&block[148..156]) else {
        return false;
    };
    let mut unsigned: i128 = 0;
    let mut signed: i128 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as i128;
        signed += (b as i8) as i128;
    }
    stored == unsigned || stored == signed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr<'a>(name: &'a [u8]) -> Header<'a> {
        Header {
            name,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: Num::Int(1),
            typeflag: REGTYPE,
            linkname: b"",
            uname: b"root",
            gname: b"root",
            devmajor: 0,
            devminor: 0,
            pax: &[],
        }
    }

    #[test]
    fn short_ascii_name_is_one_block_with_valid_checksum() {
        let mut v = Vec::new();
        hdr(b"/nix/").encode(&mut v);
        assert_eq!(v.len(), 512);
        assert!(checksum_ok(&v));
        assert_eq!(&v[257..265], b"ustar\x0000");
        assert_eq!(&v[329..345], &[0u8; 16]);
        assert_eq!(v[155], b' ');
    }

    #[test]
    fn long_name_gets_a_pax_record_counting_itself() {
        let name = vec![b'a'; 101];
        let mut v = Vec::new();
        hdr(&name).encode(&mut v);
        assert_eq!(v.len(), 1536);
        assert_eq!(&v[..14], b"././@PaxHeader");
        // "111 path=" + 101 bytes + "\n" = 111 bytes (the length counts its own digits)
        assert_eq!(&v[512..521], b"111 path=");
        assert_eq!(nti(&v[124..136]), Some(111));
    }

    #[test]
    fn pax_length_rolls_over_digit_boundary() {
        // key "path" (4) + 3 = 7; with value 91 bytes: 98 + 2 digits = 100 -> 3 digits -> 101
        let recs = pax_records(&[(b"path", vec![b'x'; 91])]);
        assert!(recs.starts_with(b"101 path="));
        assert_eq!(recs.len(), 101);
    }

    #[test]
    fn python_order_puts_surrogates_before_private_use() {
        // U+E000 is EE 80 80; the undecodable byte FF is U+DCFF in Python.
        assert_eq!(py_str_cmp(b"\xff", "\u{e000}".as_bytes()), Ordering::Less);
        assert_eq!(py_str_cmp(b"a", b"b"), Ordering::Less);
    }

    #[test]
    fn archive_end_pads_to_records() {
        assert_eq!(end_of_archive_len(0), 10240);
        assert_eq!(end_of_archive_len(512), 10240 - 512);
        assert_eq!(end_of_archive_len(9216), 1024);
    }
}
