//! In-memory full-text index for one BCDB collection (replaces SQLite FTS5).
//!
//! Documents are object ids (`u64`) with one or more text fields. The index is
//! built for write throughput: inserting an object with a dozen words costs a
//! few microseconds however many documents are indexed, and removing one
//! touches only the terms it contains.
//!
//! # Tokenizer
//!
//! Text is split on every char that is not [`char::is_alphanumeric`]; tokens
//! are lowercased with [`str::to_lowercase`]; tokens longer than 64 bytes
//! (after lowercasing) are skipped, not truncated. No stemming, no stop words,
//! no diacritic folding and no Unicode normalization: `été` and `ete` differ,
//! and NFD text is split at its combining marks. Queries use the same rules.
//!
//! # Query language (a subset of FTS5's, compatible for these forms)
//!
//! - `word`: documents containing the token, case-insensitively. A bare word
//!   the tokenizer splits (`Gent-Brugge`) is a phrase; a word made only of
//!   punctuation (`-`, `.`) is a separator.
//! - `word*`: a token starting with `word`; the `*` must directly follow it.
//! - `"a phrase"`: consecutive tokens within one field (never across two
//!   fields). Phrase words may be prefixes (`"pre fix*"`); FTS5's `"pre fix"*`
//!   is accepted too, and `""` inside quotes is an escaped quote.
//! - Adjacent items are ANDed; `AND`, `OR`, `NOT` (uppercase only: `and` is a
//!   plain word) and parentheses. `a NOT b` is a and not b (NOT is binary).
//!   As in FTS5, NOT binds tightest, then AND, then OR.
//!
//! Column filters, `NEAR`, `^` and `+` are not supported (they are
//! punctuation, hence separators). A [`QueryError`] refuses: empty queries,
//! unbalanced quotes or parentheses, operators missing an operand, a `*` not
//! directly after a word, words over 64 bytes (they could never match),
//! queries over [`MAX_QUERY_BYTES`] or [`MAX_QUERY_TERMS`], prefixes matching
//! more than [`MAX_PREFIX_TERMS`] terms, parentheses nested over 32 deep.
//!
//! # Ranking
//!
//! BM25 (k1 = 1.2, b = 0.75) over the distinct positive terms of the query
//! (the right side of a NOT does not score; a prefix scores each expanded term
//! a document contains; a phrase scores its words), idf(t) = ln(1 + (N - n_t +
//! 0.5) / (n_t + 0.5)); tf and length count all fields together. Ties go to
//! the smaller id.
//!
//! # Data structures
//!
//! - dictionary: token to dense `u32` term id, in a `HashMap` for exact
//!   lookups and a `BTreeMap` for prefix ranges. Terms whose last document
//!   left are dropped and their ids recycled: memory stays bounded by churn;
//! - documents live in recycled dense `u32` slots holding the object id and
//!   the token stream as term ids, with [`FIELD_BREAK`] between fields: it
//!   gives tf, length, phrase checks and exact removal;
//! - postings per term: roaring-style chunks of slots keyed by their high 16
//!   bits, each a sorted `u16` array or, past 4096 entries, an 8 KiB bitmap.
//!   An update is a short search plus a memmove of at most 8 KiB, and a
//!   posting costs at most about 2 bytes once a chunk holds a few entries.
//!   Replacing a document keeps its slot and only touches the terms that
//!   changed, so re-saving an object with unchanged text is cheap.

use std::borrow::Cow;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

/// Longer queries are refused.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Queries with more words (bare words, phrase words and prefixes) are refused.
pub const MAX_QUERY_TERMS: usize = 64;
/// A prefix expanding to more distinct terms is refused: it would cost too much.
pub const MAX_PREFIX_TERMS: usize = 10_000;
/// Longest indexed token in bytes; longer ones are mostly junk (hashes, base64).
const MAX_TOKEN_BYTES: usize = 64;
/// Deepest parenthesis nesting; bounds the parser's recursion and stack use.
const MAX_NESTING: usize = 32;
/// Separates fields in a token stream so that phrases never span two fields.
const FIELD_BREAK: u32 = u32::MAX;
/// Array chunks growing past this become bitmaps (4096 `u16` = 8 KiB = a bitmap).
const ARRAY_MAX: usize = 4096;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Why a search query was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

