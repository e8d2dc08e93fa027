//! Secondary indexes and full-text search over typed objects, in memory, derived from the
//! ledger: [`crate::db::Bcdb::open`] rebuilds them by replaying it, so they hold nothing the
//! ledger does not and need no durability, crash recovery or file format of their own.
//!
//! Every (namespace, collection) has a value [`column::Column`] per indexed field
//! (`*`/`**`/`&`, nested ones flattened as `outer__inner`), ordered by [`key::Key`]:
//! numbers before text, integers and reals compared as numbers. Equality, ranges and
//! prefixes are key ranges of a column; several conditions intersect, probing the smaller
//! candidate list against the others. Unique fields are columns too: a value's holders
//! say whether another object holds it. Full text (`***` fields) goes to the collection's
//! [`text::TextIndex`], one document per object.
//!
//! Nothing is indexed by object: removing an object's rows takes the rows its previous
//! version produced ([`Index::remove`]), which the caller derives from that version in the
//! ledger. A typed write is a handful of B-tree inserts in memory: the SQLite index this
//! replaces spent two thirds of a typed write in its B-trees and FTS5 at a million objects
//! (see BENCHMARKS.md).

mod column;
mod key;
mod text;

use std::collections::HashMap;
use std::ops::Bound;

use crate::object::IndexValue;
use column::{Column, Ids};
use key::Key;
use text::TextIndex;

pub use text::{MAX_PREFIX_TERMS, MAX_QUERY_BYTES, MAX_QUERY_TERMS};

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

/// Most results one query returns.
pub const MAX_LIMIT: usize = 10_000;
/// Most conditions one find takes.
pub const MAX_CONDITIONS: usize = 16;

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

impl Cond {
    fn field(&self) -> &str {
        match self {
            Cond::Eq(f, _) | Cond::Range(f, _, _) | Cond::Prefix(f, _) => f,
        }
    }
}

/// Why the index refused.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
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

/// The indexes of one collection.
#[derive(Default)]
struct Collection {
    values: HashMap<String, Column>,
    text: TextIndex,
}

/// The indexes of one BCDB instance.
#[derive(Default)]
pub struct Index {
    collections: HashMap<Vec<u8>, HashMap<String, Collection>>,
}

/// An index built from many objects at once, as a replay does: value rows are gathered,
/// then each column is sorted and loaded in one pass (see [`Column::from_rows`]).
#[derive(Default)]
pub struct Bulk {
    /// Text goes straight in; value columns wait in `rows`.
    index: Index,
    rows: HashMap<Vec<u8>, HashMap<String, ColumnRows>>,
}

/// Field → its (value, holder) rows, not yet sorted.
type ColumnRows = HashMap<String, Vec<(Key, u64)>>;

impl Bulk {
    /// Adds the rows of object `id`; each object at most once.
    pub fn add(&mut self, ns: &[u8], coll: &str, id: u64, rows: Rows) {
        let columns = self
            .rows
            .entry(ns.to_vec())
            .or_default()
            .entry(coll.to_owned())
            .or_default();
        for (field, value) in rows.values {
            columns
                .entry(field)
                .or_default()
                .push((Key::of(&value), id));
        }
        if !rows.text.is_empty() {
            let fields: Vec<&str> = rows.text.iter().map(|(_, body)| body.as_str()).collect();
            self.index.collection_mut(ns, coll).text.insert(id, &fields);
        }
    }

    /// The index of everything added.
    pub fn finish(self) -> Index {
        let mut index = self.index;
        for (ns, colls) in self.rows {
            for (coll, columns) in colls {
                let collection = index.collection_mut(&ns, &coll);
                for (field, rows) in columns {
                    collection.values.insert(field, Column::from_rows(rows));
                }
            }
        }
        index
    }
}

/// Where the ids matching one condition come from.
enum Source<'a> {
    /// The holders of one value.
    Held(&'a Ids),
    /// Ids above the cursor, ascending and distinct.
    Listed(Vec<u64>),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Held(ids) => ids.len(),
            Source::Listed(ids) => ids.len(),
        }
    }

    fn contains(&self, id: u64) -> bool {
        match self {
            Source::Held(ids) => ids.contains(id),
            Source::Listed(ids) => ids.binary_search(&id).is_ok(),
        }
    }

    fn above(&self, after: u64) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Source::Held(ids) => ids.above(after),
            Source::Listed(ids) => {
                let from = ids.partition_point(|&id| id <= after);
                Box::new(ids[from..].iter().copied())
            }
        }
    }
}

impl Index {
    /// An empty index.
    pub fn new() -> Index {
        Index::default()
    }

    fn collection(&self, ns: &[u8], coll: &str) -> Option<&Collection> {
        self.collections.get(ns)?.get(coll)
    }

    fn collection_mut(&mut self, ns: &[u8], coll: &str) -> &mut Collection {
        if !self.collections.contains_key(ns) {
            self.collections.insert(ns.to_vec(), HashMap::new());
        }
        let colls = self.collections.get_mut(ns).expect("inserted above");
        if !colls.contains_key(coll) {
            colls.insert(coll.to_owned(), Collection::default());
        }
        colls.get_mut(coll).expect("inserted above")
    }

    /// Fails when a unique field of `rows` holds a value another object than `id` holds.
    pub fn check_unique(
        &self,
        ns: &[u8],
        coll: &str,
        id: Option<u64>,
        rows: &Rows,
    ) -> Result<(), IndexError> {
        let Some(collection) = self.collection(ns, coll) else {
            return Ok(());
        };
        let unique = rows.values.iter().filter(|(f, _)| rows.unique.contains(f));
        for (field, value) in unique {
            let holder = collection
                .values
                .get(field.as_str())
                .and_then(|column| column.get(&Key::of(value)))
                .and_then(|ids| ids.other_than(id));
            if let Some(holder) = holder {
                return Err(IndexError::Unique {
                    field: field.clone(),
                    id: holder,
                });
            }
        }
        Ok(())
    }

