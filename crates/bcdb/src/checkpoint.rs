//! Signed checkpoints: "the ledger named ORIGIN had SIZE entries whose Merkle root was ROOT", signed by the instance key.
//!
//! A client that holds one checkpoint it trusts can check any later state
//! with a consistency proof, and any entry with an inclusion proof: the
//! checkpoint is the only thing it has to believe. The text form follows
//! the transparency-log "signed note" shape, with hex instead of base64:
//!
//! ```text
//! <origin>
//! <size>
//! <root, 64 hex>
//! <time_ms>
//!
//! — <signer key, 64 hex> <signature, 128 hex>
//! ```

use identity::{KeyPair, Payload, PublicKey, Signature};

use crate::merkle::Hash;

/// Signing purpose of a checkpoint body.
const PURPOSE: &str = "bcdb-checkpoint";
/// Longest origin accepted.
pub const MAX_ORIGIN: usize = 256;

/// A checkpoint and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Which ledger (e.g. `bcdb/<instance>/<namespace>`).
    pub origin: String,
    /// Entries covered.
    pub size: u64,
    /// Merkle root at `size`.
    pub root: Hash,
    /// When it was signed, milliseconds since the epoch.
    pub time_ms: u64,
    /// The signer.
    pub signer: PublicKey,
    /// Signature over [`Checkpoint::body`].
    pub signature: Signature,
}

/// Why a checkpoint is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The signature does not verify.
    #[error("checkpoint signature by {0} does not verify")]
    BadSignature(String),
    /// Signed by someone else than expected.
    #[error("checkpoint signed by {got}, expected {want}")]
    WrongSigner {
        /// Who signed.
        got: String,
        /// Who should have.
        want: String,
    },
}

/// The signed lines.
fn body(origin: &str, size: u64, root: &Hash, time_ms: u64) -> String {
    format!("{origin}\n{size}\n{}\n{time_ms}\n", hex::encode(root))
}

impl Checkpoint {
    /// Signs a checkpoint of `size` entries with root `root`.
    pub fn sign(key: &KeyPair, origin: &str, size: u64, root: Hash, time_ms: u64) -> Checkpoint {
        assert!(
            origin.len() <= MAX_ORIGIN && !origin.contains('\n') && !origin.is_empty(),
            "an origin is one non-empty line of at most {MAX_ORIGIN} bytes"
        );
        let text = body(origin, size, &root, time_ms);
        Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            time_ms,
            signer: key.public(),
            signature: key.sign(&Payload::new(PURPOSE).field(text.as_bytes())),
        }
    }

    /// The signed body text.
    pub fn body(&self) -> String {
        body(&self.origin, self.size, &self.root, self.time_ms)
    }

    /// Checks the signature, and that `expected` signed it.
    pub fn verify(&self, expected: &PublicKey) -> Result<(), CheckpointError> {
        if self.signer != *expected {
            return Err(CheckpointError::WrongSigner {
                got: self.signer.to_hex(),
                want: expected.to_hex(),
            });
        }
        let payload = Payload::new(PURPOSE).field(self.body().as_bytes());
        self.signer
            .verify(&payload, &self.signature)
            .map_err(|_| CheckpointError::BadSignature(self.signer.to_hex()))
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n— {} {}\n",
            self.body(),
            self.signer.to_hex(),
            self.signature.to_hex()
        )
    }

    /// Parses the text form (the signature is not checked: see [`Checkpoint::verify`]).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |why: &str| CheckpointError::Malformed(why.to_string());
        if text.len() > MAX_ORIGIN + 512 {
            return Err(bad("too long"));
        }
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root, time, blank, sig, end] = lines[..] else {
            return Err(bad("expected 4 body lines, a blank line, a signature line"));
        };
        if !blank.is_empty() || !end.is_empty() || origin.is_empty() {
            return Err(bad("expected 4 body lines, a blank line, a signature line"));
        }
        let number = |s: &str, what: &str| {
            (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| bad(&format!("{what} is not a decimal number")))
        };
        let size = number(size, "size")?;
        let time_ms = number(time, "time")?;
        let mut root_bytes = [0u8; 32];
        hex::decode_to_slice(root, &mut root_bytes)
            .map_err(|_| bad("root is not 64 hex digits"))?;
        let (key, signature) = sig
            .strip_prefix("— ")
            .and_then(|s| s.split_once(' '))
            .ok_or_else(|| bad("signature line is `— <key> <signature>`"))?;
        let signer = PublicKey::parse(key).map_err(|_| bad("signer is not a public key"))?;
        let signature =
            Signature::from_hex(signature).map_err(|_| bad("signature is not 128 hex digits"))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root: root_bytes,
            time_ms,
            signer,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_print_parse_verify() {
        let key = KeyPair::generate();
        let cp = Checkpoint::sign(&key, "bcdb/test/grid", 42, [7; 32], 1_700_000_000_000);
        let text = cp.to_text();
        assert!(text.starts_with("bcdb/test/grid\n42\n0707"), "{text}");
        let back = Checkpoint::parse(&text).unwrap();
        assert_eq!(back, cp);
        back.verify(&key.public()).unwrap();

        let other = KeyPair::generate();
        assert!(matches!(
            back.verify(&other.public()),
            Err(CheckpointError::WrongSigner { .. })
        ));
        let forged = text.replace("\n42\n", "\n43\n");
        let forged = Checkpoint::parse(&forged).unwrap();
        assert!(matches!(
            forged.verify(&key.public()),
            Err(CheckpointError::BadSignature(_))
        ));
        for broken in [
            "",
            "a\n1\n",
            &text.replace("\n\n", "\n"),
            &text.replace("— ", "-- "),
        ] {
            assert!(Checkpoint::parse(broken).is_err(), "{broken:?}");
        }
    }
}
