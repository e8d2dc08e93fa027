//! ed25519 key pairs, public keys and signatures, with the text forms the
//! grid uses: hex for user keys and signatures, base58 for node ids.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::{IdentityError, Mnemonic, Payload};

/// A signing key. Its seed is secret; `Debug` shows only the public key.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({})", self.public())
    }
}

impl KeyPair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> KeyPair {
        KeyPair::from_seed(&rand::random())
    }

    /// The key whose 32-byte seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> KeyPair {
        KeyPair {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The key of a mnemonic (its entropy is the seed).
    pub fn from_mnemonic(mnemonic: &Mnemonic) -> KeyPair {
        KeyPair::from_seed(&mnemonic.seed())
    }

    /// The 32-byte seed: as secret as the mnemonic.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The mnemonic of this key.
    pub fn mnemonic(&self) -> Mnemonic {
        Mnemonic::from_seed(&self.seed())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// Signs `payload` (its purpose is part of the signed bytes).
    pub fn sign(&self, payload: &Payload) -> Signature {
        Signature(self.signing.sign(payload.as_bytes()))
    }
}

/// An ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// From 32 raw bytes; fails when they are not a valid curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, IdentityError> {
        VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|e| IdentityError::PublicKey(e.to_string()))
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Lowercase hex (how user keys are stored in the registry).
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Base58 (how node ids are written).
    pub fn to_base58(&self) -> String {
        bs58::encode(self.to_bytes()).into_string()
    }

    /// Parses 64 hex characters or a base58 string of 32 bytes.
    pub fn parse(text: &str) -> Result<PublicKey, IdentityError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| IdentityError::PublicKey(e.to_string()))?
        } else {
            bs58::decode(text)
                .into_vec()
                .map_err(|e| IdentityError::PublicKey(format!("neither hex nor base58: {e}")))?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            IdentityError::PublicKey(format!("{} bytes, expected 32", b.len()))
        })?;
        PublicKey::from_bytes(&bytes)
    }

    /// Checks that `signature` was made by this key over `payload`. Uses
    /// strict verification (no malleable or small-order forms).
    pub fn verify(&self, payload: &Payload, signature: &Signature) -> Result<(), IdentityError> {
        self.0
            .verify_strict(payload.as_bytes(), &signature.0)
            .map_err(|_| IdentityError::BadSignature)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<PublicKey, IdentityError> {
        PublicKey::parse(s)
    }
}

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    /// The 64 raw bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes()
    }

    /// From 64 raw bytes.
    pub fn from_bytes(bytes: &[u8; 64]) -> Signature {
        Signature(ed25519_dalek::Signature::from_bytes(bytes))
    }

    /// Lowercase hex, 128 characters (how the grid transports signatures).
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Parses 128 hex characters.
    pub fn from_hex(text: &str) -> Result<Signature, IdentityError> {
        let bytes = hex::decode(text.trim())
            .map_err(|e| IdentityError::SignatureEncoding(e.to_string()))?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
            IdentityError::SignatureEncoding(format!("{} bytes, expected 64", b.len()))
        })?;
        Ok(Signature::from_bytes(&bytes))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1: empty message (signed raw, without a purpose).
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = KeyPair::from_seed(&seed);
        assert_eq!(
            key.public().to_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.signing.sign(b"");
        assert_eq!(
            hex::encode(sig.to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn sign_and_verify_with_purpose() {
        let key = KeyPair::from_seed(&[3; 32]);
        let payload = Payload::new("test").field(b"hello");
        let sig = key.sign(&payload);
        key.public().verify(&payload, &sig).unwrap();
        let other_purpose = Payload::new("other").field(b"hello");
        assert!(key.public().verify(&other_purpose, &sig).is_err());
        let other_key = KeyPair::from_seed(&[4; 32]);
        assert!(other_key.public().verify(&payload, &sig).is_err());
        let mut bytes = sig.to_bytes();
        bytes[10] ^= 1;
        assert!(key
            .public()
            .verify(&payload, &Signature::from_bytes(&bytes))
            .is_err());
    }

    #[test]
    fn text_forms_round_trip() {
        let key = KeyPair::from_seed(&[5; 32]);
        let public = key.public();
        assert_eq!(PublicKey::parse(&public.to_hex()).unwrap(), public);
        assert_eq!(PublicKey::parse(&public.to_base58()).unwrap(), public);
        let sig = key.sign(&Payload::new("x"));
        assert_eq!(Signature::from_hex(&sig.to_hex()).unwrap(), sig);
        assert!(PublicKey::parse("zz").is_err());
        assert!(PublicKey::parse(&"ab".repeat(31)).is_err());
        assert!(Signature::from_hex("abcd").is_err());
        assert_eq!(KeyPair::from_mnemonic(&key.mnemonic()).public(), public);
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let key = KeyPair::from_seed(&[0xAB; 32]);
        assert!(!format!("{key:?}").contains(&"ab".repeat(32)));
    }
}
