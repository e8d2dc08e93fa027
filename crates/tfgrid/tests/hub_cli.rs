//! `tfgrid hub` end to end: a real hub process, pushed archives of every
//! kind, signed requests (and the unsigned, forged, replayed and foreign
//! ones it refuses), deduplicated pushes, hostile uploads, a hostile hub's
//! tampered files, and a restart.

mod support;

#[path = "../../flist/tests/image/archives.rs"]
mod archives;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use archives::{config, docker_save, gzip, oci_archive, zstd, Tar};
use identity::http_signature::{
    body_digest, sign_request, unix_now, AUTHORIZATION, CONTENT_DIGEST,
};
use identity::{KeyFile, RequestToSign};
use support::hub::{new_identity, HubProc};
use support::mount::Mounted;

fn tfgrid(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(args)
        .output()
        .expect("run tfgrid")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `root` as `path -> kind:contents-or-target`, for comparing trees.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let value = if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if meta.file_type().is_symlink() {
                format!("link:{}", std::fs::read_link(&path).unwrap().display())
            } else {
                format!(
                    "file:{}",
                    String::from_utf8_lossy(&std::fs::read(&path).unwrap())
                )
            };
            out.insert(rel, value);
        }
    }
    out
}

/// A small image tree as a tar (and its expected extracted form).
fn base_tar(extra: &[(&str, &str)]) -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc", 0o755)
        .file("etc/os-release", b"NAME=test\n")
        .dir("bin", 0o755)
        .file("bin/tool", b"#!/bin/sh\necho tool\n")
        .symlink("bin/alias", "tool");
    for (path, data) in extra {
        t.file(path, data.as_bytes());
    }
    t.bytes()
}

