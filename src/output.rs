//! Where archive bytes go: [`ByteSink`], a `Write` that may also take a file's bytes
//! without copying them through user space, and [`Output`], stdout or a file.
//!
//! When the output is a pipe, large files are `splice`d into it: the kernel moves page
//! references instead of strata reading the bytes into a buffer and writing them out
//! again. Everything else (headers, small files, hashing) goes through ordinary writes.
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;

use crate::digest::HashingWriter;

/// Files at least this large are spliced when the sink allows it.
pub const SPLICE_MIN: u64 = 64 * 1024;

/// A writer that may move bytes straight from a file.
pub trait ByteSink: Write {
    /// Moves up to `len` bytes from `file`'s current offset into the sink without a
    /// user-space copy. `Ok(None)`: this sink cannot (the caller copies instead);
    /// `Ok(Some(n))`: `n` bytes moved, fewer than `len` only at the end of the file.
    fn splice_from(&mut self, _file: &File, _len: u64) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

impl ByteSink for HashingWriter {}
impl ByteSink for Vec<u8> {}
impl<W: Write> ByteSink for BufWriter<W> {}

impl<S: ByteSink + ?Sized> ByteSink for &mut S {
    fn splice_from(&mut self, file: &File, len: u64) -> io::Result<Option<u64>> {
        (**self).splice_from(file, len)
    }
}

/// The archive's destination: buffered, splicing large files when it is a pipe.
pub struct Output {
    inner: BufWriter<File>,
    pipe: bool,
}

impl Output {
    /// Wraps `file` (1 MiB buffer). When it is a pipe, its buffer is grown to up to
    /// 1 MiB: with the default 64 KiB, writer and reader take turns every 64 KiB, and
    /// on a small VM the context switches cost more than the copying.
    pub fn new(file: File) -> Output {
        let pipe = rustix::fs::fstat(&file)
            .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo)
            .unwrap_or(false);
        if pipe {
            let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .unwrap_or(1 << 20);
            // Failure is harmless: the pipe keeps its size.
            let _ = rustix::pipe::fcntl_setpipe_size(&file, max.min(1 << 20));
        }
        Output {
            inner: BufWriter::with_capacity(1 << 20, file),
            pipe,
        }
    }

    /// Flushes and returns the file.
    pub fn into_file(self) -> io::Result<File> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl ByteSink for Output {
    fn splice_from(&mut self, file: &File, len: u64) -> io::Result<Option<u64>> {
        if !self.pipe || len < SPLICE_MIN {
            return Ok(None);
        }
        self.inner.flush()?;
        let out = self.inner.get_ref().as_fd();
        let mut moved = 0u64;
        while moved < len {
            let want = (len - moved).min(1 << 30) as usize;
            match rustix::pipe::splice(file, None, out, None, want, rustix::pipe::SpliceFlags::MORE)
            {
                Ok(0) => break,
                Ok(n) => moved += n as u64,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(moved))
    }
}
