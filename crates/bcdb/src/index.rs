//! Secondary indexes and full-text search over typed objects, in SQLite, derived from the ledger and rebuildable from it.
//!
//! The index never holds anything the ledger does not: it records the last
//! seq it applied, and a missing or stale index file is rebuilt by replaying
//! the ledger from there. Rows are written inside one long SQLite transaction
//! that spans many ledger commits: the index needs no durability of its own,
//! since the ledger is the record, and committing SQLite per ledger commit
//! used to cost two thirds of a typed write (every dirty B-tree page copied
//! to the WAL each time). Reads share the connection, so they see rows not
//! yet committed. The transaction commits every [`FLUSH_ROWS`] statements or
//! [`FLUSH_INTERVAL`], and when the index is dropped; `applied` is updated in
//! the same transaction, so a crash leaves the index at some earlier ledger
//! commit and the replay on open brings it forward.
//!
//! Every (namespace, collection, field) is interned once in `columns` as a
//! small integer `cid`, so index keys are `(cid, value, id)` rather than
//! repeating the names in every row. Tables: `field_index (cid, value, id)`
//! for `*`/`**`/`&` fields (values keep their SQLite type, so integers and
//! reals compare as numbers and text as text), `uniq (cid, value) → id` for
//! `&` fields, and a contentless FTS5 table for `***` fields whose rowid is
//! `cid << 40 | id`, so an object's document is found without a lookup
//! table (object ids in an indexed collection stay below 2^40).
//!
//! Nothing is indexed by object: removing an object's rows takes the rows
//! its previous version produced ([`Index::remove`]), which the caller
//! derives from that version in the ledger. That keeps a typed write at one
//! B-tree insert per indexed field.
//!
//! `meta` holds `format`: an index file of another format is emptied and
//! rebuilt from the ledger.

mod boot;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::object::IndexValue;

/// Layout version of the tables below; another one is dropped and rebuilt.
const FORMAT: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS columns (
    cid INTEGER PRIMARY KEY, ns BLOB NOT NULL, coll TEXT NOT NULL, field TEXT NOT NULL,
    kind INTEGER NOT NULL,
    UNIQUE (ns, coll, field, kind)
);
CREATE TABLE IF NOT EXISTS field_index (
    cid INTEGER NOT NULL, value ANY, id INTEGER NOT NULL, PRIMARY KEY (cid, value, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uniq (
    cid INTEGER NOT NULL, value ANY, id INTEGER NOT NULL, PRIMARY KEY (cid, value)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text, content='', contentless_delete=1);
";

/// Every table an index file of any format may hold.
const DROP_ALL: &str = "
DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS columns; DROP TABLE IF EXISTS field_index;
DROP TABLE IF EXISTS uniq; DROP TABLE IF EXISTS fts_docs; DROP TABLE IF EXISTS fts;
";

/// Bits of an FTS rowid that hold the object id (the rest hold the cid).
const ID_BITS: u32 = 40;

/// What a column holds: values in `field_index`/`uniq`, or text in `fts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Value = 0,
    Text = 1,
}

/// The index rows of one version of an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Indexed field values (`*`, `**`, `&`, and nested ones flattened).
    pub values: Vec<(String, IndexValue)>,
    /// Which of `values`' fields are unique (`&`).
    pub unique: Vec<String>,
    /// Full-text (`***`) fields and their text.
    pub text: Vec<(String, String)>,
}

/// Statements after which the open transaction is committed.
pub const FLUSH_ROWS: usize = 200_000;
/// Time after which the open transaction is committed.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);
/// Most results one query returns.
pub const MAX_LIMIT: usize = 10_000;

/// One condition of a [`Index::find`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `field = value`.
    Eq(String, IndexValue),
    /// `lo <= field <= hi` (either bound may be open).
    Range(String, Option<IndexValue>, Option<IndexValue>),
    /// Text `field` starts with the prefix.
    Prefix(String, String),
}

