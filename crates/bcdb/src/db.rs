//! The database a server or the explorer embeds: commands in, through the state machine, into the ledger; reads from the state and the log.

use std::path::Path;

use identity::KeyPair;

use crate::checkpoint::Checkpoint;
use crate::entry::{Entry, Op};
use crate::index::{Cond, Index, IndexError};
use crate::ledger::{Ledger, LedgerError, VerifiedRecord};
use crate::object::Object;
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
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
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

/// The validator of typed values: the bytes must be the canonical encoding
/// of an object of the schema (nested schemas resolved in the same namespace).
pub fn object_validator() -> Validator {
    Box::new(|ns, schema, bytes| {
        let resolve = |url: &str| {
            ns.schemas
                .get(url)
                .and_then(|v| v.last())
                .map(|(_, s)| s.clone())
        };
        Object::decode(bytes, schema, &resolve)
            .map(drop)
            .map_err(|e| e.to_string())
    })
}

/// A BCDB instance over one directory.
pub struct Bcdb {
    ledger: Ledger,
    state: State,
    validator: Validator,
    index: Index,
}

/// The schema version an entry names, and a resolver for its nested schemas.
fn schema_of<'s>(ns: &'s NamespaceState, entry: &Entry) -> Option<&'s Schema> {
    let url = std::str::from_utf8(&entry.collection).ok()?;
    ns.schemas
        .get(url)?
        .iter()
        .rev()
        .map(|(_, s)| s)
        .find(|s| s.hash() == entry.schema_hash)
}

/// Index rows of a typed value: (values, unique field names, full-text fields).
type Rows = (
    Vec<(String, crate::object::IndexValue)>,
    Vec<String>,
    Vec<(String, String)>,
);

fn rows(ns: &NamespaceState, schema: &Schema, value: &[u8]) -> Option<Rows> {
    let resolve = |url: &str| {
        ns.schemas
            .get(url)
            .and_then(|v| v.last())
            .map(|(_, s)| s.clone())
    };
    let object = Object::decode(value, schema, &resolve).ok()?;
    let unique = schema
        .fields()
        .iter()
        .filter(|f| f.is_unique())
        .map(|f| f.name().to_string())
        .collect();
    Some((
        object.index_values(schema, &resolve),
        unique,
        object.fulltext(schema, &resolve),
    ))
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
        let mut index = Index::open(&dir.join("index.sqlite"))?;
        let mut state = State::new();
        // The index may lag the ledger (a crash between the two commits, or
        // a deleted index file): entries it has not seen are indexed again.
        let indexed = index.applied()?.min(ledger.len());
        for seq in 0..ledger.len() {
            let (entry, value) = ledger.get(seq)?;
            state.apply(&entry, &value)?;
            if seq >= indexed {
                index_entry(&mut index, &state, &entry, &value)?;
            }
        }
        index.commit(ledger.len())?;
        Ok(Bcdb {
            ledger,
            state,
            validator,
            index,
        })
    }

    /// Plans `command` against the current state, records its entries and
    /// applies them. Durable (and covered by a checkpoint) after [`Bcdb::commit`].
    pub fn execute(&mut self, command: &Command) -> Result<Vec<Applied>, DbError> {
        let seq = self.ledger.len();
        let planned = self.state.plan(command, seq, now_ms(), &*self.validator)?;
        for (entry, value) in &planned {
            self.check_unique(entry, value)?;
        }
        let mut applied = Vec::with_capacity(planned.len());
        for (entry, value) in planned {
            self.ledger.append(&entry, &value)?;
            self.state.apply(&entry, &value)?;
            index_entry(&mut self.index, &self.state, &entry, &value)?;
            applied.push(Applied {
                seq: entry.seq,
                object_id: entry.object_id,
            });
        }
        Ok(applied)
    }

    /// Makes everything executed so far durable and signs a checkpoint.
    pub fn commit(&mut self, durable: bool) -> Result<Checkpoint, DbError> {
        let cp = self.ledger.commit(durable)?;
        self.index.commit(self.ledger.len())?;
        Ok(cp)
    }

    /// Refuses a typed write whose unique fields are held by another object.
    fn check_unique(&self, entry: &Entry, value: &[u8]) -> Result<(), DbError> {
        if !matches!(entry.op, Op::Create | Op::Put) || entry.collection.is_empty() {
            return Ok(());
        }
        let Some(ns) = self.state.namespace(&entry.namespace) else {
            return Ok(());
        };
        let Some((values, unique, _)) = schema_of(ns, entry).and_then(|s| rows(ns, s, value))
        else {
            return Ok(());
        };
        let coll = String::from_utf8_lossy(&entry.collection);
        let id = (entry.op == Op::Put).then_some(entry.object_id);
        self.index
            .check_unique(&entry.namespace, &coll, id, &values, &unique)
            .map_err(|e| match e {
                IndexError::Unique { .. } => DbError::Refused(ApplyError::Invalid(e.to_string())),
                other => DbError::Index(other),
            })
    }

    /// Ids of the live objects of `url` matching every condition (ascending, above `after`).
    pub fn find(
        &self,
        namespace: &[u8],
        url: &str,
        conds: &[Cond],
        after: u64,
        limit: usize,
    ) -> Result<Vec<u64>, DbError> {
        Ok(self.index.find(namespace, url, conds, after, limit)?)
    }

    /// How many live objects of `url` match every condition.
    pub fn count(&self, namespace: &[u8], url: &str, conds: &[Cond]) -> Result<u64, DbError> {
        Ok(self.index.count(namespace, url, conds)?)
    }

    /// Ids of objects of `url` whose full-text fields match `query` (FTS5 syntax), best first.
    pub fn search(
        &self,
        namespace: &[u8],
        url: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<u64>, DbError> {
        Ok(self.index.search(namespace, url, query, limit)?)
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

/// Brings the index up to date with one recorded entry.
fn index_entry(
    index: &mut Index,
    state: &State,
    entry: &Entry,
    value: &[u8],
) -> Result<(), DbError> {
    if entry.collection.is_empty() {
        return Ok(());
    }
    let coll = String::from_utf8_lossy(&entry.collection);
    match entry.op {
        Op::Delete => index.remove(&entry.namespace, &coll, entry.object_id)?,
        Op::Create | Op::Put => {
            let Some(ns) = state.namespace(&entry.namespace) else {
                return Ok(());
            };
            match schema_of(ns, entry).and_then(|s| rows(ns, s, value)) {
                // a creation has no rows to replace
                Some((values, unique, text)) if entry.op == Op::Create => index.insert(
                    &entry.namespace,
                    &coll,
                    entry.object_id,
                    &values,
                    &unique,
                    &text,
                )?,
                Some((values, unique, text)) => index.put(
                    &entry.namespace,
                    &coll,
                    entry.object_id,
                    &values,
                    &unique,
                    &text,
                )?,
                // not a typed object of a known schema version (validation was off): not indexed
                None => index.remove(&entry.namespace, &coll, entry.object_id)?,
            }
        }
        Op::SchemaPut | Op::AclPut => {}
    }
    Ok(())
}
