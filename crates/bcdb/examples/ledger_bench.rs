//! Ledger write throughput: batched appends with one durable commit per batch, and signed single writes with a commit each.
//!
//! usage: cargo run --release -p bcdb --example ledger_bench -- [ENTRIES] [BATCH]

use std::time::Instant;

use bcdb::db::Bcdb;
use bcdb::entry::{value_hash, Author, Entry, Op};
use bcdb::state::{keyed_value, Command};
use identity::KeyPair;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let entries = args.first().copied().unwrap_or(200_000);
    let batch = args.get(1).copied().unwrap_or(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    let key = KeyPair::generate();
    let instance = key.public();
    let mut db = Bcdb::open(dir.path(), key, "bcdb/bench", Box::new(|_, _, _| Ok(()))).unwrap();
    let value = vec![b'x'; 200];

    let t0 = Instant::now();
    let mut done = 0;
    while done < entries {
        for _ in 0..batch.min(entries - done) {
            db.execute(&Command::SetKey {
                namespace: b"bench".to_vec(),
                key: done.to_le_bytes().to_vec(),
                value: value.clone(),
                author: None,
            })
            .unwrap();
            done += 1;
        }
        db.commit(true).unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "batched: {entries} entries of 200 B in batches of {batch}, one fsync per batch: {secs:.2} s = {:.0} entries/s",
        entries as f64 / secs
    );

    let author = KeyPair::generate();
    let singles = (entries / 20).max(1000);
    let t0 = Instant::now();
    for i in 0..singles {
        let ns = b"signed".to_vec();
        let key = i.to_le_bytes();
        let vh = value_hash(&keyed_value(&key, &value));
        let nonce = i + 1;
        let signature = author.sign(&Entry::change_payload(
            &instance,
            &ns,
            b"",
            0,
            Op::Create,
            &[0; 32],
            &vh,
            nonce,
        ));
        db.execute(&Command::SetKey {
            namespace: ns,
            key: key.to_vec(),
            value: value.clone(),
            author: Some(Author {
                key: author.public(),
                signature,
                nonce: Some(nonce),
            }),
        })
        .expect("signed write");
        db.commit(false).unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "single signed writes, one commit (no fsync) each: {singles} in {secs:.2} s = {:.0} writes/s",
        singles as f64 / secs
    );
}
