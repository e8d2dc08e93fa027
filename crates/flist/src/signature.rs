//! Detached ed25519 signatures over a `.fl` file, and the trust policy that
//! decides which signers may run.
//!
//! `X.fl.sig` is JSON: the BLAKE2b-256 of the `.fl` bytes and a list of
//! (public key, signature) pairs over [`identity::Payload`] `flist` +
//! that digest. Because every block is reachable only through a hash in the
//! `.fl`, and every fetched block is checked against it, one signature
//! authenticates every byte the flist serves.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use identity::{KeyPair, Payload, PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// Suffix of the detached signature file.
pub const SIGNATURE_SUFFIX: &str = "sig";
/// Signing purpose: a flist signature can never pass for another kind.
const PURPOSE: &str = "flist";
/// Largest signature file read.
const MAX_SIG_FILE: u64 = 1 << 20;

/// Why a flist is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// No signature file next to the flist.
    #[error("{0} is not signed (no {0}.sig)")]
    Unsigned(PathBuf),
    /// The flist changed after it was signed.
    #[error("{0} was modified after it was signed")]
    Tampered(PathBuf),
    /// Signatures verify, but no signer is trusted.
    #[error("{path} is signed by {signers}, none of them trusted")]
    Untrusted {
        /// The flist.
        path: PathBuf,
        /// Hex public keys of the signers.
        signers: String,
    },
    /// A signature does not verify.
    #[error("{path}: signature by {signer} does not verify")]
    BadSignature {
        /// The flist.
        path: PathBuf,
        /// Hex public key.
        signer: String,
    },
    /// The signature file is malformed.
    #[error("{path}: malformed signature file: {reason}")]
    Malformed {
        /// The signature file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct SigFile {
    version: u32,
    blake2b: String,
    signatures: Vec<SigEntry>,
}

#[derive(Serialize, Deserialize)]
struct SigEntry {
    public_key: String,
    signature: String,
}

/// Public keys whose signatures are accepted.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    keys: Vec<PublicKey>,
}

impl TrustPolicy {
    /// Trusts exactly `keys`.
    pub fn new(keys: Vec<PublicKey>) -> TrustPolicy {
        TrustPolicy { keys }
    }

    /// Reads one key per line (hex or base58); `#` starts a comment.
    pub fn from_file(path: &Path) -> Result<TrustPolicy, SignatureError> {
        let text = fs::read_to_string(path).map_err(io_err("read", path))?;
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let key = PublicKey::parse(line).map_err(|e| SignatureError::Malformed {
                path: path.to_owned(),
                reason: format!("line {}: {e}", n + 1),
            })?;
            keys.push(key);
        }
        Ok(TrustPolicy { keys })
    }

    /// Adds a trusted key.
    pub fn trust(&mut self, key: PublicKey) {
        self.keys.push(key);
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SignatureError {
    let path = path.to_owned();
    move |source| SignatureError::Io { op, path, source }
}

/// Path of the signature file of `fl`.
pub fn signature_path(fl: &Path) -> PathBuf {
    let mut name = fl.as_os_str().to_owned();
    name.push(".");
    name.push(SIGNATURE_SUFFIX);
    PathBuf::from(name)
}

/// BLAKE2b-256 of a file's bytes.
pub fn file_digest(path: &Path) -> Result<[u8; 32], SignatureError> {
    let mut file = fs::File::open(path).map_err(io_err("open", path))?;
    let mut hasher = Blake2b::<U32>::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

fn payload(digest: &[u8; 32]) -> Payload {
    Payload::new(PURPOSE).field(digest)
}

fn read_sig_file(path: &Path) -> Result<Option<SigFile>, SignatureError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    let malformed = |reason: String| SignatureError::Malformed {
        path: path.to_owned(),
        reason,
    };
    if meta.len() > MAX_SIG_FILE {
        return Err(malformed(format!("{} bytes is too large", meta.len())));
    }
    let raw = fs::read(path).map_err(io_err("read", path))?;
    parse_sig_file(&raw, path).map(Some)
}

fn parse_sig_file(raw: &[u8], path: &Path) -> Result<SigFile, SignatureError> {
    let malformed = |reason: String| SignatureError::Malformed {
        path: path.to_owned(),
        reason,
    };
    if raw.len() as u64 > MAX_SIG_FILE {
        return Err(malformed(format!("{} bytes is too large", raw.len())));
    }
    let sig: SigFile = serde_json::from_slice(raw).map_err(|e| malformed(e.to_string()))?;
    if sig.version != 1 {
        return Err(malformed(format!("unsupported version {}", sig.version)));
    }
    Ok(sig)
}

fn write_sig_file(sig_path: &Path, file: &SigFile) -> Result<(), SignatureError> {
    let mut bytes = serde_json::to_vec_pretty(file).expect("signature file serializes");
    bytes.push(b'\n');
    let tmp = sig_path.with_extension("sig.tmp");
    fs::write(&tmp, &bytes).map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, sig_path).map_err(io_err("write", sig_path))
}