fn error<T>(message: String) -> Result<T, QueryError> {
    Err(QueryError(message))
}

// ---------------------------------------------------------------------------
// Tokenizer

/// Calls `f` with every indexable token of `text`, in order.
fn for_each_token(text: &str, mut f: impl FnMut(&str)) {
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        // Lowercasing shrinks text at most 3x (KELVIN SIGN -> `k`): longer raw
        // tokens can be skipped without paying for `to_lowercase`.
        if raw.is_empty() || raw.len() > 3 * MAX_TOKEN_BYTES {
            continue;
        }
        let token = lowercase(raw);
        if token.len() <= MAX_TOKEN_BYTES {
            f(&token);
        }
    }
}

/// `to_lowercase`, without allocating for the common already-lowercase ASCII token.
fn lowercase(raw: &str) -> Cow<'_, str> {
    if raw.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(raw.to_lowercase())
    }
}

mod postings;
mod query;
#[cfg(test)]
mod tests;

use postings::{Postings, Set};
use query::{parse, Expr, Op, Word};

/// A dictionary entry; `name` is `None` while the id is on the free list.
#[derive(Default)]
struct Term {
    name: Option<Arc<str>>,
    postings: Postings,
}

/// A document slot; empty `tokens` mark a free slot.
#[derive(Default)]
struct Doc {
    id: u64,
    tokens: Box<[u32]>,
}

/// Full-text index of one collection; see the module documentation.
#[derive(Default)]
pub(crate) struct TextIndex {
    /// Token -> term id, for exact lookups: a B-tree lookup costs a score of
    /// string comparisons through pointers, a hash lookup one.
    dict: HashMap<Arc<str>, u32>,
    /// The same, ordered, for prefix ranges. Both share the `Arc` with `terms`.
    sorted: BTreeMap<Arc<str>, u32>,
    terms: Vec<Term>,
    free_terms: Vec<u32>,
    /// Object id -> document slot.
    slots: HashMap<u64, u32>,
    docs: Vec<Doc>,
    free_docs: Vec<u32>,
    /// Sum of all document lengths, for BM25's average length.
    total_tokens: u64,
}

impl fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("TextIndex");
        debug.field("documents", &self.len());
        debug.field("terms", &self.dict.len()).finish()
    }
}

/// Number of tokens in a stream, field breaks excluded.
fn doc_len(tokens: &[u32]) -> usize {
    tokens.iter().filter(|&&t| t != FIELD_BREAK).count()
}

