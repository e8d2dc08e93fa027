//! Feeds arbitrary text as a full-text query to `Index::search` (clients send it with the typed search command) over a small index, and checks the answer: bounded, distinct, only indexed ids, refused when too long, the same as a bulk-built index's.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use bcdb::index::{Bulk, Index, IndexError, Rows, MAX_LIMIT, MAX_QUERY_BYTES};
use libfuzzer_sys::fuzz_target;

const NS: &[u8] = b"grid";
const COLL: &str = "fz.doc.1";

/// The objects' full-text fields, as they stand after the updates below.
fn documents() -> Vec<(u64, Vec<String>)> {
    let fixed: [(u64, &[&str]); 12] = [
        (1, &["Farm number 1 runs 3 green nodes in Gent-Brugge"]),
        (2, &["été ete ÉTÉ — café naïve Ete"]),
        (3, &["KELVIN \u{212A}elvin İstanbul ΣΊΣΥΦΟΣ straße STRASSE"]),
        (4, &["中文分词 日本語 テキスト ٣٤٥ x²"]),
        (5, &["green farm", "farm green nodes"]),
        (
            6,
            &["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa short"],
        ),
        (7, &["node1 node2 node3 node10 node11 node12 nodes"]),
        (8, &["42 4242 424242 0x2a 42.5 -42"]),
        (9, &["\"quoted\" (paren) AND or NOT not * star*"]),
        (10, &["new text replaced"]),
        (12, &["farm farm farm farm", "", "nodes"]),
        (u64::MAX, &["last id farm"]),
    ];
    let mut docs: Vec<(u64, Vec<String>)> = fixed
        .iter()
        .map(|(id, fields)| (*id, fields.iter().map(|f| (*f).to_owned()).collect()))
        .collect();
    for i in 0..40u64 {
        let w = "w ".repeat(i as usize);
        let text = format!("farm{i} node{} green{} tag t{i} {w}", i % 7, i % 3);
        docs.push((100 + i, vec![text]));
    }
    docs
}

fn rows<S: AsRef<str>>(fields: &[S]) -> Rows {
    Rows {
        values: Vec::new(),
        unique: Vec::new(),
        text: fields
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("f{i}"), t.as_ref().to_owned()))
            .collect(),
    }
}

/// The tokens of a text as the module doc defines them.
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|raw| !raw.is_empty() && raw.len() <= 3 * 64)
        .map(str::to_lowercase)
        .filter(|t| t.len() <= 64)
}

struct Fixture {
    /// Built by inserts, replacements and removals, as live writes do.
    live: Index,
    /// The same final objects loaded in bulk, as a replay does.
    bulk: Index,
    /// Id and tokens of every object holding at least one token.
    docs: Vec<(u64, Vec<String>)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let docs = documents();
        let mut live = Index::new();
        // A removed object, a replaced one, one with no token at all.
        let ghost = rows(&["ghost words only here farm"]);
        live.insert(NS, COLL, 11, &ghost);
        live.insert(NS, COLL, 10, &rows(&["old text farm green"]));
        live.insert(NS, COLL, 13, &rows(&["--- !!! ..."]));
        for (id, fields) in &docs {
            live.insert(NS, COLL, *id, &rows(fields));
        }
        live.remove(NS, COLL, 11, &ghost);
        // Another collection with other words, which must never answer here.
        live.insert(
            NS,
            "fz.other.1",
            1000,
            &rows(&["farm green other collection"]),
        );

        let mut bulk = Bulk::default();
        for (id, fields) in docs.iter().rev() {
            bulk.add(NS, COLL, *id, rows(fields));
        }
        bulk.add(NS, COLL, 13, rows(&["--- !!! ..."]));
        let docs = docs
            .iter()
            .map(|(id, fields)| (*id, fields.iter().flat_map(|f| tokens(f)).collect()))
            .collect();
        Fixture {
            live,
            bulk: bulk.finish(),
            docs,
        }
    })
}

/// A query that is one word (or one prefix `word*`): the lowercased word and whether it is
/// a prefix.
fn single_word(query: &str) -> Option<(String, bool)> {
    let q = query.trim();
    let (word, prefix) = match q.strip_suffix('*') {
        Some(w) => (w, true),
        None => (q, false),
    };
    if word.is_empty() || !word.chars().all(char::is_alphanumeric) {
        return None;
    }
    if matches!(word, "OR" | "AND" | "NOT") {
        return None;
    }
    Some((word.to_lowercase(), prefix))
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let all = f.live.search(NS, COLL, query, MAX_LIMIT);
    if query.len() > MAX_QUERY_BYTES {
        assert!(
            matches!(all, Err(IndexError::Query(_))),
            "a {}-byte query was not refused",
            query.len()
        );
    }
    let bulk = f.bulk.search(NS, COLL, query, MAX_LIMIT);
    let elsewhere = f.live.search(NS, "fz.none.1", query, MAX_LIMIT);
    let Ok(all) = all else {
        assert!(
            bulk.is_err(),
            "bulk index accepted what the live one refused"
        );
        assert!(elsewhere.is_err());
        return;
    };
    let bulk = bulk.expect("the bulk index accepts what the live one does");
    assert!(elsewhere
        .expect("accepted on an empty collection")
        .is_empty());

    let known: BTreeSet<u64> = f.docs.iter().map(|(id, _)| *id).collect();
    let found: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(found.len(), all.len(), "duplicate ids: {all:?}");
    assert!(found.is_subset(&known), "ids never indexed: {all:?}");
    // Matching is exact; only float rounding in the scores could order the two differently.
    let bulk_found: BTreeSet<u64> = bulk.iter().copied().collect();
    assert_eq!(found, bulk_found, "live and bulk indexes disagree");

    // Best first, ties by id: a smaller limit answers a prefix of the full ranking.
    for limit in [0, 1, 3] {
        let some = f
            .live
            .search(NS, COLL, query, limit)
            .expect("the same query is accepted whatever the limit");
        assert!(some.len() <= limit);
        assert_eq!(some, all[..all.len().min(limit)], "limit {limit}");
    }

    if let Some((word, prefix)) = single_word(query) {
        let expected: BTreeSet<u64> = f
            .docs
            .iter()
            .filter(|(_, toks)| {
                toks.iter().any(|t| {
                    if prefix {
                        t.starts_with(&word)
                    } else {
                        *t == word
                    }
                })
            })
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(
            found, expected,
            "one-word query {word:?} (prefix: {prefix})"
        );
    }
});
