//! The append-only tree: appends, roots and proofs for any historical size.
//!
//! The tree keeps its *frontier* in memory — the roots of the perfect subtrees that make
//! up the current size, one per set bit of N — so an append hashes only the subtrees it
//! completes (amortised one node hash) and never reads the store. Every completed node
//! goes to the [`NodeStore`].
//!
//! Roots and proofs follow the recursive definitions of RFC 9162 §2.1 (`MTH`, `PATH`,
//! `SUBPROOF`), walked top-down without recursion. Each hash they need is the hash of a
//! range `[start, start + n)` whose `start` is a multiple of the smallest power of two
//! ≥ n, so it splits into the stored perfect subtrees of n's binary form. Along one walk
//! at most one such range is not itself perfect, which keeps every root or proof at
//! O(log N) node reads.

use thiserror::Error;

use super::hash::{empty_root, leaf_hash, node_hash, Hash};
use super::store::{MemoryStore, NodeStore, StoreError};

/// The largest number of leaves a tree accepts: 2^63.
///
/// Up to this size every inclusion and consistency proof has at most 64 hashes, the limit
/// of the proof encoding ([`MAX_PROOF_HASHES`](super::MAX_PROOF_HASHES)).
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// Why the tree refused a request.
#[derive(Debug, Error)]
pub enum TreeError {
    /// A leaf index at or past the size it was asked about.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size it must be below.
        size: u64,
    },
    /// A tree size larger than the tree has grown to.
    #[error("tree size {size} is larger than the tree ({len} leaves)")]
    SizeOutOfRange {
        /// The requested size.
        size: u64,
        /// The current number of leaves.
        len: u64,
    },
    /// A consistency proof asked from a larger size to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder {
        /// The requested old size.
        old_size: u64,
        /// The requested new size.
        new_size: u64,
    },
    /// The tree already holds [`MAX_TREE_SIZE`] leaves.
    #[error("the tree is full ({MAX_TREE_SIZE} leaves)")]
    Full,
    /// The store lacks a node the tree's size says it must hold.
    #[error("node store has no node at level {level}, index {index}")]
    MissingNode {
        /// Level of the missing node (0 = leaves).
        level: u32,
        /// Index of the missing node within its level.
        index: u64,
    },
    /// The store failed.
    #[error("node store: {0}")]
    Store(#[source] StoreError),
}

/// An append-only RFC 9162 Merkle tree over a [`NodeStore`].
#[derive(Debug, Clone)]
pub struct MerkleTree<S = MemoryStore> {
    store: S,
    size: u64,
    /// Roots of the perfect subtrees that make up `size`, largest (leftmost) first.
    frontier: Vec<Hash>,
}

impl MerkleTree<MemoryStore> {
    /// An empty tree in memory.
    pub fn new() -> Self {
        Self::new_in(MemoryStore::new())
    }

    /// Rebuilds a tree in memory from ledger entries, in order (each is hashed as a leaf).
    ///
    /// The iterator's lower size bound is used to allocate each level once.
    pub fn from_leaves<I>(entries: I) -> Result<Self, TreeError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let entries = entries.into_iter();
        let store = MemoryStore::with_capacity(entries.size_hint().0 as u64);
        Self::from_leaves_in(store, entries)
    }
}

impl Default for MerkleTree<MemoryStore> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: NodeStore> MerkleTree<S> {
    /// An empty tree over `store`, which should hold no nodes (any it holds are overwritten).
    pub fn new_in(store: S) -> Self {
        Self {
            store,
            size: 0,
            frontier: Vec::new(),
        }
    }

