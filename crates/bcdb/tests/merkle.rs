//! The RFC 9162 Merkle tree against published test vectors, a naive reference written
//! straight from the RFC's recursive definitions, and hostile input.
//!
//! * `merkle/vectors.rs` — the certificate-transparency known answers, and where they are from;
//! * `merkle/reference.rs` — MTH, PATH and PROOF as the RFC defines them, hashing with
//!   `sha2` directly, so a wrong prefix or argument order in the library cannot agree
//!   with itself;
//! * `merkle/storage.rs` — reopening a store, the O(log N) read bound, memory use.

#[path = "merkle/reference.rs"]
mod reference;
#[path = "merkle/storage.rs"]
mod storage;
#[path = "merkle/vectors.rs"]
mod vectors;

use bcdb::merkle::{
    decode_proof, empty_root, encode_proof, leaf_hash, node_hash, verify_consistency,
    verify_inclusion, CodecError, Hash, MerkleTree, NodeStore, ProofError, TreeError,
    MAX_PROOF_HASHES,
};
use reference::{ref_leaf, ref_mth, ref_path, ref_proof};
use vectors::{h, hashes, CT_CONSISTENCY, CT_INCLUSION, CT_LEAVES, CT_NODES, CT_ROOTS};

fn ct_tree() -> MerkleTree {
    MerkleTree::from_leaves(CT_LEAVES.iter().map(|s| hex::decode(s).unwrap())).unwrap()
}

#[test]
fn ct_roots_and_nodes() {
    assert_eq!(
        empty_root(),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    let mut tree = MerkleTree::new();
    assert_eq!(tree.root(), empty_root());
    for (i, leaf) in CT_LEAVES.iter().enumerate() {
        tree.append(&hex::decode(leaf).unwrap()).unwrap();
        assert_eq!(tree.root(), h(CT_ROOTS[i]), "root of size {}", i + 1);
    }
    for (size, root) in (1u64..).zip(CT_ROOTS) {
        assert_eq!(tree.root_at(size).unwrap(), h(root), "root_at({size})");
    }
    assert_eq!(tree.root_at(0).unwrap(), empty_root());
    let (l0, l1) = (h(CT_NODES[0][0]), h(CT_NODES[0][1]));
    assert_eq!(node_hash(&l0, &l1), h(CT_ROOTS[1]));
    for (level, nodes) in (0u32..).zip(CT_NODES) {
        assert_eq!(tree.store().level_len(level), nodes.len() as u64);
        for (index, node) in (0u64..).zip(nodes.iter()) {
            assert_eq!(tree.store().get(level, index).unwrap(), Some(h(node)));
        }
    }
    assert_eq!(tree.store().level_len(4), 0);
}

#[test]
fn ct_inclusion_proofs() {
    let tree = ct_tree();
    for (index, size, expected) in CT_INCLUSION {
        let proof = tree.inclusion_proof(index, size).unwrap();
        assert_eq!(proof, hashes(expected), "inclusion of {index} in {size}");
        let leaf = leaf_hash(&hex::decode(CT_LEAVES[index as usize]).unwrap());
        let root = h(CT_ROOTS[size as usize - 1]);
        verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
    }
}

#[test]
fn ct_consistency_proofs() {
    let tree = ct_tree();
    for (old, new, expected) in CT_CONSISTENCY {
        let proof = tree.consistency_proof(old, new).unwrap();
        assert_eq!(proof, hashes(expected), "consistency {old} -> {new}");
        let (old_root, new_root) = (h(CT_ROOTS[old as usize - 1]), h(CT_ROOTS[new as usize - 1]));
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
    }
}

const SWEEP: usize = 130;

fn sweep_entries() -> Vec<Vec<u8>> {
    (0..SWEEP)
        .map(|i| format!("entry {i}").into_bytes())
        .collect()
}

/// One bit flipped; the position moves with `salt` so that the sweep touches every bit.
fn flip(hash: &Hash, salt: usize) -> Hash {
    let mut out = *hash;
    let bit = salt % 256;
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// Proof variants that must all be rejected: each element with a flipped bit (every bit
/// when `every_bit`), one hash removed, one added at either end.
fn corrupted(proof: &[Hash], salt: usize, every_bit: bool) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        let bits: Vec<usize> = if every_bit {
            (0..256).collect()
        } else {
            vec![salt + 37 * i]
        };
        for bit in bits {
            let mut p = proof.to_vec();
            p[i] = flip(&p[i], bit);
            out.push(p);
        }
    }
    if !proof.is_empty() {
        out.push(proof[..proof.len() - 1].to_vec());
        out.push(proof[1..].to_vec());
        let mut front = vec![proof[0]];
        front.extend_from_slice(proof);
        out.push(front);
    }
    let mut back = proof.to_vec();
    back.push(empty_root());
    out.push(back);
    out
}

