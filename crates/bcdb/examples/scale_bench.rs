//! BCDB at scale: typed writes, verified reads, find/search latency and bytes on disk at N objects (default 1,000,000), against the same objects as JSON rows in SQLite.
//!
//! usage: cargo run --release -p bcdb --example scale_bench -- [OBJECTS] [BATCH]
//!
//! Phases, in order, on one instance in a temporary directory (`TMPDIR`):
//! 1. load: OBJECTS node records through `Bcdb::execute` (validation, unique check, ledger,
//!    state, in-memory indexes), `commit(true)` (fsync) per BATCH (default 1000);
//! 2. bytes on disk of the instance, then the same objects as JSON rows in SQLite;
//! 3. verified reads: `verified_get` of random objects against a checkpoint trusted after the
//!    first batch, each checked with `verify_record`;
//! 4. `find` (equality on the unique `node_id`, on `farm_id`, ranges on `cru`) and `search`;
//! 5. signed single writes, one `commit(false)` each, into the loaded collection;
//! 6. closing and reopening the instance (the replay a restart costs).
//!
//! Every call is timed on its own with `Instant`; nothing here asserts on a time.

use std::path::Path;
use std::time::{Duration, Instant};

use bcdb::checkpoint::Checkpoint;
use bcdb::db::{object_validator, Bcdb};
use bcdb::entry::{value_hash, Author, Entry, Op};
use bcdb::index::Cond;
use bcdb::ledger::verify_record;
use bcdb::merkle::encode_proof;
use bcdb::object::{IndexValue, Object};
use bcdb::schema::Schema;
use bcdb::state::Command;
use identity::KeyPair;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const NS: &[u8] = b"grid";
const URL: &str = "tfgrid.bench.node.1";
const SCHEMA: &str = "@url = tfgrid.bench.node.1
&node_id** = (S)
farm_id** = (I)
country** = (S)
cru** = (I)
mru** = (F)
description*** = (S)
sru = (I)
hru = (I)
public_ip = (S)
";

const READS: usize = 100_000;
const FINDS: usize = 10_000;
const RANGES: usize = 2_000;
const SEARCHES: usize = 2_000;
/// Nodes per farm, on average.
const PER_FARM: u64 = 50;
/// Highest `cru`.
const MAX_CRU: u64 = 256;
const COUNTRIES: [&str; 24] = [
    "BE", "NL", "DE", "FR", "EG", "US", "CA", "BR", "AR", "IN", "CN", "JP", "KR", "AU", "NZ", "ZA",
    "KE", "NG", "ES", "IT", "CH", "AT", "SE", "FI",
];
const SYLLABLES: [&str; 20] = [
    "ka", "lo", "mi", "ne", "su", "ta", "ro", "vi", "de", "ba", "zu", "po", "fe", "gi", "ho", "ja",
    "ku", "le", "mo", "ny",
];
/// Distinct description words (three syllables each).
const VOCABULARY: u64 = 8_000;
const WORDS_PER_DESCRIPTION: u64 = 6;

/// splitmix64: a bijection of u64, so `mix(i)` differs for every `i`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn word(k: u64) -> String {
    let s = |n: u64| SYLLABLES[(n % 20) as usize];
    format!("{}{}{}", s(k / 400), s(k / 20), s(k))
}

fn node_id(i: u64) -> String {
    format!("{:016x}{:016x}", mix(i), mix(i ^ 0x5555_5555_5555_5555))
}

fn farms(objects: u64) -> u64 {
    (objects / PER_FARM).max(1)
}

fn farm_of(i: u64, objects: u64) -> u64 {
    1 + mix(i ^ 1) % farms(objects)
}

fn cru_of(i: u64) -> u64 {
    1 + mix(i ^ 2) % MAX_CRU
}

