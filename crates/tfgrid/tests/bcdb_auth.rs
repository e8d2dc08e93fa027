//! `tfgrid bcdb serve --require-auth` with the `redis` crate: ed25519 challenge
//! authentication, access lists and groups that deny what they must (reads, finds, counts,
//! verified gets, writes, deletes), a signed-only namespace, signed writes through
//! `OBJ.SET … SIG`, and forged signatures and failed proofs that record nothing.

mod support;

use bcdb::entry::{value_hash, Entry, Op};
use bcdb::object::Object;
use bcdb::schema;
use identity::{KeyFile, KeyPair};
use support::bcdb::{ledger_size, BcdbServer};

const NOTE: &str = "@url = acme.note.1\ntitle** = (S)\n";
const URL: &str = "acme.note.1";

/// Proves `key` on `con` with a fresh challenge.
fn auth(con: &mut redis::Connection, instance: &identity::PublicKey, key: &KeyPair) {
    let nonce: String = redis::cmd("AUTH.CHALLENGE").query(con).unwrap();
    let nonce: [u8; 32] = hex::decode(nonce).unwrap().try_into().unwrap();
    let signature = key.sign(&bcdb::server::auth_payload(&nonce, instance));
    let ok: String = redis::cmd("AUTH")
        .arg(key.public().to_hex())
        .arg(hex::encode(signature.to_bytes()))
        .query(con)
        .unwrap();
    assert_eq!(ok, "OK");
}

