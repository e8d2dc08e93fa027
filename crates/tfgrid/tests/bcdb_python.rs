//! The Python client (`python/bcdb_client`, redis-py and PyNaCl) against a real
//! `tfgrid bcdb serve`: `python/tests/session/test_session.py` registers models, saves,
//! updates, deletes, finds, counts, searches, reads histories, uses the old HSETNEW/HGET
//! API through raw redis-py, and reads with verification against a trust store, including
//! tampered and wrong-key refusals and the checkpoint-signature cache. The server is then
//! restarted and a second Python process must carry the persisted trust over, and the
//! ledger the client wrote must verify with `tfgrid bcdb verify`.
//!
//! With a server that answers `AUTH.CHALLENGE`, the script also authenticates on connect and
//! after a reconnect, writes with author signatures the server must accept (so its schema
//! hash and canonical encoding are the server's), has a forged signature refused, checks
//! nonces (`AUTH.NONCE`, a replayed signed command refused, a new client of the same key
//! starting above the server's last nonce), reads an attested write back, signs in a
//! numeric namespace (`SELECT 3` is db3), and drives the ACL, group and policy helpers.
//! Numeric namespaces are also checked without authentication (verified reads in db5).
//!
//! Without python3, redis-py or PyNaCl (`scripts/deps.sh` installs them) the test prints a
//! loud SKIP line and returns. What the server does not answer yet (AUTH.CHALLENGE, signed
//! writes) the script reports as `SKIP:` lines, echoed here, and those checks are not
//! required.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::bcdb::BcdbServer;

/// How long one run of the session script may take before it is killed.
const DEADLINE: Duration = Duration::from_secs(180);

/// Checks the first run must report (`PASS <name>` lines of the script).
const FIRST_RUN: &[&str] = &[
    "model registration (SCHEMA.SET idempotent, hash computed locally)",
    "save, update and get (server bytes == client encoding)",
    "delete",
    "find, count, search, cursor; server errors as ServerError",
    "history",
    "raw redis-py HSETNEW/HGET/HKEYS",
    "verified get, trust store written",
    "trust store survives a client restart; checkpoint cache counts",
    "tampered value and wrong object refused",
    "wrong instance key refused",
    "numeric namespace: SELECT 5 is db5 for writes and verified reads",
];

/// Checks of authentication, signed writes and access lists: required unless the script
/// reports that the server does not answer `AUTH.CHALLENGE` (or `SIG`) yet.
const AUTH_RUN: &[&str] = &[
    "AUTH.CHALLENGE/AUTH on connect and reconnect",
    "signed create, update and delete; a forged signature is refused",
    "nonces: AUTH.NONCE, a replay refused, a new client starts above the last",
    "attested writes decode and verify",
    "signed write in a numeric namespace (SELECT 3 signs db3)",
    "ACL, group, OBJ.ACL and NS.POLICY helpers",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether python3 with redis-py and PyNaCl is there.
fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import redis, nacl.signing"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs the session script with `args`, killed at [`DEADLINE`]; returns its status and
/// output (stdout and stderr, kept in files so a full pipe cannot stall it).
fn run_session(server: &BcdbServer, tmp: &Path, args: &[&str]) -> (ExitStatus, String) {
    let out_path = tmp.join(format!("session-{}.log", server.port));
    let out = std::fs::File::create(&out_path).expect("create the session log");
    let mut child = Command::new("python3")
        .arg(repo_root().join("python/tests/session/test_session.py"))
        .args(["--port", &server.port.to_string()])
        .args(["--instance-key", &server.instance_key().to_hex()])
        .arg("--tmp")
        .arg(tmp)
        .args(["--deadline", &(DEADLINE.as_secs() - 10).to_string()])
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::from(out.try_clone().expect("clone the log file")))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("start python3");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&out_path).unwrap_or_default();
            panic!("the Python session ran past {DEADLINE:?}; its output:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out_path).expect("read the session log");
    for line in text.lines().filter(|l| l.starts_with("SKIP")) {
        eprintln!("\n*** {line} ***\n");
    }
    (status, text)
}

#[test]
fn the_python_client_works_and_verifies_against_a_real_server() {
    if !python_ready() {
        eprintln!(
            "\n*** SKIP bcdb_python: python3 with redis-py and PyNaCl is missing \
             (scripts/deps.sh installs them); the Python client was not run ***\n"
        );
        return;
    }
    let mut server = BcdbServer::start(&[]);
    let tmp = tempfile::tempdir().expect("temp dir");

    let (status, text) = run_session(&server, tmp.path(), &[]);
    println!("{text}");
    assert!(status.success(), "the Python session failed:\n{text}");
    let auth_skipped = text.lines().any(|l| l.starts_with("SKIP"));
    let required = FIRST_RUN
        .iter()
        .chain(AUTH_RUN.iter().filter(|_| !auth_skipped));
    for name in required {
        assert!(
            text.lines().any(|l| l == format!("PASS {name}")),
            "check {name:?} did not pass:\n{text}"
        );
    }
    assert!(text.contains("SESSION OK"), "{text}");
    let trusted: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("TRUSTED "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no TRUSTED line:\n{text}"));
    assert!(
        tmp.path().join("trust.json").exists(),
        "the trust store is a file"
    );

    // a restarted server on the same ledger, a new Python process, the same trust store
    assert!(server.terminate().success(), "the server stops cleanly");
    server.spawn();
    let expect = trusted.to_string();
    let (status, text) = run_session(
        &server,
        tmp.path(),
        &["--resume", "--expect-trusted", &expect],
    );
    println!("{text}");
    assert!(
        status.success(),
        "the resumed Python session failed:\n{text}"
    );
    assert!(
        text.contains("PASS persisted trust across a new process and a server restart"),
        "{text}"
    );

    // what the Python client wrote is a ledger Rust verifies end to end
    assert!(server.terminate().success(), "the server stops cleanly");
    let (ok, report) = server.verify();
    assert!(ok, "tfgrid bcdb verify refuses the ledger:\n{report}");
}
