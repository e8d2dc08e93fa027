//! Access rights decided by the state machine: instance owner, object owners, access lists,
//! groups, public readers, the signed-only policy, forged signatures, and the same decisions
//! after a replay.

use std::collections::BTreeSet;

use bcdb::acl::{Acl, Caller, Perms, Principal};
use bcdb::db::{object_validator, Bcdb, DbError};
use bcdb::entry::{value_hash, Author, Entry, Op};
use bcdb::object::Object;
use bcdb::state::{ApplyError, Command};
use identity::KeyPair;
use serde_json::json;

const NS: &[u8] = b"people";
const URL: &str = "acme.note.1";
const NOTE: &str = "@url = acme.note.1\ntitle** = (S)\n";

fn open(dir: &std::path::Path, key: &KeyPair) -> Bcdb {
    Bcdb::open(dir, key.clone(), "bcdb/acl", object_validator()).unwrap()
}

fn note(db: &Bcdb, title: &str) -> Vec<u8> {
    let schema = db.state().schema(NS, URL).unwrap().clone();
    Object::from_json(&schema, &json!({ "title": title }), &|_| None)
        .unwrap()
        .encode()
}

fn put(id: Option<u64>, value: Vec<u8>, author: Option<Author>) -> Command {
    Command::Put {
        namespace: NS.to_vec(),
        collection: URL.into(),
        id,
        value,
        author,
    }
}

fn delete(id: u64) -> Command {
    Command::Delete {
        namespace: NS.to_vec(),
        id,
        author: None,
    }
}

fn acl(rules: &[(Principal, &str)]) -> Acl {
    Acl::new(
        rules
            .iter()
            .map(|(p, perms)| (p.clone(), Perms::parse(perms).unwrap())),
    )
    .unwrap()
}

