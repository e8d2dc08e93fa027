//! Where each live key is: a hash map of user keys, or the table of first
//! ids per index file for sequential namespaces.

use std::collections::HashMap;

use crate::format::{Mode, INDEX_HEADER_LEN, SEQ_SLOT_LEN};

/// Location and metadata of the live version of a user key: 24 bytes, so a
/// key costs its own bytes plus about 40 bytes of map entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserSlot {
    /// Index file (and, in user mode, data file) holding the entry.
    pub(crate) file_id: u32,
    /// Offset of the index entry.
    pub(crate) index_offset: u32,
    /// Offset of the data entry header.
    pub(crate) data_offset: u32,
    pub(crate) length: u32,
    pub(crate) crc: u32,
    pub(crate) timestamp: u32,
}

/// Id → slot arithmetic of a sequential namespace.
#[derive(Debug, Default)]
pub(crate) struct SeqTable {
    /// `first_ids[n]` is the first id stored in index file `n`.
    pub(crate) first_ids: Vec<u64>,
    /// The id the next insert gets (= number of slots ever created).
    pub(crate) next_id: u64,
}

impl SeqTable {
    /// Index file and offset of slot `id`, if it was ever created.
    pub(crate) fn locate(&self, id: u64) -> Option<(u32, u64)> {
        if id >= self.next_id {
            return None;
        }
        let file = match self.first_ids.binary_search(&id) {
            Ok(exact) => {
                // Several empty files may share a first id: the last one
                // holding it is the one with slots.
                let mut n = exact;
                while n + 1 < self.first_ids.len() && self.first_ids[n + 1] == id {
                    n += 1;
                }
                n
            }
            Err(after) => after.checked_sub(1)?,
        };
        let offset = INDEX_HEADER_LEN as u64 + (id - self.first_ids[file]) * SEQ_SLOT_LEN as u64;
        Some((u32::try_from(file).ok()?, offset))
    }
}

/// The in-memory index of a namespace.
#[derive(Debug)]
pub(crate) enum KeyIndex {
    User(HashMap<Box<[u8]>, UserSlot>),
    Seq(SeqTable),
}

impl KeyIndex {
    pub(crate) fn new(mode: Mode) -> KeyIndex {
        match mode {
            Mode::User => KeyIndex::User(HashMap::new()),
            Mode::Seq => KeyIndex::Seq(SeqTable {
                first_ids: vec![0],
                next_id: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(first_ids: &[u64], next_id: u64, id: u64, expected: Option<(u32, u64)>) {
        let table = SeqTable {
            first_ids: first_ids.to_vec(),
            next_id,
        };
        assert_eq!(table.locate(id), expected, "id {id} in {first_ids:?}");
    }

    #[test]
    fn locate_slots() {
        check(&[0], 3, 0, Some((0, 29)));
        check(&[0], 3, 2, Some((0, 29 + 84)));
        check(&[0], 3, 3, None);
        check(&[0, 2], 5, 1, Some((0, 71)));
        check(&[0, 2], 5, 2, Some((1, 29)));
        check(&[0, 2], 5, 4, Some((1, 113)));
        // An empty file 1 (rotation without writes) shares its first id.
        check(&[0, 2, 2], 3, 2, Some((2, 29)));
    }
}
