//! The canonical ledger entry: the exact bytes every change is recorded as, hashed into the Merkle tree.
//!
//! Byte-stable forever: an entry written today must hash the same in ten
//! years, so the layout is spelled out here and pinned by a test vector
//! rather than left to a serialisation library.
//!
//! ```text
//! u8     version (1)
//! u64 LE seq          position in the ledger (= Merkle leaf index)
//! u64 LE time_ms      when the entry was applied
//! u8     op           1 put (a new version of an existing object), 2 delete,
//!                     3 schema put, 4 acl put, 5 create (a new object)
//! u16 LE + bytes      namespace (1..=255 bytes)
//! u16 LE + bytes      collection: the schema url, or "" for schema-less keys (..=1024 bytes)
//! u64 LE object_id    per-namespace id (assigned when the entry is applied)
//! [32]   schema_hash  SHA-256 identity of the schema the value follows (zeros if none)
//! [32]   value_hash   SHA-256 of the stored value bytes (of the empty value for a delete)
//! u64 LE value_len    length of the stored value
//! u8     author flag  0: none (the instance owner);
//!                     1: [32] ed25519 key, [64] signature (signed by its author,
//!                        first form: no nonce, no instance; still read, no longer
//!                        accepted for new changes, since it can be replayed);
//!                     2: [32] key (attested: a session that proved this key to
//!                        the instance made the change, unsigned);
//!                     3: [32] key, u64 LE nonce, [64] signature (signed by its
//!                        author, [`Entry::change_payload`])
//! ```
//!
//! The value itself is stored beside the entry, not in it: a proof needs
//! only the entry, and the leaf still commits to the value through its hash.
//!
//! An author signs the change before it is applied, so the signature covers
//! what the author decides — the instance, namespace, collection, object id (0
//! for a new object), op, schema hash, value hash and a nonce — and not the seq
//! or time the ledger assigns ([`Entry::change_payload`]). The instance key
//! keeps a signature from being replayed on another instance, and the nonce,
//! which must exceed every nonce the key used before on the instance, from
//! being replayed on this one (an old version restored, a creation repeated).

use identity::{Payload, PublicKey, Signature};
use sha2::{Digest, Sha256};

/// Current layout version.
pub const ENTRY_VERSION: u8 = 1;
/// Longest namespace name.
pub const MAX_NAMESPACE: usize = 255;
/// Longest collection (schema url).
pub const MAX_COLLECTION: usize = 1024;
/// Fixed part of an encoded entry (without names and author).
const FIXED: usize = 1 + 8 + 8 + 1 + 2 + 2 + 8 + 32 + 32 + 8 + 1;

/// What an entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Stores a new version of an existing object.
    Put,
    /// Stores a new object; its author signed it with object id 0, since
    /// the id is assigned when the entry is applied.
    Create,
    /// Deletes an object (its history stays).
    Delete,
    /// Registers a schema (the value is its text).
    SchemaPut,
    /// Sets an access list (the value is the ACL).
    AclPut,
}

impl Op {
    fn code(self) -> u8 {
        match self {
            Op::Put => 1,
            Op::Delete => 2,
            Op::SchemaPut => 3,
            Op::AclPut => 4,
            Op::Create => 5,
        }
    }

    fn from_code(code: u8) -> Option<Op> {
        Some(match code {
            1 => Op::Put,
            2 => Op::Delete,
            3 => Op::SchemaPut,
            4 => Op::AclPut,
            5 => Op::Create,
            _ => return None,
        })
    }
}

/// An author's signature on an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author {
    /// The author's key.
    pub key: PublicKey,
    /// Signature over [`Entry::change_payload`] (with a nonce), or over
    /// [`Entry::author_payload`] (first form, `nonce: None`).
    pub signature: Signature,
    /// The author's nonce, above every earlier one of the key on the instance.
    pub nonce: Option<u64>,
}

/// One ledger entry. At most one of `author` and `attested` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the ledger.
    pub seq: u64,
    /// Apply time, milliseconds since the epoch.
    pub time_ms: u64,
    /// What it does.
    pub op: Op,
    /// Namespace.
    pub namespace: Vec<u8>,
    /// Schema url or empty.
    pub collection: Vec<u8>,
    /// Object id within the namespace.
    pub object_id: u64,
    /// Schema identity.
    pub schema_hash: [u8; 32],
    /// SHA-256 of the value.
    pub value_hash: [u8; 32],
    /// Length of the value.
    pub value_len: u64,
    /// Who signed the change, when the namespace asks for signatures.
    pub author: Option<Author>,
    /// Who made an unsigned change, as the instance attests: the key an
    /// authenticated session proved. `None` with no author: the instance owner.
    pub attested: Option<PublicKey>,
}

/// Why bytes are not an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Shorter than its fields say.
    #[error("entry truncated at byte {0}")]
    Truncated(usize),
    /// A version this code does not know.
    #[error("unknown entry version {0}")]
    Version(u8),
    /// An op code this code does not know.
    #[error("unknown entry op {0}")]
    Op(u8),
    /// A name out of bounds.
    #[error("{0}")]
    Bad(String),
    /// Bytes after the last field.
    #[error("{0} bytes after the end of the entry")]
    Trailing(usize),
}