#[test]
fn sweep_matches_reference_and_rejects_tampering() {
    let d = sweep_entries();
    let leaves: Vec<Hash> = d.iter().map(|e| ref_leaf(e)).collect();
    let roots: Vec<Hash> = (0..=SWEEP).map(|n| ref_mth(&leaves[..n])).collect();

    // The tree grown one append at a time has the reference root after every append.
    let mut tree = MerkleTree::new();
    assert_eq!(tree.root(), roots[0]);
    for (n, entry) in d.iter().enumerate() {
        assert_eq!(tree.append(entry).unwrap(), n as u64);
        assert_eq!(tree.root(), roots[n + 1], "root after {} appends", n + 1);
    }
    assert_eq!(tree.root(), MerkleTree::from_leaves(&d).unwrap().root());

    for size in 1..=SWEEP {
        let s = size as u64;
        assert_eq!(tree.root_at(s).unwrap(), roots[size]);
        let every_bit = size <= 12;
        for m in 0..size {
            let i = m as u64;
            let proof = tree.inclusion_proof(i, s).unwrap();
            assert_eq!(proof, ref_path(m, &leaves[..size]), "PATH({m}, {size})");
            assert_eq!(tree.leaf_hash_at(i).unwrap(), leaves[m]);
            let (leaf, root) = (&leaves[m], &roots[size]);
            verify_inclusion(leaf, i, s, &proof, root).unwrap();
            assert_eq!(decode_proof(&encode_proof(&proof).unwrap()).unwrap(), proof);

            // The probes of the certificate-transparency verifier tests, plus a wrong
            // size paired with that size's own root, and a wrong leaf or root.
            let mut probes = vec![
                (leaf_hash(b"WrongLeaf"), i, s, proof.clone(), *root),
                (*leaf, i, s, proof.clone(), empty_root()),
                (*leaf, i, s, proof.clone(), flip(root, m)),
                (*leaf, i + 1, s, proof.clone(), *root),
                (*leaf, i ^ 2, s, proof.clone(), *root),
                (*leaf, i, s * 2, proof.clone(), *root),
                (*leaf, i, s / 2, proof.clone(), *root),
            ];
            if m > 0 {
                probes.push((*leaf, i - 1, s, proof.clone(), *root));
                probes.push((*leaf, i, s - 1, proof.clone(), roots[size - 1]));
            }
            if size < SWEEP {
                probes.push((*leaf, i, s + 1, proof.clone(), roots[size + 1]));
            }
            for bad in corrupted(&proof, size * 131 + m, every_bit) {
                probes.push((*leaf, i, s, bad, *root));
            }
            for (leaf, i2, s2, p, r) in probes {
                assert!(
                    verify_inclusion(&leaf, i2, s2, &p, &r).is_err(),
                    "tampered inclusion accepted: index {i2} size {s2} (true {m} of {size})"
                );
            }
        }

        for old in 0..=size {
            let o = old as u64;
            let proof = tree.consistency_proof(o, s).unwrap();
            let expected = if old == 0 {
                Vec::new()
            } else {
                ref_proof(old, &leaves[..size])
            };
            assert_eq!(proof, expected, "PROOF({old}, {size})");
            let (r1, r2) = (&roots[old], &roots[size]);
            verify_consistency(o, s, r1, r2, &proof).unwrap();
            assert_eq!(decode_proof(&encode_proof(&proof).unwrap()).unwrap(), proof);

            // An empty tree is a prefix of every tree, so for old == 0 only the old root
            // (which must be SHA-256("")) is checked.
            let mut probes = vec![(o, s, flip(r1, old), *r2, proof.clone())];
            if old > 0 {
                probes.push((o, s, *r1, flip(r2, size), proof.clone()));
            }
            if !proof.is_empty() {
                probes.extend([
                    (o, s, *r2, *r1, proof.clone()),
                    (o - 1, s, *r1, *r2, proof.clone()),
                    (o + 1, s, *r1, *r2, proof.clone()),
                    (o ^ 2, s, *r1, *r2, proof.clone()),
                    (o, s * 2, *r1, *r2, proof.clone()),
                    (o, s / 2, *r1, *r2, proof.clone()),
                    (o - 1, s, roots[old - 1], *r2, proof.clone()),
                    (o + 1, s, roots[old + 1], *r2, proof.clone()),
                    (o, s - 1, *r1, roots[size - 1], proof.clone()),
                    (o, s, *r1, *r2, Vec::new()),
                ]);
                if size < SWEEP {
                    probes.push((o, s + 1, *r1, roots[size + 1], proof.clone()));
                }
                for bad in corrupted(&proof, size * 131 + old, every_bit) {
                    probes.push((o, s, *r1, *r2, bad));
                }
            }
            for (o2, s2, r1, r2, p) in probes {
                assert!(
                    verify_consistency(o2, s2, &r1, &r2, &p).is_err(),
                    "tampered consistency accepted: {o2} -> {s2} (true {old} -> {size})"
                );
            }
        }
    }
}