fn denied(result: Result<Vec<bcdb::db::Applied>, DbError>) -> String {
    match result {
        Err(DbError::Refused(ApplyError::Denied(why))) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn sign(key: &KeyPair, db: &Bcdb, id: u64, op: Op, value: &[u8], nonce: u64) -> Author {
    let schema = db.state().schema(NS, URL).unwrap().hash();
    let instance = KeyPair::from_seed(&[1; 32]).public();
    let payload = Entry::change_payload(
        &instance,
        NS,
        URL.as_bytes(),
        id,
        op,
        &schema,
        &value_hash(value),
        nonce,
    );
    Author {
        key: key.public(),
        signature: key.sign(&payload),
        nonce: Some(nonce),
    }
}

#[test]
fn owners_lists_groups_and_policies_decide_and_survive_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let instance = KeyPair::from_seed(&[1; 32]);
    let (alice, bob, carol) = (
        KeyPair::from_seed(&[2; 32]),
        KeyPair::from_seed(&[3; 32]),
        KeyPair::from_seed(&[4; 32]),
    );
    let as_ = |k: &KeyPair| Caller::Key(k.public());
    let mut db = open(dir.path(), &instance);
    let schema = Command::SchemaPut {
        namespace: NS.to_vec(),
        text: NOTE.into(),
    };
    assert!(denied(db.execute_as(&as_(&alice), &schema)).contains("instance owner"));
    db.execute(&schema).unwrap();
    // the instance key proved by a session is the owner
    let by_owner = note(&db, "owner's");
    db.execute_as(&as_(&instance), &put(None, by_owner, None))
        .unwrap();

    // nobody but the owner creates until the default list says so
    let v = note(&db, "alice's");
    assert!(denied(db.execute_as(&as_(&alice), &put(None, v.clone(), None))).contains("default"));
    let default = acl(&[
        (Principal::Anyone, "r"),
        (Principal::Key(alice.public().to_bytes()), "w"),
    ]);
    let set_default = Command::AclSet {
        namespace: NS.to_vec(),
        name: "default".into(),
        acl: default,
    };
    assert!(denied(db.execute_as(&as_(&alice), &set_default)).contains("instance owner"));
    db.execute(&set_default).unwrap();
    let alice_note = db.execute_as(&as_(&alice), &put(None, v, None)).unwrap()[0];
    assert_eq!(alice_note.object_id, 2);
    // the entry records who made the change, attested by the instance
    let (_, entry, _) = db.get(NS, 2).unwrap().unwrap();
    assert_eq!(entry.attested, Some(alice.public()));
    assert_eq!(entry.author, None);

    // bob may read (anyone may) but not write or delete alice's note; alice may
    let v = note(&db, "bob was here");
    assert!(denied(db.execute_as(&as_(&bob), &put(Some(2), v, None))).contains("needs w"));
    assert!(denied(db.execute_as(&as_(&bob), &delete(2))).contains("needs d"));
    for who in [as_(&bob), Caller::Anonymous, as_(&alice), Caller::Owner] {
        assert!(db.state().may_read(&who, NS, 2), "{who:?}");
    }
    // the owner's own object is not alice's
    assert!(denied(db.execute_as(&as_(&alice), &delete(1))).contains("needs d"));
    let v = note(&db, "alice again");
    db.execute_as(&as_(&alice), &put(Some(2), v, None)).unwrap();

    // alice shares her note with a group holding bob; anonymous readers lose it
    db.execute(&Command::GroupSet {
        namespace: NS.to_vec(),
        name: "ops".into(),
        members: BTreeSet::from([bob.public().to_bytes()]),
    })
    .unwrap();
    db.execute(&Command::AclSet {
        namespace: NS.to_vec(),
        name: "shared".into(),
        acl: acl(&[(Principal::Group("ops".into()), "rw")]),
    })
    .unwrap();
    let attach = Command::ObjectAcl {
        namespace: NS.to_vec(),
        id: 2,
        acl: Some("shared".into()),
    };
    assert!(denied(db.execute_as(&as_(&bob), &attach)).contains("owner of object 2"));
    db.execute_as(&as_(&alice), &attach).unwrap();
    assert!(!db.state().may_read(&Caller::Anonymous, NS, 2));
    assert!(!db.state().may_read(&as_(&carol), NS, 2));
    assert!(db.state().may_read(&as_(&bob), NS, 2));
    let v = note(&db, "bob edits");
    db.execute_as(&as_(&bob), &put(Some(2), v, None)).unwrap();
    assert!(denied(db.execute_as(&as_(&bob), &delete(2))).contains("needs d"));

    // a signed-only namespace: unsigned changes are refused, even alice's
    db.execute(&Command::PolicySet {
        namespace: NS.to_vec(),
        signed: true,
    })
    .unwrap();
    let v = note(&db, "unsigned");
    assert!(denied(db.execute_as(&as_(&alice), &put(None, v.clone(), None))).contains("signed"));
    // a signed creation relayed by an unauthenticated session counts as its signer's
    let author = sign(&alice, &db, 0, Op::Create, &v, 10);
    let signed = db
        .execute_as(&Caller::Anonymous, &put(None, v.clone(), Some(author)))
        .unwrap()[0];
    // a forged one (signed by bob, claiming alice's key) records nothing
    let before = db.commit(true).unwrap().size;
    let mut forged = sign(&bob, &db, 0, Op::Create, &v, 11);
    forged.key = alice.public();
    match db.execute_as(&Caller::Anonymous, &put(None, v.clone(), Some(forged))) {
        Err(DbError::Refused(ApplyError::Signature)) => {}
        other => panic!("expected a signature refusal, got {other:?}"),
    }
    assert_eq!(db.commit(true).unwrap().size, before);
    // the same signed creation, relayed again, is a replay: refused, not a second object
    match db.execute_as(&Caller::Anonymous, &put(None, v.clone(), Some(author))) {
        Err(DbError::Refused(ApplyError::Replay(why))) => {
            assert!(why.contains("nonce 10"), "{why}")
        }
        other => panic!("expected a replay refusal, got {other:?}"),
    }
    // as is an older signed version of the object after a newer one
    let v2 = note(&db, "alice v2");
    let v3 = note(&db, "alice v3");
    let id = signed.object_id;
    let put_v2 = put(
        Some(id),
        v2.clone(),
        Some(sign(&alice, &db, id, Op::Put, &v2, 20)),
    );
    let put_v3 = put(
        Some(id),
        v3.clone(),
        Some(sign(&alice, &db, id, Op::Put, &v3, 21)),
    );
    db.execute_as(&Caller::Anonymous, &put_v2).unwrap();
    db.execute_as(&Caller::Anonymous, &put_v3).unwrap();
    assert!(matches!(
        db.execute_as(&Caller::Anonymous, &put_v2),
        Err(DbError::Refused(ApplyError::Replay(_)))
    ));
    assert_eq!(db.get(NS, id).unwrap().unwrap().2, v3);
    // a signature made for another instance does not verify here
    let elsewhere = {
        let schema = db.state().schema(NS, URL).unwrap().hash();
        let other = KeyPair::from_seed(&[42; 32]).public();
        let p = Entry::change_payload(
            &other,
            NS,
            URL.as_bytes(),
            id,
            Op::Put,
            &schema,
            &value_hash(&v2),
            30,
        );
        Author {
            key: alice.public(),
            signature: alice.sign(&p),
            nonce: Some(30),
        }
    };
    assert!(matches!(
        db.execute_as(&Caller::Anonymous, &put(Some(id), v2, Some(elsewhere))),
        Err(DbError::Refused(ApplyError::Signature))
    ));
    let before = db.commit(true).unwrap().size;

    // after a replay the same rights hold
    let decisions = |db: &Bcdb| {
        let callers = [as_(&alice), as_(&bob), as_(&carol), Caller::Anonymous];
        (1..=signed.object_id)
            .flat_map(|id| callers.iter().map(move |c| (id, *c)))
            .map(|(id, c)| db.state().may_read(&c, NS, id))
            .collect::<Vec<_>>()
    };
    let expected = decisions(&db);
    drop(db);
    let mut db = open(dir.path(), &instance);
    assert_eq!(decisions(&db), expected);
    assert_eq!(
        db.state().last_nonce(&alice.public()),
        21,
        "nonces are replayed from the ledger"
    );
    assert_eq!(db.commit(true).unwrap().size, before);
    let v = note(&db, "still unsigned");
    assert!(denied(db.execute_as(&as_(&alice), &put(Some(2), v, None))).contains("signed"));
    assert_eq!(
        db.state().namespace(NS).unwrap().objects[&3].owner,
        Some(alice.public().to_bytes())
    );
    assert_eq!(db.state().namespace(NS).unwrap().objects[&1].owner, None);
}
