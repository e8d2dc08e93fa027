//! The ledger's bytes: one record per entry in a sequential-mode 0-db namespace, embedded.
//!
//! The 0-db seq id of a record *is* the entry's seq (0, 1, 2, …), so the
//! log needs no index of its own. A record is `u32 LE entry length ‖
//! canonical entry ‖ value`. 0-db's per-entry CRC catches a flipped byte on
//! read; a byte changed together with its CRC is caught by the Merkle root
//! against a signed checkpoint (see `ledger`).

use std::path::Path;
use std::sync::Arc;

use zdb::{Db, DbConfig, Hooks, Mode, NsId};

/// Name of the namespace holding the entries.
const NAMESPACE: &[u8] = b"ledger";
/// Name of the namespace holding the signed checkpoints, in order.
const CHECKPOINTS: &[u8] = b"checkpoints";
/// Size of each data file before the log moves to the next one.
const DATA_FILE_SIZE: u64 = 256 << 20;

/// One stored entry: its canonical bytes and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Canonical entry bytes (what the Merkle leaf hashes).
    pub entry: Vec<u8>,
    /// The value the entry's `value_hash` commits to.
    pub value: Vec<u8>,
}

/// Why the log failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The 0-db directory could not be opened.
    #[error("open the ledger's 0-db: {0}")]
    Open(String),
    /// A read or write failed.
    #[error("ledger {what}: {detail}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        detail: String,
    },
    /// The record at `seq` does not match its checksum or its framing.
    #[error("ledger entry {seq} is corrupt: {why}")]
    Corrupt {
        /// The entry.
        seq: u64,
        /// What is wrong.
        why: String,
    },
    /// No record at `seq`.
    #[error("ledger has no entry {0}")]
    Missing(u64),
}

fn io(what: impl Into<String>) -> impl FnOnce(String) -> LogError {
    let what = what.into();
    move |detail| LogError::Io { what, detail }
}

/// The ledger's 0-db, opened in-process (its directory is owned by this process: 0-db locks it).
pub struct LedgerLog {
    db: Db,
    ns: NsId,
    checkpoints: NsId,
}

