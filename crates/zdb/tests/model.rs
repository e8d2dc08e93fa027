//! The engine against a trivially correct model: random operations (SET,
//! DEL, GET, SCAN, rotation, compaction, reopen, crash before a flush) on a
//! real namespace and on a `BTreeMap`/`Vec`, compared after every step.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use zdb::{Db, DbConfig, DelError, Hooks, Mode, Namespace, NsId, ScanError, SetOutcome};

/// splitmix64: small, deterministic, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn value(&mut self) -> Vec<u8> {
        // Few distinct small values so that unchanged SETs happen often.
        let len = match self.below(4) {
            0 => 0,
            1 => self.below(8) as usize,
            _ => self.below(3000) as usize,
        };
        let fill = b'a' + self.below(3) as u8;
        vec![fill; len]
    }
}

fn config(dir: &Path, mode: Option<Mode>) -> DbConfig {
    DbConfig {
        data_root: dir.join("data"),
        index_root: dir.join("index"),
        mode,
        datasize: 512 << 10,
        default_password: None,
        default_maxsize: 0,
        sync_on_rotate: false,
        hooks: Arc::new(Hooks::none()),
    }
}

fn get(ns: &mut Namespace, key: &[u8]) -> Option<Vec<u8>> {
    let loc = ns.lookup(key).expect("lookup")?;
    let mut out = BytesMut::new();
    ns.read_value(&loc, &mut out).expect("read value");
    Some(out.to_vec())
}

fn scan_keys(ns: &mut Namespace) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        match ns.scan(cursor.as_deref()) {
            Ok(items) => {
                cursor = Some(items.last().expect("non-empty").cursor.encode().to_vec());
                keys.extend(items.into_iter().map(|i| i.key));
            }
            Err(ScanError::End) => return keys,
            Err(e) => panic!("scan: {e}"),
        }
    }
}

/// User-mode model: live values plus keys in order of last write (SCAN order).
#[derive(Clone, Default, PartialEq, Debug)]
struct UserModel {
    values: BTreeMap<Vec<u8>, Vec<u8>>,
    order: Vec<Vec<u8>>,
}

impl UserModel {
    fn set(&mut self, key: &[u8], value: &[u8]) -> bool {
        if self.values.get(key).map(Vec::as_slice) == Some(value) {
            return false;
        }
        self.values.insert(key.to_vec(), value.to_vec());
        self.order.retain(|k| k != key);
        self.order.push(key.to_vec());
        true
    }

    fn del(&mut self, key: &[u8]) -> bool {
        self.order.retain(|k| k != key);
        self.values.remove(key).is_some()
    }
}

fn assert_matches(ns: &mut Namespace, model: &UserModel, step: &str) {
    assert_eq!(ns.len(), model.values.len() as u64, "{step}: entry count");
    for i in 0..24 {
        let key = format!("k{i}").into_bytes();
        assert!(
            get(ns, &key) == model.values.get(&key).cloned(),
            "{step}: value of k{i}"
        );
    }
    assert!(scan_keys(ns) == model.order, "{step}: SCAN order");
}

/// State of the namespace as a model, for crash comparisons.
fn observe(ns: &mut Namespace) -> UserModel {
    let order = scan_keys(ns);
    let values = order
        .iter()
        .map(|k| (k.clone(), get(ns, k).expect("scanned key")))
        .collect();
    UserModel { values, order }
}

fn run_user(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut db = Db::open(config(dir.path(), None)).unwrap();
    let mut id: NsId = db.create(b"model").unwrap();
    let mut model = UserModel::default();
    for step in 0..steps {
        let label = format!("seed {seed} step {step}");
        match rng.below(100) {
            // A batch of writes that is either flushed (acknowledged) or lost
            // in a crash; after the crash the files hold a prefix of it.
            0..=69 => {
                let crash = rng.below(5) == 0;
                let mut states = vec![model.clone()];
                for _ in 0..1 + rng.below(12) {
                    let key = format!("k{}", rng.below(24)).into_bytes();
                    let ns = db.get(id).unwrap();
                    if rng.below(4) == 0 {
                        let res = ns.del(&key, None);
                        let existed = model.del(&key);
                        assert_eq!(res.is_ok(), existed, "{label}: DEL");
                        if !existed {
                            assert!(matches!(res, Err(DelError::NotFound)), "{label}");
                        }
                    } else {
                        let value = rng.value();
                        let res = ns.set(&key, &value, None).unwrap();
                        let written = model.set(&key, &value);
                        let expected = if written {
                            SetOutcome::Written(key.clone())
                        } else {
                            SetOutcome::Unchanged
                        };
                        assert_eq!(res, expected, "{label}: SET");
                    }
                    states.push(model.clone());
                }
                if crash {
                    // Drop without flushing: queued writes are lost as in a
                    // kill -9 before the batch's replies were sent.
                    drop(db);
                    db = Db::open(config(dir.path(), None)).unwrap();
                    id = db.find(b"model").unwrap();
                    let found = observe(db.get(id).unwrap());
                    let idx = states.iter().position(|s| *s == found);
                    let idx = idx.unwrap_or_else(|| {
                        panic!("{label}: state after crash is no prefix of the batch")
                    });
                    model = states.swap_remove(idx);
                } else {
                    // Acknowledge: data entries written, index entries may
                    // stay queued (they are rebuilt from the data file).
                    db.get(id).unwrap().commit().unwrap();
                    if rng.below(3) == 0 {
                        drop(db);
                        db = Db::open(config(dir.path(), None)).unwrap();
                        id = db.find(b"model").unwrap();
                        assert_matches(
                            db.get(id).unwrap(),
                            &model,
                            &format!("{label}: crash after commit"),
                        );
                    }
                }
            }
            70..=84 => assert_matches(db.get(id).unwrap(), &model, &label),
            85..=89 => db.get(id).unwrap().rotate().unwrap(),
            90..=94 => {
                db.get(id).unwrap().compact().unwrap();
                assert_matches(db.get(id).unwrap(), &model, &label);
            }
            _ => {
                db.get(id).unwrap().flush().unwrap();
                drop(db);
                db = Db::open(config(dir.path(), None)).unwrap();
                id = db.find(b"model").unwrap();
                assert_matches(db.get(id).unwrap(), &model, &label);
            }
        }
    }
    assert_matches(db.get(id).unwrap(), &model, "end");
}

