//! Secondary indexes and full-text search over typed objects, in SQLite, derived from the ledger and rebuildable from it.
//!
//! The index never holds anything the ledger does not: it records the last
//! seq it applied, and a missing or stale index file is rebuilt by replaying
//! the ledger from there. Rows are written inside one SQLite transaction per
//! ledger commit, so a crash leaves the index at a commit boundary, and the
//! replay on open brings it forward.
//!
//! Every (namespace, collection, field) is interned once in `columns` as a
//! small integer `cid`, so index keys are `(cid, value, id)` rather than
//! repeating the names in every row. Tables: `field_index (cid, value, id)`
//! for `*`/`**`/`&` fields (values keep their SQLite type, so integers and
//! reals compare as numbers and text as text), `uniq (cid, value) → id` for
//! `&` fields, and an FTS5 table for `***` fields whose rows are found
//! through `fts_docs` (doc = FTS rowid → object): FTS5 cannot look rows up
//! by an unindexed column, so deleting an object's text there would scan
//! every document.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::object::IndexValue;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS columns (
    cid INTEGER PRIMARY KEY, ns BLOB NOT NULL, coll TEXT NOT NULL, field TEXT NOT NULL,
    UNIQUE (ns, coll, field)
);
CREATE TABLE IF NOT EXISTS field_index (
    cid INTEGER NOT NULL, value ANY, id INTEGER NOT NULL, PRIMARY KEY (cid, value, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS field_index_object ON field_index (id, cid);
CREATE TABLE IF NOT EXISTS uniq (
    cid INTEGER NOT NULL, value ANY, id INTEGER NOT NULL, PRIMARY KEY (cid, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uniq_object ON uniq (id, cid);
CREATE TABLE IF NOT EXISTS fts_docs (doc INTEGER PRIMARY KEY, cid INTEGER NOT NULL, id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS fts_docs_object ON fts_docs (id, cid);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text);
";
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
    /// A unique field's value is taken by another object.
    #[error("unique field {field:?} already holds this value (object {id})")]
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

/// The SQLite index of one BCDB instance.
pub struct Index {
    conn: Connection,
    in_tx: bool,
    /// Interned (namespace, collection, field) → cid.
    cids: HashMap<(Vec<u8>, String, String), i64>,
}

impl Index {
    /// Opens (creating) the index file at `path`.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A 64 MiB page cache keeps the index B-trees' upper levels in memory at millions of rows.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Index {
            conn,
            in_tx: false,
            cids: HashMap::new(),
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
        }
        Ok(())
    }

    /// Ends the current transaction, recording `next_seq` as applied.
    pub fn commit(&mut self, next_seq: u64) -> Result<(), IndexError> {
        self.begin()?;
        self.conn.execute(
            "INSERT INTO meta (k, v) VALUES ('applied', ?1) ON CONFLICT (k) DO UPDATE SET v = ?1",
            [next_seq as i64],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.in_tx = false;
        Ok(())
    }

    /// The cid of (ns, coll, field), if it was ever indexed.
    fn cid(&self, ns: &[u8], coll: &str, field: &str) -> Result<Option<i64>, IndexError> {
        if let Some(cid) = self
            .cids
            .get(&(ns.to_vec(), coll.to_string(), field.to_string()))
        {
            return Ok(Some(*cid));
        }
        Ok(self
            .conn
            .prepare_cached("SELECT cid FROM columns WHERE ns = ?1 AND coll = ?2 AND field = ?3")?
            .query_row(params![ns, coll, field], |r| r.get(0))
            .optional()?)
    }

    /// The cid of (ns, coll, field), interned on first use.
    fn cid_or_new(&mut self, ns: &[u8], coll: &str, field: &str) -> Result<i64, IndexError> {
        let key = (ns.to_vec(), coll.to_string(), field.to_string());
        if let Some(cid) = self.cids.get(&key) {
            return Ok(*cid);
        }
        let cid = match self.cid(ns, coll, field)? {
            Some(cid) => cid,
            None => {
                self.conn
                    .prepare_cached("INSERT INTO columns (ns, coll, field) VALUES (?1, ?2, ?3)")?
                    .execute(params![ns, coll, field])?;
                self.conn.last_insert_rowid()
            }
        };
        self.cids.insert(key, cid);
        Ok(cid)
    }

    /// The cids of every field of (ns, coll).
    fn cids_of(&self, ns: &[u8], coll: &str) -> Result<Vec<i64>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT cid FROM columns WHERE ns = ?1 AND coll = ?2")?;
        let rows = stmt.query_map(params![ns, coll], |r| r.get(0))?;
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
        let Some(cid) = self.cid(ns, coll, field)? else {
            return Ok(None);
        };
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM uniq WHERE cid = ?1 AND value = ?2")?
            .query_row(params![cid, sql(value)], |r| r.get(0))
            .optional()?;
        Ok(id.map(|i| i as u64))
    }

    /// Fails when one of `unique` (field names) of `values` is held by another object than `id`.
    pub fn check_unique(
        &self,
        ns: &[u8],
        coll: &str,
        id: Option<u64>,
        values: &[(String, IndexValue)],
        unique: &[String],
    ) -> Result<(), IndexError> {
        for (field, value) in values.iter().filter(|(f, _)| unique.contains(f)) {
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

    /// Replaces the rows of object `id` with `values` (unique ones in `unique`) and `text`.
    pub fn put(
        &mut self,
        ns: &[u8],
        coll: &str,
        id: u64,
        values: &[(String, IndexValue)],
        unique: &[String],
        text: &[(String, String)],
    ) -> Result<(), IndexError> {
        self.remove(ns, coll, id)?;
        self.insert(ns, coll, id, values, unique, text)
    }

    /// [`Index::put`] for an object that has no rows yet (a creation): skips the removal.
    pub fn insert(
        &mut self,
        ns: &[u8],
        coll: &str,
        id: u64,
        values: &[(String, IndexValue)],
        unique: &[String],
        text: &[(String, String)],
    ) -> Result<(), IndexError> {
        self.begin()?;
        let id = id as i64;
        for (field, value) in values {
            let cid = self.cid_or_new(ns, coll, field)?;
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO field_index VALUES (?1, ?2, ?3)")?
                .execute(params![cid, sql(value), id])?;
            if unique.contains(field) {
                self.conn
                    .prepare_cached("INSERT OR REPLACE INTO uniq VALUES (?1, ?2, ?3)")?
                    .execute(params![cid, sql(value), id])?;
            }
        }
        for (field, body) in text {
            let cid = self.cid_or_new(ns, coll, field)?;
            self.conn
                .prepare_cached("INSERT INTO fts_docs (cid, id) VALUES (?1, ?2)")?
                .execute(params![cid, id])?;
            let doc = self.conn.last_insert_rowid();
            self.conn
                .prepare_cached("INSERT INTO fts (rowid, text) VALUES (?1, ?2)")?
                .execute(params![doc, body])?;
        }
        Ok(())
    }

    /// Removes every row of object `id`.
    pub fn remove(&mut self, ns: &[u8], coll: &str, id: u64) -> Result<(), IndexError> {
        self.begin()?;
        let id = id as i64;
        for cid in self.cids_of(ns, coll)? {
            self.conn
                .prepare_cached(
                    "DELETE FROM fts WHERE rowid IN (SELECT doc FROM fts_docs WHERE id = ?1 AND cid = ?2)",
                )?
                .execute(params![id, cid])?;
            for table in ["fts_docs", "field_index", "uniq"] {
                self.conn
                    .prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1 AND cid = ?2"))?
                    .execute(params![id, cid])?;
            }
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
        let cids = self.cids_of(ns, coll)?;
        if cids.is_empty() {
            return Ok(Vec::new());
        }
        let list = cids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT d.id FROM fts JOIN fts_docs d ON d.doc = fts.rowid \
             WHERE fts MATCH ?1 AND d.cid IN ({list}) \
             GROUP BY d.id ORDER BY min(fts.rank) LIMIT ?2"
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
            let Some(cid) = self.cid(ns, coll, field)? else {
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