/// Why the index failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// SQLite failed.
    #[error("index: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The index files could not be checked or removed.
    #[error("index files: {0}")]
    Io(#[from] std::io::Error),
    /// A unique field's value is taken by another object.
    #[error("unique field {field:?} already holds this value")]
    Unique {
        /// The field.
        field: String,
        /// The object holding the value.
        id: u64,
    },
    /// A bad query.
    #[error("{0}")]
    Query(String),
}

fn sql(v: &IndexValue) -> SqlValue {
    match v {
        IndexValue::Text(s) => SqlValue::Text(s.clone()),
        IndexValue::Integer(i) => SqlValue::Integer(*i),
        IndexValue::Real(f) => SqlValue::Real(*f),
        IndexValue::Boolean(b) => SqlValue::Integer(i64::from(*b)),
    }
}

/// Field name → the cid of its value column and of its text column.
type FieldCids = HashMap<String, [Option<i64>; 2]>;

/// The SQLite index of one BCDB instance.
pub struct Index {
    conn: Connection,
    in_tx: bool,
    /// Statements in the open transaction.
    pending: usize,
    /// When the open transaction began.
    since: Instant,
    /// Interned namespace → collection → field → cid of each [`Kind`].
    cids: HashMap<Vec<u8>, HashMap<String, FieldCids>>,
    /// The index file, when it runs unsynced behind an open marker (see `boot`).
    unsynced: Option<PathBuf>,
}

impl Index {
    /// Opens (creating) the index file at `path`.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        let boot = boot::boot_id();
        if let Some(boot) = &boot {
            if !boot::trusted(path, boot)? {
                tracing::warn!(
                    "the machine went down while the index was open; rebuilding it from the ledger"
                );
                boot::discard(path)?;
            }
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = if boot.is_some() { "OFF" } else { "NORMAL" };
        conn.pragma_update(None, "synchronous", sync)?;
        if let Some(boot) = &boot {
            boot::mark_open(path, boot)?;
        }
        // A 64 MiB page cache keeps the index B-trees' upper levels in memory at millions of rows.
        conn.pragma_update(None, "cache_size", -65536)?;
        let format: Option<i64> = conn
            .query_row("SELECT v FROM meta WHERE k = 'format'", [], |r| r.get(0))
            .optional()
            .unwrap_or(None);
        if format != Some(FORMAT) {
            conn.execute_batch(DROP_ALL)?;
            conn.execute_batch(SCHEMA)?;
            conn.execute("INSERT INTO meta (k, v) VALUES ('format', ?1)", [FORMAT])?;
            // Merging segments less eagerly: 8% more typed writes per second
            // at 200k objects, with one-word searches as fast as at 4.
            conn.execute("INSERT INTO fts (fts, rank) VALUES ('automerge', 8)", [])?;
        }
        Ok(Index {
            conn,
            in_tx: false,
            pending: 0,
            since: Instant::now(),
            cids: HashMap::new(),
            unsynced: boot.map(|_| path.to_path_buf()),
        })
    }