/// The distinct term ids of a token stream, sorted.
fn distinct(tokens: &[u32]) -> Vec<u32> {
    let mut terms: Vec<u32> = tokens
        .iter()
        .copied()
        .filter(|&t| t != FIELD_BREAK)
        .collect();
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// A free id from `free`, or a new one at the end of `items`.
fn allocate<T: Default>(items: &mut Vec<T>, free: &mut Vec<u32>) -> u32 {
    free.pop().unwrap_or_else(|| {
        let id = u32::try_from(items.len())
            .ok()
            .filter(|&id| id != FIELD_BREAK)
            .expect("a text index holds fewer than 2^32 - 1 terms and documents");
        items.push(T::default());
        id
    })
}

impl TextIndex {
    pub(crate) fn new() -> TextIndex {
        TextIndex::default()
    }

    /// Indexes object `id` with the given text fields. If `id` is already indexed, its old
    /// document is replaced (remove + insert). A field list whose fields hold no token at all
    /// leaves the object unindexed.
    pub(crate) fn insert(&mut self, id: u64, fields: &[&str]) {
        let tokens = self.intern_fields(fields);
        if tokens.is_empty() {
            return self.remove(id);
        }
        let (slot, old) = match self.slots.get(&id) {
            Some(&slot) => (slot, std::mem::take(&mut self.docs[slot as usize].tokens)),
            None => (
                allocate(&mut self.docs, &mut self.free_docs),
                Box::default(),
            ),
        };
        // A replacement keeps its slot, so only the terms that differ between
        // the versions touch postings: re-saving unchanged text is cheap.
        let (old_terms, new_terms) = (distinct(&old), distinct(&tokens));
        for &term in &new_terms {
            if old_terms.binary_search(&term).is_err() {
                self.terms[term as usize].postings.set(slot, true);
            }
        }
        for &term in &old_terms {
            if new_terms.binary_search(&term).is_err() {
                self.unpost(term, slot);
            }
        }
        self.total_tokens += doc_len(&tokens) as u64;
        self.total_tokens -= doc_len(&old) as u64;
        let tokens = tokens.into_boxed_slice();
        self.docs[slot as usize] = Doc { id, tokens };
        self.slots.insert(id, slot);
    }

    /// Forgets object `id` (no-op when it is not indexed).
    pub(crate) fn remove(&mut self, id: u64) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        let tokens = std::mem::take(&mut self.docs[slot as usize].tokens);
        self.total_tokens -= doc_len(&tokens) as u64;
        for term in distinct(&tokens) {
            self.unpost(term, slot);
        }
        self.free_docs.push(slot);
    }

    /// Removes `slot` from the postings of `term`, dropping the term when it was the last.
    fn unpost(&mut self, term: u32, slot: u32) {
        let postings = &mut self.terms[term as usize].postings;
        if postings.set(slot, false) && postings.0.is_empty() {
            let name = std::mem::take(&mut self.terms[term as usize]).name;
            let name = name.as_deref().unwrap_or_default();
            self.dict.remove(name);
            self.sorted.remove(name);
            self.free_terms.push(term);
        }
    }

    /// Ids matching `query`, best first (BM25), ties by ascending id, at most `limit`.
    pub(crate) fn search(&self, query: &str, limit: usize) -> Result<Vec<u64>, QueryError> {
        let expr = parse(query)?.try_map(&mut |word| self.resolve(word))?;
        if limit == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let candidates = self.eval(&expr).into_docs();
        Ok(self.rank(&expr, candidates, limit))
    }

    /// Number of indexed documents.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Number of distinct terms in the dictionary.
    #[cfg(test)]
    fn terms_len(&self) -> usize {
        self.dict.len()
    }

    /// Tokenizes and interns the fields into one stream, with breaks between fields.
    fn intern_fields(&mut self, fields: &[&str]) -> Vec<u32> {
        let mut tokens = Vec::new();
        for field in fields {
            let mut first = true;
            for_each_token(field, |token| {
                if std::mem::take(&mut first) && !tokens.is_empty() {
                    tokens.push(FIELD_BREAK);
                }
                tokens.push(self.intern(token));
            });
        }
        tokens
    }

    /// The id of `token`, creating an (empty) term when it is new.
    fn intern(&mut self, token: &str) -> u32 {
        if let Some(&term) = self.dict.get(token) {
            return term;
        }
        let term = allocate(&mut self.terms, &mut self.free_terms);
        let name: Arc<str> = Arc::from(token);
        self.terms[term as usize].name = Some(Arc::clone(&name));
        self.dict.insert(Arc::clone(&name), term);
        self.sorted.insert(name, term);
        term
    }

    /// Term ids a query word stands for, sorted: one or none, or a prefix's expansion.
    fn resolve(&self, word: &Word) -> Result<Vec<u32>, QueryError> {
        let text = word.text.as_str();
        if !word.prefix {
            return Ok(self.dict.get(text).map(|&t| vec![t]).unwrap_or_default());
        }
        let range = self
            .sorted
            .range::<str, _>((Bound::Included(text), Bound::Unbounded));
        let matching = range.take_while(|(name, _)| name.starts_with(text));
        let mut ids: Vec<u32> = matching
            .take(MAX_PREFIX_TERMS + 1)
            .map(|(_, &t)| t)
            .collect();
        if ids.len() > MAX_PREFIX_TERMS {
            let pos = word.pos;
            return error(format!(
                "prefix `{text}*` at byte {pos} matches more than {MAX_PREFIX_TERMS} terms; \
                 use a longer prefix"
            ));
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Candidate documents of a query tree (phrases verified, not yet ranked).
    fn eval(&self, expr: &Expr<Vec<u32>>) -> Set<'_> {
        let (op, a, b) = match expr {
            Expr::Phrase(words) => return self.eval_phrase(words),
            Expr::Bin(op, a, b) => (*op, a, b),
        };
        let left = self.eval(a);
        if op != Op::Or && left.estimate() == 0 {
            return left;
        }
        let right = self.eval(b);
        match op {
            Op::Or => Set::or(left, right),
            Op::And => Set::and(left, right),
            Op::Not => Set::filter(left, right, false),
        }
    }

    /// Documents containing all the words (smallest set first), then checked for adjacency.
    fn eval_phrase(&self, words: &[Vec<u32>]) -> Set<'_> {
        let postings = |&t: &u32| &self.terms[t as usize].postings;
        let set = |ids: &Vec<u32>| Set::Lists(ids.iter().map(postings).collect());
        let mut sets: Vec<Set<'_>> = words.iter().map(set).collect();
        sets.sort_by_key(Set::estimate);
        let mut sets = sets.into_iter();
        let first = sets.next().unwrap_or(Set::Docs(Vec::new()));
        let found = sets.fold(first, Set::and);
        if words.len() < 2 {
            return found;
        }
        let mut docs = found.into_docs();
        docs.retain(|&slot| has_phrase(&self.docs[slot as usize].tokens, words));
        Set::Docs(docs)
    }

    /// Scores the candidates, keeping the best `limit` in a bounded heap.
    fn rank(&self, expr: &Expr<Vec<u32>>, candidates: Vec<u32>, limit: usize) -> Vec<u64> {
        let mut terms = Vec::new();
        expr.positive_terms(&mut terms);
        terms.sort_unstable();
        terms.dedup();
        let n = self.len() as f64;
        let idf = |&t: &u32| {
            let n_t = self.terms[t as usize].postings.len() as f64;
            (1.0 + (n - n_t + 0.5) / (n_t + 0.5)).ln()
        };
        let idf: Vec<f64> = terms.iter().map(idf).collect();
        let avg_len = self.total_tokens as f64 / n;
        // Keys sort best first. Scores are finite and >= +0.0, and the bit
        // patterns of such floats order like their values.
        let mut heap = BinaryHeap::with_capacity(limit.min(candidates.len()));
        let mut hits = Vec::new();
        for slot in candidates {
            let doc = &self.docs[slot as usize];
            let score = bm25(&doc.tokens, &terms, &idf, avg_len, &mut hits);
            let key = (u64::MAX - score.to_bits(), doc.id);
            if heap.len() < limit {
                heap.push(key);
            } else if let Some(mut worst) = heap.peek_mut() {
                if key < *worst {
                    *worst = key;
                }
            }
        }
        heap.into_sorted_vec()
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    }
}

