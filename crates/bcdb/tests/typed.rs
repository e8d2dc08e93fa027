//! Typed objects through the database: validated against their schema, indexed, unique fields enforced, full-text searchable, and an index rebuilt from the ledger answers the same.

use bcdb::db::{object_validator, Bcdb, DbError};
use bcdb::index::Cond;
use bcdb::object::{IndexValue, Object};
use bcdb::state::Command;
use identity::KeyPair;
use serde_json::json;

const FARM: &str = "@url = tfgrid.directory.farm.1
&name** = (S)
country** = (S)
nodes** = (I)
description*** = (S)
";
const URL: &str = "tfgrid.directory.farm.1";

fn open(dir: &std::path::Path, key: &KeyPair) -> Bcdb {
    Bcdb::open(dir, key.clone(), "bcdb/typed", object_validator()).unwrap()
}

fn farm(db: &Bcdb, value: serde_json::Value) -> Vec<u8> {
    let schema = db.state().schema(b"grid", URL).unwrap().clone();
    Object::from_json(&schema, &value, &|_| None)
        .unwrap()
        .encode()
}

fn put(db: &mut Bcdb, id: Option<u64>, value: serde_json::Value) -> Result<u64, DbError> {
    let bytes = farm(db, value);
    let command = Command::Put {
        namespace: b"grid".to_vec(),
        collection: URL.into(),
        id,
        value: bytes,
        author: None,
    };
    Ok(db.execute(&command)?[0].object_id)
}

fn answers(db: &Bcdb) -> (Vec<u64>, Vec<u64>, u64, Vec<u64>) {
    let be = [Cond::Eq("country".into(), IndexValue::Text("BE".into()))];
    let big = [Cond::Range(
        "nodes".into(),
        Some(IndexValue::Integer(100)),
        None,
    )];
    (
        db.find(b"grid", URL, &be, 0, 100).unwrap(),
        db.find(b"grid", URL, &big, 0, 100).unwrap(),
        db.count(b"grid", URL, &be).unwrap(),
        db.search(b"grid", URL, "solar", 10).unwrap(),
    )
}

