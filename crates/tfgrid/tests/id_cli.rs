//! `tfgrid id new|show|import|export-seed` through the real binary.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tfgrid(args: &[&str], file: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(["id", "--file"])
        .arg(file)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tfgrid id");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn field(out: &Output, label: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(label).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {label:?} in {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn new_show_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("me/identity.json");
    let out = tfgrid(&["new"], &file, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = field(&out, "public key:");
    assert_eq!(public.len(), 64);
    let words = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assert_eq!(words.split(' ').count(), 24);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let shown = tfgrid(&["show"], &file, None);
    assert!(shown.status.success());
    assert_eq!(field(&shown, "public key:"), public);
    assert!(
        !String::from_utf8_lossy(&shown.stdout).contains(&words),
        "show leaks the words"
    );
    let with_words = tfgrid(&["show", "--mnemonic"], &file, None);
    assert_eq!(field(&with_words, "mnemonic:"), words);

    // The words alone bring back the same key.
    let copy = dir.path().join("copy.json");
    let imported = tfgrid(
        &["import", "--threebot-id", "7"],
        &copy,
        Some(&format!("{words}\n")),
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert_eq!(field(&imported, "public key:"), public);
    assert_eq!(field(&tfgrid(&["show"], &copy, None), "3bot id:"), "7");

    // A raw seed file of the same key: 32 bytes, 0600, read back as the same identity,
    // never replacing a file.
    let seed = dir.path().join("seed.bin");
    let exported = tfgrid(&["export-seed", seed.to_str().unwrap()], &file, None);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert_eq!(std::fs::read(&seed).unwrap().len(), 32);
    assert_eq!(
        std::fs::metadata(&seed).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        field(&tfgrid(&["show"], &seed, None), "public key:"),
        public
    );
    let twice = tfgrid(&["export-seed", seed.to_str().unwrap()], &file, None);
    assert_eq!(twice.status.code(), Some(2));

    // Never overwrite an identity.
    let again = tfgrid(&["new"], &file, None);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn bad_words_and_open_permissions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("id.json");
    let out = tfgrid(&["import"], &file, Some("abandon abandon abandon\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected 24 words"));
    assert!(!file.exists());

    assert!(tfgrid(&["new"], &file, None).status.success());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = tfgrid(&["show"], &file, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}