/// Whether `words` (each a sorted set of acceptable term ids) occur consecutively.
/// Field breaks match no word, so a phrase never spans two fields.
fn has_phrase(tokens: &[u32], words: &[Vec<u32>]) -> bool {
    let word_at = |(t, ids): (&u32, &Vec<u32>)| ids.binary_search(t).is_ok();
    tokens
        .windows(words.len())
        .any(|window| window.iter().zip(words).all(word_at))
}

/// BM25 of one document; `terms` are the sorted positive term ids, `hits` a reused buffer.
fn bm25(tokens: &[u32], terms: &[u32], idf: &[f64], avg_len: f64, hits: &mut Vec<usize>) -> f64 {
    hits.clear();
    let mut len = 0usize;
    for &t in tokens.iter().filter(|&&t| t != FIELD_BREAK) {
        len += 1;
        hits.extend(terms.binary_search(&t).ok());
    }
    hits.sort_unstable();
    let norm = K1 * (1.0 - B + B * len as f64 / avg_len);
    let term_score = |run: &[usize]| {
        let tf = run.len() as f64;
        idf[run[0]] * tf * (K1 + 1.0) / (tf + norm)
    };
    // fold from +0.0: `sum()` starts at -0.0, whose bits would rank first.
    hits.chunk_by(|a, b| a == b)
        .map(term_score)
        .fold(0.0, |a, b| a + b)
}