#[test]
fn typed_objects_are_validated_indexed_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate();
    let expected;
    {
        let mut db = open(dir.path(), &key);
        db.execute(&Command::SchemaPut {
            namespace: b"grid".to_vec(),
            text: FARM.into(),
        })
        .unwrap();
        for (i, (country, nodes, text)) in [
            ("BE", 12, "solar roof"),
            ("EG", 150, "desert solar"),
            ("BE", 300, "wind"),
        ]
        .iter()
        .enumerate()
        {
            let id = put(&mut db, None, json!({"name": format!("farm{i}"), "country": country, "nodes": nodes, "description": text})).unwrap();
            assert_eq!(id, i as u64 + 1);
        }
        assert_eq!(answers(&db), (vec![1, 3], vec![2, 3], 2, vec![1, 2]));

        // a unique value held by another object is refused and nothing is recorded
        let before = db.commit(true).unwrap().size;
        let err = put(
            &mut db,
            None,
            json!({"name": "farm1", "country": "NL", "nodes": 1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unique"), "{err}");
        // an object may keep its own unique value when updated
        put(
            &mut db,
            Some(2),
            json!({"name": "farm1", "country": "BE", "nodes": 150, "description": "desert solar"}),
        )
        .unwrap();
        // bytes that are not an object of the schema are refused
        let raw = Command::Put {
            namespace: b"grid".to_vec(),
            collection: URL.into(),
            id: None,
            value: b"not an object".to_vec(),
            author: None,
        };
        assert!(db.execute(&raw).is_err());
        db.execute(&Command::Delete {
            namespace: b"grid".to_vec(),
            id: 1,
            author: None,
        })
        .unwrap();
        assert_eq!(db.commit(true).unwrap().size, before + 2);
        expected = answers(&db);
        assert_eq!(expected, (vec![2, 3], vec![2, 3], 2, vec![2]));
    }
    // reopened: the indexes rebuilt from the ledger give the same answers
    assert_eq!(answers(&open(dir.path(), &key)), expected);
}

/// Copies every file of `from` (one level deep and `data/`/`index/` below it) into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_ledger_that_lost_its_last_entries_answers_without_them() {
    // A ledger that lost its last entries (written without fsync before a power cut): the
    // indexes must not answer with objects the ledger no longer holds.
    let dir = tempfile::tempdir().unwrap();
    let (live, early) = (dir.path().join("live"), dir.path().join("early"));
    let key = KeyPair::generate();
    let expected;
    {
        let mut db = open(&live, &key);
        db.execute(&Command::SchemaPut {
            namespace: b"grid".to_vec(),
            text: FARM.into(),
        })
        .unwrap();
        put(
            &mut db,
            None,
            json!({"name": "a", "country": "BE", "nodes": 5, "description": "solar"}),
        )
        .unwrap();
        db.commit(true).unwrap();
        expected = answers(&db);
        drop(db);
        copy_dir(&live, &early);
        let mut db = open(&live, &key);
        put(
            &mut db,
            None,
            json!({"name": "b", "country": "BE", "nodes": 500, "description": "solar wind"}),
        )
        .unwrap();
        put(
            &mut db,
            Some(1),
            json!({"name": "a", "country": "EG", "nodes": 5}),
        )
        .unwrap();
        db.commit(true).unwrap();
        assert_ne!(answers(&db), expected);
    }
    assert_eq!(answers(&open(&early, &key)), expected);
    assert_eq!(expected, (vec![1], vec![], 1, vec![1]));
}

/// The address schema embedded in people, with `city` indexed or not.
fn address(city_indexed: bool) -> String {
    let mark = if city_indexed { "**" } else { "" };
    format!("@url = test.address.1\ncity{mark} = (S)\n")
}

#[test]
fn an_update_removes_the_rows_its_previous_version_produced_under_its_nested_schemas() {
    // The nested schema changes between two versions of an object: the rows of the old
    // version are those the address schema of its own time produced, not the current one's.
    const PERSON: &str = "@url = test.person.1\nname** = (S)\naddress = (O) !test.address.1\n";
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate();
    let schema_put = |db: &mut Bcdb, text: &str| {
        db.execute(&Command::SchemaPut {
            namespace: b"grid".to_vec(),
            text: text.into(),
        })
        .unwrap();
    };
    let person = |db: &mut Bcdb, id: Option<u64>, city: &str| {
        let state = db.state();
        let schema = state.schema(b"grid", "test.person.1").unwrap().clone();
        let resolve = |url: &str| state.schema(b"grid", url).cloned();
        let value = json!({"name": "ann", "address": {"city": city}});
        let bytes = Object::from_json(&schema, &value, &resolve)
            .unwrap()
            .encode();
        db.execute(&Command::Put {
            namespace: b"grid".to_vec(),
            collection: "test.person.1".into(),
            id,
            value: bytes,
            author: None,
        })
        .unwrap()[0]
            .object_id
    };
    let in_city = |db: &Bcdb, city: &str| {
        let cond = [Cond::Eq(
            "address__city".into(),
            IndexValue::Text(city.into()),
        )];
        db.find(b"grid", "test.person.1", &cond, 0, 10).unwrap()
    };
    let mut db = open(dir.path(), &key);
    schema_put(&mut db, &address(true));
    schema_put(&mut db, PERSON);
    let ann = person(&mut db, None, "Ghent");
    assert_eq!(in_city(&db, "Ghent"), [ann]);
    schema_put(&mut db, &address(false));
    person(&mut db, Some(ann), "Bruges"); // must take Ghent's row away
    schema_put(&mut db, &address(true));
    person(&mut db, Some(ann), "Antwerp");
    db.commit(true).unwrap();
    let answers = |db: &Bcdb| {
        (
            in_city(db, "Ghent"),
            in_city(db, "Bruges"),
            in_city(db, "Antwerp"),
        )
    };
    assert_eq!(answers(&db), (vec![], vec![], vec![ann]));
    drop(db);
    assert_eq!(
        answers(&open(dir.path(), &key)),
        (vec![], vec![], vec![ann])
    );
}
