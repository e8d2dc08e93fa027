//! Forward reading of the entries of one index file, in chunks, with
//! detection of a torn last entry.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::format::{IndexEntry, INDEX_ENTRY_FIXED};

const CHUNK: usize = 64 * 1024;

/// Reads index entries from `start` up to `end` of a file.
pub(crate) struct IndexScan<'f> {
    file: &'f File,
    /// File offset of the next entry.
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_start: u64,
}

/// One entry as read from disk.
pub(crate) struct ScannedEntry<'a> {
    /// Offset of the entry in its file.
    pub(crate) offset: u64,
    pub(crate) entry: IndexEntry,
    pub(crate) key: &'a [u8],
}

impl<'f> IndexScan<'f> {
    pub(crate) fn new(file: &'f File, start: u64, end: u64) -> IndexScan<'f> {
        IndexScan {
            file,
            pos: start,
            end,
            buf: Vec::new(),
            buf_start: start,
        }
    }

    /// Offset where the next entry would start. After `next` returned
    /// `None`, a value below `end` means the file ends with a torn entry.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Makes `n` bytes starting at `pos` available in `buf`; false when the
    /// file ends first.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.pos + n as u64 > self.end {
            return Ok(false);
        }
        let have_from = self.pos - self.buf_start;
        if have_from as usize + n <= self.buf.len() {
            return Ok(true);
        }
        let want = n.max(CHUNK).min((self.end - self.pos) as usize);
        self.buf.resize(want, 0);
        self.file.read_exact_at(&mut self.buf, self.pos)?;
        self.buf_start = self.pos;
        Ok(true)
    }

    /// The next entry, or `None` at the end (or at a torn entry).
    pub(crate) fn next_entry(&mut self) -> io::Result<Option<ScannedEntry<'_>>> {
        if !self.fill(INDEX_ENTRY_FIXED)? {
            return Ok(None);
        }
        let at = (self.pos - self.buf_start) as usize;
        let entry = IndexEntry::decode(&self.buf[at..]).expect("fixed part buffered");
        let total = entry.disk_len();
        if !self.fill(total)? {
            return Ok(None);
        }
        let at = (self.pos - self.buf_start) as usize;
        let offset = self.pos;
        self.pos += total as u64;
        Ok(Some(ScannedEntry {
            offset,
            entry,
            key: &self.buf[at + INDEX_ENTRY_FIXED..at + total],
        }))
    }
}
