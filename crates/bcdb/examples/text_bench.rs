//! The full-text index alone, at 1,000,000 documents: inserts, churn (remove + reinsert,
//! replace through insert with new and with unchanged text), one-word search latency, and
//! the most common words. Documents are a 3-word title and a 9-word body drawn Zipf-like
//! (P(k) ~ 1/k) from 8,000 words, so the commonest word is in most documents.
//!
//! usage: cargo run --release -p bcdb --example text_bench -- [DOCS]
//!
//! Every phase is timed with `Instant`; nothing here asserts on a time.

use std::time::{Duration, Instant};

use bcdb::index::{Index, Rows};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const NS: &[u8] = b"bench";
const COLL: &str = "bench.doc.1";

/// Distinct words of 3 to 5 letters: `k` in base 26, then "er".
fn word(k: usize) -> String {
    let mut x = k + 1;
    let mut w = String::new();
    while x > 0 {
        w.push(char::from(b'a' + (x % 26) as u8));
        x /= 26;
    }
    w + "er"
}

/// A title of 3 and a body of 9 words, as index rows.
fn doc(rng: &mut StdRng, vocab: &[String]) -> Rows {
    let mut pick = |n: usize| {
        (0..n)
            .map(|_| {
                let u: f64 = rng.gen();
                let k = ((vocab.len() as f64).powf(u) as usize).saturating_sub(1);
                vocab[k].as_str()
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    Rows {
        text: vec![("title".into(), pick(3)), ("body".into(), pick(9))],
        ..Rows::default()
    }
}

fn resident_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

fn main() {
    let docs: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("DOCS is a number"));
    let vocab: Vec<String> = (0..8_000).map(word).collect();
    let mut rng = StdRng::seed_from_u64(2024);
    let mut index = Index::new();
    let before = resident_mb();
    let mut elapsed = Duration::ZERO;
    let batch = 100_000.min(docs);
    for start in (0..docs).step_by(batch as usize) {
        let rows: Vec<Rows> = (0..batch).map(|_| doc(&mut rng, &vocab)).collect();
        let t = Instant::now();
        for (i, rows) in rows.iter().enumerate() {
            index.insert(NS, COLL, start + i as u64 + 1, rows);
        }
        elapsed += t.elapsed();
    }
    let secs = elapsed.as_secs_f64();
    println!(
        "insert {docs} documents: {secs:.2} s = {:.0}/s; resident {before:.0} MB before, {:.0} MB after",
        docs as f64 / secs,
        resident_mb()
    );

    let churn: Vec<(u64, Rows, Rows)> = (0..batch)
        .map(|_| {
            let id = 1 + rng.gen_range(0..docs);
            (id, doc(&mut rng, &vocab), doc(&mut rng, &vocab))
        })
        .collect();
    let t = Instant::now();
    for (id, _, new) in &churn {
        index.remove(NS, COLL, *id, &Rows::default());
        index.insert(NS, COLL, *id, new);
    }
    println!(
        "remove + reinsert {batch}: {:.0} pairs/s",
        batch as f64 / t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    for (id, fresh, _) in &churn {
        index.insert(NS, COLL, *id, fresh);
    }
    println!(
        "replace {batch} with new text through insert: {:.0}/s",
        batch as f64 / t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    for (id, fresh, _) in &churn {
        index.insert(NS, COLL, *id, fresh);
    }
    println!(
        "replace {batch} with unchanged text through insert: {:.0}/s",
        batch as f64 / t.elapsed().as_secs_f64()
    );

    let mut times: Vec<Duration> = (0..1_000)
        .map(|_| {
            let query = &vocab[rng.gen_range(0..vocab.len())];
            let t = Instant::now();
            index
                .search(NS, COLL, query, 20)
                .expect("a word is a query");
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    println!(
        "1000 one-word searches (uniform over the vocabulary, LIMIT 20): p50 {:?}, p99 {:?}, max {:?}",
        times[500], times[990], times[999]
    );
    for query in [
        vocab[0].clone(),
        vocab[100].clone(),
        format!("{} {}", vocab[0], vocab[1]),
        format!("{}*", vocab[0]),
    ] {
        let t = Instant::now();
        let hits = index.search(NS, COLL, &query, 20).expect("a valid query");
        let took = t.elapsed();
        let n = index
            .search(NS, COLL, &query, bcdb::index::MAX_LIMIT)
            .map_or(0, |ids| ids.len());
        println!(
            "{query:?}: LIMIT 20 in {took:?} ({} returned; {n} returned at LIMIT {})",
            hits.len(),
            bcdb::index::MAX_LIMIT
        );
    }
}
