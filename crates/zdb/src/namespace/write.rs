//! SET and DEL in both key modes, with 0-db's order of checks.

use super::keys::{KeyIndex, UserSlot};
use super::{now_secs, LockState, Namespace};
use crate::crc::zdb_crc32;
use crate::format::{
    DataEntry, IndexEntry, Mode, DATA_ENTRY_FIXED, FLAG_DELETED, INDEX_ENTRY_FIXED, SEQ_KEY_LEN,
};

/// Why a SET was refused. Each maps to one 0-db error reply.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// Namespace frozen.
    #[error("namespace is frozen")]
    Frozen,
    /// Namespace locked read-only.
    #[error("namespace is locked")]
    Locked,
    /// WORM namespace and the key already exists.
    #[error("namespace is in worm mode")]
    Worm,
    /// `maxsize` would be exceeded.
    #[error("no space left on this namespace")]
    NoSpace,
    /// User mode and the key is empty.
    #[error("key needed")]
    KeyNeeded,
    /// Seq mode and the key is not a live id.
    #[error("only update of an existing id is allowed")]
    OnlyUpdate,
    /// Writing the data file failed.
    #[error("write data: {0}")]
    Data(std::io::Error),
    /// Writing the index file failed.
    #[error("write index: {0}")]
    Index(std::io::Error),
}

/// Why a DEL was refused.
#[derive(Debug, thiserror::Error)]
pub enum DelError {
    /// Namespace frozen.
    #[error("namespace is frozen")]
    Frozen,
    /// Namespace locked read-only.
    #[error("namespace is locked")]
    Locked,
    /// No live key.
    #[error("key not found")]
    NotFound,
    /// WORM namespace.
    #[error("cannot delete in worm mode")]
    Worm,
    /// Writing the data file failed.
    #[error("write data: {0}")]
    Data(std::io::Error),
    /// Updating the index failed.
    #[error("write index: {0}")]
    Index(std::io::Error),
}

/// What a successful SET did.
#[derive(Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// Written; the key (user mode) or the 8-byte id (seq mode).
    Written(Vec<u8>),
    /// Same value as the live one: nothing written.
    Unchanged,
}

/// The live version of a key, wherever it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Live {
    pub(super) file_id: u32,
    pub(super) index_offset: u64,
    pub(super) entry: IndexEntry,
}

impl Namespace {
    fn check_writable(&self) -> Result<(), SetError> {
        match self.lock {
            LockState::Frozen => Err(SetError::Frozen),
            LockState::Locked => Err(SetError::Locked),
            LockState::Unlocked => Ok(()),
        }
    }

    /// Stores `value` under `key` (user mode) or as a new or updated id (seq
    /// mode, empty key = insert). `timestamp` overrides the entry's time
    /// (replication). The write is queued: call [`Namespace::flush`] before
    /// acknowledging it.
    pub fn set(
        &mut self,
        key: &[u8],
        value: &[u8],
        timestamp: Option<u32>,
    ) -> Result<SetOutcome, SetError> {
        self.check_writable()?;
        let live = if key.is_empty() {
            None
        } else {
            self.live(key).map_err(SetError::Index)?
        };
        if live.is_some() && self.desc.worm {
            return Err(SetError::Worm);
        }
        let old_len = live.map_or(0, |l| u64::from(l.entry.length));
        if self.desc.maxsize > 0
            && self.stats.used + value.len() as u64 > self.desc.maxsize + old_len
        {
            return Err(SetError::NoSpace);
        }
        self.rotate_if_full(value.len())?;
        match self.mode {
            Mode::User if key.is_empty() => return Err(SetError::KeyNeeded),
            Mode::Seq if !key.is_empty() && live.is_none() => return Err(SetError::OnlyUpdate),
            _ => {}
        }
        let crc = zdb_crc32(value);
        if let Some(live) = live {
            if live.entry.crc == crc
                && live.entry.length as usize == value.len()
                && self.same_payload(&live, key.len(), value)
            {
                return Ok(SetOutcome::Unchanged);
            }
        }
        let timestamp = timestamp.unwrap_or_else(now_secs);
        self.written_since_rotation = true;
        match self.mode {
            Mode::User => self.set_user(key, value, crc, timestamp, live),
            Mode::Seq => self.set_seq(key, value, crc, timestamp, live),
        }
    }

    /// Compares the stored payload of `live` with `value` (crc and length
    /// already match; this rules out collisions).
    fn same_payload(&mut self, live: &Live, key_len: usize, value: &[u8]) -> bool {
        let at = u64::from(live.entry.data_offset) + (DATA_ENTRY_FIXED + key_len) as u64;
        let data_id = self.data_id_of(live);
        match self.segments.data_slice(data_id, at, value.len()) {
            Ok(Some(stored)) => stored == value,
            Ok(None) => {
                let mut stored = vec![0u8; value.len()];
                self.segments.read_data(data_id, at, &mut stored).is_ok() && stored == value
            }
            Err(_) => false,
        }
    }

