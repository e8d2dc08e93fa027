//! The database over its state machine: ids, updates, deletes and histories survive a reopen; refused commands record nothing; planning is deterministic.

use bcdb::db::{Applied, Bcdb};
use bcdb::state::{ApplyError, Command, State};
use identity::KeyPair;

const FARM: &str = "@url = tfgrid.directory.farm.1\nname** = (S)\ncountry = \"BE\" (S)\n";

fn open(dir: &std::path::Path, key: &KeyPair) -> Bcdb {
    Bcdb::open(dir, key.clone(), "bcdb/test", Box::new(|_, _, _| Ok(()))).unwrap()
}

fn set(key: &str, value: &str) -> Command {
    Command::SetKey {
        namespace: b"grid".to_vec(),
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        author: None,
    }
}

fn put(collection: &str, id: Option<u64>, value: &str) -> Command {
    Command::Put {
        namespace: b"grid".to_vec(),
        collection: collection.into(),
        id,
        value: value.as_bytes().to_vec(),
        author: None,
    }
}

#[test]
fn objects_versions_and_deletes_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate();
    {
        let mut db = open(dir.path(), &key);
        let schema = Command::SchemaPut {
            namespace: b"grid".to_vec(),
            text: FARM.into(),
        };
        assert_eq!(
            db.execute(&schema).unwrap(),
            [Applied {
                seq: 0,
                object_id: 0
            }]
        );
        let url = "tfgrid.directory.farm.1";
        let ids: Vec<u64> = (0..3)
            .map(|i| db.execute(&put(url, None, &format!("farm {i}"))).unwrap()[0].object_id)
            .collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(db.execute(&set("k", "a blob")).unwrap()[0].object_id, 4);
        db.execute(&put(url, Some(2), "farm 2 renamed")).unwrap();
        db.execute(&Command::Delete {
            namespace: b"grid".to_vec(),
            id: 1,
            author: None,
        })
        .unwrap();
        let cp = db.commit(true).unwrap();
        assert_eq!(cp.size, 7);

        // refused commands record nothing
        let refusals = [
            (put("tfgrid.no.such.1", None, "x"), "no schema"),
            (put(url, Some(1), "x"), "no object 1"),
            (put("", Some(2), "x"), "stored by key"),
            (put("", None, "x"), "stored by key"),
            (
                Command::DelKey {
                    namespace: b"grid".to_vec(),
                    key: b"nope".to_vec(),
                    author: None,
                },
                "no key",
            ),
            (put(url, Some(99), "x"), "no object 99"),
        ];
        for (command, why) in refusals {
            let err = db.execute(&command).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
        let breaking = Command::SchemaPut {
            namespace: b"grid".to_vec(),
            text: "@url = tfgrid.directory.farm.1\nname** = (I)\ncountry = \"BE\" (S)\n".into(),
        };
        assert!(matches!(
            db.execute(&breaking),
            Err(bcdb::db::DbError::Refused(ApplyError::Evolution { .. }))
        ));
        assert_eq!(db.commit(true).unwrap().size, 7, "nothing was recorded");
    }
    let mut db = open(dir.path(), &key);
    assert!(db.get(b"grid", 1).unwrap().is_none(), "deleted");
    let (obj, entry, value) = db.get(b"grid", 2).unwrap().unwrap();
    assert_eq!(
        (value.as_slice(), obj.history.len()),
        (&b"farm 2 renamed"[..], 2)
    );
    assert_eq!(entry.collection, b"tfgrid.directory.farm.1");
    let history = db.history(b"grid", 1).unwrap();
    assert_eq!(history.len(), 2, "the deleted object keeps its history");
    assert_eq!(history[0].1, b"farm 0");
    assert!(db
        .state()
        .schema(b"grid", "tfgrid.directory.farm.1")
        .is_some());
    // ids continue after the highest ever handed out
    assert_eq!(db.execute(&set("next", "v")).unwrap()[0].object_id, 5);
    let record = db.verified_get(b"grid", 2, 0).unwrap().expect("committed");
    let entry = bcdb::ledger::verify_record(&record, None, &key.public()).unwrap();
    assert_eq!(
        (entry.object_id, record.value.as_slice()),
        (2, &b"farm 2 renamed"[..])
    );
    assert!(db.verified_get(b"grid", 1, 0).unwrap().is_none(), "deleted");
}

#[test]
fn planning_is_deterministic() {
    let commands = [
        Command::SchemaPut {
            namespace: b"grid".to_vec(),
            text: FARM.into(),
        },
        put("tfgrid.directory.farm.1", None, "a"),
        set("b", "b"),
        put("tfgrid.directory.farm.1", Some(1), "c"),
    ];
    let run = || {
        let mut state = State::new();
        let mut entries = Vec::new();
        let mut seq = 0;
        for command in &commands {
            for (entry, value) in state
                .plan(
                    command,
                    &bcdb::acl::Caller::Owner,
                    seq,
                    1_000 + seq,
                    &|_, _, _| Ok(()),
                )
                .unwrap()
            {
                state.apply(&entry, &value).unwrap();
                seq += 1;
                entries.push(entry.encode());
            }
        }
        (state, entries)
    };
    let (a, b) = (run(), run());
    assert_eq!(a.1, b.1, "same commands, same entry bytes");
    assert_eq!(a.0, b.0);
}

#[test]
fn schema_less_values_are_addressed_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate();
    {
        let mut db = open(dir.path(), &key);
        let first = db.execute(&set("user:1", "alice")).unwrap()[0];
        let again = db.execute(&set("user:1", "alice v2")).unwrap()[0];
        assert_eq!(first.object_id, again.object_id, "same key, same object");
        assert_eq!(
            db.get_key(b"grid", b"user:1").unwrap().unwrap().1,
            b"alice v2"
        );
        db.execute(&Command::DelKey {
            namespace: b"grid".to_vec(),
            key: b"user:1".to_vec(),
            author: None,
        })
        .unwrap();
        assert!(db.get_key(b"grid", b"user:1").unwrap().is_none());
        let reborn = db.execute(&set("user:1", "bob")).unwrap()[0];
        assert_ne!(
            reborn.object_id, first.object_id,
            "a deleted key comes back as a new object"
        );
        db.commit(true).unwrap();
    }
    let mut db = open(dir.path(), &key);
    let (id, blob) = db.get_key(b"grid", b"user:1").unwrap().unwrap();
    assert_eq!((id, blob.as_slice()), (2, &b"bob"[..]));
    assert_eq!(db.history(b"grid", 1).unwrap().len(), 3);
}
