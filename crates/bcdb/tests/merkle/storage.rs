//! Storage: reopening a store, the O(log N) read bound, memory use.

use std::cell::Cell;

use bcdb::merkle::{
    leaf_hash, verify_consistency, verify_inclusion, Hash, MemoryStore, MerkleTree, NodeStore,
    StoreError, TreeError,
};

use super::sweep_entries;

/// A store that counts reads, to check the O(log N) bound on roots and proofs.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    reads: Cell<u64>,
}

impl NodeStore for CountingStore {
    fn get(&self, level: u32, index: u64) -> Result<Option<Hash>, StoreError> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(level, index)
    }
    fn put(&mut self, level: u32, index: u64, hash: Hash) -> Result<(), StoreError> {
        self.inner.put(level, index, hash)
    }
}

#[test]
fn reads_are_logarithmic_and_appends_read_nothing() {
    let n = 100_003u64;
    let mut tree = MerkleTree::new_in(CountingStore::default());
    for i in 0..n {
        tree.append_leaf_hash(leaf_hash(&i.to_be_bytes())).unwrap();
    }
    assert_eq!(
        tree.store().reads.get(),
        0,
        "appends must not read the store"
    );
    let bound = 2 * u64::from(u64::BITS - n.leading_zeros()) + 2;
    let reads = |f: &dyn Fn()| {
        tree.store().reads.set(0);
        f();
        tree.store().reads.get()
    };
    for (a, b) in [
        (0, n),
        (n - 1, n),
        (12_345, 77_777),
        (65_535, 65_536),
        (99_999, n - 1),
    ] {
        let r = reads(&|| drop(tree.inclusion_proof(a, b).unwrap()));
        assert!(r <= bound, "inclusion_proof({a}, {b}) read {r} nodes");
        let r = reads(&|| drop(tree.consistency_proof(a + 1, b).unwrap()));
        assert!(
            r <= bound,
            "consistency_proof({}, {b}) read {r} nodes",
            a + 1
        );
        let r = reads(&|| {
            tree.root_at(b).unwrap();
        });
        assert!(r <= bound, "root_at({b}) read {r} nodes");
    }
}

#[test]
fn reopen_continues_the_same_tree() {
    let d = sweep_entries();
    let full = MerkleTree::from_leaves(&d).unwrap();
    for split in [0usize, 1, 2, 7, 64, 100] {
        let first = MerkleTree::from_leaves(&d[..split]).unwrap();
        let mut reopened = MerkleTree::open(first.into_store(), split as u64).unwrap();
        assert_eq!(reopened.root(), full.root_at(split as u64).unwrap());
        for entry in &d[split..] {
            reopened.append(entry).unwrap();
        }
        assert_eq!(reopened.root(), full.root());
        assert_eq!(
            reopened.consistency_proof(split as u64, 130).unwrap(),
            full.consistency_proof(split as u64, 130).unwrap()
        );
    }
    let small = MerkleTree::from_leaves(&d[..5]).unwrap();
    assert!(matches!(
        MerkleTree::open(small.into_store(), 6),
        Err(TreeError::MissingNode { .. })
    ));
}

#[test]
fn a_million_leaves_fit_in_about_64_mb() {
    const N: u64 = 1_000_000;
    // Appended one at a time: levels grow by an eighth, so at most 12.5% is spare.
    let mut tree = MerkleTree::new();
    for i in 0..N {
        tree.append_leaf_hash(leaf_hash(&i.to_le_bytes())).unwrap();
    }
    let needed = 2 * N as usize * 32;
    let bytes = tree.store().heap_bytes();
    assert!(
        bytes <= needed + needed / 8 + 4096,
        "{bytes} bytes for {N} appended leaves"
    );
    // Rebuilt from a source of known length: every level allocated exactly.
    let rebuilt = MerkleTree::from_leaves((0..N).map(|i| i.to_le_bytes())).unwrap();
    assert_eq!(rebuilt.root(), tree.root());
    let bytes = rebuilt.store().heap_bytes();
    assert!(
        bytes <= needed + 4096,
        "{bytes} bytes for {N} rebuilt leaves"
    );
    // Spot-check the big tree against proofs verified independently.
    let root = tree.root();
    for i in [0, 1, 499_999, 524_287, 524_288, N - 1] {
        let proof = tree.inclusion_proof(i, N).unwrap();
        verify_inclusion(&leaf_hash(&i.to_le_bytes()), i, N, &proof, &root).unwrap();
    }
    let old = tree.root_at(777_777).unwrap();
    let proof = tree.consistency_proof(777_777, N).unwrap();
    verify_consistency(777_777, N, &old, &root, &proof).unwrap();
}