    /// Data file of a live entry: user mode keeps index and data ids in
    /// lockstep (and the C server writes 0 in the field for fresh keys).
    pub(super) fn data_id_of(&self, live: &Live) -> u32 {
        match self.mode {
            Mode::User => live.file_id,
            Mode::Seq => live.entry.data_id,
        }
    }

    /// Opens a new file pair when `value_len` more bytes would push the
    /// data file past `datasize`, or the index file near the 4 GiB offset
    /// limit.
    fn rotate_if_full(&mut self, value_len: usize) -> Result<(), SetError> {
        let data_full = self.segments.data.len() + value_len as u64 > self.config.datasize;
        let index_full =
            self.segments.index.len() + (INDEX_ENTRY_FIXED + 255) as u64 > u64::from(u32::MAX);
        if data_full || index_full {
            self.rotate().map_err(SetError::Index)?;
        }
        Ok(())
    }

    /// Queues a data entry; returns its offset.
    fn append_data(&mut self, key: &[u8], value: &[u8], crc: u32, flags: u8, ts: u32) -> u32 {
        let (offset, buf) = self.segments.data.queue();
        DataEntry {
            key_len: key.len() as u8,
            length: value.len() as u32,
            previous: self.last_data_offset,
            crc,
            flags,
            timestamp: ts,
        }
        .encode_into(key, buf);
        buf.extend_from_slice(value);
        let offset = offset as u32;
        self.last_data_offset = offset;
        offset
    }

    /// Queues an index entry in the active file; returns its offset.
    fn append_index(&mut self, mut entry: IndexEntry, key: &[u8]) -> u32 {
        let (offset, buf) = self.segments.index.queue();
        entry.previous = self.last_index_offset;
        entry.encode_into(key, buf);
        let offset = offset as u32;
        self.last_index_offset = offset;
        offset
    }

    fn after_append(&mut self) -> Result<(), SetError> {
        self.segments.data.after_append().map_err(SetError::Data)?;
        self.segments.index.after_append().map_err(SetError::Index)
    }

    fn set_user(
        &mut self,
        key: &[u8],
        value: &[u8],
        crc: u32,
        timestamp: u32,
        live: Option<Live>,
    ) -> Result<SetOutcome, SetError> {
        let data_offset = self.append_data(key, value, crc, 0, timestamp);
        self.index_user_set(key, data_offset, value.len() as u32, crc, timestamp, live);
        self.after_append()?;
        Ok(SetOutcome::Written(key.to_vec()))
    }

    /// The index side of a user-mode SET whose data entry is at
    /// `data_offset` of the active file: append the entry, flag the old one,
    /// update the key map. Also replays a SET found only in the data file.
    fn index_user_set(
        &mut self,
        key: &[u8],
        data_offset: u32,
        length: u32,
        crc: u32,
        timestamp: u32,
        live: Option<Live>,
    ) {
        let file_id = self.segments.active_id;
        let (parent_id, parent_offset) =
            live.map_or((0, 0), |l| (l.file_id, l.index_offset as u32));
        let entry = IndexEntry {
            key_len: key.len() as u8,
            data_offset,
            length,
            previous: 0,
            flags: 0,
            data_id: file_id,
            timestamp,
            crc,
            parent_id,
            parent_offset,
        };
        let index_offset = self.append_index(entry, key);
        if let Some(live) = live {
            // Appended first, flagged second (applied in that order by flush).
            self.segments.patch_index_flags(
                live.file_id,
                live.index_offset,
                live.entry.flags | FLAG_DELETED,
            );
            self.stats.used -= u64::from(live.entry.length);
        } else {
            self.stats.entries += 1;
            self.stats.index_size += 64 + key.len() as u64;
            self.stats.next_internal_id += 1;
        }
        self.stats.used += u64::from(length);
        let slot = UserSlot {
            file_id,
            index_offset,
            data_offset,
            length,
            crc,
            timestamp,
        };
        let KeyIndex::User(map) = &mut self.keys else {
            unreachable!("user-mode namespace has a user key map")
        };
        match map.get_mut(key) {
            Some(existing) => *existing = slot,
            None => {
                map.insert(key.into(), slot);
            }
        }
    }

    /// The index side of a seq-mode insert of `id` (the next id).
    fn index_seq_insert(
        &mut self,
        id: u64,
        data_offset: u32,
        length: u32,
        crc: u32,
        timestamp: u32,
    ) {
        let KeyIndex::Seq(table) = &mut self.keys else {
            unreachable!("seq-mode namespace has a seq table")
        };
        debug_assert_eq!(id, table.next_id);
        table.next_id = id + 1;
        let entry = IndexEntry {
            key_len: SEQ_KEY_LEN as u8,
            data_offset,
            length,
            data_id: self.segments.active_id,
            timestamp,
            crc,
            ..IndexEntry::default()
        };
        self.append_index(entry, &id.to_le_bytes());
        self.stats.entries += 1;
        self.stats.used += u64::from(length);
        self.stats.index_size += 64 + SEQ_KEY_LEN as u64;
        self.stats.next_internal_id = id + 1;
    }