/// The error text of a command expected to fail.
fn error(cmd: &mut redis::Cmd, con: &mut redis::Connection) -> String {
    match cmd.query::<redis::Value>(con) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn get(con: &mut redis::Connection, id: u64) -> Option<String> {
    redis::cmd("OBJ.GET").arg(URL).arg(id).query(con).unwrap()
}

#[test]
fn challenge_auth_access_lists_and_signed_writes() {
    let server = BcdbServer::start(&["--require-auth"]);
    let instance_key = KeyFile::load(&server.data.join("instance-key.json"))
        .unwrap()
        .key;
    let instance = instance_key.public();
    let (alice, bob, carol) = (
        KeyPair::from_seed(&[2; 32]),
        KeyPair::from_seed(&[3; 32]),
        KeyPair::from_seed(&[4; 32]),
    );

    // an unauthenticated session is anonymous and may not write
    let mut anon = server.connect();
    let who: String = redis::cmd("AUTH.WHOAMI").query(&mut anon).unwrap();
    assert_eq!(who, "anonymous");
    let e = error(redis::cmd("SCHEMA.SET").arg(NOTE), &mut anon);
    assert!(
        e.contains("only the instance owner may register schemas"),
        "{e}"
    );
    let e = error(redis::cmd("SET").arg("k").arg("v"), &mut anon);
    assert!(e.contains("permission denied"), "{e}");

    // failed proofs: no challenge, a wrong key, a nonce used twice
    let e = error(
        redis::cmd("AUTH").arg(alice.public().to_hex()).arg("00"),
        &mut anon,
    );
    assert!(e.contains("AUTH.CHALLENGE first"), "{e}");
    let nonce: String = redis::cmd("AUTH.CHALLENGE").query(&mut anon).unwrap();
    let nonce: [u8; 32] = hex::decode(nonce).unwrap().try_into().unwrap();
    let by_bob = bob.sign(&bcdb::server::auth_payload(&nonce, &instance));
    let e = error(
        redis::cmd("AUTH")
            .arg(alice.public().to_hex())
            .arg(hex::encode(by_bob.to_bytes())),
        &mut anon,
    );
    assert!(e.contains("does not verify"), "{e}");
    let e = error(
        redis::cmd("AUTH")
            .arg(bob.public().to_hex())
            .arg(hex::encode(by_bob.to_bytes())),
        &mut anon,
    );
    assert!(
        e.contains("AUTH.CHALLENGE first"),
        "a nonce serves once: {e}"
    );
    let e = error(redis::cmd("AUTH").arg("password"), &mut anon);
    assert!(e.contains("without any password configured"), "{e}");
    let who: String = redis::cmd("AUTH.WHOAMI").query(&mut anon).unwrap();
    assert_eq!(who, "anonymous");

    // the instance key makes a session the owner
    let mut owner = server.connect();
    auth(&mut owner, &instance, &instance_key);
    let who: String = redis::cmd("AUTH.WHOAMI").query(&mut owner).unwrap();
    assert_eq!(who, "owner");
    let _: redis::Value = redis::cmd("SCHEMA.SET")
        .arg(NOTE)
        .query(&mut owner)
        .unwrap();

    let mut a = server.connect();
    auth(&mut a, &instance, &alice);
    let who: String = redis::cmd("AUTH.WHOAMI").query(&mut a).unwrap();
    assert_eq!(who, alice.public().to_hex());
    let mut b = server.connect();
    auth(&mut b, &instance, &bob);
    let mut c = server.connect();
    auth(&mut c, &instance, &carol);

    // creating needs w in the default list
    let e = error(
        redis::cmd("OBJ.NEW").arg(URL).arg(r#"{"title":"a1"}"#),
        &mut a,
    );
    assert!(e.contains("default"), "{e}");
    let _: () = redis::cmd("ACL.SET")
        .arg("default")
        .arg("*")
        .arg("r")
        .arg(alice.public().to_hex())
        .arg("w")
        .query(&mut owner)
        .unwrap();
    let e = error(
        redis::cmd("ACL.SET").arg("default").arg("*").arg("rwd"),
        &mut a,
    );
    assert!(e.contains("only the instance owner"), "{e}");
    let id: u64 = redis::cmd("OBJ.NEW")
        .arg(URL)
        .arg(r#"{"title":"a1"}"#)
        .query(&mut a)
        .unwrap();
    // anyone reads it, only alice (its owner) changes it
    for con in [&mut anon, &mut b, &mut c, &mut owner] {
        assert_eq!(get(con, id).as_deref(), Some(r#"{"title":"a1"}"#));
    }
    let e = error(
        redis::cmd("OBJ.SET")
            .arg(URL)
            .arg(id)
            .arg(r#"{"title":"b"}"#),
        &mut b,
    );
    assert!(e.contains("needs w"), "{e}");
    let e = error(redis::cmd("OBJ.DEL").arg(URL).arg(id), &mut b);
    assert!(e.contains("needs d"), "{e}");
    let _: () = redis::cmd("OBJ.SET")
        .arg(URL)
        .arg(id)
        .arg(r#"{"title":"a2"}"#)
        .query(&mut a)
        .unwrap();

    // alice shares it with the group "ops" (bob) only
    let _: () = redis::cmd("GROUP.SET")
        .arg("ops")
        .arg(bob.public().to_hex())
        .query(&mut owner)
        .unwrap();
    let _: () = redis::cmd("ACL.SET")
        .arg("private")
        .arg("group:ops")
        .arg("rw")
        .query(&mut owner)
        .unwrap();
    let e = error(
        redis::cmd("OBJ.ACL").arg(URL).arg(id).arg("private"),
        &mut b,
    );
    assert!(e.contains("owner of object"), "{e}");
    let _: () = redis::cmd("OBJ.ACL")
        .arg(URL)
        .arg(id)
        .arg("private")
        .query(&mut a)
        .unwrap();
    let rules: Vec<String> = redis::cmd("ACL.GET")
        .arg("private")
        .query(&mut owner)
        .unwrap();
    assert_eq!(rules, ["group:ops", "rw"]);
    let e = error(redis::cmd("ACL.GET").arg("private"), &mut c);
    assert!(e.contains("only the instance owner"), "{e}");
    assert_eq!(get(&mut anon, id), None);
    assert_eq!(get(&mut c, id), None);
    assert_eq!(get(&mut b, id).as_deref(), Some(r#"{"title":"a2"}"#));
    let _: () = redis::cmd("OBJ.SET")
        .arg(URL)
        .arg(id)
        .arg(r#"{"title":"b1"}"#)
        .query(&mut b)
        .unwrap();
    // finds, counts, histories and verified gets deny what reads deny
    let other: u64 = redis::cmd("OBJ.NEW")
        .arg(URL)
        .arg(r#"{"title":"public"}"#)
        .query(&mut a)
        .unwrap();
    let find = |con: &mut redis::Connection| -> (Vec<u64>, u64) {
        let ids: Vec<u64> = redis::cmd("OBJ.FIND")
            .arg(URL)
            .arg("title")
            .arg(">=")
            .arg("")
            .query(con)
            .unwrap();
        let n: u64 = redis::cmd("OBJ.COUNT")
            .arg(URL)
            .arg("title")
            .arg(">=")
            .arg("")
            .query(con)
            .unwrap();
        (ids, n)
    };
    assert_eq!(find(&mut owner), (vec![id, other], 2));
    assert_eq!(find(&mut b), (vec![id, other], 2));
    assert_eq!(find(&mut c), (vec![other], 1));
    assert_eq!(find(&mut anon), (vec![other], 1));
    let history: Vec<redis::Value> = redis::cmd("OBJ.HISTORY")
        .arg(URL)
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert!(history.is_empty());
    let vget: Option<Vec<redis::Value>> = redis::cmd("LEDGER.VGET").arg(id).query(&mut c).unwrap();
    assert!(vget.is_none());
    let vget: Option<Vec<redis::Value>> = redis::cmd("LEDGER.VGET").arg(id).query(&mut b).unwrap();
    assert!(vget.is_some());
    // the old hash API filters too, and errors say nothing of what cannot be read
    let key = format!("default:data:{URL}");
    let scan: (String, Vec<String>) = redis::cmd("HSCAN").arg(&key).arg(0).query(&mut c).unwrap();
    assert_eq!(
        scan.1,
        [other.to_string(), r#"{"title":"public"}"#.to_string()]
    );
    let hget: Option<String> = redis::cmd("HGET")
        .arg(&key)
        .arg(id)
        .query(&mut anon)
        .unwrap();
    assert_eq!(hget, None);
    let wrong: Option<String> = redis::cmd("OBJ.GET")
        .arg("acme.other.1")
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert_eq!(wrong, None, "no 'belongs to' for an unreadable object");
    let deleted: u64 = redis::cmd("OBJ.DEL")
        .arg(URL)
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        deleted, 0,
        "what cannot be read cannot be deleted, and looks missing"
    );
    let info: String = redis::cmd("INFO").query(&mut anon).unwrap();
    assert!(!info.contains("ns_default"), "{info}");
    // all or nothing: bob may not delete the public note, so his HDEL deletes nothing
    let e = error(redis::cmd("HDEL").arg(&key).arg("*"), &mut b);
    assert!(e.contains("nothing was deleted"), "{e}");
    assert!(get(&mut b, id).is_some());

    // a signed-only namespace: unsigned changes are refused, signed ones recorded
    let _: () = redis::cmd("NS.POLICY")
        .arg("signed")
        .query(&mut owner)
        .unwrap();
    let e = error(
        redis::cmd("OBJ.SET")
            .arg(URL)
            .arg(other)
            .arg(r#"{"title":"x"}"#),
        &mut a,
    );
    assert!(e.contains("signed by their author"), "{e}");
    let schemas = schema::parse(NOTE).unwrap();
    let note = &schemas[0];
    let json = r#"{"title":"signed"}"#;
    let encoded = Object::from_json(note, &serde_json::from_str(json).unwrap(), &|_| None)
        .unwrap()
        .encode();
    // the nonce must exceed the last one alice signed with here
    let last: u64 = redis::cmd("AUTH.NONCE")
        .arg(alice.public().to_hex())
        .query(&mut anon)
        .unwrap();
    assert_eq!(last, 0);
    let nonce = 5;
    let payload = Entry::change_payload(
        &instance,
        b"default",
        URL.as_bytes(),
        other,
        Op::Put,
        &note.hash(),
        &value_hash(&encoded),
        nonce,
    );
    let signature = hex::encode(alice.sign(&payload).to_bytes());
    // OBJ.SET of `json` with alice's signature, claimed by `key`
    let signed_set = |key: &KeyPair| {
        let mut cmd = redis::cmd("OBJ.SET");
        cmd.arg(URL).arg(other).arg(json).arg("SIG");
        cmd.arg(key.public().to_hex()).arg(nonce).arg(&signature);
        cmd
    };
    // claimed by bob's key: refused, nothing recorded
    let before = ledger_size(&mut owner);
    let e = error(&mut signed_set(&bob), &mut anon);
    assert!(e.contains("author signature does not verify"), "{e}");
    assert_eq!(ledger_size(&mut owner), before);
    // alice's signature, relayed by an anonymous session, counts as alice's
    let _: () = signed_set(&alice).query(&mut anon).unwrap();
    assert_eq!(get(&mut anon, other).as_deref(), Some(json));
    assert_eq!(ledger_size(&mut owner), before + 1);
    let last: u64 = redis::cmd("AUTH.NONCE")
        .arg(alice.public().to_hex())
        .query(&mut anon)
        .unwrap();
    assert_eq!(last, nonce);
    // relaying the same signed change again is a replay, and records nothing
    let e = error(&mut signed_set(&alice), &mut anon);
    assert!(e.contains("not above 5"), "{e}");
    assert_eq!(ledger_size(&mut owner), before + 1);

    // the ledger replays and verifies, and the rights hold after a restart
    drop((a, b, c, anon, owner));
    let mut server = server;
    assert!(server.terminate().success());
    let (ok, report) = server.verify();
    assert!(ok, "{report}");
    server.spawn();
    let mut c = server.connect();
    auth(&mut c, &instance, &carol);
    assert_eq!(get(&mut c, id), None);
    let mut b = server.connect();
    auth(&mut b, &instance, &bob);
    assert_eq!(get(&mut b, id).as_deref(), Some(r#"{"title":"b1"}"#));
}