    /// The next ledger seq this index has not applied.
    pub fn applied(&self) -> Result<u64, IndexError> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT v FROM meta WHERE k = 'applied'", [], |r| r.get(0))
            .optional()?;
        Ok(v.map_or(0, |v| v as u64))
    }

    fn begin(&mut self) -> Result<(), IndexError> {
        if !self.in_tx {
            self.conn.execute_batch("BEGIN")?;
            self.in_tx = true;
            self.pending = 0;
            self.since = Instant::now();
        }
        Ok(())
    }

    /// Records that every ledger entry before `next_seq` is indexed, and
    /// commits the open transaction when it is large or old enough, or when
    /// `force`.
    pub fn commit(&mut self, next_seq: u64, force: bool) -> Result<(), IndexError> {
        self.begin()?;
        self.conn
            .prepare_cached(
                "INSERT INTO meta (k, v) VALUES ('applied', ?1) ON CONFLICT (k) DO UPDATE SET v = ?1",
            )?
            .execute([next_seq as i64])?;
        if force || self.pending >= FLUSH_ROWS || self.since.elapsed() >= FLUSH_INTERVAL {
            self.conn.execute_batch("COMMIT")?;
            self.in_tx = false;
        }
        Ok(())
    }

    /// Empties every table (the ledger no longer holds what the index does).
    pub fn clear(&mut self) -> Result<(), IndexError> {
        self.begin()?;
        self.conn.execute_batch(
            "DELETE FROM meta WHERE k = 'applied'; DELETE FROM columns; DELETE FROM field_index; \
             DELETE FROM uniq; DELETE FROM fts;",
        )?;
        self.cids.clear();
        Ok(())
    }

    /// The interned cid of (ns, coll, field) as a `kind` column, if this index has used it.
    fn cached(&self, ns: &[u8], coll: &str, field: &str, kind: Kind) -> Option<i64> {
        self.cids.get(ns)?.get(coll)?.get(field)?[kind as usize]
    }

    /// The cid of (ns, coll, field) as a `kind` column, if it was ever indexed.
    fn cid(
        &self,
        ns: &[u8],
        coll: &str,
        field: &str,
        kind: Kind,
    ) -> Result<Option<i64>, IndexError> {
        if let Some(cid) = self.cached(ns, coll, field, kind) {
            return Ok(Some(cid));
        }
        Ok(self
            .conn
            .prepare_cached(
                "SELECT cid FROM columns WHERE ns = ?1 AND coll = ?2 AND field = ?3 AND kind = ?4",
            )?
            .query_row(params![ns, coll, field, kind as i64], |r| r.get(0))
            .optional()?)
    }

    /// The cid of (ns, coll, field) as a `kind` column, interned on first use.
    fn cid_or_new(
        &mut self,
        ns: &[u8],
        coll: &str,
        field: &str,
        kind: Kind,
    ) -> Result<i64, IndexError> {
        if let Some(cid) = self.cached(ns, coll, field, kind) {
            return Ok(cid);
        }
        let cid = match self.cid(ns, coll, field, kind)? {
            Some(cid) => cid,
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO columns (ns, coll, field, kind) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![ns, coll, field, kind as i64])?;
                self.conn.last_insert_rowid()
            }
        };
        let slot = self
            .cids
            .entry(ns.to_vec())
            .or_default()
            .entry(coll.to_string())
            .or_default()
            .entry(field.to_string())
            .or_default();
        slot[kind as usize] = Some(cid);
        Ok(cid)
    }

    /// The cids of every `kind` column of (ns, coll).
    fn cids_of(&self, ns: &[u8], coll: &str, kind: Kind) -> Result<Vec<i64>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT cid FROM columns WHERE ns = ?1 AND coll = ?2 AND kind = ?3")?;
        let rows = stmt.query_map(params![ns, coll, kind as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The object holding `value` in unique field `field`, if any.
    pub fn unique_holder(
        &self,
        ns: &[u8],
        coll: &str,
        field: &str,
        value: &IndexValue,
    ) -> Result<Option<u64>, IndexError> {
        let Some(cid) = self.cid(ns, coll, field, Kind::Value)? else {
            return Ok(None);
        };
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM uniq WHERE cid = ?1 AND value = ?2")?
            .query_row(params![cid, sql(value)], |r| r.get(0))
            .optional()?;
        Ok(id.map(|i| i as u64))
    }

    /// Fails when a unique field of `rows` holds a value another object than `id` holds.
    pub fn check_unique(
        &self,
        ns: &[u8],
        coll: &str,
        id: Option<u64>,
        rows: &Rows,
    ) -> Result<(), IndexError> {
        let unique = rows.values.iter().filter(|(f, _)| rows.unique.contains(f));
        for (field, value) in unique {
            if let Some(holder) = self.unique_holder(ns, coll, field, value)? {
                if Some(holder) != id {
                    return Err(IndexError::Unique {
                        field: field.clone(),
                        id: holder,
                    });
                }
            }
        }
        Ok(())
    }

    /// The FTS rowid of object `id`'s text in column `cid`.
    fn doc(cid: i64, id: u64) -> Result<i64, IndexError> {
        if id >= 1 << ID_BITS || cid >= 1 << (63 - ID_BITS) {
            return Err(IndexError::Query(format!(
                "object id {id} is too large for full-text indexing (below 2^{ID_BITS})"
            )));
        }
        Ok(cid << ID_BITS | id as i64)
    }

    /// Adds the rows of object `id` (a creation, or after [`Index::remove`] of the old ones).
    pub fn insert(
        &mut self,
        ns: &[u8],
        coll: &str,
        id: u64,
        rows: &Rows,
    ) -> Result<(), IndexError> {
        self.begin()?;
        for (field, value) in &rows.values {
            let cid = self.cid_or_new(ns, coll, field, Kind::Value)?;
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO field_index VALUES (?1, ?2, ?3)")?
                .execute(params![cid, sql(value), id as i64])?;
            self.pending += 1;
            if rows.unique.contains(field) {
                self.conn
                    .prepare_cached("INSERT OR REPLACE INTO uniq VALUES (?1, ?2, ?3)")?
                    .execute(params![cid, sql(value), id as i64])?;
                self.pending += 1;
            }
        }
        for (field, body) in &rows.text {
            let cid = self.cid_or_new(ns, coll, field, Kind::Text)?;
            self.conn
                .prepare_cached("INSERT INTO fts (rowid, text) VALUES (?1, ?2)")?
                .execute(params![Index::doc(cid, id)?, body])?;
            self.pending += 1;
        }
        Ok(())
    }

    /// Removes the rows of object `id` that one of its versions produced.
    pub fn remove(
        &mut self,
        ns: &[u8],
        coll: &str,
        id: u64,
        rows: &Rows,
    ) -> Result<(), IndexError> {
        self.begin()?;
        for (field, value) in &rows.values {
            let Some(cid) = self.cid(ns, coll, field, Kind::Value)? else {
                continue;
            };
            self.conn
                .prepare_cached(
                    "DELETE FROM field_index WHERE cid = ?1 AND value = ?2 AND id = ?3",
                )?
                .execute(params![cid, sql(value), id as i64])?;
            self.pending += 1;
            if rows.unique.contains(field) {
                self.conn
                    .prepare_cached("DELETE FROM uniq WHERE cid = ?1 AND value = ?2 AND id = ?3")?
                    .execute(params![cid, sql(value), id as i64])?;
                self.pending += 1;
            }
        }
        for (field, _) in &rows.text {
            let Some(cid) = self.cid(ns, coll, field, Kind::Text)? else {
                continue;
            };
            self.conn
                .prepare_cached("DELETE FROM fts WHERE rowid = ?1")?
                .execute([Index::doc(cid, id)?])?;
            self.pending += 1;
        }
        Ok(())
    }

    /// Ids of objects matching every condition, ascending, above `after`, at most `limit`.
    pub fn find(
        &self,
        ns: &[u8],
        coll: &str,
        conds: &[Cond],
        after: u64,
        limit: usize,
    ) -> Result<Vec<u64>, IndexError> {
        let Some((sql_text, args)) = self.query(ns, coll, conds, after)? else {
            return Ok(Vec::new());
        };
        let sql_text = format!("{sql_text} ORDER BY id LIMIT {}", limit.min(MAX_LIMIT));
        let mut stmt = self.conn.prepare_cached(&sql_text)?;
        let ids = stmt.query_map(params_from_iter(args), |r| r.get::<_, i64>(0))?;
        Ok(ids.map(|i| i.map(|i| i as u64)).collect::<Result<_, _>>()?)
    }

    /// How many objects match every condition.
    pub fn count(&self, ns: &[u8], coll: &str, conds: &[Cond]) -> Result<u64, IndexError> {
        let Some((sql_text, args)) = self.query(ns, coll, conds, 0)? else {
            return Ok(0);
        };
        let sql_text = format!("SELECT COUNT(*) FROM ({sql_text})");
        let n: i64 = self
            .conn
            .query_row(&sql_text, params_from_iter(args), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Ids whose full-text fields match the FTS5 `query`, best first.
    pub fn search(
        &self,
        ns: &[u8],
        coll: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<u64>, IndexError> {
        let cids = self.cids_of(ns, coll, Kind::Text)?;
        if cids.is_empty() {
            return Ok(Vec::new());
        }
        // one text field: a rowid range FTS5 can seek to; more: a filter on the matches
        let within = match cids[..] {
            [cid] => format!(
                "rowid >= {} AND rowid < {}",
                cid << ID_BITS,
                (cid + 1) << ID_BITS
            ),
            _ => format!(
                "(rowid >> {ID_BITS}) IN ({})",
                cids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT rowid & {mask} AS id FROM fts WHERE fts MATCH ?1 AND {within} \
             GROUP BY id ORDER BY min(rank) LIMIT ?2",
            mask = (1i64 << ID_BITS) - 1
        ))?;
        let bad =
            |e: rusqlite::Error| IndexError::Query(format!("bad search query {query:?}: {e}"));
        let rows = stmt
            .query_map(params![query, limit.min(MAX_LIMIT) as i64], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(bad)?;
        rows.map(|i| i.map(|i| i as u64))
            .collect::<Result<_, _>>()
            .map_err(bad)
    }

    /// The SELECT of ids matching `conds` (an INTERSECT of one SELECT per
    /// condition), or `None` when a field was never indexed (nothing matches).
    fn query(
        &self,
        ns: &[u8],
        coll: &str,
        conds: &[Cond],
        after: u64,
    ) -> Result<Option<(String, Vec<SqlValue>)>, IndexError> {
        if conds.is_empty() {
            return Err(IndexError::Query("give at least one condition".into()));
        }
        if conds.len() > 16 {
            return Err(IndexError::Query("at most 16 conditions".into()));
        }
        let mut parts = Vec::new();
        let mut args: Vec<SqlValue> = Vec::new();
        for cond in conds {
            let field = match cond {
                Cond::Eq(f, _) | Cond::Range(f, _, _) | Cond::Prefix(f, _) => f,
            };
            let Some(cid) = self.cid(ns, coll, field, Kind::Value)? else {
                return Ok(None);
            };
            let base = "SELECT id FROM field_index WHERE cid = ? AND id > ?";
            args.extend([SqlValue::Integer(cid), SqlValue::Integer(after as i64)]);
            match cond {
                Cond::Eq(_, v) => {
                    args.push(sql(v));
                    parts.push(format!("{base} AND value = ?"));
                }
                Cond::Range(_, lo, hi) => {
                    let mut text = base.to_string();
                    if let Some(lo) = lo {
                        text.push_str(" AND value >= ?");
                        args.push(sql(lo));
                    }
                    if let Some(hi) = hi {
                        text.push_str(" AND value <= ?");
                        args.push(sql(hi));
                    }
                    parts.push(text);
                }
                Cond::Prefix(_, prefix) => {
                    // [prefix, prefix + U+10FFFF) covers exactly the strings starting with prefix
                    args.extend([
                        SqlValue::Text(prefix.clone()),
                        SqlValue::Text(format!("{prefix}\u{10FFFF}")),
                    ]);
                    parts.push(format!("{base} AND value >= ? AND value < ?"));
                }
            }
        }
        Ok(Some((parts.join(" INTERSECT "), args)))
    }
}

impl Drop for Index {
    /// Commits what is indexed so far, so a clean close replays nothing.
    fn drop(&mut self) {
        if self.in_tx {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                tracing::warn!("index: commit at close failed ({e}); it is rebuilt from the ledger at the next open");
                return;
            }
        }
        if let Some(path) = &self.unsynced {
            // close with fsyncs on (the last connection checkpoints the WAL into the file as it
            // closes), make what is left durable, then say the close was clean
            let closed = self
                .conn
                .pragma_update(None, "synchronous", "FULL")
                .and_then(|()| Connection::open_in_memory())
                .map(|spare| std::mem::replace(&mut self.conn, spare))
                .and_then(|conn| conn.close().map_err(|(_, e)| e))
                .map_err(|e| e.to_string())
                .and_then(|()| boot::mark_closed(path).map_err(|e| e.to_string()));
            if let Err(e) = closed {
                tracing::warn!("index: clean close failed ({e}); the next open in this boot keeps it, after a restart it is rebuilt");
            }
        }
    }
}
