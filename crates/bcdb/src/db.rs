//! The database a server or the explorer embeds: commands in, through the state machine, into the ledger; reads from the state and the log.

use std::path::Path;

use identity::KeyPair;

use crate::acl::Caller;
use crate::checkpoint::Checkpoint;
use crate::entry::{Entry, Op};
use crate::index::{Bulk, Cond, Index, IndexError, Rows};
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
    /// A recorded entry could not be applied: memory and ledger disagree.
    #[error("recorded entry does not apply: {0}")]
    Inconsistent(ApplyError),
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

/// The index rows of `value`, an object of `schema` recorded at `seq`. Embedded objects are
/// read with the newest version of their schema registered before `seq`, as they were when
/// the object was written: an update removes exactly the rows its previous version produced
/// even if an embedded schema has since renamed or unindexed a field.
fn rows(ns: &NamespaceState, schema: &Schema, value: &[u8], seq: u64) -> Option<Rows> {
    let resolve = |url: &str| {
        ns.schemas
            .get(url)?
            .iter()
            .rev()
            .find(|(registered, _)| *registered < seq)
            .map(|(_, s)| s.clone())
    };
    let object = Object::decode(value, schema, &resolve).ok()?;
    let (values, text) = object.index_columns(schema, &resolve);
    Some(Rows {
        values,
        unique: schema
            .fields()
            .iter()
            .filter(|f| f.is_unique())
            .map(|f| f.name().to_string())
            .collect(),
        text,
    })
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
        let started = std::time::Instant::now();
        let mut state = State::with_owner(key.public());
        tracing::info!(dir = %dir.display(), "replaying the ledger");
        let mut ledger = Ledger::open_with(dir, key, origin, |entry, value| {
            state.apply(entry, value).map_err(DbError::from)
        })?;
        let replayed = started.elapsed();
        // the indexes live in memory: built again from the live objects the replay left
        let index = build_index(&mut ledger, &state)?;
        tracing::info!(
            entries = ledger.len(),
            replay_s = replayed.as_secs_f64(),
            index_s = (started.elapsed() - replayed).as_secs_f64(),
            "ledger replayed and indexes loaded"
        );
        Ok(Bcdb {
            ledger,
            state,
            validator,
            index,
        })
    }

    /// Plans `command` against the current state, records its entries and
    /// applies them, as the instance owner. Durable (and covered by a
    /// checkpoint) after [`Bcdb::commit`].
    pub fn execute(&mut self, command: &Command) -> Result<Vec<Applied>, DbError> {
        self.execute_as(&Caller::Owner, command)
    }

    /// [`Bcdb::execute`] on behalf of `caller`: refused unless its access
    /// rights (or the command's author signature) allow it.
    pub fn execute_as(
        &mut self,
        caller: &Caller,
        command: &Command,
    ) -> Result<Vec<Applied>, DbError> {
        let seq = self.ledger.len();
        let planned = self
            .state
            .plan(command, caller, seq, now_ms(), &*self.validator)?;
        // decoded once: for the unique check and for the index
        let rows: Vec<Option<Rows>> = planned
            .iter()
            .map(|(entry, value)| typed_rows(&self.state, entry, value))
            .collect();
        for ((entry, _), rows) in planned.iter().zip(&rows) {
            self.check_unique(entry, rows.as_ref())?;
        }
        let mut applied = Vec::with_capacity(planned.len());
        for ((entry, value), rows) in planned.into_iter().zip(rows) {
            let old = previous_rows(&mut self.ledger, &self.state, &entry)?;
            self.ledger.append_planned(&entry, &value)?;
            // planned against this very state, so it applies; if not, nothing after is safe
            self.state
                .apply(&entry, &value)
                .map_err(DbError::Inconsistent)?;
            index_entry(&mut self.index, &entry, rows, old);
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

    /// [`Bcdb::commit`] in two halves, so others may execute while the disk syncs: this one
    /// writes what was executed and returns how many entries that is and a handle to fsync
    /// them; [`Bcdb::seal`] then signs their checkpoint.
    pub fn commit_later(&mut self) -> Result<(u64, zdb::SyncHandle), DbError> {
        Ok(self.ledger.commit_later()?)
    }

    /// Signs the checkpoint of the first `size` entries once they are durable (see
    /// [`Bcdb::commit_later`]).
    pub fn seal(&mut self, size: u64) -> Result<Checkpoint, DbError> {
        Ok(self.ledger.seal(size)?)
    }

    /// Refuses a typed write whose unique fields are held by another object.
    fn check_unique(&self, entry: &Entry, rows: Option<&Rows>) -> Result<(), DbError> {
        let Some(rows) = rows else {
            return Ok(());
        };
        let coll = String::from_utf8_lossy(&entry.collection);
        let id = (entry.op == Op::Put).then_some(entry.object_id);
        self.index
            .check_unique(&entry.namespace, &coll, id, rows)
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

    /// Ids of objects of `url` whose full-text fields match `query` (see [`crate::index`] for
    /// the syntax), best first.
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

    /// Entries recorded, committed or not.
    pub fn len(&self) -> u64 {
        self.ledger.len()
    }

    /// Whether nothing was ever recorded.
    pub fn is_empty(&self) -> bool {
        self.ledger.len() == 0
    }

    /// Entries covered by the latest checkpoint (durable, when it was committed durably).
    pub fn committed(&self) -> u64 {
        self.ledger.checkpoint().map_or(0, |cp| cp.size)
    }
}

/// The indexes of every live typed object, from its latest version in the ledger: what
/// indexing each entry in turn would leave, since an update removes exactly the rows of
/// the version it replaces, but loaded in bulk. (Decoding on a second thread was no faster:
/// freeing rows allocated by another thread costs the allocator more than it saves.)
fn build_index(ledger: &mut Ledger, state: &State) -> Result<Index, DbError> {
    let mut bulk = Bulk::default();
    for (ns, objects) in state.namespaces() {
        for object in objects.objects.values() {
            if object.deleted || object.collection.is_empty() {
                continue;
            }
            let Some(&latest) = object.history.last() else {
                continue;
            };
            let (entry, value) = ledger.get(latest)?;
            if let Some(rows) = typed_rows(state, &entry, &value) {
                let coll = String::from_utf8_lossy(&entry.collection);
                bulk.add(ns, &coll, entry.object_id, rows);
            }
        }
    }
    Ok(bulk.finish())
}

/// The index rows of a typed create or put (`None` for anything else, or a
/// value that is not an object of a known schema version). A create or put
/// planned against `state` names a namespace and schema it holds.
fn typed_rows(state: &State, entry: &Entry, value: &[u8]) -> Option<Rows> {
    if !matches!(entry.op, Op::Create | Op::Put) || entry.collection.is_empty() {
        return None;
    }
    let ns = state.namespace(&entry.namespace)?;
    rows(ns, schema_of(ns, entry)?, value, entry.seq)
}

/// The rows the version of `entry`'s object before `entry` produced, if
/// `entry` replaces or deletes a typed object (read back from the ledger).
fn previous_rows(
    ledger: &mut Ledger,
    state: &State,
    entry: &Entry,
) -> Result<Option<Rows>, DbError> {
    if !matches!(entry.op, Op::Put | Op::Delete) || entry.collection.is_empty() {
        return Ok(None);
    }
    let Some(object) = state
        .namespace(&entry.namespace)
        .and_then(|ns| ns.objects.get(&entry.object_id))
    else {
        return Ok(None);
    };
    let Some(&before) = object.history.iter().rev().find(|&&seq| seq < entry.seq) else {
        return Ok(None);
    };
    let (old_entry, old_value) = ledger.get(before)?;
    Ok(typed_rows(state, &old_entry, &old_value))
}

/// Brings the index up to date with one recorded entry, given its rows and
/// those of the version it replaces.
fn index_entry(index: &mut Index, entry: &Entry, rows: Option<Rows>, old: Option<Rows>) {
    if entry.collection.is_empty() {
        return;
    }
    let coll = String::from_utf8_lossy(&entry.collection);
    let (ns, id) = (&entry.namespace, entry.object_id);
    // a value that is not a typed object of a known schema version (validation was off) is not indexed
    let new = rows.filter(|_| matches!(entry.op, Op::Create | Op::Put));
    match (&old, &new) {
        (Some(old), Some(new)) => index.replace(ns, &coll, id, old, new),
        (Some(old), None) => index.remove(ns, &coll, id, old),
        (None, Some(new)) => index.insert(ns, &coll, id, new),
        (None, None) => {}
    }
}
