//! The verifiable ledger: every entry goes to the log and the Merkle tree together, each commit ends in a signed checkpoint, and anyone can check a record or a whole log.
//!
//! Writers append entries (seq = the next leaf index) and commit; a commit
//! makes the records durable first and then signs and stores a checkpoint
//! for the new size, so a checkpoint never covers an entry a crash could
//! lose. Readers get a record with an inclusion proof against the latest
//! checkpoint and a consistency proof from the checkpoint they already
//! trust; [`verify_record`] checks all of it with nothing but the instance's
//! public key. [`verify_dir`] replays a whole log without trusting it and
//! names every entry or checkpoint that does not hold up.

use std::path::Path;

use identity::{KeyPair, PublicKey};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::entry::{value_hash, Entry, EntryError};
use crate::log::{LedgerLog, LogError};
use crate::merkle::{self, leaf_hash, Hash, MerkleTree, ProofError, TreeError};

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A stored entry does not decode.
    #[error("ledger entry {seq}: {source}")]
    Entry {
        /// Which entry.
        seq: u64,
        /// Why.
        source: EntryError,
    },
    /// The tree refused an operation.
    #[error("merkle tree: {0}")]
    Tree(#[from] TreeError),
    /// A stored checkpoint does not hold.
    #[error("checkpoint {index}: {why}")]
    Checkpoint {
        /// Position among the stored checkpoints.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// An entry handed to `append` is inconsistent.
    #[error("cannot append: {0}")]
    Refused(String),
}

/// A record with everything needed to check it against a trusted checkpoint.
#[derive(Debug, Clone)]
pub struct VerifiedRecord {
    /// Canonical entry bytes.
    pub entry: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Leaf index (= seq).
    pub index: u64,
    /// Inclusion proof against `checkpoint`.
    pub inclusion: Vec<Hash>,
    /// Consistency proof from the client's trusted size to `checkpoint.size`.
    pub consistency: Vec<Hash>,
    /// The latest checkpoint.
    pub checkpoint: Checkpoint,
}

/// Why a client refuses a record.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The checkpoint is not signed by the instance.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The new checkpoint does not extend the trusted one.
    #[error("the ledger's history changed since the trusted checkpoint: {0}")]
    Inconsistent(ProofError),
    /// The entry is not in the tree the checkpoint signs.
    #[error("the entry is not in the signed tree: {0}")]
    NotIncluded(ProofError),
    /// The entry bytes do not decode.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The value does not match the entry's hash.
    #[error("the value does not match the entry's value hash")]
    ValueMismatch,
}

