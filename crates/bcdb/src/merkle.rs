//! The RFC 9162 (Certificate Transparency v2) Merkle tree over the ledger's entries.
//!
//! Every ledger entry becomes a leaf; a checkpoint signs `(size, root)`. Two proofs let a
//! client trust a read without trusting the server:
//!
//! * an **inclusion proof** shows that one entry is leaf `index` of the tree whose root the
//!   client holds (RFC 9162 §2.1.3);
//! * a **consistency proof** shows that the tree of an older checkpoint is a prefix of the
//!   tree of a newer one, so history was only appended to (RFC 9162 §2.1.4).
//!
//! The pieces are split so that a client needs only the small half:
//!
//! * [`leaf_hash`] / [`node_hash`] — the domain-separated hashes (`0x00` leaf, `0x01` node);
//! * [`verify_inclusion`] / [`verify_consistency`] — the RFC's verification algorithms,
//!   written from the RFC text and sharing no code with the tree, so a bug in proof
//!   *generation* cannot be masked by the same bug in *verification*;
//! * [`encode_proof`] / [`decode_proof`] — the wire form of a proof;
//! * [`MerkleTree`] over a [`NodeStore`] — the server side: O(log N) appends and O(log N)
//!   node reads per root or proof, for any historical size.

mod codec;
mod hash;
mod store;
mod tree;
mod verify;

pub use codec::{decode_proof, encode_proof, CodecError, MAX_PROOF_HASHES};
pub use hash::{empty_root, leaf_hash, node_hash, Hash, HASH_LEN};
pub use store::{MemoryStore, NodeStore, StoreError};
pub use tree::{MerkleTree, TreeError, MAX_TREE_SIZE};
pub use verify::{root_from_inclusion_proof, verify_consistency, verify_inclusion, ProofError};