/// The RFC verifier binds the size only through the proof's shape (see `verify` docs):
/// leaf 0's path has the same shape in trees of 5 to 8 leaves, so a 5-leaf proof and root
/// also pass for a claimed size of 6. Clients take size and root from one checkpoint.
#[test]
fn size_is_bound_by_the_checkpoint_not_the_proof() {
    let tree = ct_tree();
    let leaf = tree.leaf_hash_at(0).unwrap();
    let proof = tree.inclusion_proof(0, 5).unwrap();
    let root5 = tree.root_at(5).unwrap();
    assert_eq!(verify_inclusion(&leaf, 0, 6, &proof, &root5), Ok(()));
    let root6 = tree.root_at(6).unwrap();
    assert!(verify_inclusion(&leaf, 0, 6, &proof, &root6).is_err());
}

// ---------------------------------------------------------------------------------------
// Edge cases.
// ---------------------------------------------------------------------------------------

#[test]
fn empty_tree_and_single_leaf() {
    let empty = MerkleTree::new();
    assert!(empty.is_empty());
    assert_eq!(empty.root(), empty_root());
    assert_eq!(empty.root_at(0).unwrap(), empty_root());
    assert_eq!(empty.consistency_proof(0, 0).unwrap(), Vec::<Hash>::new());
    assert!(matches!(
        empty.inclusion_proof(0, 0),
        Err(TreeError::IndexOutOfRange { index: 0, size: 0 })
    ));
    assert!(empty.leaf_hash_at(0).is_err());

    let tree = MerkleTree::from_leaves([b"only"]).unwrap();
    let leaf = leaf_hash(b"only");
    assert_eq!(tree.root(), leaf);
    assert_eq!(tree.inclusion_proof(0, 1).unwrap(), Vec::<Hash>::new());
    verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[], &empty_root()),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[leaf], &leaf),
        Err(ProofError::TooLong)
    );
    assert_eq!(
        verify_inclusion(&leaf, 1, 1, &[], &leaf),
        Err(ProofError::IndexOutOfRange { index: 1, size: 1 })
    );
    assert_eq!(
        verify_inclusion(&leaf, 0, 0, &[], &empty_root()),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
}