/// A ledger open for reading and writing by this process.
pub struct Ledger {
    log: LedgerLog,
    tree: MerkleTree,
    key: KeyPair,
    origin: String,
    latest: Option<Checkpoint>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Ledger {
    /// Opens the ledger in `dir`, signing checkpoints with `key` as `origin`.
    ///
    /// Replays the log into the tree, and refuses to open when the latest
    /// checkpoint does not match what the log holds now.
    pub fn open(dir: &Path, key: KeyPair, origin: &str) -> Result<Ledger, LedgerError> {
        Ledger::open_with(dir, key, origin, |_, _| Ok::<(), LedgerError>(()))
    }

    /// [`Ledger::open`], handing every entry and its value to `visit` in order as the log is
    /// replayed into the tree: one read of the log where a caller's own replay would make a
    /// second.
    pub fn open_with<E: From<LedgerError>>(
        dir: &Path,
        key: KeyPair,
        origin: &str,
        mut visit: impl FnMut(&Entry, &[u8]) -> Result<(), E>,
    ) -> Result<Ledger, E> {
        let mut log = LedgerLog::open(dir).map_err(LedgerError::from)?;
        let mut tree = MerkleTree::new();
        for seq in 0..log.len() {
            let record = log.read(seq).map_err(LedgerError::from)?;
            tree.append(&record.entry).map_err(LedgerError::from)?;
            let entry = Entry::decode(&record.entry)
                .map_err(|source| LedgerError::Entry { seq, source })?;
            visit(&entry, &record.value)?;
        }
        Ledger::check_latest(log, tree, key, origin).map_err(E::from)
    }

    /// The opened ledger, once the latest stored checkpoint is found to sign what the log
    /// holds.
    fn check_latest(
        mut log: LedgerLog,
        tree: MerkleTree,
        key: KeyPair,
        origin: &str,
    ) -> Result<Ledger, LedgerError> {
        let latest = match log.last_checkpoint()? {
            None => None,
            Some((index, text)) => {
                let bad = |why: String| LedgerError::Checkpoint { index, why };
                let cp = Checkpoint::parse(&String::from_utf8_lossy(&text))
                    .map_err(|e| bad(e.to_string()))?;
                cp.verify(&key.public()).map_err(|e| bad(e.to_string()))?;
                if cp.size > tree.len() || tree.root_at(cp.size)? != cp.root {
                    return Err(bad(format!(
                        "the log no longer matches the signed root at size {}",
                        cp.size
                    )));
                }
                Some(cp)
            }
        };
        Ok(Ledger {
            log,
            tree,
            key,
            origin: origin.to_string(),
            latest,
        })
    }

    /// Entries in the ledger (committed or not).
    pub fn len(&self) -> u64 {
        self.tree.len()
    }

    /// Whether the ledger is empty.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Appends `entry` (its seq must be [`Ledger::len`], its value hash and
    /// length those of `value`, its author signature valid). Durable only
    /// after [`Ledger::commit`].
    pub fn append(&mut self, entry: &Entry, value: &[u8]) -> Result<u64, LedgerError> {
        entry
            .verify_author(&self.key.public())
            .map_err(|_| LedgerError::Refused("the author signature does not verify".into()))?;
        self.append_planned(entry, value)
    }

    /// [`Ledger::append`] of an entry whose author signature was already checked (the
    /// state machine checks it when it plans a command): an ed25519 verification is about
    /// a sixth of a signed write.
    pub(crate) fn append_planned(
        &mut self,
        entry: &Entry,
        value: &[u8],
    ) -> Result<u64, LedgerError> {
        if entry.seq != self.len() {
            return Err(LedgerError::Refused(format!(
                "entry seq {} is not the next one ({})",
                entry.seq,
                self.len()
            )));
        }
        if entry.value_hash != value_hash(value) || entry.value_len != value.len() as u64 {
            return Err(LedgerError::Refused(
                "value does not match the entry".into(),
            ));
        }
        let bytes = entry.encode();
        let seq = self.log.append(&bytes, value)?;
        debug_assert_eq!(seq, entry.seq);
        self.tree.append(&bytes)?;
        Ok(seq)
    }

    /// Makes the appended entries durable (fsync when `durable`), then signs
    /// and stores a checkpoint for the new size and returns it.
    ///
    /// The checkpoint itself is written but not fsynced: losing the last
    /// ones to a power cut loses nothing a client relies on, since the
    /// entries they cover are durable and the next open signs a checkpoint
    /// of the same tree again (any checkpoint a client kept stays consistent
    /// with it). That keeps a commit at one fsync.
    pub fn commit(&mut self, durable: bool) -> Result<Checkpoint, LedgerError> {
        self.log.commit(durable)?;
        let cp = Checkpoint::sign(
            &self.key,
            &self.origin,
            self.tree.len(),
            self.tree.root(),
            now_ms(),
        );
        self.log.append_checkpoint(cp.to_text().as_bytes())?;
        self.latest = Some(cp.clone());
        Ok(cp)
    }

    /// The first half of a commit that lets appends go on while the disk syncs: writes
    /// the appended entries and returns how many there are and a handle to fsync them.
    /// Once the handle has synced, [`Ledger::seal`] signs their checkpoint.
    pub fn commit_later(&mut self) -> Result<(u64, zdb::SyncHandle), LedgerError> {
        let handle = self.log.commit_later()?;
        Ok((self.len(), handle))
    }

    /// Signs and stores a checkpoint of the first `size` entries, which the caller made
    /// durable (see [`Ledger::commit_later`]); the latest checkpoint when it already covers
    /// them.
    pub fn seal(&mut self, size: u64) -> Result<Checkpoint, LedgerError> {
        if let Some(latest) = self.latest.as_ref().filter(|cp| cp.size >= size) {
            return Ok(latest.clone());
        }
        let root = self.tree.root_at(size)?;
        let cp = Checkpoint::sign(&self.key, &self.origin, size, root, now_ms());
        self.log.append_checkpoint(cp.to_text().as_bytes())?;
        self.latest = Some(cp.clone());
        Ok(cp)
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.latest.as_ref()
    }

    /// The entry and value at `seq`, with proofs against the latest
    /// checkpoint and from a client's trusted size `trusted_size` (0 when it
    /// trusts nothing yet).
    pub fn verified_get(
        &mut self,
        seq: u64,
        trusted_size: u64,
    ) -> Result<VerifiedRecord, LedgerError> {
        let checkpoint = self
            .latest
            .clone()
            .ok_or_else(|| LedgerError::Refused("nothing is committed yet".into()))?;
        if seq >= checkpoint.size {
            return Err(LedgerError::Refused(format!(
                "entry {seq} is not covered by the latest checkpoint ({} entries)",
                checkpoint.size
            )));
        }
        let record = self.log.read(seq)?;
        let consistency = if trusted_size == 0 {
            Vec::new()
        } else {
            self.tree.consistency_proof(trusted_size, checkpoint.size)?
        };
        Ok(VerifiedRecord {
            inclusion: self.tree.inclusion_proof(seq, checkpoint.size)?,
            consistency,
            index: seq,
            entry: record.entry,
            value: record.value,
            checkpoint,
        })
    }

    /// The entry and value at `seq`, unverified.
    pub fn get(&mut self, seq: u64) -> Result<(Entry, Vec<u8>), LedgerError> {
        let record = self.log.read(seq)?;
        let entry =
            Entry::decode(&record.entry).map_err(|source| LedgerError::Entry { seq, source })?;
        Ok((entry, record.value))
    }
}

/// Checks a record as a client: the checkpoint is the instance's, it
/// extends `trusted` (if any), the entry is in its tree, and the value is
/// the one the entry names. Returns the entry; the caller then trusts
/// `record.checkpoint`.
pub fn verify_record(
    record: &VerifiedRecord,
    trusted: Option<&Checkpoint>,
    instance: &PublicKey,
) -> Result<Entry, VerifyError> {
    let cp = &record.checkpoint;
    cp.verify(instance)?;
    if let Some(old) = trusted {
        if old.size > 0 {
            merkle::verify_consistency(old.size, cp.size, &old.root, &cp.root, &record.consistency)
                .map_err(VerifyError::Inconsistent)?;
        }
    }
    merkle::verify_inclusion(
        &leaf_hash(&record.entry),
        record.index,
        cp.size,
        &record.inclusion,
        &cp.root,
    )
    .map_err(VerifyError::NotIncluded)?;
    let entry = Entry::decode(&record.entry)?;
    if entry.value_hash != value_hash(&record.value) {
        return Err(VerifyError::ValueMismatch);
    }
    Ok(entry)
}

/// One thing [`verify_dir`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Entry `seq` cannot be read, does not decode, has the wrong seq, a
    /// value that does not match its hash, or a bad author signature.
    Entry {
        /// Which entry.
        seq: u64,
        /// What is wrong.
        why: String,
    },
    /// A checkpoint's signature fails, or its root differs from the log's:
    /// some entry below `size` (and at or above `since`, the size of the
    /// last checkpoint that still matched) was changed.
    Checkpoint {
        /// Position among the stored checkpoints.
        index: usize,
        /// Entries it covers.
        size: u64,
        /// Entries covered by the last good checkpoint before it.
        since: u64,
        /// What is wrong.
        why: String,
    },
}