fn expected(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = [
        ("etc", "dir"),
        ("etc/os-release", "file:NAME=test\n"),
        ("bin", "dir"),
        ("bin/tool", "file:#!/bin/sh\necho tool\n"),
        ("bin/alias", "link:tool"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (path, data) in extra {
        m.insert(path.to_string(), format!("file:{data}"));
    }
    m
}

/// Pulls `user/name`, verifies it against the hub key and extracts it through the hub's block API (`http://` store).
fn pull_and_extract(
    hub: &HubProc,
    key: &Path,
    flist: &str,
    dir: &Path,
) -> BTreeMap<String, String> {
    let fl = dir.join("pulled.fl");
    hub.ok(key, &["pull", flist, s(&fl)]);
    let hub_key = hub.ok(key, &["key"]).trim().to_string();
    let out_dir = dir.join("extracted");
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = tfgrid(&[
        "flist",
        "extract",
        "--trusted-key",
        &hub_key,
        "--store",
        &hub.url(),
        s(&fl),
        s(&out_dir),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let extracted = tree(&out_dir);
    // As a node sees it: mounted through the hub on a fresh cache.
    if can_mount("pull_and_extract: mount") {
        let (mnt, cache) = (
            dir.join("mnt"),
            dir.join(format!("cache-{}", flist.replace('/', "-"))),
        );
        std::fs::create_dir_all(&mnt).unwrap();
        let mount = Mounted::start(
            &[
                "--trusted-key",
                &hub_key,
                "--cache",
                s(&cache),
                "--store",
                &hub.url(),
                s(&fl),
                s(&mnt),
            ],
            &mnt,
        );
        assert_eq!(
            tree(&mnt),
            extracted,
            "{flist}: mounted and extracted trees differ"
        );
        mount.stop();
    }
    extracted
}

#[test]
fn push_every_archive_kind_list_pull_and_restart() {
    let mut hub = HubProc::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let alice = new_identity(work.path(), "alice");
    assert!(hub.ok(&alice, &["register", "alice"]).contains("as alice"));

    let layer1 = base_tar(&[]);
    let layer2 = {
        let mut t = Tar::new();
        t.file("etc/.wh.os-release", b"")
            .file("etc/motd", b"hello\n");
        t.bytes()
    };
    let image_cfg = config("amd64", &[layer1.clone(), layer2.clone()]);
    let layered = {
        let mut m = expected(&[("etc/motd", "hello\n")]);
        m.remove("etc/os-release");
        m
    };
    let kinds: Vec<(&str, Vec<u8>, BTreeMap<String, String>)> = vec![
        ("plain.tar", layer1.clone(), expected(&[])),
        ("gz.tar.gz", gzip(&layer1), expected(&[])),
        ("zst.tar.zst", zstd(&layer1), expected(&[])),
        (
            "saved.tar",
            docker_save(&[layer1.clone(), layer2.clone()], &image_cfg),
            layered.clone(),
        ),
        (
            "oci.tar",
            oci_archive(&[gzip(&layer1), gzip(&layer2)], &image_cfg, None),
            layered,
        ),
    ];
    for (file, bytes, want) in &kinds {
        let path = work.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let name = file.split('.').next().unwrap();
        let out = hub.ok(&alice, &["push", s(&path), "--name", name]);
        assert!(out.contains(&format!("pushed alice/{name}")), "{out}");
        assert_eq!(
            &pull_and_extract(&hub, &alice, &format!("alice/{name}"), work.path()),
            want,
            "{file}"
        );
    }
    let listed = hub.ok(&alice, &["ls", "alice"]);
    for name in ["plain", "gz", "zst", "saved", "oci"] {
        assert!(listed.contains(name), "{listed}");
    }
    let info: serde_json::Value =
        serde_json::from_str(&hub.ok(&alice, &["info", "alice/saved"])).unwrap();
    assert_eq!(info["signatures"][0]["role"], "hub");
    assert_eq!(info["config"]["oci-config"]["architecture"], "amd64");

    // owner changes: rename, link, tag, remove
    hub.ok(&alice, &["rename", "plain", "base"]);
    hub.ok(&alice, &["link", "latest", "alice/base"]);
    hub.ok(&alice, &["tag", "base", "stable"]);
    assert!(hub
        .ok(&alice, &["ls", "alice", "--tag", "stable"])
        .starts_with("base\t"));
    assert_eq!(
        pull_and_extract(&hub, &alice, "alice/latest", work.path()),
        expected(&[])
    );
    hub.ok(&alice, &["rm", "zst"]);

    hub.restart();
    let listed = hub.ok(&alice, &["ls", "alice"]);
    assert!(
        listed.contains("base")
            && listed.contains("latest\t-> alice/base")
            && !listed.contains("zst"),
        "{listed}"
    );
    assert_eq!(
        pull_and_extract(&hub, &alice, "alice/saved", work.path()),
        kinds[3].2
    );
    let page = ureq::get(&format!("{}/alice/base?path=/bin", hub.url()))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(page.contains("alias") && page.contains("tool"), "{page}");
}

#[test]
fn a_second_push_uploads_only_new_blocks() {
    let hub = HubProc::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let alice = new_identity(work.path(), "alice");
    hub.ok(&alice, &["register", "alice"]);
    let big: String = (0..200_000).map(|i| format!("{i}\n")).collect();
    let first = work.path().join("v1.tar");
    std::fs::write(&first, base_tar(&[("data/big", &big), ("data/a", "a")])).unwrap();
    let out = hub.ok(&alice, &["push", s(&first)]);
    assert!(
        out.contains("new blocks") && !out.contains(" 0 new blocks"),
        "{out}"
    );
    let second = work.path().join("v2.tar");
    std::fs::write(
        &second,
        base_tar(&[
            ("data/big", &big),
            ("data/a", "a"),
            ("data/new", "only this is new"),
        ]),
    )
    .unwrap();
    let out = hub.ok(&alice, &["push", s(&second)]);
    assert!(
        out.contains(", 1 new blocks"),
        "only the new file's block is uploaded: {out}"
    );
}

/// Sends one raw request; returns (status, body).
fn send(method: &str, url: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let mut resp = agent.run(req.body(body.to_vec()).unwrap()).unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

fn signed_headers(
    key: &identity::KeyPair,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let digest = body_digest(body);
    let req = RequestToSign {
        method,
        path_and_query: path,
        body_digest: digest,
    };
    vec![
        (AUTHORIZATION, sign_request(key, &req, unix_now())),
        (CONTENT_DIGEST, hex_string(&digest)),
    ]
}

fn hex_string(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[test]
fn unsigned_forged_replayed_and_foreign_requests_are_refused() {
    let hub = HubProc::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        new_identity(work.path(), "alice"),
        new_identity(work.path(), "bob"),
    );
    hub.ok(&alice, &["register", "alice"]);
    hub.ok(&bob, &["register", "bob"]);
    let tarball = work.path().join("img.tar");
    std::fs::write(&tarball, base_tar(&[])).unwrap();
    hub.ok(&alice, &["push", s(&tarball)]);
    let alice_key = KeyFile::load(&alice).unwrap().key;
    let bob_key = KeyFile::load(&bob).unwrap().key;
    let path = "/api/v1/users/alice/flists/img";
    let url = format!("{}{path}", hub.url());

    let (status, body) = send("DELETE", &url, &[], b"");
    assert_eq!(status, 401, "unsigned: {body}");
    // bob signs, but claims to be alice: the signature does not verify
    let mut forged = signed_headers(&bob_key, "DELETE", path, b"");
    let alice_hex = alice_key.public().to_hex();
    let bob_hex = bob_key.public().to_hex();
    forged[0].1 = forged[0].1.replace(&bob_hex, &alice_hex);
    let (status, body) = send("DELETE", &url, &forged, b"");
    assert_eq!(status, 401, "forged: {body}");
    // bob's own valid signature on alice's flist
    let (status, body) = send(
        "DELETE",
        &url,
        &signed_headers(&bob_key, "DELETE", path, b""),
        b"",
    );
    assert_eq!(status, 403, "foreign: {body}");
    assert!(
        body.contains("only \\\"alice\\\"") || body.contains("alice"),
        "{body}"
    );
    // a signature made for another path
    let other = signed_headers(
        &alice_key,
        "DELETE",
        "/api/v1/users/alice/flists/other",
        b"",
    );
    assert_eq!(send("DELETE", &url, &other, b"").0, 401);
    // a rename whose body differs from the signed digest
    let rename = format!("{path}/rename");
    let mut headers = signed_headers(&alice_key, "POST", &rename, br#"{"to":"x"}"#);
    headers.push(("content-type", "application/json".into()));
    let (status, body) = send(
        "POST",
        &format!("{}{rename}", hub.url()),
        &headers,
        br#"{"to":"evil"}"#,
    );
    assert_eq!(status, 400, "body swapped: {body}");
    // replay: the same signed request twice
    let tag = format!("{path}/tags/stable");
    let headers = signed_headers(&alice_key, "PUT", &tag, b"");
    assert_eq!(
        send("PUT", &format!("{}{tag}", hub.url()), &headers, b"").0,
        204
    );
    let (status, body) = send("PUT", &format!("{}{tag}", hub.url()), &headers, b"");
    assert_eq!(status, 401, "replayed: {body}");
    assert!(
        body.contains("replay") || body.contains("already"),
        "{body}"
    );
    // an unregistered key cannot upload blocks
    let stranger = identity::KeyPair::generate();
    let block_path = format!("/api/v1/blocks/{}", hex_string(&[0u8; 32]));
    let headers = signed_headers(&stranger, "PUT", &block_path, b"x");
    assert_eq!(
        send("PUT", &format!("{}{block_path}", hub.url()), &headers, b"x").0,
        403
    );
    // alice's flist is untouched
    assert!(hub.ok(&alice, &["ls", "alice"]).contains("img"));
}

#[test]
fn hostile_uploads_fail_cleanly_and_the_hub_keeps_serving() {
    let mut hub = HubProc::start(&["--max-expanded", "50000000"]);
    let work = tempfile::tempdir().unwrap();
    let alice = new_identity(work.path(), "alice");
    hub.ok(&alice, &["register", "alice"]);
    let escape = work.path().join("escaped");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("traversal", {
            let mut t = Tar::new();
            t.file(&format!("../../../../..{}", s(&escape)), b"x");
            t.bytes()
        }),
        ("hardlink-out", {
            let mut t = Tar::new();
            t.hardlink("etc/passwd", "../../../etc/passwd");
            t.bytes()
        }),
        ("bomb", {
            let mut t = Tar::new();
            t.file("zeros", &vec![0u8; 60_000_000]);
            gzip(&t.bytes())
        }),
        ("truncated", gzip(&base_tar(&[]))[..100].to_vec()),
        ("garbage", b"this is not an archive at all".repeat(100)),
        ("broken-fl", {
            let mut fl = b"SQLite format 3\0".to_vec();
            fl.extend_from_slice(&[0xa5; 4096]);
            fl
        }),
    ];
    for (name, bytes) in &cases {
        let path = work.path().join(format!("{name}.tar"));
        std::fs::write(&path, bytes).unwrap();
        let out = hub.cli(&alice, &["push", s(&path)]);
        assert!(!out.status.success(), "{name} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("conversion failed"), "{name}: {err}");
    }
    assert!(!escape.exists(), "nothing written outside the hub");
    // an upload cut off mid-body
    let mut conn = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    let key = KeyFile::load(&alice).unwrap().key;
    let path = "/api/v1/users/alice/flists/cut";
    let claimed = vec![1u8; 1000];
    let headers = signed_headers(&key, "PUT", path, &claimed);
    let mut request = format!("PUT {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n");
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes()).unwrap();
    conn.write_all(&claimed[..10]).unwrap();
    drop(conn);
    assert!(hub.alive(), "the hub survives every hostile upload");
    let listed = hub.ok(&alice, &["ls", "alice"]);
    assert!(listed.trim().is_empty(), "no flist was made: {listed}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let spool = loop {
        let spool: Vec<_> = std::fs::read_dir(hub.data.join("spool"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        if spool.is_empty() || std::time::Instant::now() > deadline {
            break spool;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(spool.is_empty(), "spooled uploads are removed: {spool:?}");
    let mut probe = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    probe
        .write_all(b"GET /api/v1/hub/key HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    probe.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    hub.stop();
}

#[test]
fn a_tampered_flist_from_a_hostile_hub_is_refused() {
    let hub = HubProc::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let alice = new_identity(work.path(), "alice");
    hub.ok(&alice, &["register", "alice"]);
    let tarball = work.path().join("img.tar");
    std::fs::write(&tarball, base_tar(&[])).unwrap();
    hub.ok(&alice, &["push", s(&tarball)]);
    let hub_key = hub.ok(&alice, &["key"]).trim().to_string();
    // the hub's own files are changed behind its back
    let object = std::fs::read_dir(hub.data.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "fl"))
        .unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0xff;
    std::fs::write(&object, &bytes).unwrap();
    // and the compressed copy it serves to clients
    let mut zst = object.into_os_string();
    zst.push(".zst");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    let fl = work.path().join("got.fl");
    hub.ok(&alice, &["pull", "alice/img", s(&fl)]);
    let out = tfgrid(&["flist", "verify", "--trusted-key", &hub_key, s(&fl)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("modified after it was signed"), "{err}");
}

fn can_mount(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let ok = unsafe { libc::geteuid() } == 0 && Path::new("/dev/fuse").exists();
    if !ok {
        println!("SKIP: {test}: mounting needs root and /dev/fuse");
    }
    ok
}

#[test]
fn mount_through_the_hub_and_push_an_flist_built_against_it() {
    let hub = HubProc::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let alice = new_identity(work.path(), "alice");
    hub.ok(&alice, &["register", "alice"]);
    let hub_key = hub.ok(&alice, &["key"]).trim().to_string();
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/hostname"), "built-here\n").unwrap();
    let big: String = (0..300_000).map(|i| format!("{i}\n")).collect();
    std::fs::write(src.join("big"), &big).unwrap();
    std::os::unix::fs::symlink("etc/hostname", src.join("name")).unwrap();

    // A .fl naming blocks the hub lacks is refused...
    let local = work.path().join("local.fl");
    let out = tfgrid(&[
        "flist",
        "create",
        "--store",
        &format!("dir://{}", s(&work.path().join("blocks"))),
        s(&src),
        s(&local),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refused = hub.cli(&alice, &["push", s(&local), "--name", "local"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("are not on the hub"),
        "{err}"
    );
    // ...and accepted once `create --store http://hub` has uploaded them (signed by alice).
    let built = work.path().join("built.fl");
    let out = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(["flist", "create", "--store", &hub.url(), s(&src), s(&built)])
        .env("TFGRID_IDENTITY", &alice)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("uploaded 0 new blocks"), "{stdout}");
    let again = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args([
            "flist",
            "create",
            "--store",
            &hub.url(),
            s(&src),
            s(&work.path().join("again.fl")),
        ])
        .env("TFGRID_IDENTITY", &alice)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("uploaded 0 new blocks"),
        "only missing blocks are pushed"
    );
    // signed by alice herself: after the push, her key is trusted as well as the hub's
    let sign = tfgrid(&["flist", "sign", "--identity", s(&alice), s(&built)]);
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    let pushed = hub.ok(&alice, &["push", s(&built), "--name", "built"]);
    assert!(
        pushed.contains("pushed alice/built") && pushed.contains("added the signatures"),
        "{pushed}"
    );
    let fl = work.path().join("pulled.fl");
    hub.ok(&alice, &["pull", "alice/built", s(&fl)]);
    let alice_pub = KeyFile::load(&alice).unwrap().key.public().to_hex();
    for trusted in [&alice_pub, &hub_key] {
        let out = tfgrid(&["flist", "verify", "--trusted-key", trusted, s(&fl)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stranger = identity::KeyPair::generate().public().to_hex();
    let out = tfgrid(&["flist", "verify", "--trusted-key", &stranger, s(&fl)]);
    assert!(!out.status.success(), "an untrusted signer is refused");

    if !can_mount("mount_through_the_hub_and_push_an_flist_built_against_it") {
        return;
    }
    let mnt = work.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let cache = work.path().join("cache");
    let mount = Mounted::start(
        &[
            "--trusted-key",
            &hub_key,
            "--cache",
            s(&cache),
            "--store",
            &hub.url(),
            s(&fl),
            s(&mnt),
        ],
        &mnt,
    );
    assert_eq!(
        tree(&mnt),
        tree(&src),
        "the mounted tree is the source tree"
    );
    mount.stop();

    // The hub's copy of a block is damaged: a fresh mount gives EIO, never wrong bytes.
    let blocks = hub.data.join("blocks");
    let mut damaged = 0;
    for dir in std::fs::read_dir(&blocks).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[0] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    let fresh = work.path().join("cache2");
    let mount = Mounted::start(
        &[
            "--trusted-key",
            &hub_key,
            "--cache",
            s(&fresh),
            "--store",
            &hub.url(),
            s(&fl),
            s(&mnt),
        ],
        &mnt,
    );
    let err = std::fs::read(mnt.join("big")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    mount.stop();
}

#[test]
fn a_hub_keeps_blocks_in_its_own_zdb_across_restarts() {
    let mut hub = HubProc::start(&["--own-zdb"]);
    let work = tempfile::tempdir().unwrap();
    let alice = new_identity(work.path(), "alice");
    hub.ok(&alice, &["register", "alice"]);
    let tarball = work.path().join("img.tar.gz");
    std::fs::write(&tarball, gzip(&base_tar(&[("etc/x", "in zdb")]))).unwrap();
    hub.ok(&alice, &["push", s(&tarball)]);
    assert!(
        !hub.data.join("blocks").exists(),
        "no dir store when the hub owns a 0-db"
    );
    assert!(hub.data.join("zdb/data").is_dir());
    hub.restart();
    assert_eq!(
        pull_and_extract(&hub, &alice, "alice/img", work.path()),
        expected(&[("etc/x", "in zdb")])
    );
    // a second hub on the same data directory is refused and leaves the first one working
    let second = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args([
            "hub",
            "serve",
            "--own-zdb",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(&hub.data)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use by another hub"));
    let again = work.path().join("again");
    std::fs::create_dir(&again).unwrap();
    assert_eq!(
        pull_and_extract(&hub, &alice, "alice/img", &again),
        expected(&[("etc/x", "in zdb")])
    );
}

#[test]
fn html_pages_list_users_flists_contents_and_signers_with_names_escaped() {
    let hub = HubProc::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let alice = new_identity(work.path(), "alice");
    hub.ok(&alice, &["register", "alice"]);
    let mut t = Tar::new();
    t.dir("www", 0o755).file("www/<script>alert(1)<", b"x");
    let tarball = work.path().join("site.tar");
    std::fs::write(&tarball, t.bytes()).unwrap();
    hub.ok(&alice, &["push", s(&tarball)]);
    let hub_key = hub.ok(&alice, &["key"]).trim().to_string();
    let get = |path: &str| {
        ureq::get(&format!("{}{path}", hub.url()))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap()
    };
    let index = get("/");
    assert!(
        index.contains("href=\"/alice\"") && index.contains(&hub_key),
        "{index}"
    );
    assert!(get("/alice").contains("href=\"/alice/site\""));
    let page = get("/alice/site?path=/www");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;"), "{page}");
    assert!(
        !page.contains("<script>"),
        "names from an image are escaped"
    );
    assert!(
        page.contains(&format!("<code>{hub_key}</code> (hub)")),
        "{page}"
    );
    let missing = ureq::get(&format!("{}/alice/nothing", hub.url())).call();
    assert!(
        matches!(missing, Err(ureq::Error::StatusCode(404))),
        "{missing:?}"
    );
}
