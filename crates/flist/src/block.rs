//! The rfs v2 block pipeline: plaintext → key → snappy → AES-256-GCM → id, and back with both hashes checked.
//!
//! | step | encode | decode |
//! |---|---|---|
//! | key | BLAKE2b-256 of the plaintext | recomputed from the output, must equal `key` |
//! | compression | snappy raw (no framing) | decompressed length read from the header first, at most [`BLOCK_SIZE`] |
//! | encryption | AES-256-GCM, key = `key`, nonce = `key[..12]`, no associated data, 16-byte tag appended | tag checked |
//! | id | BLAKE2b-256 of the ciphertext (tag included) | recomputed from the input, must equal `id` |
//!
//! The scheme is convergent: equal plaintexts give equal ciphertexts and ids,
//! so stores deduplicate across flists. Because the key travels in the `.fl`,
//! the GCM tag alone proves nothing about who made a block; the two hash
//! checks on decode are what bind a block to the metadata that names it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

/// Size of every block of a file except possibly the last one.
pub const BLOCK_SIZE: usize = 512 * 1024;

/// GCM nonce length; the nonce is the first `NONCE_LEN` bytes of the key.
const NONCE_LEN: usize = 12;

/// BLAKE2b with a 32-byte output (not a truncated BLAKE2b-512, whose bytes differ).
type Blake2b256 = Blake2b<U32>;

/// Returns BLAKE2b-256 of `data`.
pub(crate) fn blake2b_256(data: &[u8]) -> [u8; 32] {
    Blake2b256::digest(data).into()
}

/// Where a block lives and how to open it: one row of the `.fl` `block` table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlockRef {
    /// BLAKE2b-256 of the stored ciphertext; the store key.
    pub id: [u8; 32],
    /// BLAKE2b-256 of the plaintext; the AES key, and its first 12 bytes the nonce.
    pub key: [u8; 32],
}

impl BlockRef {
    /// The id as 64 lowercase hex digits, as used in store paths and logs.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }
}

/// Why stored bytes are not the block a [`BlockRef`] names.
///
/// Callers add the block id to their own error context; only
/// [`BlockError::Decompress`] carries it, inside its message.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The bytes do not hash to the id: the store returned another or a damaged block.
    #[error("stored bytes do not hash to the block id")]
    IdMismatch,
    /// AES-GCM authentication failed.
    #[error("block decryption failed")]
    Decrypt,
    /// The decrypted bytes are not valid snappy data; the message names the block.
    #[error("block decompression failed: {0}")]
    Decompress(String),
    /// The decompressed length announced by the block exceeds [`BLOCK_SIZE`].
    #[error("decompressed block length {0} exceeds the block size {BLOCK_SIZE}")]
    TooLarge(usize),
    /// The plaintext does not hash to the key: the block was made from other data.
    #[error("block plaintext does not hash to the block key")]
    KeyMismatch,
}

/// Encrypts `compressed` under `key` with nonce `key[..12]`; the output ends with the tag.
fn seal(key: &[u8; 32], compressed: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .encrypt(Nonce::from_slice(&key[..NONCE_LEN]), compressed)
        .expect("AES-GCM only refuses inputs above 64 GiB; a block is at most 512 KiB")
}

/// How a block's plaintext is compressed before encryption. Snappy is the
/// rfs format; zstd stores about a quarter less but only tfgrid reads it,
/// so an flist using it says so in its `block-codec` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Snappy raw format (rfs compatible).
    #[default]
    Snappy,
    /// zstd, level 3.
    Zstd,
}

impl Codec {
    /// The `.fl` tag that names a non-default codec.
    pub const TAG: &'static str = "block-codec";

    /// Name used in the tag and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Snappy => "snappy",
            Codec::Zstd => "zstd",
        }
    }

    /// Parses a codec name.
    pub fn parse(name: &str) -> Option<Codec> {
        match name {
            "snappy" => Some(Codec::Snappy),
            "zstd" => Some(Codec::Zstd),
            _ => None,
        }
    }
}

/// The id stored bytes must have: their BLAKE2b-256. A store or a hub can
/// check this without the key; only the reader can check the plaintext.
pub fn content_id(cipher: &[u8]) -> [u8; 32] {
    blake2b_256(cipher)
}

/// [`encode_block_with`] the rfs codec (snappy).
pub fn encode_block(plain: &[u8]) -> (BlockRef, Vec<u8>) {
    encode_block_with(plain, Codec::Snappy)
}

/// [`decode_block_with`] the rfs codec (snappy).
pub fn decode_block(r: &BlockRef, cipher: &[u8]) -> Result<Vec<u8>, BlockError> {
    decode_block_with(r, cipher, Codec::Snappy)
}

