//! Key lookups and payload reads: GET, EXISTS, LENGTH, KEYTIME, CHECK and
//! HISTORY.

use std::io;

use bytes::BytesMut;

use super::keys::KeyIndex;
use super::segments::DataReadError;
use super::write::Live;
use super::{LockState, Namespace};
use crate::crc::zdb_crc32;
use crate::format::{
    DataEntry, IndexEntry, Mode, DATA_ENTRY_FIXED, INDEX_ENTRY_FIXED, SEQ_SLOT_LEN,
};

/// Largest payload a data entry can hold (the protocol's value limit).
const MAX_PAYLOAD: u32 = 8 << 20;

/// One data entry as stored, for `DATA RAW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The fixed part.
    pub entry: DataEntry,
    /// Its key.
    pub key: Vec<u8>,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Why `DATA RAW` found no entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RawEntryError {
    /// Offset at or past the end of the file.
    #[error("end of file")]
    Eof,
    /// Not a readable live entry at that offset.
    #[error("no valid entry at that offset")]
    Invalid,
    /// No such data file.
    #[error("no such data file")]
    NoFile,
    /// The entry has no payload.
    #[error("empty payload")]
    Empty,
}

/// Why a read was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Namespace frozen.
    #[error("namespace is frozen")]
    Frozen,
    /// Reading the index failed (seq mode reads slots from disk).
    #[error("read index: {0}")]
    Index(io::Error),
}

/// Where the payload of a live key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueLoc {
    data_id: u32,
    /// Offset of the payload itself (past the data entry header and key).
    payload_offset: u64,
    /// Payload length.
    pub length: u32,
    /// Stored checksum of the payload.
    pub crc: u32,
    /// Unix seconds of the write.
    pub timestamp: u32,
    /// Index file of the entry.
    pub index_file: u32,
    /// Offset of the entry in its index file.
    pub index_offset: u32,
}

/// Result of `CHECK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Payload matches its checksum.
    Ok,
    /// Payload differs from its checksum.
    Mismatch,
    /// The data file could not be read.
    Unreadable,
}

/// One version of a key returned by `HISTORY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// Cursor of the previous version (`u32 file | u32 offset`), if any.
    pub previous: Option<[u8; 8]>,
    /// Unix seconds of this version.
    pub timestamp: u32,
    /// Payload of this version.
    pub value: Vec<u8>,
}

/// Why `HISTORY` failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Namespace frozen.
    #[error("namespace is frozen")]
    Frozen,
    /// No live key (two-argument form).
    #[error("key not found")]
    NotFound,
    /// All-zero cursor.
    #[error("no more history")]
    End,
    /// The cursor does not point at an index entry.
    #[error("invalid history cursor")]
    BadCursor,
    /// The cursor points at an entry of another key.
    #[error("history cursor belongs to another key")]
    OtherKey,
    /// Reading the payload failed.
    #[error(transparent)]
    Data(#[from] DataReadError),
    /// Reading the index failed.
    #[error("read index: {0}")]
    Index(io::Error),
}

impl Namespace {
    fn check_readable(&self) -> Result<(), ReadError> {
        if self.lock == LockState::Frozen {
            return Err(ReadError::Frozen);
        }
        Ok(())
    }

    /// Reads the index entry at (`file`, `offset`) whose key is `key_len`
    /// bytes; returns the entry and its key.
    pub(super) fn read_index_entry(
        &mut self,
        file: u32,
        offset: u64,
        key_len: usize,
    ) -> io::Result<(IndexEntry, Vec<u8>)> {
        let mut raw = vec![0u8; INDEX_ENTRY_FIXED + key_len];
        self.segments.read_index(file, offset, &mut raw)?;
        let entry = IndexEntry::decode(&raw).expect("fixed part read");
        Ok((entry, raw.split_off(INDEX_ENTRY_FIXED)))
    }

    /// The live version of `key`, if any.
    pub(super) fn live(&mut self, key: &[u8]) -> io::Result<Option<Live>> {
        match &self.keys {
            KeyIndex::User(map) => Ok(map.get(key).map(|slot| Live {
                file_id: slot.file_id,
                index_offset: u64::from(slot.index_offset),
                entry: IndexEntry {
                    key_len: key.len() as u8,
                    data_offset: slot.data_offset,
                    length: slot.length,
                    data_id: slot.file_id,
                    timestamp: slot.timestamp,
                    crc: slot.crc,
                    ..IndexEntry::default()
                },
            })),
            KeyIndex::Seq(table) => {
                let Ok(id) = <[u8; 8]>::try_from(key) else {
                    return Ok(None);
                };
                let Some((file_id, index_offset)) = table.locate(u64::from_le_bytes(id)) else {
                    return Ok(None);
                };
                let mut raw = [0u8; SEQ_SLOT_LEN];
                self.segments.read_index(file_id, index_offset, &mut raw)?;
                let entry = IndexEntry::decode(&raw).expect("slot read");
                Ok(
                    (!entry.is_deleted() && raw[INDEX_ENTRY_FIXED..] == id).then_some(Live {
                        file_id,
                        index_offset,
                        entry,
                    }),
                )
            }
        }
    }

