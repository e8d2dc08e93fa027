//! An append-only file with a write buffer: entries are queued in memory and
//! reach the file in one `pwrite` per batch, and a read of bytes still queued
//! writes them out first.
//!
//! The server flushes at the end of every request batch, before any reply of
//! the batch is sent, so an acknowledged write is always in the kernel's page
//! cache and survives the death of the process.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide disk I/O counters reported by `INFO`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IoCounters {
    pub(crate) index_read: u64,
    pub(crate) index_written: u64,
    pub(crate) data_read: u64,
    pub(crate) data_written: u64,
    pub(crate) index_read_failed: u64,
    pub(crate) index_write_failed: u64,
    pub(crate) data_read_failed: u64,
    pub(crate) data_write_failed: u64,
}

/// Which counter an I/O adds to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IoKind {
    IndexRead,
    IndexWrite,
    DataRead,
    DataWrite,
}

static COUNTERS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// Adds `bytes` (or a failure) to the counter of `kind`.
pub(crate) fn count_io<T>(kind: IoKind, bytes: usize, res: &std::io::Result<T>) {
    let idx = kind as usize;
    if res.is_ok() {
        COUNTERS[idx].fetch_add(bytes as u64, Ordering::Relaxed);
    } else {
        COUNTERS[idx + 4].fetch_add(1, Ordering::Relaxed);
    }
}

/// Snapshot of the disk I/O counters.
pub(crate) fn io_counters() -> IoCounters {
    let c = |i: usize| COUNTERS[i].load(Ordering::Relaxed);
    IoCounters {
        index_read: c(0),
        index_written: c(1),
        data_read: c(2),
        data_written: c(3),
        index_read_failed: c(4),
        index_write_failed: c(5),
        data_read_failed: c(6),
        data_write_failed: c(7),
    }
}

/// Queued bytes above which an append writes through at once.
const FLUSH_THRESHOLD: usize = 1 << 20;

/// An open file that only grows, plus the bytes not yet written to it.
#[derive(Debug)]
pub(crate) struct AppendFile {
    file: File,
    path: PathBuf,
    /// Bytes of the file that are written (the file's length on disk).
    flushed: u64,
    /// Bytes appended after `flushed`, not yet written.
    queued: Vec<u8>,
    /// In-place one-byte patches to apply after the queued bytes are written,
    /// so that a new entry always reaches the file before the old one is
    /// flagged (a crash in between leaves two live copies, never zero).
    patches: Vec<(u64, u8)>,
}

impl AppendFile {
    /// Wraps an open read-write file whose current length is `len`.
    pub(crate) fn new(file: File, path: PathBuf, len: u64) -> AppendFile {
        AppendFile {
            file,
            path,
            flushed: len,
            queued: Vec::new(),
            patches: Vec::new(),
        }
    }

    /// Path of the file, for error messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Logical length: written bytes plus queued ones.
    pub(crate) fn len(&self) -> u64 {
        self.flushed + self.queued.len() as u64
    }

    /// The buffer to append to; returns the offset the appended bytes will
    /// have. Call [`AppendFile::after_append`] when done.
    pub(crate) fn queue(&mut self) -> (u64, &mut Vec<u8>) {
        (self.len(), &mut self.queued)
    }

    /// Writes through when the queue grew large (a big value, a long batch).
    pub(crate) fn after_append(&mut self) -> io::Result<()> {
        if self.queued.len() >= FLUSH_THRESHOLD {
            self.flush()?;
        }
        Ok(())
    }

    /// Sets one byte at `offset` (a flag of an earlier entry). Applied after
    /// the queued appends reach the file.
    pub(crate) fn patch(&mut self, offset: u64, byte: u8) {
        if offset >= self.flushed {
            let idx = usize::try_from(offset - self.flushed).expect("queue fits in memory");
            if let Some(slot) = self.queued.get_mut(idx) {
                *slot = byte;
                return;
            }
        }
        self.patches.push((offset, byte));
    }

    /// Overwrites `bytes` at `offset` once queued appends are written
    /// (seq-mode slot rewrite). Flushes first so ordering is preserved.
    pub(crate) fn overwrite(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.flush()?;
        self.file.write_all_at(bytes, offset)
    }

    /// Bytes already written to the file.
    pub(crate) fn flushed_len(&self) -> u64 {
        self.flushed
    }

    /// Bytes appended but not yet written.
    pub(crate) fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// Whether anything waits to be written.
    pub(crate) fn is_dirty(&self) -> bool {
        !self.queued.is_empty() || !self.patches.is_empty()
    }

    /// Writes queued appends, then queued patches.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.queued.is_empty() {
            self.file.write_all_at(&self.queued, self.flushed)?;
            self.flushed += self.queued.len() as u64;
            self.queued.clear();
            if self.queued.capacity() > 4 * FLUSH_THRESHOLD {
                self.queued.shrink_to(FLUSH_THRESHOLD);
            }
        }
        for (offset, byte) in self.patches.drain(..) {
            self.file.write_all_at(&[byte], offset)?;
        }
        Ok(())
    }

    /// A second handle on the file, to fsync it without borrowing this one.
    pub(crate) fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Flushes and asks the kernel to put the bytes on disk.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.file.sync_data()
    }

    /// Reads exactly `buf.len()` bytes at `offset`, writing queued bytes
    /// first when the range reaches into them.
    pub(crate) fn read_exact_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if offset + buf.len() as u64 > self.flushed || !self.patches.is_empty() {
            self.flush()?;
        }
        self.file.read_exact_at(buf, offset)
    }

    /// The underlying file (for reads of already flushed ranges).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Gives back the file; queued bytes must have been flushed.
    pub(crate) fn into_file(self) -> File {
        debug_assert!(!self.is_dirty());
        self.file
    }

    /// Drops queued bytes and patches (after a failed flush the namespace is
    /// reloaded from what the file really holds).
    pub(crate) fn discard_queue(&mut self) {
        self.queued.clear();
        self.patches.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn open(dir: &Path) -> AppendFile {
        let path = dir.join("f");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        AppendFile::new(file, path, 0)
    }

    #[test]
    fn queued_bytes_are_readable_and_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = open(dir.path());
        let (off, q) = f.queue();
        assert_eq!(off, 0);
        q.extend_from_slice(b"hello");
        assert_eq!(std::fs::metadata(f.path()).unwrap().len(), 0);
        let mut buf = [0u8; 5];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hello");
        assert_eq!(std::fs::read(f.path()).unwrap(), b"hello");
    }

    #[test]
    fn patches_apply_after_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = open(dir.path());
        f.queue().1.extend_from_slice(b"abc");
        f.flush().unwrap();
        f.queue().1.extend_from_slice(b"def");
        f.patch(1, b'X'); // flushed region: deferred
        f.patch(4, b'Y'); // queued region: patched in the queue
        assert_eq!(std::fs::read(f.path()).unwrap(), b"abc");
        f.flush().unwrap();
        assert_eq!(std::fs::read(f.path()).unwrap(), b"aXcdYf");
        assert!(!f.is_dirty());
    }
}
