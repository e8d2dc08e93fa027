//! The database over its state machine: ids, updates, deletes and histories survive a reopen; refused commands record nothing; planning is deterministic.

use bcdb::db::{Applied, Bcdb};
use bcdb::state::{ApplyError, Command, State};
use identity::KeyPair;

const FARM: &str = "@url = tfgrid.directory.farm.1\nname** = (S)\ncountry = \"BE\" (S)\n";

fn open(dir: &std::path::Path, key: &KeyPair) -> Bcdb {
    Bcdb::open(dir, key.clone(), "bcdb/test", Box::new(|_, _, _| Ok(()))).unwrap()
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
        assert_eq!(
            db.execute(&put("", None, "a blob")).unwrap()[0].object_id,
            4
        );
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
            (put("", Some(2), "x"), "belongs to"),
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
    assert_eq!(db.execute(&put("", None, "next")).unwrap()[0].object_id, 5);
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
        put("", None, "b"),
        put("tfgrid.directory.farm.1", Some(1), "c"),
    ];
    let run = || {
        let mut state = State::new();
        let mut entries = Vec::new();
        let mut seq = 0;
        for command in &commands {
            for (entry, value) in state
                .plan(command, seq, 1_000 + seq, &|_, _, _| Ok(()))
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
