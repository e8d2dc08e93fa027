//! The two hashes of RFC 9162 §2.1.1, with SHA-256.
//!
//! Leaves and interior nodes are hashed with different one-byte prefixes (`0x00` and
//! `0x01`). Without that domain separation an interior node's 64 input bytes could be
//! presented as a leaf, giving a second preimage for the root.

use sha2::{Digest, Sha256};

/// Length in bytes of every hash in the tree.
pub const HASH_LEN: usize = 32;

/// A SHA-256 digest: a leaf hash, an interior node hash or a root.
pub type Hash = [u8; HASH_LEN];

/// The hash of one ledger entry as a leaf: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// The hash of an interior node from its two children: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1, `MTH({})`).
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_separate_leaves_from_nodes() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concat = Vec::new();
        concat.extend_from_slice(&a);
        concat.extend_from_slice(&b);
        assert_ne!(node_hash(&a, &b), leaf_hash(&concat));
        assert_ne!(leaf_hash(b""), empty_root());
    }
}
