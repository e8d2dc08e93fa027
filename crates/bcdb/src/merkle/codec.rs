//! The wire form of a proof: a one-byte count, then that many 32-byte hashes.
//!
//! A proof arrives from an untrusted server, so decoding checks the exact length and a
//! hard cap before allocating, and reports malformed input as an error, never a panic.
//! 64 hashes cover every proof of a tree of up to 2^63 leaves
//! ([`MAX_TREE_SIZE`](super::MAX_TREE_SIZE)).

use thiserror::Error;

use super::hash::{Hash, HASH_LEN};

/// The most hashes a proof may have.
pub const MAX_PROOF_HASHES: usize = 64;

/// Why proof bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// No bytes at all (not even the count).
    #[error("empty proof encoding: the count byte is missing")]
    Empty,
    /// More hashes than [`MAX_PROOF_HASHES`].
    #[error("proof has {count} hashes, more than the {MAX_PROOF_HASHES} allowed")]
    TooManyHashes {
        /// The number of hashes given or announced.
        count: usize,
    },
    /// The bytes after the count are not exactly `count × 32`.
    #[error("proof of {count} hashes needs {expected} bytes, got {actual}")]
    BadLength {
        /// The announced number of hashes.
        count: usize,
        /// The length the count implies, count byte included.
        expected: usize,
        /// The length received.
        actual: usize,
    },
}

/// Encodes a proof as `count: u8 ‖ hash[0] ‖ … ‖ hash[count-1]`.
pub fn encode_proof(proof: &[Hash]) -> Result<Vec<u8>, CodecError> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(CodecError::TooManyHashes { count: proof.len() });
    }
    let mut bytes = Vec::with_capacity(1 + proof.len() * HASH_LEN);
    // The cap above keeps the count within a byte.
    bytes.push(proof.len() as u8);
    for hash in proof {
        bytes.extend_from_slice(hash);
    }
    Ok(bytes)
}

/// Decodes [`encode_proof`]'s output; anything truncated, extended or over the cap fails.
pub fn decode_proof(bytes: &[u8]) -> Result<Vec<Hash>, CodecError> {
    let (&count, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    let count = usize::from(count);
    if count > MAX_PROOF_HASHES {
        return Err(CodecError::TooManyHashes { count });
    }
    if body.len() != count * HASH_LEN {
        return Err(CodecError::BadLength {
            count,
            expected: 1 + count * HASH_LEN,
            actual: bytes.len(),
        });
    }
    Ok(body
        .chunks_exact(HASH_LEN)
        .map(|chunk| {
            let mut hash = [0u8; HASH_LEN];
            hash.copy_from_slice(chunk);
            hash
        })
        .collect())
}