/// SHA-256 of a value, as entries record it.
pub fn value_hash(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

impl Entry {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED + self.namespace.len() + self.collection.len() + 96);
        out.push(ENTRY_VERSION);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.time_ms.to_le_bytes());
        out.push(self.op.code());
        for name in [&self.namespace, &self.collection] {
            let len = u16::try_from(name.len()).expect("names are bounded when entries are made");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(name);
        }
        out.extend_from_slice(&self.object_id.to_le_bytes());
        out.extend_from_slice(&self.schema_hash);
        out.extend_from_slice(&self.value_hash);
        out.extend_from_slice(&self.value_len.to_le_bytes());
        match (&self.author, &self.attested) {
            (Some(a), _) => {
                out.push(if a.nonce.is_some() { 3 } else { 1 });
                out.extend_from_slice(&a.key.to_bytes());
                if let Some(nonce) = a.nonce {
                    out.extend_from_slice(&nonce.to_le_bytes());
                }
                out.extend_from_slice(&a.signature.to_bytes());
            }
            (None, Some(key)) => {
                out.push(2);
                out.extend_from_slice(&key.to_bytes());
            }
            (None, None) => out.push(0),
        }
        out
    }

    /// Parses canonical bytes; strict (no trailing bytes, known version and op, bounded names).
    pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(EntryError::Version(version));
        }
        let seq = r.u64()?;
        let time_ms = r.u64()?;
        let code = r.u8()?;
        let op = Op::from_code(code).ok_or(EntryError::Op(code))?;
        let namespace = r.name(MAX_NAMESPACE, "namespace")?;
        if namespace.is_empty() {
            return Err(EntryError::Bad("empty namespace".into()));
        }
        let collection = r.name(MAX_COLLECTION, "collection")?;
        let object_id = r.u64()?;
        let schema_hash = r.array::<32>()?;
        let value_hash = r.array::<32>()?;
        let value_len = r.u64()?;
        let key = |r: &mut Reader<'_>| {
            PublicKey::from_bytes(&r.array::<32>()?)
                .map_err(|_| EntryError::Bad("author key is not an ed25519 point".into()))
        };
        let (author, attested) = match r.u8()? {
            0 => (None, None),
            flag @ (1 | 3) => {
                let key = key(&mut r)?;
                let nonce = if flag == 3 { Some(r.u64()?) } else { None };
                let signature = Signature::from_bytes(&r.array::<64>()?);
                let author = Author {
                    key,
                    signature,
                    nonce,
                };
                (Some(author), None)
            }
            2 => (None, Some(key(&mut r)?)),
            other => return Err(EntryError::Bad(format!("author flag {other}"))),
        };
        if r.at != bytes.len() {
            return Err(EntryError::Trailing(bytes.len() - r.at));
        }
        Ok(Entry {
            seq,
            time_ms,
            op,
            namespace,
            collection,
            object_id,
            schema_hash,
            value_hash,
            value_len,
            author,
            attested,
        })
    }

    /// Who made the change: the signing author or the attested key;
    /// `None` for the instance owner.
    pub fn principal(&self) -> Option<PublicKey> {
        self.author.map(|a| a.key).or(self.attested)
    }

    /// What an author signs for a change to (`namespace`, `collection`,
    /// `object_id`) with `op`, `schema_hash`, `value_hash` and `nonce` on the
    /// instance whose key is `instance`.
    #[allow(clippy::too_many_arguments)]
    pub fn change_payload(
        instance: &PublicKey,
        namespace: &[u8],
        collection: &[u8],
        object_id: u64,
        op: Op,
        schema_hash: &[u8; 32],
        value_hash: &[u8; 32],
        nonce: u64,
    ) -> Payload {
        Payload::new("bcdb-change-2")
            .field(&instance.to_bytes())
            .field(namespace)
            .field(collection)
            .u64(object_id)
            .field(&[op.code()])
            .field(schema_hash)
            .field(value_hash)
            .u64(nonce)
    }

    /// The first form of [`Entry::change_payload`], without instance or nonce: what
    /// author flag 1 entries were signed over.
    pub fn author_payload(
        namespace: &[u8],
        collection: &[u8],
        object_id: u64,
        op: Op,
        schema_hash: &[u8; 32],
        value_hash: &[u8; 32],
    ) -> Payload {
        Payload::new("bcdb-change")
            .field(namespace)
            .field(collection)
            .u64(object_id)
            .field(&[op.code()])
            .field(schema_hash)
            .field(value_hash)
    }

    /// Checks the author signature, if there is one, as made for the instance
    /// whose key is `instance`.
    pub fn verify_author(&self, instance: &PublicKey) -> Result<(), identity::IdentityError> {
        let Some(author) = &self.author else {
            return Ok(());
        };
        // A creation was signed before its id existed.
        let signed_id = if self.op == Op::Create {
            0
        } else {
            self.object_id
        };
        let (ns, coll, op) = (&self.namespace, &self.collection, self.op);
        let (schema, value) = (&self.schema_hash, &self.value_hash);
        let payload = match author.nonce {
            Some(nonce) => {
                Entry::change_payload(instance, ns, coll, signed_id, op, schema, value, nonce)
            }
            None => Entry::author_payload(ns, coll, signed_id, op, schema, value),
        };
        author.key.verify(&payload, &author.signature)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], EntryError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(EntryError::Truncated(self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, EntryError> {
        Ok(u64::from_le_bytes(self.array::<8>()?))
    }

    fn name(&mut self, max: usize, what: &str) -> Result<Vec<u8>, EntryError> {
        let len = usize::from(u16::from_le_bytes(self.array::<2>()?));
        if len > max {
            return Err(EntryError::Bad(format!(
                "{what} of {len} bytes (at most {max})"
            )));
        }
        Ok(self.take(len)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use identity::KeyPair;

    /// SHA-256 of `sample(None).encode()`, recorded when the layout was fixed.
    const PINNED: &str = "8da1334b780557fc769454c4dfc1b7b96296ed28679e70e7f963dd6e94ae811d";

    fn sample(author: Option<Author>) -> Entry {
        Entry {
            seq: 7,
            time_ms: 1_700_000_000_123,
            op: Op::Put,
            namespace: b"grid".to_vec(),
            collection: b"tfgrid.directory.farm.1".to_vec(),
            object_id: 42,
            schema_hash: [1; 32],
            value_hash: value_hash(b"{\"name\":\"farm\"}"),
            value_len: 15,
            author,
            attested: None,
        }
    }

    #[test]
    fn the_layout_is_pinned() {
        let bytes = sample(None).encode();
        assert_eq!(bytes.len(), FIXED + 4 + 23);
        // version, seq, time, op, then the namespace length and name
        assert_eq!(&bytes[..1], &[1]);
        assert_eq!(&bytes[1..9], &7u64.to_le_bytes());
        assert_eq!(&bytes[17..18], &[1]);
        assert_eq!(&bytes[18..24], b"\x04\x00grid");
        // a fixed hash of the whole encoding: changing the layout fails here
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(hex::encode(digest), PINNED);
        assert_eq!(Entry::decode(&bytes).unwrap(), sample(None));
    }

    #[test]
    fn author_signatures_round_trip_and_verify() {
        let key = KeyPair::generate();
        let instance = KeyPair::from_seed(&[5; 32]).public();
        let e = sample(None);
        let (ns, coll, id, op) = (&e.namespace, &e.collection, e.object_id, e.op);
        let payload = Entry::change_payload(
            &instance,
            ns,
            coll,
            id,
            op,
            &e.schema_hash,
            &e.value_hash,
            7,
        );
        let signed = sample(Some(Author {
            key: key.public(),
            signature: key.sign(&payload),
            nonce: Some(7),
        }));
        let bytes = signed.encode();
        assert_eq!(bytes.len(), sample(None).encode().len() + 32 + 8 + 64);
        assert_eq!(bytes[sample(None).encode().len() - 1], 3);
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back, signed);
        back.verify_author(&instance).unwrap();
        // bound to the instance and the nonce
        let elsewhere = KeyPair::from_seed(&[6; 32]).public();
        assert!(back.verify_author(&elsewhere).is_err());
        let mut renonced = back.clone();
        renonced.author.as_mut().unwrap().nonce = Some(8);
        assert!(renonced.verify_author(&instance).is_err());
        let mut forged = back.clone();
        forged.value_hash[0] ^= 1;
        assert!(forged.verify_author(&instance).is_err());
        // the ledger-assigned fields are not covered
        let mut moved = back;
        moved.seq = 99;
        moved.verify_author(&instance).unwrap();

        // the first form (flag 1) still reads and verifies
        let old = Entry::author_payload(ns, coll, id, op, &e.schema_hash, &e.value_hash);
        let legacy = sample(Some(Author {
            key: key.public(),
            signature: key.sign(&old),
            nonce: None,
        }));
        let bytes = legacy.encode();
        assert_eq!(bytes[sample(None).encode().len() - 1], 1);
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back, legacy);
        back.verify_author(&instance).unwrap();
    }

    #[test]
    fn attested_keys_round_trip() {
        let key = KeyPair::from_seed(&[3; 32]).public();
        let e = Entry {
            attested: Some(key),
            ..sample(None)
        };
        let bytes = e.encode();
        assert_eq!(bytes.len(), sample(None).encode().len() + 32);
        assert_eq!(bytes[bytes.len() - 33], 2);
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.principal(), Some(key));
        assert_eq!(sample(None).principal(), None);
        // an attested change carries no signature to check
        back.verify_author(&key).unwrap();
    }

    #[test]
    fn malformed_bytes_are_errors() {
        let bytes = sample(None).encode();
        for cut in 0..bytes.len() {
            assert!(Entry::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(Entry::decode(&extra), Err(EntryError::Trailing(1)));
        let mut version = bytes.clone();
        version[0] = 9;
        assert_eq!(Entry::decode(&version), Err(EntryError::Version(9)));
        let mut op = bytes;
        op[17] = 77;
        assert_eq!(Entry::decode(&op), Err(EntryError::Op(77)));
    }
}
