//! SCAN, RSCAN and KEYCUR: walking the index files in append order, with
//! 0-db's 17-byte cursors.

use std::io;
use std::time::{Duration, Instant};

use super::index_scan::IndexScan;
use super::{LockState, Namespace};
use crate::format::{INDEX_ENTRY_FIXED, INDEX_HEADER_LEN};

/// How long one SCAN call may walk before it answers (as 0-db does).
const SCAN_BUDGET: Duration = Duration::from_millis(2);
/// Upper bound on items per SCAN reply, whatever the time.
const SCAN_MAX_ITEMS: usize = 10_000;

/// Position of an index entry as clients see it:
/// `u8 key_len | u32 index_file | u32 payload_len | u32 index_offset | u32 crc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Key length of the entry.
    pub key_len: u8,
    /// Index file id.
    pub file: u32,
    /// Payload length (checked when the cursor comes back).
    pub length: u32,
    /// Offset in the index file.
    pub offset: u32,
    /// Payload checksum (checked when the cursor comes back).
    pub crc: u32,
}

impl Cursor {
    /// Encoded length.
    pub const LEN: usize = 17;

    /// The 17 bytes sent to clients.
    pub fn encode(&self) -> [u8; Cursor::LEN] {
        let mut out = [0u8; Cursor::LEN];
        out[0] = self.key_len;
        out[1..5].copy_from_slice(&self.file.to_le_bytes());
        out[5..9].copy_from_slice(&self.length.to_le_bytes());
        out[9..13].copy_from_slice(&self.offset.to_le_bytes());
        out[13..17].copy_from_slice(&self.crc.to_le_bytes());
        out
    }

    /// Parses a cursor sent by a client.
    pub fn decode(raw: &[u8]) -> Option<Cursor> {
        let raw: &[u8; Cursor::LEN] = raw.try_into().ok()?;
        let u32_at = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
        Some(Cursor {
            key_len: raw[0],
            file: u32_at(1),
            length: u32_at(5),
            offset: u32_at(9),
            crc: u32_at(13),
        })
    }
}

/// One key listed by SCAN/RSCAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanItem {
    /// The key (8-byte id in seq mode).
    pub key: Vec<u8>,
    /// Payload length.
    pub length: u32,
    /// Unix seconds of the write.
    pub timestamp: u32,
    /// Where the entry is; the last item's cursor continues the walk.
    pub cursor: Cursor,
}

/// Why a SCAN, RSCAN or KEYCUR failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Namespace frozen.
    #[error("namespace is frozen")]
    Frozen,
    /// The cursor does not name an entry of this namespace.
    #[error("invalid cursor")]
    BadCursor,
    /// Nothing more in that direction.
    #[error("no more data")]
    End,
    /// KEYCUR of a missing key.
    #[error("key not found")]
    NotFound,
    /// Reading the index failed.
    #[error("read index: {0}")]
    Index(#[from] io::Error),
}

impl Namespace {
    /// Cursor naming the live entry of `key`.
    pub fn key_cursor(&mut self, key: &[u8]) -> Result<Cursor, ScanError> {
        if self.lock == LockState::Frozen {
            return Err(ScanError::Frozen);
        }
        let live = self.live(key)?.ok_or(ScanError::NotFound)?;
        Ok(Cursor {
            key_len: live.entry.key_len,
            file: live.file_id,
            length: live.entry.length,
            offset: live.index_offset as u32,
            crc: live.entry.crc,
        })
    }

    /// Checks a client cursor against the entry it names; returns the
    /// offset just past that entry.
    fn validate(&mut self, cursor: &Cursor) -> Result<u64, ScanError> {
        let (entry, _) = self
            .read_index_entry(cursor.file, u64::from(cursor.offset), cursor.key_len.into())
            .map_err(|_| ScanError::BadCursor)?;
        if entry.length != cursor.length || entry.crc != cursor.crc {
            return Err(ScanError::BadCursor);
        }
        Ok(u64::from(cursor.offset) + (INDEX_ENTRY_FIXED + usize::from(cursor.key_len)) as u64)
    }