/// Checks every entry of `file` against `digest`; returns the signers.
fn verify_entries(
    fl: &Path,
    file: &SigFile,
    digest: &[u8; 32],
) -> Result<Vec<PublicKey>, SignatureError> {
    if hex::encode(digest) != file.blake2b.to_ascii_lowercase() {
        return Err(SignatureError::Tampered(fl.to_owned()));
    }
    if file.signatures.is_empty() {
        return Err(SignatureError::Unsigned(fl.to_owned()));
    }
    let mut keys = Vec::with_capacity(file.signatures.len());
    for entry in &file.signatures {
        let bad = || SignatureError::BadSignature {
            path: fl.to_owned(),
            signer: entry.public_key.clone(),
        };
        let key = PublicKey::parse(&entry.public_key).map_err(|_| bad())?;
        let signature = Signature::from_hex(&entry.signature).map_err(|_| bad())?;
        key.verify(&payload(digest), &signature)
            .map_err(|_| bad())?;
        keys.push(key);
    }
    Ok(keys)
}

/// Adds the signatures of another signature file of `fl` (e.g. one a user
/// uploads) to `fl`'s own, after checking that it is for these exact bytes
/// and that every signature in it verifies. Returns its signers.
pub fn merge(fl: &Path, incoming: &[u8]) -> Result<Vec<PublicKey>, SignatureError> {
    let sig_path = signature_path(fl);
    let theirs = parse_sig_file(incoming, &sig_path)?;
    let digest = file_digest(fl)?;
    let keys = verify_entries(fl, &theirs, &digest)?;
    let mut ours = match read_sig_file(&sig_path)? {
        Some(existing) if existing.blake2b.eq_ignore_ascii_case(&theirs.blake2b) => existing,
        _ => SigFile {
            version: 1,
            blake2b: hex::encode(digest),
            signatures: Vec::new(),
        },
    };
    for entry in theirs.signatures {
        ours.signatures.retain(|s| s.public_key != entry.public_key);
        ours.signatures.push(entry);
    }
    write_sig_file(&sig_path, &ours)?;
    Ok(keys)
}

/// Signs `fl` with `key`: adds (or replaces) this key's signature in the
/// signature file. Signatures by other keys over the same bytes are kept.
pub fn sign(fl: &Path, key: &KeyPair) -> Result<PathBuf, SignatureError> {
    let digest = file_digest(fl)?;
    let sig_path = signature_path(fl);
    let digest_hex = hex::encode(digest);
    let mut file = match read_sig_file(&sig_path)? {
        Some(existing) if existing.blake2b == digest_hex => existing,
        _ => SigFile {
            version: 1,
            blake2b: digest_hex,
            signatures: Vec::new(),
        },
    };
    let public = key.public().to_hex();
    file.signatures.retain(|s| s.public_key != public);
    file.signatures.push(SigEntry {
        public_key: public,
        signature: key.sign(&payload(&digest)).to_hex(),
    });
    write_sig_file(&sig_path, &file)?;
    Ok(sig_path)
}

/// The keys that signed `fl`, after checking that the file is unchanged
/// since signing and that every signature present verifies.
pub fn signers(fl: &Path) -> Result<Vec<PublicKey>, SignatureError> {
    let sig_path = signature_path(fl);
    let file = read_sig_file(&sig_path)?.ok_or_else(|| SignatureError::Unsigned(fl.to_owned()))?;
    let digest = file_digest(fl)?;
    verify_entries(fl, &file, &digest)
}

/// Checks that `fl` is unchanged since signing and signed by a key the
/// policy trusts; returns that key. Every signature present must verify.
pub fn verify(fl: &Path, policy: &TrustPolicy) -> Result<PublicKey, SignatureError> {
    let keys = signers(fl)?;
    let trusted = keys.iter().find(|k| policy.keys.contains(k)).copied();
    trusted.ok_or_else(|| SignatureError::Untrusted {
        path: fl.to_owned(),
        signers: keys
            .iter()
            .map(PublicKey::to_hex)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_verified_signatures_of_the_same_bytes_only() {
        let dir = tempfile::tempdir().unwrap();
        let (mine, theirs) = (dir.path().join("mine.fl"), dir.path().join("theirs.fl"));
        fs::write(&mine, b"the same flist bytes").unwrap();
        fs::write(&theirs, b"the same flist bytes").unwrap();
        let (hub, user) = (KeyPair::generate(), KeyPair::generate());
        sign(&mine, &hub).unwrap();
        sign(&theirs, &user).unwrap();
        let incoming = fs::read(signature_path(&theirs)).unwrap();

        assert_eq!(merge(&mine, &incoming).unwrap(), vec![user.public()]);
        let mut signers = signers(&mine).unwrap();
        signers.sort_by_key(|k| k.to_hex());
        let mut want = vec![hub.public(), user.public()];
        want.sort_by_key(|k| k.to_hex());
        assert_eq!(signers, want);
        assert_eq!(
            merge(&mine, &incoming).unwrap().len(),
            1,
            "merging twice keeps one entry"
        );
        assert_eq!(signers_count(&mine), 2);

        let other = dir.path().join("other.fl");
        fs::write(&other, b"different bytes").unwrap();
        assert!(matches!(
            merge(&other, &incoming),
            Err(SignatureError::Tampered(_))
        ));
        let forged = String::from_utf8(incoming.clone())
            .unwrap()
            .replace(&user.public().to_hex(), &hub.public().to_hex());
        assert!(matches!(
            merge(&mine, forged.as_bytes()),
            Err(SignatureError::BadSignature { .. })
        ));
        assert!(matches!(
            merge(&mine, b"{}"),
            Err(SignatureError::Malformed { .. })
        ));
    }

    fn signers_count(fl: &Path) -> usize {
        read_sig_file(&signature_path(fl))
            .unwrap()
            .unwrap()
            .signatures
            .len()
    }
}