#[test]
fn trivial_consistency() {
    let tree = ct_tree();
    let (r0, r3, r5) = (
        empty_root(),
        tree.root_at(3).unwrap(),
        tree.root_at(5).unwrap(),
    );
    for size in 0..=8 {
        assert_eq!(
            tree.consistency_proof(size, size).unwrap(),
            Vec::<Hash>::new()
        );
        assert_eq!(tree.consistency_proof(0, size).unwrap(), Vec::<Hash>::new());
    }
    verify_consistency(0, 0, &r0, &r0, &[]).unwrap();
    verify_consistency(0, 5, &r0, &r5, &[]).unwrap();
    verify_consistency(5, 5, &r5, &r5, &[]).unwrap();
    // Equal sizes with different roots is a split view, not consistency.
    assert_eq!(
        verify_consistency(5, 5, &r5, &r3, &[]),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 5, &r3, &r5, &[]),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 0, &r0, &r3, &[]),
        Err(ProofError::RootMismatch)
    );
    // Nothing to prove means no proof hashes either.
    assert_eq!(
        verify_consistency(5, 5, &r5, &r5, &[r5]),
        Err(ProofError::TooLong)
    );
    assert_eq!(
        verify_consistency(0, 5, &r0, &r5, &[r5]),
        Err(ProofError::TooLong)
    );
    assert_eq!(
        verify_consistency(3, 5, &r3, &r5, &[]),
        Err(ProofError::TooShort)
    );
    assert_eq!(
        verify_consistency(5, 3, &r5, &r3, &[]),
        Err(ProofError::SizeOrder {
            old_size: 5,
            new_size: 3
        })
    );
}

#[test]
fn out_of_range_requests_are_errors() {
    let tree = ct_tree();
    let oor = |r: Result<Vec<Hash>, TreeError>| assert!(r.is_err(), "{r:?}");
    oor(tree.inclusion_proof(8, 8));
    oor(tree.inclusion_proof(3, 3));
    oor(tree.inclusion_proof(0, 9));
    oor(tree.inclusion_proof(u64::MAX, u64::MAX));
    oor(tree.consistency_proof(3, 2));
    oor(tree.consistency_proof(1, 9));
    oor(tree.consistency_proof(u64::MAX, u64::MAX));
    assert!(matches!(
        tree.root_at(9),
        Err(TreeError::SizeOutOfRange { size: 9, len: 8 })
    ));
    assert!(tree.leaf_hash_at(8).is_err());

    let leaf = leaf_hash(b"x");
    let junk = vec![leaf; 70];
    for (i, s) in [
        (u64::MAX, u64::MAX),
        (u64::MAX - 1, u64::MAX),
        (0, u64::MAX),
        (1 << 63, 1 << 63),
    ] {
        assert!(verify_inclusion(&leaf, i, s, &junk, &leaf).is_err());
    }
    for (o, n) in [
        (1, u64::MAX),
        (u64::MAX - 1, u64::MAX),
        (1 << 63, u64::MAX),
        (u64::MAX, 1),
    ] {
        assert!(verify_consistency(o, n, &leaf, &leaf, &junk).is_err());
    }
}

#[test]
fn proof_encoding_rejects_malformed_bytes() {
    for n in [0usize, 1, 3, 17, MAX_PROOF_HASHES] {
        let proof: Vec<Hash> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
        let bytes = encode_proof(&proof).unwrap();
        assert_eq!(bytes.len(), 1 + 32 * n);
        assert_eq!(bytes[0] as usize, n);
        assert_eq!(decode_proof(&bytes).unwrap(), proof);
        for cut in 0..bytes.len() {
            assert!(
                decode_proof(&bytes[..cut]).is_err(),
                "{n} hashes cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode_proof(&longer),
            Err(CodecError::BadLength { .. })
        ));
    }
    assert_eq!(decode_proof(&[]), Err(CodecError::Empty));
    let too_many = vec![[7u8; 32]; MAX_PROOF_HASHES + 1];
    assert_eq!(
        encode_proof(&too_many),
        Err(CodecError::TooManyHashes { count: 65 })
    );
    let mut oversized = vec![65u8];
    oversized.resize(1 + 65 * 32, 0);
    assert_eq!(
        decode_proof(&oversized),
        Err(CodecError::TooManyHashes { count: 65 })
    );
    assert_eq!(
        decode_proof(&[255]),
        Err(CodecError::TooManyHashes { count: 255 })
    );
    // Arbitrary bytes (a fixed linear congruential stream) decode or fail, never panic.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..2000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (state >> 33) as usize % 200;
        let bytes: Vec<u8> = (0..len).map(|j| (state >> (j % 56)) as u8).collect();
        if let Ok(proof) = decode_proof(&bytes) {
            assert_eq!(encode_proof(&proof).unwrap(), bytes);
        }
    }
}