/// What [`verify_dir`] saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Entries read.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Root of the replayed tree.
    pub root: Option<Hash>,
    /// Everything that failed; empty when the ledger is intact.
    pub problems: Vec<Problem>,
}

/// Replays the ledger in `dir` without trusting it: decodes and checks every
/// entry, rebuilds the tree, and checks every checkpoint against
/// `instance` and the rebuilt roots.
pub fn verify_dir(dir: &Path, instance: &PublicKey) -> Result<Report, LedgerError> {
    let mut log = LedgerLog::open(dir)?;
    let mut report = Report::default();
    let mut tree = MerkleTree::new();
    for seq in 0..log.len() {
        report.entries += 1;
        let problem = |why: String| Problem::Entry { seq, why };
        let record = match log.read(seq) {
            Ok(record) => record,
            Err(e) => {
                report.problems.push(problem(e.to_string()));
                // keep the tree the right size so later checkpoints still line up
                tree.append_leaf_hash([0; 32])?;
                continue;
            }
        };
        tree.append(&record.entry)?;
        match Entry::decode(&record.entry) {
            Err(e) => report.problems.push(problem(e.to_string())),
            Ok(entry) if entry.seq != seq => report
                .problems
                .push(problem(format!("records seq {}", entry.seq))),
            Ok(entry) if entry.value_hash != value_hash(&record.value) => report
                .problems
                .push(problem("value differs from its hash".into())),
            Ok(entry) if entry.verify_author(instance).is_err() => report
                .problems
                .push(problem("author signature does not verify".into())),
            Ok(_) => {}
        }
    }
    let mut since = 0;
    for (index, text) in log.checkpoints()?.iter().enumerate() {
        report.checkpoints += 1;
        let cp = match Checkpoint::parse(&String::from_utf8_lossy(text)) {
            Ok(cp) => cp,
            Err(e) => {
                report.problems.push(Problem::Checkpoint {
                    index,
                    size: 0,
                    since,
                    why: e.to_string(),
                });
                continue;
            }
        };
        let why = if let Err(e) = cp.verify(instance) {
            Some(e.to_string())
        } else if cp.size > tree.len() {
            Some(format!(
                "covers {} entries, the log holds {}",
                cp.size,
                tree.len()
            ))
        } else if tree.root_at(cp.size)? != cp.root {
            Some("the log's root differs from the signed one".to_string())
        } else {
            since = cp.size;
            None
        };
        if let Some(why) = why {
            report.problems.push(Problem::Checkpoint {
                index,
                size: cp.size,
                since,
                why,
            });
        }
    }
    report.root = (!tree.is_empty()).then(|| tree.root());
    Ok(report)
}