    /// Brings the index up to date with a data entry that reached the data
    /// file but not the index before a crash (index appends are written
    /// lazily; see `FORMAT.md`). User mode replays SETs and deletes; seq mode
    /// replays inserts (updates and deletes are indexed before they are
    /// acknowledged, so one missing from the index was never acknowledged).
    pub(super) fn replay_data_entry(&mut self, offset: u32, entry: &DataEntry, key: &[u8]) {
        let deleted = entry.flags & FLAG_DELETED != 0;
        match self.mode {
            Mode::User => {
                let live = self.live(key).ok().flatten();
                if !deleted {
                    self.index_user_set(
                        key,
                        offset,
                        entry.length,
                        entry.crc,
                        entry.timestamp,
                        live,
                    );
                } else if let Some(live) = live {
                    self.forget_live(key, &live);
                }
            }
            Mode::Seq => {
                let KeyIndex::Seq(table) = &self.keys else {
                    unreachable!("seq-mode namespace has a seq table")
                };
                let Ok(id) = <[u8; SEQ_KEY_LEN]>::try_from(key).map(u64::from_le_bytes) else {
                    return;
                };
                if !deleted && id == table.next_id {
                    self.index_seq_insert(id, offset, entry.length, entry.crc, entry.timestamp);
                }
            }
        }
    }

    /// Flags the live entry of `key` deleted and forgets it.
    fn forget_live(&mut self, key: &[u8], live: &Live) {
        self.segments.patch_index_flags(
            live.file_id,
            live.index_offset,
            live.entry.flags | FLAG_DELETED,
        );
        if let KeyIndex::User(map) = &mut self.keys {
            map.remove(key);
        }
        self.stats.index_size -= 64 + key.len() as u64;
        self.stats.entries -= 1;
        self.stats.used -= u64::from(live.entry.length);
    }

    fn set_seq(
        &mut self,
        key: &[u8],
        value: &[u8],
        crc: u32,
        timestamp: u32,
        live: Option<Live>,
    ) -> Result<SetOutcome, SetError> {
        let KeyIndex::Seq(table) = &mut self.keys else {
            unreachable!("seq-mode namespace has a seq table")
        };
        let active_id = self.segments.active_id;
        let Some(live) = live else {
            // Insert: the new slot is the next id.
            let id = table.next_id;
            let key = id.to_le_bytes();
            let data_offset = self.append_data(&key, value, crc, 0, timestamp);
            self.index_seq_insert(id, data_offset, value.len() as u32, crc, timestamp);
            self.after_append()?;
            return Ok(SetOutcome::Written(key.to_vec()));
        };
        // Update: keep the old version as a deleted copy at the end (this
        // consumes an id), then point the slot at the new payload.
        let copy_id = table.next_id;
        table.next_id += 1;
        self.stats.next_internal_id = copy_id + 1;
        let id: [u8; SEQ_KEY_LEN] = key.try_into().expect("a live seq key is 8 bytes");
        let data_offset = self.append_data(&id, value, crc, 0, timestamp);
        let copy = IndexEntry {
            flags: live.entry.flags | FLAG_DELETED,
            ..live.entry
        };
        let copy_offset = self.append_index(copy, &id);
        let slot = IndexEntry {
            key_len: SEQ_KEY_LEN as u8,
            data_offset,
            length: value.len() as u32,
            previous: live.entry.previous,
            flags: 0,
            data_id: active_id,
            timestamp,
            crc,
            parent_id: active_id,
            parent_offset: copy_offset,
        };
        let mut bytes = Vec::with_capacity(INDEX_ENTRY_FIXED + SEQ_KEY_LEN);
        slot.encode_into(&id, &mut bytes);
        self.segments
            .overwrite_index(live.file_id, live.index_offset, &bytes)
            .map_err(SetError::Index)?;
        self.stats.used = self.stats.used - u64::from(live.entry.length) + value.len() as u64;
        Ok(SetOutcome::Written(id.to_vec()))
    }

    /// Removes `key`: appends a delete record and flags the index entry.
    pub fn del(&mut self, key: &[u8], timestamp: Option<u32>) -> Result<(), DelError> {
        match self.lock {
            LockState::Frozen => return Err(DelError::Frozen),
            LockState::Locked => return Err(DelError::Locked),
            LockState::Unlocked => {}
        }
        let live = self
            .live(key)
            .map_err(DelError::Index)?
            .ok_or(DelError::NotFound)?;
        if self.desc.worm {
            return Err(DelError::Worm);
        }
        let timestamp = timestamp.unwrap_or_else(now_secs);
        self.written_since_rotation = true;
        self.append_data(key, &[], 0, FLAG_DELETED, timestamp);
        self.forget_live(key, &live);
        // Deletes reach the index before they are acknowledged: the load-time
        // replay of the data log only covers entries after the last indexed
        // one, and a delete's flag is an in-place change, not an append.
        self.segments.data.flush().map_err(DelError::Data)?;
        self.segments.flush().map_err(DelError::Index)
    }
}
