//! Where the tree keeps its nodes: the [`NodeStore`] trait and the in-memory [`MemoryStore`].
//!
//! Node `(level, index)` is the root of the perfect subtree over leaves
//! `[index·2^level, (index+1)·2^level)`; level 0 holds the leaf hashes. Only *completed*
//! perfect subtrees are stored, and a completed subtree never changes, so a store is
//! append-only too: that is what lets a later step keep the nodes in a 0-db namespace
//! without ever rewriting a value. Any root or proof for any historical size is then a
//! combination of O(log N) stored nodes.

use std::error::Error;

use super::hash::{Hash, HASH_LEN};

/// An error from a node store (I/O, a closed connection, …), kept opaque so that the tree
/// does not depend on any particular backend.
pub type StoreError = Box<dyn Error + Send + Sync + 'static>;

/// Storage for the completed perfect-subtree nodes of a [`MerkleTree`](super::MerkleTree).
///
/// The tree writes node `(level, index)` exactly once per append, in increasing `index`
/// per level, and only reads nodes it wrote. If a `put` fails, the tree does not grow; a
/// retried append writes the same positions again with the same values, so a store may
/// treat a repeated `put` as an overwrite.
pub trait NodeStore {
    /// The node at `(level, index)`, or `None` if it was never written.
    fn get(&self, level: u32, index: u64) -> Result<Option<Hash>, StoreError>;

    /// Stores the node at `(level, index)`.
    fn put(&mut self, level: u32, index: u64, hash: Hash) -> Result<(), StoreError>;
}

/// Nodes in memory, one `Vec` per level.
///
/// A tree of N leaves holds just under 2·N hashes (N leaves, N/2 pairs, …), i.e. about
/// 64 MB per million leaves. Levels grow by an eighth rather than doubling, so the spare
/// capacity stays within 12.5% instead of up to 100%.
#[derive(Clone, Default)]
pub struct MemoryStore {
    levels: Vec<Vec<Hash>>,
}

/// Shows the number of nodes per level, not millions of hashes.
impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lens: Vec<usize> = self.levels.iter().map(Vec::len).collect();
        f.debug_struct("MemoryStore")
            .field("level_lens", &lens)
            .finish()
    }
}

/// The smallest growth step of a level, so that small trees do not reallocate per append.
const MIN_GROWTH: usize = 64;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with room for the nodes of a tree of `leaves` leaves, so that a
    /// rebuild of known size allocates each level once.
    pub fn with_capacity(leaves: u64) -> Self {
        let mut store = Self::default();
        store.reserve(leaves);
        store
    }

    /// Makes room for the nodes of a tree of `leaves` leaves in total.
    pub fn reserve(&mut self, leaves: u64) {
        let mut level = 0u32;
        while level < u64::BITS && (leaves >> level) > 0 {
            let wanted = usize::try_from(leaves >> level).unwrap_or(usize::MAX);
            let nodes = self.level_mut(level);
            nodes.reserve_exact(wanted.saturating_sub(nodes.len()));
            level += 1;
        }
    }

    /// Number of nodes stored at `level`.
    pub fn level_len(&self, level: u32) -> u64 {
        self.levels
            .get(level as usize)
            .map_or(0, |nodes| nodes.len() as u64)
    }

    /// Bytes of heap memory held for node hashes (capacity, not just length).
    pub fn heap_bytes(&self) -> usize {
        let hashes: usize = self.levels.iter().map(Vec::capacity).sum();
        hashes * HASH_LEN + self.levels.capacity() * std::mem::size_of::<Vec<Hash>>()
    }

    fn level_mut(&mut self, level: u32) -> &mut Vec<Hash> {
        let level = level as usize;
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        &mut self.levels[level]
    }
}

impl NodeStore for MemoryStore {
    fn get(&self, level: u32, index: u64) -> Result<Option<Hash>, StoreError> {
        let Ok(index) = usize::try_from(index) else {
            return Ok(None);
        };
        Ok(self
            .levels
            .get(level as usize)
            .and_then(|nodes| nodes.get(index))
            .copied())
    }

    /// Appends at the end of the level or overwrites an existing node; a write past the
    /// end would leave a hole and is refused.
    fn put(&mut self, level: u32, index: u64, hash: Hash) -> Result<(), StoreError> {
        if level >= u64::BITS {
            return Err(format!("node level {level} is beyond a 64-bit tree").into());
        }
        let nodes = self.level_mut(level);
        let len = nodes.len();
        match usize::try_from(index) {
            Ok(i) if i < len => nodes[i] = hash,
            Ok(i) if i == len => {
                if len == nodes.capacity() {
                    nodes.reserve_exact((len / 8).max(MIN_GROWTH));
                }
                nodes.push(hash);
            }
            _ => {
                return Err(
                    format!("node ({level}, {index}) would leave a hole after {len} nodes").into(),
                )
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_appends_overwrites_and_refuses_holes() {
        let mut store = MemoryStore::new();
        store.put(0, 0, [1; 32]).unwrap();
        store.put(0, 1, [2; 32]).unwrap();
        store.put(0, 1, [3; 32]).unwrap();
        assert!(store.put(0, 3, [4; 32]).is_err());
        assert!(store.put(64, 0, [4; 32]).is_err());
        assert_eq!(store.get(0, 1).unwrap(), Some([3; 32]));
        assert_eq!(store.get(0, 2).unwrap(), None);
        assert_eq!(store.get(5, 0).unwrap(), None);
        assert_eq!(store.get(0, u64::MAX).unwrap(), None);
        assert_eq!(store.level_len(0), 2);
    }

    #[test]
    fn reserve_is_exact_per_level() {
        let store = MemoryStore::with_capacity(1000);
        let hashes = (0..10).map(|l| 1000u64 >> l).sum::<u64>() as usize;
        assert!(store.heap_bytes() >= hashes * HASH_LEN);
        assert!(store.heap_bytes() < hashes * HASH_LEN + 1024);
    }
}
