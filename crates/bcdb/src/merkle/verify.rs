//! Proof verification, step by step as RFC 9162 §2.1.3.2 and §2.1.4.2 write it.
//!
//! This is the code a client runs, so it depends only on the two hash functions and
//! shares nothing with the tree that generates proofs. The step numbers in the comments
//! are the RFC's.
//!
//! A verifier binds a tree size to a root only through the *shape* of the proof: a proof
//! for a tree of 5 leaves can also verify, against the same root, when the caller claims
//! 6 leaves, because both sizes give leaf 0 the same path shape. A client must therefore
//! take the size and the root together from the same signed checkpoint, never one from
//! the checkpoint and the other from the server's reply.

use thiserror::Error;

use super::hash::{empty_root, node_hash, Hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder {
        /// The claimed old size.
        old_size: u64,
        /// The claimed new size.
        new_size: u64,
    },
    /// The proof has more hashes than the tree sizes allow.
    #[error("proof has more hashes than the tree sizes allow")]
    TooLong,
    /// The proof has fewer hashes than the tree sizes need.
    #[error("proof has fewer hashes than the tree sizes need")]
    TooShort,
    /// The hashes combine to a different root: the proof, leaf, index, size or root is wrong.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is
/// `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The root that an inclusion proof leads to, for a caller that compares it itself
/// (RFC 9162 §2.1.3.2 without the final comparison with `root_hash`).
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    // 1. leaf_index must be below tree_size.
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // 2. fn = leaf_index, sn = tree_size - 1.
    let (mut fn_, mut sn) = (index, size - 1);
    // 3. r = hash.
    let mut r = *leaf_hash;
    // 4. For each p in inclusion_path:
    for p in proof {
        // a. sn == 0 means the path is longer than the tree is high.
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        // b. p is on the left when fn is a right child, or when fn is the last node of
        //    its level (fn == sn): a last node that is a left child has no sibling there,
        //    so it rises unchanged to the level where it does have one (ii).
        if lsb(fn_) || fn_ == sn {
            r = node_hash(p, &r);
            // ii. Right-shift both until LSB(fn) is set or fn is 0.
            while !lsb(fn_) && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. The path must reach the top: sn == 0.
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    Ok(r)
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree
/// of `new_size` leaves with root `new_root` (RFC 9162 §2.1.4.2).
///
/// The RFC's algorithm covers 0 < old_size < new_size. The two trivial cases are decided
/// by the definitions: equal sizes need equal roots and an empty proof; an empty old tree
/// (whose root must be `SHA-256("")`) is a prefix of every tree, with an empty proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::TooLong);
        }
        let old_ok = old_size != 0 || *old_root == empty_root();
        if !old_ok || (old_size == new_size && old_root != new_root) {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // 1. An empty consistency_path fails.
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::TooShort);
    };
    // 2. If first (old_size) is an exact power of 2, the old root is itself a node of
    //    the new tree and the path starts with it: prepend first_hash.
    let (start, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    // 3. fn = first - 1, sn = second - 1.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    // 4. Skip the levels where the old tree's last node is a right child.
    while lsb(fn_) {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. fr = sr = the first value of the path.
    let (mut fr, mut sr) = (*start, *start);
    // 6. For each subsequent value c:
    for c in rest {
        // a.
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        // b.
        if lsb(fn_) || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // iii. As in inclusion step 4.b.ii.
            while !lsb(fn_) && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. sn == 0, fr == first_hash, sr == second_hash.
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

fn lsb(x: u64) -> bool {
    x & 1 == 1
}
