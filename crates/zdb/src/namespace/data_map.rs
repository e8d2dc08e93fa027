//! Read-only memory maps of data files, so a GET copies its payload from
//! the page cache without a system call.
//!
//! Data files are append-only and never changed in place, so a byte range
//! that has been written stays the same for as long as the map lives;
//! reads only touch ranges below the written length. The active file is
//! mapped with room to grow (`window`), which costs address space, not
//! memory. A file truncated behind the server's back would fault (SIGBUS);
//! only the server truncates, and only before mapping, at load.

use std::fs::File;

use memmap2::{Mmap, MmapOptions};

/// Address space reserved past `--datasize` for the active file: the
/// largest value plus headers always fits.
pub(crate) const MAP_SLACK: u64 = 16 << 20;

/// A map of the first `len` bytes of a data file (or more, for the active
/// file), or nothing when mapping failed (reads then use `pread`).
#[derive(Debug)]
pub(crate) struct DataMap {
    map: Option<Mmap>,
}

impl DataMap {
    /// Maps `len` bytes of `file`; `len` may exceed the file's size.
    pub(crate) fn new(file: &File, len: u64) -> DataMap {
        let Ok(len) = usize::try_from(len) else {
            return DataMap { map: None };
        };
        if len == 0 {
            return DataMap { map: None };
        }
        // SAFETY: the mapping is read-only and only ranges already written
        // (and never rewritten) are read through it; see the module doc.
        let map = unsafe { MmapOptions::new().len(len).map(file) };
        if let Err(e) = &map {
            tracing::debug!("data file not mapped, reads use pread: {e}");
        }
        DataMap { map: map.ok() }
    }

    /// The bytes `offset..offset + len` if they lie inside the map and below
    /// `readable` (the written length of the file).
    pub(crate) fn slice(&self, offset: u64, len: usize, readable: u64) -> Option<&[u8]> {
        let map = self.map.as_ref()?;
        let end = offset.checked_add(len as u64)?;
        if end > readable || end > map.len() as u64 {
            return None;
        }
        Some(&map[offset as usize..end as usize])
    }
}
