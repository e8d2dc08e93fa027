//! Identities of the grid: ed25519 key pairs, the 24-word BIP-39 mnemonics
//! they come from, the key files that keep them, and signatures that say
//! what they are for.
//!
//! * [`Mnemonic`] — 24 English words encoding a 32-byte seed (the seed *is*
//!   the mnemonic's entropy, as the original grid tools do it).
//! * [`KeyPair`] — the signing key made from a seed; [`PublicKey`] and
//!   [`Signature`] with their hex and base58 forms.
//! * [`Payload`] — the exact bytes a signature covers: a purpose (domain
//!   separation: a flist signature can never pass as a workload signature)
//!   followed by length-prefixed fields, so no two field lists share bytes.
//! * [`KeyFile`] — an identity on disk: the grid's JSON seed file (version
//!   1.1.0: mnemonic and 3bot id) or a raw 32-byte seed, written with mode
//!   0600 and refused when others may read it.
//! * [`http_signature`] — ed25519 signatures on HTTP requests: the
//!   `Authorization` header, its verification and the replay guard.

#![warn(missing_docs)]

mod error;
pub mod http_signature;
mod keyfile;
mod keys;
mod mnemonic;
mod payload;

pub use error::IdentityError;
pub use http_signature::{AuthError, AuthHeader, BodyDigest, ReplayGuard, RequestToSign};
pub use keyfile::{default_key_path, KeyFile};
pub use keys::{KeyPair, PublicKey, Signature};
pub use mnemonic::Mnemonic;
pub use payload::Payload;