    fn loc_of(&self, live: &Live) -> ValueLoc {
        ValueLoc {
            data_id: self.data_id_of(live),
            payload_offset: u64::from(live.entry.data_offset)
                + (DATA_ENTRY_FIXED + usize::from(live.entry.key_len)) as u64,
            length: live.entry.length,
            crc: live.entry.crc,
            timestamp: live.entry.timestamp,
            index_file: live.file_id,
            index_offset: live.index_offset as u32,
        }
    }

    /// Where the live payload of `key` is, or `None`.
    pub fn lookup(&mut self, key: &[u8]) -> Result<Option<ValueLoc>, ReadError> {
        self.check_readable()?;
        match self.live(key) {
            Ok(live) => Ok(live.map(|l| self.loc_of(&l))),
            Err(e) => {
                self.note_index_error();
                Err(ReadError::Index(e))
            }
        }
    }

    /// Appends the payload at `loc` to `out`.
    pub fn read_value(&mut self, loc: &ValueLoc, out: &mut BytesMut) -> Result<(), DataReadError> {
        let res =
            self.segments
                .read_data_into(loc.data_id, loc.payload_offset, loc.length as usize, out);
        if res.is_err() {
            self.note_data_error();
        }
        res
    }

    /// Re-reads the payload of `key` and compares it with its checksum.
    pub fn check(&mut self, key: &[u8]) -> Result<Option<Integrity>, ReadError> {
        let Some(loc) = self.lookup(key)? else {
            return Ok(None);
        };
        let mut buf = BytesMut::new();
        Ok(Some(match self.read_value(&loc, &mut buf) {
            Ok(()) if zdb_crc32(&buf) == loc.crc => Integrity::Ok,
            Ok(()) => Integrity::Mismatch,
            Err(_) => Integrity::Unreadable,
        }))
    }

    /// `HISTORY key [cursor]`: the live version, or the one `cursor` names.
    pub fn history(
        &mut self,
        key: &[u8],
        cursor: Option<[u8; 8]>,
    ) -> Result<HistoryItem, HistoryError> {
        if self.lock == LockState::Frozen {
            return Err(HistoryError::Frozen);
        }
        let (file, offset) = match cursor {
            None => {
                let live = self.live(key).map_err(HistoryError::Index)?;
                let live = live.ok_or(HistoryError::NotFound)?;
                (live.file_id, live.index_offset)
            }
            Some(c) if c == [0; 8] => return Err(HistoryError::End),
            Some(c) => (
                u32::from_le_bytes(c[..4].try_into().expect("4 bytes")),
                u64::from(u32::from_le_bytes(c[4..].try_into().expect("4 bytes"))),
            ),
        };
        let (entry, stored_key) = self
            .read_index_entry(file, offset, key.len())
            .map_err(|_| HistoryError::BadCursor)?;
        if stored_key != key || usize::from(entry.key_len) != key.len() {
            return Err(HistoryError::OtherKey);
        }
        let live = Live {
            file_id: file,
            index_offset: offset,
            entry,
        };
        let loc = self.loc_of(&live);
        let mut value = BytesMut::new();
        self.read_value(&loc, &mut value)?;
        let has_parent = entry.parent_id != 0 || entry.parent_offset != 0;
        let previous = has_parent.then(|| {
            let mut c = [0u8; 8];
            c[..4].copy_from_slice(&entry.parent_id.to_le_bytes());
            c[4..].copy_from_slice(&entry.parent_offset.to_le_bytes());
            c
        });
        Ok(HistoryItem {
            previous,
            timestamp: entry.timestamp,
            value: value.to_vec(),
        })
    }

    /// The data entry at `offset` of data file `file_id`.
    pub fn raw_data_entry(&mut self, file_id: u32, offset: u64) -> Result<RawEntry, RawEntryError> {
        let len = self
            .segments
            .data_len(file_id)
            .map_err(|_| RawEntryError::NoFile)?;
        if offset >= len {
            return Err(RawEntryError::Eof);
        }
        let mut fixed = [0u8; DATA_ENTRY_FIXED];
        self.segments
            .read_data(file_id, offset, &mut fixed)
            .map_err(|_| RawEntryError::Invalid)?;
        let entry = DataEntry::decode(&fixed).map_err(|_| RawEntryError::Invalid)?;
        if entry.flags & crate::format::FLAG_DELETED != 0 || entry.length > MAX_PAYLOAD {
            return Err(RawEntryError::Invalid);
        }
        if entry.length == 0 {
            return Err(RawEntryError::Empty);
        }
        let mut rest = vec![0u8; usize::from(entry.key_len) + entry.length as usize];
        self.segments
            .read_data(file_id, offset + DATA_ENTRY_FIXED as u64, &mut rest)
            .map_err(|_| RawEntryError::Invalid)?;
        let payload = rest.split_off(usize::from(entry.key_len));
        Ok(RawEntry {
            entry,
            key: rest,
            payload,
        })
    }

    /// Number of live keys.
    pub fn len(&self) -> u64 {
        self.stats.entries
    }

    /// Whether the namespace has no live key.
    pub fn is_empty(&self) -> bool {
        self.stats.entries == 0
    }

    /// Key mode helper for callers formatting replies.
    pub fn is_seq(&self) -> bool {
        self.mode == Mode::Seq
    }
}