    /// Adds the rows of object `id` (a creation, or after [`Index::remove`] of the old ones).
    pub fn insert(&mut self, ns: &[u8], coll: &str, id: u64, rows: &Rows) {
        let collection = self.collection_mut(ns, coll);
        for (field, value) in &rows.values {
            match collection.values.get_mut(field.as_str()) {
                Some(column) => column.insert(Key::of(value), id),
                None => {
                    let mut column = Column::default();
                    column.insert(Key::of(value), id);
                    collection.values.insert(field.clone(), column);
                }
            }
        }
        if !rows.text.is_empty() {
            let fields: Vec<&str> = rows.text.iter().map(|(_, body)| body.as_str()).collect();
            collection.text.insert(id, &fields);
        }
    }

    /// Removes the rows of object `id` that one of its versions produced.
    pub fn remove(&mut self, ns: &[u8], coll: &str, id: u64, rows: &Rows) {
        if let Some(collection) = self.remove_values(ns, coll, id, rows) {
            collection.text.remove(id);
        }
    }

    /// Replaces the rows `old` of object `id` by `new` (an update): as [`Index::remove`]
    /// then [`Index::insert`], except that the object's text document is replaced in place,
    /// touching only the words that changed.
    pub fn replace(&mut self, ns: &[u8], coll: &str, id: u64, old: &Rows, new: &Rows) {
        if let Some(collection) = self.remove_values(ns, coll, id, old) {
            if new.text.is_empty() {
                collection.text.remove(id);
            }
        }
        self.insert(ns, coll, id, new);
    }

    /// Removes the value rows of `rows`; the collection, if it has any index.
    fn remove_values(
        &mut self,
        ns: &[u8],
        coll: &str,
        id: u64,
        rows: &Rows,
    ) -> Option<&mut Collection> {
        let collection = self.collections.get_mut(ns)?.get_mut(coll)?;
        for (field, value) in &rows.values {
            if let Some(column) = collection.values.get_mut(field.as_str()) {
                column.remove(&Key::of(value), id);
            }
        }
        Some(collection)
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
        let limit = limit.min(MAX_LIMIT);
        let mut ids = Vec::new();
        if limit > 0 {
            self.walk(ns, coll, conds, after, &mut |id| {
                ids.push(id);
                ids.len() < limit
            })?;
        }
        Ok(ids)
    }

    /// How many objects match every condition.
    pub fn count(&self, ns: &[u8], coll: &str, conds: &[Cond]) -> Result<u64, IndexError> {
        let mut n = 0;
        self.walk(ns, coll, conds, 0, &mut |_| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Ids whose full-text fields match `query`, best first (see [`text`] for the syntax).
    pub fn search(
        &self,
        ns: &[u8],
        coll: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<u64>, IndexError> {
        let empty = TextIndex::new();
        let text = self.collection(ns, coll).map_or(&empty, |c| &c.text);
        text.search(query, limit.min(MAX_LIMIT))
            .map_err(|e| IndexError::Query(format!("bad search query {query:?}: {e}")))
    }

    /// Calls `visit` with the ids matching every condition above `after`, ascending, until
    /// it returns false. A field never indexed in this collection matches nothing.
    fn walk(
        &self,
        ns: &[u8],
        coll: &str,
        conds: &[Cond],
        after: u64,
        visit: &mut dyn FnMut(u64) -> bool,
    ) -> Result<(), IndexError> {
        if conds.is_empty() {
            return Err(IndexError::Query("give at least one condition".into()));
        }
        if conds.len() > MAX_CONDITIONS {
            return Err(IndexError::Query(format!(
                "at most {MAX_CONDITIONS} conditions"
            )));
        }
        let Some(collection) = self.collection(ns, coll) else {
            return Ok(());
        };
        let mut columns = Vec::with_capacity(conds.len());
        for cond in conds {
            let Some(column) = collection.values.get(cond.field()) else {
                return Ok(());
            };
            columns.push((column, cond));
        }
        // equalities first: they cost a lookup, and one that matches nothing spares listing
        // every holder of the ranges
        columns.sort_by_key(|(_, cond)| !matches!(cond, Cond::Eq(..)));
        let mut sources = Vec::with_capacity(conds.len());
        for (column, cond) in columns {
            let source = source(column, cond, after);
            if source.len() == 0 {
                return Ok(());
            }
            sources.push(source);
        }
        // walk the smallest list, probe the others
        sources.sort_by_key(Source::len);
        let (first, rest) = sources.split_first().expect("at least one condition");
        for id in first.above(after) {
            if rest.iter().all(|s| s.contains(id)) && !visit(id) {
                break;
            }
        }
        Ok(())
    }
}

/// The ids above `after` that satisfy `cond` in `column`.
fn source<'a>(column: &'a Column, cond: &Cond, after: u64) -> Source<'a> {
    match cond {
        Cond::Eq(_, value) => match column.get(&Key::of(value)) {
            Some(ids) => Source::Held(ids),
            None => Source::Listed(Vec::new()),
        },
        Cond::Range(_, lo, hi) => {
            let (lo, hi) = (lo.as_ref().map(Key::of), hi.as_ref().map(Key::of));
            Source::Listed(column.within(included(&lo), included(&hi), after))
        }
        Cond::Prefix(_, prefix) => Source::Listed(column.prefixed(prefix, after)),
    }
}

/// An inclusive bound, or none.
fn included(key: &Option<Key>) -> Bound<&Key> {
    key.as_ref().map_or(Bound::Unbounded, Bound::Included)
}
