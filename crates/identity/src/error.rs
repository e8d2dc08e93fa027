//! The one error type of the crate: every way an identity can be malformed.

use std::path::PathBuf;

/// Why an identity, key or signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Not 24 valid BIP-39 English words with a correct checksum.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    /// A public key that is not 32 bytes of hex or base58, or not a curve point.
    #[error("invalid public key: {0}")]
    PublicKey(String),
    /// A signature that is not 64 bytes of hex.
    #[error("invalid signature encoding: {0}")]
    SignatureEncoding(String),
    /// The signature does not match the key and payload.
    #[error("signature does not verify")]
    BadSignature,
    /// A key file that is neither the JSON seed file nor a raw 32-byte seed.
    #[error("{path}: not a key file ({reason})")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key file readable or writable by other users.
    #[error("{path}: key file is accessible by others (mode {mode:o}); run chmod 600 on it")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Refusing to replace an existing key file.
    #[error("{0} already exists; refusing to overwrite an identity")]
    Exists(PathBuf),
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
