//! `tfgrid bcdb verify` on a real ledger directory: an intact ledger passes; one changed byte is named and fails the command.

use std::process::Command;

use bcdb::db::Bcdb;
use bcdb::state::Command as BcdbCommand;
use identity::KeyPair;

#[test]
fn verify_passes_an_intact_ledger_and_names_a_changed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate();
    {
        let mut db = Bcdb::open(
            dir.path(),
            key.clone(),
            "bcdb/cli",
            Box::new(|_, _, _| Ok(())),
        )
        .unwrap();
        for i in 0..20 {
            db.execute(&BcdbCommand::SetKey {
                namespace: b"grid".to_vec(),
                key: format!("key {i}").into_bytes(),
                value: format!("value number {i:03}").into_bytes(),
                author: None,
            })
            .unwrap();
        }
        db.commit(true).unwrap();
    }
    let verify = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_tfgrid"))
            .args(["bcdb", "verify", "--key", key])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = verify(&key.public().to_hex());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("20 entries, 1 checkpoints") && text.contains("ok:"),
        "{text}"
    );

    // another key did not sign these checkpoints
    let out = verify(&KeyPair::generate().public().to_hex());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("checkpoint 0"));

    let data = dir.path().join("data/ledger/d0");
    let mut bytes = std::fs::read(&data).unwrap();
    let needle = b"value number 013";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + 15] ^= 0x01;
    std::fs::write(&data, bytes).unwrap();
    let out = verify(&key.public().to_hex());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("entry 13:"), "{text}");
}