/// Node record `i` (0-based; it becomes object id `i + 1`), the same on every call.
fn node(i: u64, objects: u64) -> serde_json::Value {
    let description: Vec<String> = (0..WORDS_PER_DESCRIPTION)
        .map(|w| word(mix(i.wrapping_mul(8) + w + 1000) % VOCABULARY))
        .collect();
    let ip = mix(i ^ 3);
    json!({
        "node_id": node_id(i),
        "farm_id": farm_of(i, objects),
        "country": COUNTRIES[(mix(i ^ 4) % COUNTRIES.len() as u64) as usize],
        "cru": cru_of(i),
        "mru": (mix(i ^ 5) % 1_000_000) as f64 / 1000.0,
        "description": description.join(" "),
        "sru": 256 * (1 + mix(i ^ 6) % 16),
        "hru": 1000 * (mix(i ^ 7) % 32),
        "public_ip": format!("185.{}.{}.{}", ip & 0xff, (ip >> 8) & 0xff, (ip >> 16) & 0xff),
    })
}

fn encode(schema: &Schema, value: &serde_json::Value) -> Vec<u8> {
    Object::from_json(schema, value, &|_| None)
        .expect("a node record fits the schema")
        .encode()
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

/// "p50 … p99 … max … mean …" of per-call times.
fn latency(times: &mut [Duration]) -> String {
    times.sort_unstable();
    let n = times.len();
    let at = |p: usize| times[(n * p / 100).min(n - 1)];
    let mean = times.iter().sum::<Duration>() / n as u32;
    format!(
        "p50 {}  p99 {}  max {}  mean {}",
        fmt(at(50)),
        fmt(at(99)),
        fmt(times[n - 1]),
        fmt(mean)
    )
}

/// Apparent bytes and allocated bytes of every file under `dir`.
fn disk(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let meta = entry.metadata().expect("metadata");
        let (len, alloc) = if meta.is_dir() {
            disk(&entry.path())
        } else {
            (meta.len(), meta.blocks() * 512)
        };
        total.0 += len;
        total.1 += alloc;
    }
    total
}

fn show_disk(label: &str, path: &Path, objects: u64) -> (u64, u64) {
    let (len, alloc) = if path.is_dir() {
        disk(path)
    } else {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map_or((0, 0), |m| (m.len(), m.blocks() * 512))
    };
    println!(
        "  {label:<44} {:>12} B  {:>8.1} B/object   (allocated {:>8.1} B/object)",
        len,
        len as f64 / objects as f64,
        alloc as f64 / objects as f64
    );
    (len, alloc)
}