/// Seeds per test: 12 by default, more with `MODEL_SEEDS=n` for long runs.
fn n_seeds() -> u64 {
    std::env::var("MODEL_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

#[test]
fn user_namespace_matches_model() {
    for seed in 1..=n_seeds() {
        run_user(seed, 250);
    }
}

fn run_seq(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut db = Db::open(config(dir.path(), Some(Mode::Seq))).unwrap();
    let mut id = db.default_id();
    // model[n] = value of id n, None for deleted ids and update copies.
    let mut model: Vec<Option<Vec<u8>>> = Vec::new();
    for step in 0..steps {
        let label = format!("seed {seed} step {step}");
        let ns = db.get(id).unwrap();
        let op = rng.below(100);
        if std::env::var_os("MODEL_TRACE").is_some() {
            eprintln!(
                "{label}: op {op} model {:?}",
                model
                    .iter()
                    .map(|v| v.as_ref().map(|v| (v.len(), v.first().copied())))
                    .collect::<Vec<_>>()
            );
        }
        match op {
            0..=39 => {
                let value = rng.value();
                let res = ns.set(b"", &value, None).unwrap();
                assert_eq!(
                    res,
                    SetOutcome::Written((model.len() as u64).to_le_bytes().to_vec()),
                    "{label}"
                );
                model.push(Some(value));
            }
            40..=59 if !model.is_empty() => {
                let n = rng.below(model.len() as u64);
                let key = n.to_le_bytes();
                let value = rng.value();
                let res = ns.set(&key, &value, None);
                match &model[n as usize] {
                    None => assert!(res.is_err(), "{label}: update of a dead id"),
                    Some(old) if *old == value => {
                        assert_eq!(res.unwrap(), SetOutcome::Unchanged, "{label}")
                    }
                    Some(_) => {
                        assert_eq!(res.unwrap(), SetOutcome::Written(key.to_vec()), "{label}");
                        model[n as usize] = Some(value);
                        model.push(None);
                    }
                }
            }
            60..=69 if !model.is_empty() => {
                let n = rng.below(model.len() as u64);
                let res = ns.del(&n.to_le_bytes(), None);
                assert_eq!(
                    res.is_ok(),
                    model[n as usize].take().is_some(),
                    "{label}: DEL"
                );
            }
            70..=84 => {
                for (n, want) in model.iter().enumerate() {
                    assert!(
                        get(ns, &(n as u64).to_le_bytes()) == *want,
                        "{label}: id {n}"
                    );
                }
                let live = model.iter().filter(|v| v.is_some()).count() as u64;
                assert_eq!(ns.len(), live, "{label}: DBSIZE");
            }
            85..=89 => ns.rotate().unwrap(),
            90..=94 => {
                ns.compact().unwrap();
            }
            95..=97 => {
                // Acknowledged writes survive a crash right after commit.
                ns.commit().unwrap();
                drop(db);
                db = Db::open(config(dir.path(), Some(Mode::Seq))).unwrap();
                id = db.default_id();
            }
            _ => {
                ns.flush().unwrap();
                drop(db);
                db = Db::open(config(dir.path(), Some(Mode::Seq))).unwrap();
                id = db.default_id();
            }
        }
    }
    let ns = db.get(id).unwrap();
    for (n, want) in model.iter().enumerate() {
        assert!(get(ns, &(n as u64).to_le_bytes()) == *want, "end: id {n}");
    }
}

#[test]
fn seq_namespace_matches_model() {
    for seed in 1000..1000 + n_seeds() {
        run_seq(seed, 300);
    }
}