    /// Rebuilds a tree over `store` from ledger entries, in order.
    pub fn from_leaves_in<I>(store: S, entries: I) -> Result<Self, TreeError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut tree = Self::new_in(store);
        for entry in entries {
            tree.append(entry.as_ref())?;
        }
        Ok(tree)
    }

    /// Reopens a tree of `size` leaves whose nodes `store` already holds (e.g. a persisted
    /// store after a restart). Reads the O(log N) frontier nodes; fails if one is missing.
    pub fn open(store: S, size: u64) -> Result<Self, TreeError> {
        if size > MAX_TREE_SIZE {
            return Err(TreeError::Full);
        }
        let mut tree = Self::new_in(store);
        tree.size = size;
        tree.frontier = tree.peaks(0, size)?;
        Ok(tree)
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The node store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the node store back, e.g. to [`open`](Self::open) it again later.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Appends a ledger entry as the next leaf; returns its leaf index.
    pub fn append(&mut self, entry: &[u8]) -> Result<u64, TreeError> {
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Appends an already computed leaf hash (`SHA-256(0x00 ‖ entry)`); returns its index.
    ///
    /// If the store fails, the tree keeps its previous size and frontier; calling again
    /// rewrites the same nodes.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> Result<u64, TreeError> {
        let index = self.size;
        if index >= MAX_TREE_SIZE {
            return Err(TreeError::Full);
        }
        self.put(0, index, leaf)?;
        // Each trailing one bit of `index` is a perfect subtree that this leaf completes:
        // merge it with the frontier's smallest root, one level up per bit.
        let (mut hash, mut level, mut position) = (leaf, 0u32, index);
        let mut merged = 0;
        while position & 1 == 1 {
            let left = self.frontier[self.frontier.len() - 1 - merged];
            hash = node_hash(&left, &hash);
            level += 1;
            position >>= 1;
            merged += 1;
            self.put(level, position, hash)?;
        }
        self.frontier.truncate(self.frontier.len() - merged);
        self.frontier.push(hash);
        self.size = index + 1;
        Ok(index)
    }

    /// The root of the current tree.
    pub fn root(&self) -> Hash {
        fold_peaks(&self.frontier)
    }

    /// The root of the tree as it was at `size` leaves (`MTH(D[0:size])`).
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        self.check_size(size)?;
        if size == self.size {
            return Ok(self.root());
        }
        Ok(fold_peaks(&self.peaks(0, size)?))
    }

    /// The hash of leaf `index`.
    pub fn leaf_hash_at(&self, index: u64) -> Result<Hash, TreeError> {
        if index >= self.size {
            return Err(TreeError::IndexOutOfRange {
                index,
                size: self.size,
            });
        }
        self.node(0, index)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves
    /// (`PATH(index, D[0:size])`, RFC 9162 §2.1.3.1), ordered from the leaf upwards.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(size)?;
        if index >= size {
            return Err(TreeError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        let (mut m, mut start, mut n) = (index, 0u64, size);
        while n > 1 {
            let k = split_point(n);
            if m < k {
                proof.push(self.range_hash(start + k, n - k)?);
                n = k;
            } else {
                proof.push(self.range_hash(start, k)?);
                m -= k;
                start += k;
                n -= k;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    /// The consistency proof from the tree of `old_size` leaves to the tree of `new_size`
    /// (`PROOF(old_size, D[0:new_size])`, RFC 9162 §2.1.4.1).
    ///
    /// Empty when `old_size` is 0 or equal to `new_size`: there is nothing to prove.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(TreeError::SizeOrder { old_size, new_size });
        }
        let mut proof = Vec::new();
        if old_size == 0 || old_size == new_size {
            return Ok(proof);
        }
        // `whole_old_tree` is SUBPROOF's `b`: true while the subtree under consideration
        // is a prefix of the old tree that the verifier already knows the root of.
        let (mut m, mut start, mut n, mut whole_old_tree) = (old_size, 0u64, new_size, true);
        while m != n {
            let k = split_point(n);
            if m <= k {
                proof.push(self.range_hash(start + k, n - k)?);
                n = k;
            } else {
                proof.push(self.range_hash(start, k)?);
                m -= k;
                start += k;
                n -= k;
                whole_old_tree = false;
            }
        }
        if !whole_old_tree {
            proof.push(self.range_hash(start, m)?);
        }
        proof.reverse();
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), TreeError> {
        if size > self.size {
            return Err(TreeError::SizeOutOfRange {
                size,
                len: self.size,
            });
        }
        Ok(())
    }

    /// `MTH(D[start : start + n])` for an aligned range (see the module docs), n ≥ 1.
    fn range_hash(&self, start: u64, n: u64) -> Result<Hash, TreeError> {
        if n.is_power_of_two() {
            return self.node(n.trailing_zeros(), start >> n.trailing_zeros());
        }
        Ok(fold_peaks(&self.peaks(start, n)?))
    }

    /// The stored perfect subtrees covering `[start, start + n)`, largest first.
    fn peaks(&self, start: u64, n: u64) -> Result<Vec<Hash>, TreeError> {
        let mut peaks = Vec::with_capacity(n.count_ones() as usize);
        let mut position = start;
        for level in (0..u64::BITS).rev() {
            if (n >> level) & 1 == 1 {
                peaks.push(self.node(level, position >> level)?);
                position += 1 << level;
            }
        }
        Ok(peaks)
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, TreeError> {
        self.store
            .get(level, index)
            .map_err(TreeError::Store)?
            .ok_or(TreeError::MissingNode { level, index })
    }

    fn put(&mut self, level: u32, index: u64, hash: Hash) -> Result<(), TreeError> {
        self.store.put(level, index, hash).map_err(TreeError::Store)
    }
}

/// The largest power of two strictly below `n` (RFC 9162's `k`), for n ≥ 2.
fn split_point(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// Combines the perfect-subtree roots of a size, largest first, into the tree's root:
/// RFC 9162 splits at the largest power of two, so the right-hand side nests to the right.
fn fold_peaks(peaks: &[Hash]) -> Hash {
    let Some((last, rest)) = peaks.split_last() else {
        return empty_root();
    };
    rest.iter()
        .rev()
        .fold(*last, |right, left| node_hash(left, &right))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for n in 2..=1000u64 {
            let k = split_point(n);
            assert!(k.is_power_of_two() && k < n && 2 * k >= n, "n = {n}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn append_rewrites_nothing_after_a_store_failure() {
        struct Flaky(MemoryStore, bool);
        impl NodeStore for Flaky {
            fn get(&self, level: u32, index: u64) -> Result<Option<Hash>, StoreError> {
                self.0.get(level, index)
            }
            fn put(&mut self, level: u32, index: u64, hash: Hash) -> Result<(), StoreError> {
                if level > 0 && std::mem::take(&mut self.1) {
                    return Err("disk full".into());
                }
                self.0.put(level, index, hash)
            }
        }
        let mut tree = MerkleTree::new_in(Flaky(MemoryStore::new(), false));
        tree.append(b"a").unwrap();
        tree.store.1 = true;
        assert!(matches!(tree.append(b"b"), Err(TreeError::Store(_))));
        assert_eq!(tree.len(), 1);
        assert_eq!(tree.append(b"b").unwrap(), 1);
        let reference = MerkleTree::from_leaves([b"a", b"b"]).unwrap();
        assert_eq!(tree.root(), reference.root());
    }
}
