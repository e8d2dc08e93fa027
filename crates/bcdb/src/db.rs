//! The database a server or the explorer embeds: commands in, through the state machine, into the ledger; reads from the state and the log.

use std::path::Path;

use identity::KeyPair;

use crate::checkpoint::Checkpoint;
use crate::entry::Entry;
use crate::ledger::{Ledger, LedgerError, VerifiedRecord};
use crate::schema::Schema;
use crate::state::{ApplyError, Command, NamespaceState, ObjectState, State};

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The command was refused; nothing was recorded.
    #[error(transparent)]
    Refused(#[from] ApplyError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What one recorded entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Its ledger position.
    pub seq: u64,
    /// The object it wrote (0 for a schema).
    pub object_id: u64,
}

/// Checks a typed value against its schema before it is recorded.
pub type Validator = Box<dyn Fn(&NamespaceState, &Schema, &[u8]) -> Result<(), String> + Send>;

/// A BCDB instance over one directory.
pub struct Bcdb {
    ledger: Ledger,
    state: State,
    validator: Validator,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Bcdb {
    /// Opens the ledger in `dir` and rebuilds the state by replaying it.
    /// Checkpoints are signed with `key` as `origin`. `validator` checks
    /// typed values (see `object`).
    pub fn open(
        dir: &Path,
        key: KeyPair,
        origin: &str,
        validator: Validator,
    ) -> Result<Bcdb, DbError> {
        let mut ledger = Ledger::open(dir, key, origin)?;
        let mut state = State::new();
        for seq in 0..ledger.len() {
            let (entry, value) = ledger.get(seq)?;
            state.apply(&entry, &value)?;
        }
        Ok(Bcdb {
            ledger,
            state,
            validator,
        })
    }

    /// Plans `command` against the current state, records its entries and
    /// applies them. Durable (and covered by a checkpoint) after [`Bcdb::commit`].
    pub fn execute(&mut self, command: &Command) -> Result<Vec<Applied>, DbError> {
        let seq = self.ledger.len();
        let planned = self.state.plan(command, seq, now_ms(), &*self.validator)?;
        let mut applied = Vec::with_capacity(planned.len());
        for (entry, value) in planned {
            self.ledger.append(&entry, &value)?;
            self.state.apply(&entry, &value)?;
            applied.push(Applied {
                seq: entry.seq,
                object_id: entry.object_id,
            });
        }
        Ok(applied)
    }

    /// Makes everything executed so far durable and signs a checkpoint.
    pub fn commit(&mut self, durable: bool) -> Result<Checkpoint, DbError> {
        Ok(self.ledger.commit(durable)?)
    }

    /// The state (schemas, objects, histories).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The latest version of object `id`: its state, entry and value.
    pub fn get(
        &mut self,
        namespace: &[u8],
        id: u64,
    ) -> Result<Option<(ObjectState, Entry, Vec<u8>)>, DbError> {
        let Some(obj) = self.state.object(namespace, id).cloned() else {
            return Ok(None);
        };
        let seq = *obj.history.last().expect("a live object has a version");
        let (entry, value) = self.ledger.get(seq)?;
        Ok(Some((obj, entry, value)))
    }

    /// The live schema-less value under `key`: its object id and blob.
    pub fn get_key(
        &mut self,
        namespace: &[u8],
        key: &[u8],
    ) -> Result<Option<(u64, Vec<u8>)>, DbError> {
        let Some(id) = self
            .state
            .namespace(namespace)
            .and_then(|ns| ns.keys.get(key))
            .copied()
        else {
            return Ok(None);
        };
        let Some((_, _, value)) = self.get(namespace, id)? else {
            return Ok(None);
        };
        let blob = crate::state::split_keyed(&value)
            .map(|(_, b)| b.to_vec())
            .unwrap_or_default();
        Ok(Some((id, blob)))
    }

    /// Every version of object `id` (deleted or not), oldest first.
    pub fn history(&mut self, namespace: &[u8], id: u64) -> Result<Vec<(Entry, Vec<u8>)>, DbError> {
        let seqs = self
            .state
            .namespace(namespace)
            .and_then(|ns| ns.objects.get(&id))
            .map(|o| o.history.clone())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            out.push(self.ledger.get(seq)?);
        }
        Ok(out)
    }

    /// The latest version of object `id` with proofs for a client that trusts a checkpoint of `trusted_size` entries.
    pub fn verified_get(
        &mut self,
        namespace: &[u8],
        id: u64,
        trusted_size: u64,
    ) -> Result<Option<VerifiedRecord>, DbError> {
        let Some(obj) = self.state.object(namespace, id) else {
            return Ok(None);
        };
        let seq = *obj.history.last().expect("a live object has a version");
        Ok(Some(self.ledger.verified_get(seq, trusted_size)?))
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.ledger.checkpoint()
    }
}