/// Finds or creates the sequential-mode namespace `name`.
fn open_seq(db: &mut Db, name: &[u8]) -> Result<NsId, LogError> {
    let open_err = |e: String| LogError::Open(e);
    let id = match db.find(name) {
        Some(id) => id,
        None => {
            let id = db.create(name).map_err(|e| open_err(e.to_string()))?;
            let ns = db.get(id).expect("just created");
            ns.set_mode(Mode::Seq)
                .map_err(|e| open_err(e.to_string()))?;
            id
        }
    };
    if db.get(id).expect("found").mode() != Mode::Seq {
        return Err(open_err(format!(
            "namespace {} is not in sequential mode",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(id)
}

impl LedgerLog {
    /// Opens (creating) the log under `dir` (`dir/data`, `dir/index`).
    pub fn open(dir: &Path) -> Result<LedgerLog, LogError> {
        let config = DbConfig {
            data_root: dir.join("data"),
            index_root: dir.join("index"),
            mode: None,
            datasize: DATA_FILE_SIZE,
            default_password: None,
            default_maxsize: 0,
            sync_on_rotate: true,
            hooks: Arc::new(Hooks::none()),
        };
        let mut db = Db::open(config).map_err(|e| LogError::Open(e.to_string()))?;
        let ns = open_seq(&mut db, NAMESPACE)?;
        let checkpoints = open_seq(&mut db, CHECKPOINTS)?;
        Ok(LedgerLog {
            db,
            ns,
            checkpoints,
        })
    }

    /// Appends a signed checkpoint (text form), written at once but not fsynced (see
    /// [`crate::ledger::Ledger::commit`]; a clean close syncs it).
    pub fn append_checkpoint(&mut self, text: &[u8]) -> Result<(), LogError> {
        let ns = self
            .db
            .get(self.checkpoints)
            .expect("checkpoints stay open");
        ns.set(b"", text, None)
            .map_err(|e| e.to_string())
            .map_err(io("append a checkpoint"))?;
        ns.flush()
            .map_err(|e| e.to_string())
            .map_err(io("write a checkpoint"))
    }

    /// Every stored checkpoint, oldest first, each checked against its 0-db checksum.
    pub fn checkpoints(&mut self) -> Result<Vec<Vec<u8>>, LogError> {
        let id = self.checkpoints;
        let ns = self.db.get(id).expect("checkpoints stay open");
        let mut out = Vec::new();
        for n in 0..ns.len() {
            out.push(read_checked(ns, n)?);
        }
        Ok(out)
    }

    /// The latest stored checkpoint and its index, checked against its 0-db checksum.
    pub fn last_checkpoint(&mut self) -> Result<Option<(usize, Vec<u8>)>, LogError> {
        let id = self.checkpoints;
        let ns = self.db.get(id).expect("checkpoints stay open");
        match ns.len().checked_sub(1) {
            None => Ok(None),
            Some(last) => Ok(Some((last as usize, read_checked(ns, last)?))),
        }
    }

    fn namespace(&mut self) -> &mut zdb::Namespace {
        self.db
            .get(self.ns)
            .expect("the ledger namespace stays open")
    }

    /// Entries in the log (the next seq).
    pub fn len(&mut self) -> u64 {
        self.namespace().len()
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Queues a record; returns its seq. Nothing is written until [`LedgerLog::commit`].
    pub fn append(&mut self, entry: &[u8], value: &[u8]) -> Result<u64, LogError> {
        let len = u32::try_from(entry.len()).map_err(|_| LogError::Io {
            what: "append".into(),
            detail: "entry longer than 4 GiB".into(),
        })?;
        let mut record = Vec::with_capacity(4 + entry.len() + value.len());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(entry);
        record.extend_from_slice(value);
        match self.namespace().set(b"", &record, None) {
            Ok(zdb::SetOutcome::Written(id)) => {
                let id: [u8; 8] = id.as_slice().try_into().map_err(|_| LogError::Io {
                    what: "append".into(),
                    detail: format!("0-db returned a {}-byte id", id.len()),
                })?;
                Ok(u64::from_le_bytes(id))
            }
            Ok(zdb::SetOutcome::Unchanged) => unreachable!("a seq insert always writes"),
            Err(e) => Err(LogError::Io {
                what: "append".into(),
                detail: e.to_string(),
            }),
        }
    }

    /// Writes the queued records, and fsyncs them when `durable`.
    pub fn commit(&mut self, durable: bool) -> Result<(), LogError> {
        let ns = self.namespace();
        ns.commit()
            .map_err(|e| e.to_string())
            .map_err(io("commit"))?;
        if durable {
            ns.sync().map_err(|e| e.to_string()).map_err(io("sync"))?;
        }
        Ok(())
    }

    /// Writes the queued records and returns a handle to fsync them with later, without
    /// holding the log (see [`zdb::Namespace::sync_later`]).
    pub fn commit_later(&mut self) -> Result<zdb::SyncHandle, LogError> {
        let ns = self.namespace();
        ns.commit()
            .map_err(|e| e.to_string())
            .map_err(io("commit"))?;
        ns.sync_later()
            .map_err(|e| e.to_string())
            .map_err(io("sync"))
    }

    /// Writes everything (index included) and fsyncs; for shutdown.
    pub fn close(&mut self) -> Result<(), LogError> {
        self.db
            .sync_all()
            .map_err(|e| e.to_string())
            .map_err(io("sync"))
    }

    /// The record at `seq`, checked against 0-db's checksum.
    pub fn read(&mut self, seq: u64) -> Result<Record, LogError> {
        let buf = read_checked(self.namespace(), seq)?;
        split(seq, &buf)
    }
}

/// The value of seq id `seq` in `ns`, checked against its 0-db checksum.
fn read_checked(ns: &mut zdb::Namespace, seq: u64) -> Result<Vec<u8>, LogError> {
    let loc = ns
        .lookup(&seq.to_le_bytes())
        .map_err(|e| e.to_string())
        .map_err(io(format!("look up {seq}")))?
        .ok_or(LogError::Missing(seq))?;
    let mut buf = bytes::BytesMut::new();
    ns.read_value(&loc, &mut buf)
        .map_err(|e| LogError::Corrupt {
            seq,
            why: format!("unreadable: {e}"),
        })?;
    if zdb::zdb_crc32(&buf) != loc.crc {
        return Err(LogError::Corrupt {
            seq,
            why: "bytes differ from their 0-db checksum".into(),
        });
    }
    Ok(buf.to_vec())
}

fn split(seq: u64, record: &[u8]) -> Result<Record, LogError> {
    let corrupt = |why: &str| LogError::Corrupt {
        seq,
        why: why.to_string(),
    };
    let len: [u8; 4] = record
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("shorter than its length prefix"))?;
    let len = u32::from_le_bytes(len) as usize;
    let entry = record
        .get(4..4 + len)
        .ok_or_else(|| corrupt("entry length beyond the record"))?;
    Ok(Record {
        entry: entry.to_vec(),
        value: record[4 + len..].to_vec(),
    })
}

impl Drop for LedgerLog {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            eprintln!("warning: closing the ledger: {e}");
        }
    }
}