/// This process's resident memory, as the kernel reports it.
fn resident() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            Some(format!("process resident {}", line[6..].trim()))
        })
        .unwrap_or_else(|| "resident memory unknown".into())
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.replace('_', "").parse().expect("a number"))
        .collect();
    let objects = args.first().copied().unwrap_or(1_000_000).max(1);
    let batch = args.get(1).copied().unwrap_or(1000).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let key = KeyPair::generate();
    let instance = key.public();
    let open = || {
        Bcdb::open(
            dir.path(),
            key.clone(),
            "bcdb/scale-bench",
            object_validator(),
        )
    };
    let mut db = open().unwrap();
    db.execute(&Command::SchemaPut {
        namespace: NS.to_vec(),
        text: SCHEMA.into(),
    })
    .unwrap();
    db.commit(true).unwrap();
    let schema = db.state().schema(NS, URL).unwrap().clone();
    let started = Instant::now();
    println!(
        "bcdb scale bench: {objects} node records (6 indexed fields: node_id unique, description also full-text; 3 unindexed), batches of {batch}, commit(true) per batch; dir {}",
        dir.path().display()
    );

    // 1. load
    let mut trusted: Option<Checkpoint> = None;
    let mut in_db = Duration::ZERO;
    let mut in_client = Duration::ZERO;
    let mut object_bytes = 0u64;
    let mut batch_times = Vec::new();
    let mut done = 0u64;
    let mut interval = (Instant::now(), Duration::ZERO, 0u64);
    let report_every = (objects / 10).div_ceil(batch).max(1) * batch;
    let mut next_report = report_every;
    let mut encoded = Vec::with_capacity(batch as usize);
    while done < objects {
        let n = batch.min(objects - done);
        let t = Instant::now();
        encoded.clear();
        encoded.extend((done..done + n).map(|i| encode(&schema, &node(i, objects))));
        in_client += t.elapsed();
        let t = Instant::now();
        for value in encoded.drain(..) {
            object_bytes += value.len() as u64;
            let applied = db
                .execute(&Command::Put {
                    namespace: NS.to_vec(),
                    collection: URL.into(),
                    id: None,
                    value,
                    author: None,
                })
                .expect("put");
            assert_eq!(applied[0].object_id, done + 1);
            done += 1;
        }
        let cp = db.commit(true).unwrap();
        let took = t.elapsed();
        in_db += took;
        interval.1 += took;
        interval.2 += n;
        batch_times.push(took);
        if trusted.is_none() {
            trusted = Some(cp);
        }
        if done >= next_report || done == objects {
            println!(
                "  loaded {done:>9}: last {} at {:.0} entries/s (db time), wall {:.1} s",
                interval.2,
                interval.2 as f64 / interval.1.as_secs_f64(),
                interval.0.elapsed().as_secs_f64()
            );
            interval = (Instant::now(), Duration::ZERO, 0);
            next_report += report_every;
        }
    }
    let trusted = trusted.expect("at least one batch");
    println!(
        "load: {objects} objects in {:.1} s of execute+commit = {:.0} entries/s batched (target >= 50,000); client JSON->encoding {:.1} s; mean object {:.0} B encoded",
        in_db.as_secs_f64(),
        objects as f64 / in_db.as_secs_f64(),
        in_client.as_secs_f64(),
        object_bytes as f64 / objects as f64
    );
    println!("  per batch of {batch}: {}", latency(&mut batch_times));

    // 2. bytes on disk
    println!("bytes on disk, {objects} objects:");
    let base = dir.path();
    show_disk(
        "ledger 0-db data/ (entries + checkpoints)",
        &base.join("data"),
        objects,
    );
    show_disk("ledger 0-db index/", &base.join("index"), objects);
    let bcdb_total = show_disk("bcdb directory, total", base, objects).0;
    println!(
        "  bcdb total {bcdb_total} B = {:.1} B/object (the indexes live in memory: {})",
        bcdb_total as f64 / objects as f64,
        resident()
    );
    let json_dir = tempfile::tempdir().expect("temp dir");
    let json_path = json_dir.path().join("nodes.sqlite");
    let (rows_secs, json_bytes) = {
        let mut conn = rusqlite::Connection::open(&json_path).unwrap();
        conn.execute_batch("CREATE TABLE nodes (id INTEGER PRIMARY KEY, json TEXT NOT NULL)")
            .unwrap();
        let t = Instant::now();
        let mut json_bytes = 0u64;
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare("INSERT INTO nodes (id, json) VALUES (?1, ?2)")
                .unwrap();
            for i in 0..objects {
                let text = node(i, objects).to_string();
                json_bytes += text.len() as u64;
                insert
                    .execute(rusqlite::params![i as i64 + 1, text])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        (t.elapsed().as_secs_f64(), json_bytes)
    };
    println!(
        "SQLite JSON rows (id INTEGER PRIMARY KEY, json TEXT), one transaction: {rows_secs:.1} s = {:.0} rows/s; mean JSON text {:.0} B",
        objects as f64 / rows_secs,
        json_bytes as f64 / objects as f64
    );
    let rows_only = show_disk("JSON rows only", &json_path, objects).0;
    let conn = rusqlite::Connection::open(&json_path).unwrap();
    let t = Instant::now();
    conn.execute_batch(
        "CREATE UNIQUE INDEX nodes_node_id ON nodes (json_extract(json, '$.node_id'))",
    )
    .unwrap();
    println!(
        "  expression index on node_id: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let with_node_id = show_disk("JSON rows + node_id index", &json_path, objects).0;
    let t = Instant::now();
    conn.execute_batch(
        "CREATE INDEX nodes_farm_id ON nodes (json_extract(json, '$.farm_id'));
         CREATE INDEX nodes_country ON nodes (json_extract(json, '$.country'));
         CREATE INDEX nodes_cru ON nodes (json_extract(json, '$.cru'));
         CREATE INDEX nodes_mru ON nodes (json_extract(json, '$.mru'));
         CREATE VIRTUAL TABLE nodes_fts USING fts5(description, content='');
         INSERT INTO nodes_fts (rowid, description) SELECT id, json_extract(json, '$.description') FROM nodes;",
    )
    .unwrap();
    println!(
        "  the other four expression indexes + contentless FTS5 on description: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let with_all = show_disk("JSON rows + the same indexes as bcdb", &json_path, objects).0;
    drop(conn);
    println!(
        "bytes per object: bcdb {:.1} B vs SQLite JSON + node_id index {:.1} B = {:.2}x (vs rows only {:.2}x, vs the same indexes {:.2}x)",
        bcdb_total as f64 / objects as f64,
        with_node_id as f64 / objects as f64,
        bcdb_total as f64 / with_node_id as f64,
        bcdb_total as f64 / rows_only as f64,
        bcdb_total as f64 / with_all as f64,
    );
    drop(json_dir);

    // 3. verified reads
    let mut rng = StdRng::seed_from_u64(42);
    let mut server = Vec::with_capacity(READS);
    let mut client = Duration::ZERO;
    let (mut proof_bytes, mut inclusion_bytes, mut record_bytes, mut checkpoint_bytes) =
        (0u64, 0u64, 0u64, 0u64);
    for _ in 0..READS {
        let id = rng.gen_range(1..=objects);
        let t = Instant::now();
        let record = db
            .verified_get(NS, id, trusted.size)
            .unwrap()
            .expect("a live object");
        server.push(t.elapsed());
        let t = Instant::now();
        let entry = verify_record(&record, Some(&trusted), &instance).expect("verifies");
        client += t.elapsed();
        assert_eq!(entry.object_id, id);
        let inclusion = encode_proof(&record.inclusion).unwrap().len() as u64;
        inclusion_bytes += inclusion;
        proof_bytes += inclusion + encode_proof(&record.consistency).unwrap().len() as u64;
        record_bytes += (record.entry.len() + record.value.len()) as u64;
        checkpoint_bytes += record.checkpoint.to_text().len() as u64;
    }
    let server_total: Duration = server.iter().sum();
    println!(
        "verified reads: {READS} random objects, trusted checkpoint at size {} (latest {}):",
        trusted.size,
        db.checkpoint().unwrap().size
    );
    println!(
        "  server (verified_get) {:.0} reads/s; with client verify_record {:.0} reads/s (client alone {:.0}/s)",
        READS as f64 / server_total.as_secs_f64(),
        READS as f64 / (server_total + client).as_secs_f64(),
        READS as f64 / client.as_secs_f64()
    );
    println!("  verified_get: {}", latency(&mut server));
    println!(
        "  proof bytes per read {:.0} (inclusion {:.0} + consistency {:.0}, encoded); entry+value {:.0} B; checkpoint text {:.0} B",
        proof_bytes as f64 / READS as f64,
        inclusion_bytes as f64 / READS as f64,
        (proof_bytes - inclusion_bytes) as f64 / READS as f64,
        record_bytes as f64 / READS as f64,
        checkpoint_bytes as f64 / READS as f64
    );

    // 4. find and search
    let mut times = Vec::with_capacity(FINDS);
    for _ in 0..FINDS {
        let i = rng.gen_range(0..objects);
        let conds = [Cond::Eq("node_id".into(), IndexValue::Text(node_id(i)))];
        let t = Instant::now();
        let ids = db.find(NS, URL, &conds, 0, 100).unwrap();
        times.push(t.elapsed());
        assert_eq!(ids, [i + 1]);
    }
    println!(
        "find node_id = (unique), {FINDS} random: {} (target p99 < 5 ms)",
        latency(&mut times)
    );
    times.clear();
    let mut found = 0;
    for _ in 0..FINDS {
        let farm = 1 + rng.gen_range(0..farms(objects));
        let conds = [Cond::Eq("farm_id".into(), IndexValue::Integer(farm as i64))];
        let t = Instant::now();
        let ids = db.find(NS, URL, &conds, 0, 100).unwrap();
        times.push(t.elapsed());
        found += ids.len();
    }
    println!(
        "find farm_id = LIMIT 100, {FINDS} random of {} farms (mean {:.1} ids returned): {} (target p99 < 5 ms)",
        farms(objects),
        found as f64 / FINDS as f64,
        latency(&mut times)
    );
    let mut per_cru = vec![0u64; MAX_CRU as usize + 1];
    for i in 0..objects {
        per_cru[cru_of(i) as usize] += 1;
    }
    times.clear();
    let (mut found, mut matching) = (0, 0u64);
    for _ in 0..RANGES {
        let lo = rng.gen_range(1..=MAX_CRU);
        let hi = (lo + rng.gen_range(0..4)).min(MAX_CRU);
        matching += per_cru[lo as usize..=hi as usize].iter().sum::<u64>();
        let conds = [Cond::Range(
            "cru".into(),
            Some(IndexValue::Integer(lo as i64)),
            Some(IndexValue::Integer(hi as i64)),
        )];
        let t = Instant::now();
        let ids = db.find(NS, URL, &conds, 0, 100).unwrap();
        times.push(t.elapsed());
        found += ids.len();
    }
    println!(
        "find lo <= cru <= hi (width 1-4 of {MAX_CRU}) LIMIT 100, {RANGES} random (mean {:.0} matching objects, {:.1} ids returned): {}",
        matching as f64 / RANGES as f64,
        found as f64 / RANGES as f64,
        latency(&mut times)
    );
    times.clear();
    let mut found = 0;
    for _ in 0..SEARCHES {
        let w = word(rng.gen_range(0..VOCABULARY));
        let t = Instant::now();
        let ids = db.search(NS, URL, &w, 100).unwrap();
        times.push(t.elapsed());
        found += ids.len();
    }
    println!(
        "search one word LIMIT 100, {SEARCHES} random of {VOCABULARY} (each word in ~{:.0} objects; mean {:.1} ids returned): {}",
        (objects * WORDS_PER_DESCRIPTION) as f64 / VOCABULARY as f64,
        found as f64 / SEARCHES as f64,
        latency(&mut times)
    );

    // 5. signed single writes
    let singles = (objects / 50).clamp(1000, 20_000);
    let author = KeyPair::generate();
    let mut times = Vec::with_capacity(singles as usize);
    let t0 = Instant::now();
    for i in objects..objects + singles {
        let value = encode(&schema, &node(i, objects));
        let t = Instant::now();
        let nonce = i + 1;
        let signature = author.sign(&Entry::change_payload(
            &instance,
            NS,
            URL.as_bytes(),
            0,
            Op::Create,
            &schema.hash(),
            &value_hash(&value),
            nonce,
        ));
        db.execute(&Command::Put {
            namespace: NS.to_vec(),
            collection: URL.into(),
            id: None,
            value,
            author: Some(Author {
                key: author.public(),
                signature,
                nonce: Some(nonce),
            }),
        })
        .expect("signed put");
        db.commit(false).unwrap();
        times.push(t.elapsed());
    }
    let total: Duration = times.iter().sum();
    println!(
        "signed single writes (sign + execute + commit(false) each, at {objects}+ objects): {singles} = {:.0} writes/s (target >= 5,000; wall incl. encoding {:.1} s)",
        singles as f64 / total.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    println!("  per write: {}", latency(&mut times));

    // 6. a restart: the ledger is replayed into the state and the Merkle tree, then the
    // in-memory indexes are loaded from the live objects
    drop(db);
    let t = Instant::now();
    let db = open().unwrap();
    println!(
        "reopen at {} entries (replay: state, Merkle tree and indexes): {:.1} s",
        db.len(),
        t.elapsed().as_secs_f64()
    );
    println!("total wall time {:.1} s", started.elapsed().as_secs_f64());
}