/// Encodes a plaintext block into its reference and the bytes to store.
///
/// Deterministic: the same plaintext always gives the same [`BlockRef`] and
/// ciphertext, following the rfs v2 encoding step for step.
///
/// # Panics
///
/// If `plain` is longer than [`BLOCK_SIZE`]; callers cut files into blocks first.
pub fn encode_block_with(plain: &[u8], codec: Codec) -> (BlockRef, Vec<u8>) {
    assert!(
        plain.len() <= BLOCK_SIZE,
        "a block holds at most {BLOCK_SIZE} bytes, got {}",
        plain.len()
    );
    let key = blake2b_256(plain);
    let compressed = match codec {
        Codec::Snappy => snap::raw::Encoder::new()
            .compress_vec(plain)
            .expect("snappy only refuses inputs above 4 GiB; a block is at most 512 KiB"),
        Codec::Zstd => zstd::bulk::compress(plain, 3).expect("zstd compresses any 512 KiB input"),
    };
    let cipher = seal(&key, &compressed);
    let id = blake2b_256(&cipher);
    (BlockRef { id, key }, cipher)
}

/// Decodes stored bytes into the plaintext, verifying them against `r`.
///
/// Checks, in order: the ciphertext hashes to `r.id`, the GCM tag, the
/// announced plaintext length (at most [`BLOCK_SIZE`], checked before any
/// allocation), and that the plaintext hashes to `r.key`. Only bytes that pass
/// every check are returned.
pub fn decode_block_with(r: &BlockRef, cipher: &[u8], codec: Codec) -> Result<Vec<u8>, BlockError> {
    if blake2b_256(cipher) != r.id {
        return Err(BlockError::IdMismatch);
    }
    let compressed = Aes256Gcm::new((&r.key).into())
        .decrypt(Nonce::from_slice(&r.key[..NONCE_LEN]), cipher)
        .map_err(|_| BlockError::Decrypt)?;
    if codec == Codec::Zstd {
        // The capacity bounds the output: a bomb fails instead of growing.
        let plain = zstd::bulk::decompress(&compressed, BLOCK_SIZE)
            .map_err(|e| BlockError::Decompress(format!("{}: {e}", r.id_hex())))?;
        if blake2b_256(&plain) != r.key {
            return Err(BlockError::KeyMismatch);
        }
        return Ok(plain);
    }
    let decompress_error = |e: snap::Error| BlockError::Decompress(format!("{}: {e}", r.id_hex()));
    let len = snap::raw::decompress_len(&compressed).map_err(decompress_error)?;
    if len > BLOCK_SIZE {
        return Err(BlockError::TooLarge(len));
    }
    let mut plain = vec![0u8; len];
    let n = snap::raw::Decoder::new()
        .decompress(&compressed, &mut plain)
        .map_err(decompress_error)?;
    plain.truncate(n);
    if blake2b_256(&plain) != r.key {
        return Err(BlockError::KeyMismatch);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `plain`, checks the pinned hex key and id, and decodes it back.
    fn check(plain: &[u8], key_hex: &str, id_hex: &str) {
        let (r, cipher) = encode_block(plain);
        assert_eq!(hex::encode(r.key), key_hex, "key");
        assert_eq!(r.id_hex(), id_hex, "id");
        assert_eq!(decode_block(&r, &cipher).unwrap(), plain);
    }

    /// Plaintext with little repetition, so snappy emits both literals and copies.
    fn mixed() -> Vec<u8> {
        (0..BLOCK_SIZE).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Seals `compressed` under `key` and returns a reference whose id matches the result.
    fn forge(key: [u8; 32], compressed: &[u8]) -> (BlockRef, Vec<u8>) {
        let cipher = seal(&key, compressed);
        (
            BlockRef {
                id: blake2b_256(&cipher),
                key,
            },
            cipher,
        )
    }

    // Keys were checked against an independent BLAKE2b (digest size 32), and
    // the ciphertexts against an independent AES-256-GCM and snappy decoder.
    #[test]
    fn pinned_vectors() {
        check(
            b"",
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
            "e3afb4e61f48abb5fdc5a7b0298e1fafb0c9da926f8b6d1b0b3068a26afb89d4",
        );
        check(
            b"hello",
            "324dcf027dd4a30a932c441f365a25e86b173defa4b8e58948253471b81b72cf",
            "43569db4b44e807640de79fb7175eae3e6379082c562999f431830d4ed818577",
        );
        check(
            &[0u8; BLOCK_SIZE],
            "0a93174557b2e0668f2531531415142280358ee32605d059dab1ce8ebbb1cc01",
            "e8fd6b2d9a2e8851d12163c43f3024c31fcac6b486bceacf042d323f8e6f6640",
        );
        check(
            &mixed(),
            "c3ecf7dbbcf36fa08b50f7326425b4879b295fc67d43cc5e08f93fb9d113cb63",
            "47c3d6588b4fb0c93d246fe44ae0260a2ff7e3d66dbce94024c2db2a23d261bb",
        );
    }

    #[test]
    fn empty_block_is_tag_and_one_length_byte() {
        let (r, cipher) = encode_block(b"");
        // snappy writes a single zero length byte, GCM appends its 16-byte tag
        assert_eq!(cipher.len(), 17);
        assert!(decode_block(&r, &cipher).unwrap().is_empty());
    }

    #[test]
    fn deterministic() {
        let data = mixed();
        assert_eq!(encode_block(&data), encode_block(&data));
    }

    #[test]
    fn oversized_plaintext_panics() {
        let result = std::panic::catch_unwind(|| encode_block(&vec![1u8; BLOCK_SIZE + 1]));
        assert!(result.is_err());
    }

    #[test]
    fn tampered_ciphertext_is_id_mismatch() {
        let (r, mut cipher) = encode_block(b"hello");
        cipher[3] ^= 1;
        assert!(matches!(
            decode_block(&r, &cipher),
            Err(BlockError::IdMismatch)
        ));
        assert!(matches!(decode_block(&r, &[]), Err(BlockError::IdMismatch)));
    }

    #[test]
    fn other_plaintext_under_same_key_is_key_mismatch() {
        let (good, _) = encode_block(b"hello");
        let other = snap::raw::Encoder::new().compress_vec(b"jello").unwrap();
        let (forged, cipher) = forge(good.key, &other);
        assert!(matches!(
            decode_block(&forged, &cipher),
            Err(BlockError::KeyMismatch)
        ));
    }

    #[test]
    fn wrong_key_is_decrypt_error() {
        let (a, _) = encode_block(b"a");
        let (b, cipher) = encode_block(b"b");
        let r = BlockRef {
            id: b.id,
            key: a.key,
        };
        assert!(matches!(
            decode_block(&r, &cipher),
            Err(BlockError::Decrypt)
        ));
    }

    #[test]
    fn oversized_length_is_rejected_before_decompressing() {
        let big = snap::raw::Encoder::new()
            .compress_vec(&vec![0u8; BLOCK_SIZE + 1])
            .unwrap();
        let (r, cipher) = forge([7; 32], &big);
        assert!(matches!(
            decode_block(&r, &cipher),
            Err(BlockError::TooLarge(n)) if n == BLOCK_SIZE + 1
        ));
        // a header announcing 4 GiB - 1 without any payload
        let (r, cipher) = forge([7; 32], &[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            decode_block(&r, &cipher),
            Err(BlockError::TooLarge(0xffff_ffff))
        ));
    }

    #[test]
    fn invalid_snappy_is_decompress_error() {
        // announces 10 bytes, then a copy with nothing before it to copy from
        let (r, cipher) = forge([9; 32], &[10, 0x01, 0x00]);
        match decode_block(&r, &cipher) {
            Err(BlockError::Decompress(msg)) => assert!(msg.starts_with(&r.id_hex()), "{msg}"),
            other => panic!("expected a decompress error, got {other:?}"),
        }
    }

    #[test]
    fn id_hex_is_lowercase() {
        let r = BlockRef {
            id: [0xab; 32],
            key: [0; 32],
        };
        assert_eq!(r.id_hex(), "ab".repeat(32));
    }

    #[test]
    fn zstd_codec_round_trips_and_is_not_confused_with_snappy() {
        let plain: Vec<u8> = (0..BLOCK_SIZE).map(|i| (i % 7) as u8).collect();
        let (r, cipher) = encode_block_with(&plain, Codec::Zstd);
        let (snappy_ref, snappy_cipher) = encode_block(&plain);
        assert_eq!(
            r.key, snappy_ref.key,
            "the key is the plaintext hash either way"
        );
        assert_ne!(r.id, snappy_ref.id);
        assert!(cipher.len() < snappy_cipher.len());
        assert_eq!(decode_block_with(&r, &cipher, Codec::Zstd).unwrap(), plain);
        assert!(decode_block_with(&r, &cipher, Codec::Snappy).is_err());
        assert_eq!(Codec::parse("zstd"), Some(Codec::Zstd));
        assert_eq!(Codec::parse(Codec::Snappy.name()), Some(Codec::Snappy));
        assert_eq!(Codec::parse("lz4"), None);
    }
}