    /// Live entries after `cursor` (from the start without one), in append
    /// order, as many as fit in the time budget.
    pub fn scan(&mut self, cursor: Option<&[u8]>) -> Result<Vec<ScanItem>, ScanError> {
        if self.lock == LockState::Frozen {
            return Err(ScanError::Frozen);
        }
        let (mut file, mut offset) = match cursor {
            None => (0, INDEX_HEADER_LEN as u64),
            Some(raw) => {
                let cursor = Cursor::decode(raw).ok_or(ScanError::BadCursor)?;
                (cursor.file, self.validate(&cursor)?)
            }
        };
        let started = Instant::now();
        let mut items = Vec::new();
        while file <= self.segments.active_id {
            let (handle, len) = self.segments.index_file_for_scan(file)?;
            let mut scan = IndexScan::new(handle, offset, len);
            while let Some(item) = scan.next_entry()? {
                if !item.entry.is_deleted() {
                    items.push(scan_item(file, &item));
                    if items.len() >= SCAN_MAX_ITEMS || started.elapsed() > SCAN_BUDGET {
                        return Ok(items);
                    }
                }
            }
            file += 1;
            offset = INDEX_HEADER_LEN as u64;
        }
        if items.is_empty() {
            return Err(ScanError::End);
        }
        Ok(items)
    }

    /// Live entries before `cursor` (from the end without one), newest first.
    pub fn rscan(&mut self, cursor: Option<&[u8]>) -> Result<Vec<ScanItem>, ScanError> {
        if self.lock == LockState::Frozen {
            return Err(ScanError::Frozen);
        }
        let (mut file, mut before) = match cursor {
            None => (self.segments.active_id, u64::MAX),
            Some(raw) => {
                let cursor = Cursor::decode(raw).ok_or(ScanError::BadCursor)?;
                self.validate(&cursor)?;
                (cursor.file, u64::from(cursor.offset))
            }
        };
        let started = Instant::now();
        let mut items = Vec::new();
        loop {
            // Entries are variable-sized and only chained backwards through
            // offsets, so read the file forward and walk the result back.
            let (handle, len) = self.segments.index_file_for_scan(file)?;
            let mut scan = IndexScan::new(handle, INDEX_HEADER_LEN as u64, len.min(before));
            let mut in_file = Vec::new();
            while let Some(item) = scan.next_entry()? {
                if !item.entry.is_deleted() {
                    in_file.push(scan_item(file, &item));
                }
            }
            for item in in_file.into_iter().rev() {
                items.push(item);
                if items.len() >= SCAN_MAX_ITEMS || started.elapsed() > SCAN_BUDGET {
                    return Ok(items);
                }
            }
            if file == 0 {
                break;
            }
            file -= 1;
            before = u64::MAX;
        }
        if items.is_empty() {
            return Err(ScanError::End);
        }
        Ok(items)
    }
}

fn scan_item(file: u32, item: &super::index_scan::ScannedEntry<'_>) -> ScanItem {
    ScanItem {
        key: item.key.to_vec(),
        length: item.entry.length,
        timestamp: item.entry.timestamp,
        cursor: Cursor {
            key_len: item.entry.key_len,
            file,
            length: item.entry.length,
            offset: item.offset as u32,
            crc: item.entry.crc,
        },
    }
}

impl Namespace {
    /// User keys starting with `prefix`, sorted (empty in seq mode).
    pub fn keys_with_prefix(&self, prefix: &[u8]) -> Vec<Vec<u8>> {
        let super::keys::KeyIndex::User(map) = &self.keys else {
            return Vec::new();
        };
        let mut keys: Vec<Vec<u8>> = map
            .keys()
            .filter(|k| k.starts_with(prefix))
            .map(|k| k.to_vec())
            .collect();
        keys.sort();
        keys
    }
}
