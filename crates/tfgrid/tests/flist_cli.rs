//! `tfgrid flist` through the real binary: create from a directory, list,
//! cat, extract and compare every attribute with the source, dedup on a
//! second create, tampered blocks, signatures, a password-protected 0-db
//! store, and a hostile `.fl`.

mod support;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Raw, Zdb};

fn tfgrid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(args)
        .output()
        .expect("run tfgrid")
}

fn ok(args: &[&str]) -> String {
    let out = tfgrid(args);
    assert!(
        out.status.success(),
        "tfgrid {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = tfgrid(args);
    assert_eq!(out.status.code(), Some(2), "tfgrid {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Deterministic pseudo-random bytes (so blocks differ from each other).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn set_mtime(path: &Path, secs: i64) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let t = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    // SAFETY: valid path and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            [t, t].as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0);
}

/// A tree with every kind of object the format must carry.
fn make_tree(root: &Path) -> bool {
    std::fs::create_dir_all(root.join("etc/deep/er")).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("small.txt"), b"hello flist\n").unwrap();
    std::fs::write(root.join("exact"), noise(512 * 1024, 1)).unwrap();
    std::fs::write(root.join("exact+1"), noise(512 * 1024 + 1, 2)).unwrap();
    std::fs::write(root.join("etc/deep/er/big.bin"), noise(1_300_000, 3)).unwrap();
    std::fs::write(root.join("etc/setuid"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        root.join("etc/setuid"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("etc/deep"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::os::unix::fs::symlink("small.txt", root.join("rel-link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs-link")).unwrap();
    std::fs::hard_link(root.join("small.txt"), root.join("etc/hardlink")).unwrap();
    let fifo = CString::new(root.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let xattrs = flist_xattr_set(&root.join("small.txt"), b"user.flist", b"kept");
    if is_root() {
        let dev = CString::new(root.join("null").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path; char device 1,3.
        assert_eq!(
            unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
            0
        );
        let owned = CString::new(root.join("exact").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::lchown(owned.as_ptr(), 1000, 2000) }, 0);
    }
    for (i, rel) in [
        "small.txt",
        "exact",
        "etc/deep/er/big.bin",
        "rel-link",
        "etc",
    ]
    .iter()
    .enumerate()
    {
        set_mtime(&root.join(rel), 1_600_000_000 + i as i64);
    }
    xattrs
}

/// Sets an xattr; false when the filesystem does not support user xattrs.
fn flist_xattr_set(path: &Path, name: &[u8], value: &[u8]) -> bool {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    // SAFETY: valid strings and value buffer.
    unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        ) == 0
    }
}

fn xattr_get(path: &Path, name: &[u8]) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid strings and writable buffer.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

/// What extraction must reproduce of one object: type+mode, uid, gid, size,
/// mtime (0 for directories), rdev, and content or link target.
type Attrs = (u32, u32, u32, u64, i64, u64, Vec<u8>);

/// Relative path → attributes of every object under `root`.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Attrs> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let kind = meta.file_type();
            let data = if kind.is_file() {
                std::fs::read(&path).unwrap()
            } else if kind.is_symlink() {
                std::fs::read_link(&path)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec()
            } else {
                Vec::new()
            };
            let size = if kind.is_file() { meta.size() } else { 0 };
            let mtime = if kind.is_dir() { 0 } else { meta.mtime() };
            let rel = path.strip_prefix(root).unwrap().to_owned();
            out.insert(
                rel,
                (
                    meta.mode(),
                    meta.uid(),
                    meta.gid(),
                    size,
                    mtime,
                    meta.rdev(),
                    data,
                ),
            );
            if kind.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

#[test]
fn create_list_cat_extract_round_trip_through_a_dir_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, store, fl) = (
        tmp.path().join("src"),
        tmp.path().join("store"),
        tmp.path().join("t.fl"),
    );
    let xattrs = make_tree(&src);
    let store_url = format!("dir://{}", store.display());
    let out = ok(&[
        "flist",
        "create",
        s(&src),
        s(&fl),
        "--store",
        &store_url,
        "--tag",
        "version=1",
    ]);
    assert!(out.contains("1 hardlinks"), "{out}");

    let listing = ok(&["flist", "ls", s(&fl), "-R"]);
    for name in [
        "empty",
        "small.txt",
        "etc/deep/er/big.bin",
        "fifo",
        "abs-link",
        "etc/hardlink",
    ] {
        assert!(
            listing.lines().any(|l| l == name),
            "{name} missing from ls:\n{listing}"
        );
    }
    let long = ok(&["flist", "ls", s(&fl), "--long"]);
    assert!(long.contains("-> /etc/passwd"), "{long}");
    let cat = tfgrid(&["flist", "cat", s(&fl), "/etc/deep/er/big.bin"]);
    assert!(cat.status.success());
    assert!(
        cat.stdout == noise(1_300_000, 3),
        "cat returned other bytes"
    );

    let dest = tmp.path().join("dest");
    ok(&["flist", "extract", s(&fl), s(&dest)]);
    let (a, b) = (snapshot(&src), snapshot(&dest));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, want) in &a {
        assert!(b[path] == *want, "{} differs after extract", path.display());
    }
    let same_inode = |p: &str, q: &str| {
        std::fs::metadata(dest.join(p)).unwrap().ino()
            == std::fs::metadata(dest.join(q)).unwrap().ino()
    };
    assert!(
        same_inode("small.txt", "etc/hardlink"),
        "hardlink not restored"
    );
    if xattrs {
        assert_eq!(
            xattr_get(&dest.join("small.txt"), b"user.flist").as_deref(),
            Some(&b"kept"[..])
        );
    } else {
        eprintln!("SKIP: xattr check, the temp filesystem has no user xattrs");
    }

    // The same tree again: every block is already in the store.
    let again = ok(&[
        "flist",
        "create",
        s(&src),
        s(&tmp.path().join("t2.fl")),
        "--store",
        &store_url,
    ]);
    assert!(again.contains("uploaded 0 new blocks"), "{again}");
}

#[test]
fn tampered_block_is_refused_not_served() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, store, fl) = (
        tmp.path().join("src"),
        tmp.path().join("store"),
        tmp.path().join("t.fl"),
    );
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("data"), noise(100_000, 9)).unwrap();
    ok(&[
        "flist",
        "create",
        s(&src),
        s(&fl),
        "--store",
        &format!("dir://{}", store.display()),
    ]);
    // Flip one byte of the only block file.
    let mut blocks = Vec::new();
    for sub in std::fs::read_dir(&store).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            blocks.push(f.unwrap().path());
        }
    }
    assert_eq!(blocks.len(), 1);
    let mut bytes = std::fs::read(&blocks[0]).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&blocks[0], bytes).unwrap();
    let err = fails(&["flist", "cat", s(&fl), "/data"]);
    assert!(err.contains("block"), "{err}");
    let out = tfgrid(&["flist", "cat", s(&fl), "/data"]);
    assert!(out.stdout.is_empty(), "wrong bytes were written out");
}

#[test]
fn signatures_and_trust_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, fl) = (tmp.path().join("src"), tmp.path().join("t.fl"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"signed content").unwrap();
    let store = format!("dir://{}", tmp.path().join("store").display());
    ok(&["flist", "create", s(&src), s(&fl), "--store", &store]);
    let (alice, mallory) = (
        tmp.path().join("alice.json"),
        tmp.path().join("mallory.json"),
    );
    let key = |path: &Path| {
        let out = ok(&["id", "--file", s(path), "new"]);
        out.lines()
            .find_map(|l| l.strip_prefix("public key:").map(|k| k.trim().to_owned()))
            .unwrap()
    };
    let (alice_key, mallory_key) = (key(&alice), key(&mallory));

    let err = fails(&["flist", "verify", s(&fl), "--trusted-key", &alice_key]);
    assert!(err.contains("not signed"), "{err}");
    ok(&["flist", "sign", s(&fl), "--identity", s(&alice)]);
    let out = ok(&["flist", "verify", s(&fl), "--trusted-key", &alice_key]);
    assert!(out.contains(&alice_key));
    let err = fails(&["flist", "verify", s(&fl), "--trusted-key", &mallory_key]);
    assert!(err.contains("none of them trusted"), "{err}");
    let err = fails(&[
        "flist",
        "extract",
        s(&fl),
        s(&tmp.path().join("d")),
        "--trusted-key",
        &mallory_key,
    ]);
    assert!(err.contains("refusing flist"), "{err}");
    assert!(!tmp.path().join("d").exists());
    ok(&["flist", "cat", s(&fl), "/f", "--trusted-key", &alice_key]);

    // Any change to the .fl after signing is caught.
    let mut bytes = std::fs::read(&fl).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&fl, bytes).unwrap();
    let err = fails(&["flist", "verify", s(&fl), "--trusted-key", &alice_key]);
    assert!(err.contains("modified after it was signed"), "{err}");
}

#[test]
fn round_trip_through_a_password_protected_zdb_namespace() {
    let zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    assert_eq!(c.call(&[b"NSNEW", b"blocks"]), b"+OK\r\n");
    assert_eq!(
        c.call(&[b"NSSET", b"blocks", b"password", b"secret"]),
        b"+OK\r\n"
    );
    let tmp = tempfile::tempdir().unwrap();
    let (src, fl) = (tmp.path().join("src"), tmp.path().join("t.fl"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/a"), noise(700_000, 4)).unwrap();
    std::fs::write(src.join("b"), b"bee").unwrap();
    let url = format!("zdb://:secret@127.0.0.1:{}/blocks", zdb.port);
    ok(&["flist", "create", s(&src), s(&fl), "--store", &url]);
    // Two blocks for `a`, one for `b`.
    assert_eq!(c.call(&[b"SELECT", b"blocks", b"secret"]), b"+OK\r\n");
    assert_eq!(c.call(&[b"DBSIZE"]), b":3\r\n");
    // The route recorded in the flist has no password; the namespace is
    // public, so reading through it works without one.
    let inspect = ok(&["flist", "inspect", s(&fl)]);
    assert!(!inspect.contains("secret"), "{inspect}");
    let dest = tmp.path().join("dest");
    ok(&["flist", "extract", s(&fl), s(&dest)]);
    assert!(std::fs::read(dest.join("d/a")).unwrap() == noise(700_000, 4));
    // A wrong password is a clear error.
    let bad = format!("zdb://:wrong@127.0.0.1:{}/blocks", zdb.port);
    let err = fails(&[
        "flist",
        "create",
        s(&src),
        s(&tmp.path().join("u.fl")),
        "--store",
        &bad,
    ]);
    assert!(err.contains("Access denied"), "{err}");
}

#[test]
fn hostile_names_never_write_outside_the_destination() {
    // Our writer refuses such names, so build a valid flist and patch the
    // name's bytes in the SQLite file, as an attacker would.
    let tmp = tempfile::tempdir().unwrap();
    let (src, fl) = (tmp.path().join("src"), tmp.path().join("evil.fl"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("zzzescaped"), b"payload").unwrap();
    let store = format!("dir://{}", tmp.path().join("s").display());
    ok(&["flist", "create", s(&src), s(&fl), "--store", &store]);
    let bytes = std::fs::read(&fl).unwrap();
    let mut patched = bytes.clone();
    let mut hits = 0;
    for i in 0..bytes.len() - 10 {
        if &bytes[i..i + 10] == b"zzzescaped" {
            patched[i..i + 10].copy_from_slice(b"../escaped");
            hits += 1;
        }
    }
    assert!(hits >= 1, "name not found in the .fl bytes");
    std::fs::write(&fl, patched).unwrap();
    let dest = tmp.path().join("inside/dest");
    let err = fails(&["flist", "extract", s(&fl), s(&dest)]);
    assert!(err.contains("\"../escaped\""), "{err}");
    assert!(!tmp.path().join("inside/escaped").exists());
    assert!(!tmp.path().join("escaped").exists());
}

#[test]
fn create_from_a_tar_gz_matches_create_from_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let archive = tmp.path().join("tree.tar.gz");
    let status = Command::new("tar")
        .args([
            "--xattrs",
            "--numeric-owner",
            "-C",
            s(&src),
            "-czf",
            s(&archive),
            ".",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let store = format!("dir://{}", tmp.path().join("store").display());
    let from_dir = ok(&[
        "flist",
        "create",
        s(&src),
        s(&tmp.path().join("d.fl")),
        "--store",
        &store,
    ]);
    assert!(from_dir.contains("uploaded"), "{from_dir}");
    // Same file contents: every block is already in the store.
    let from_tar = ok(&[
        "flist",
        "create",
        s(&archive),
        s(&tmp.path().join("t.fl")),
        "--store",
        &store,
    ]);
    assert!(from_tar.contains("uploaded 0 new blocks"), "{from_tar}");
    let dest = tmp.path().join("dest");
    ok(&["flist", "extract", s(&tmp.path().join("t.fl")), s(&dest)]);
    let (a, b) = (snapshot(&src), snapshot(&dest));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, want) in &a {
        assert!(
            b[path] == *want,
            "{} differs after a tar.gz round trip",
            path.display()
        );
    }
}

#[test]
fn diff_names_every_added_removed_and_changed_path() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("same"), b"same").unwrap();
    std::fs::write(src.join("content"), b"one").unwrap();
    std::fs::write(src.join("mode"), b"m").unwrap();
    std::fs::write(src.join("d/gone"), b"x").unwrap();
    let store = format!("dir://{}", tmp.path().join("store").display());
    let (a, b) = (tmp.path().join("a.fl"), tmp.path().join("b.fl"));
    ok(&["flist", "create", s(&src), s(&a), "--store", &store]);
    std::fs::write(src.join("content"), b"two").unwrap();
    std::fs::set_permissions(src.join("mode"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(src.join("d/gone")).unwrap();
    std::fs::write(src.join("d/new"), b"y").unwrap();
    ok(&["flist", "create", s(&src), s(&b), "--store", &store]);
    let same = tfgrid(&["flist", "diff", s(&a), s(&a)]);
    assert_eq!(same.status.code(), Some(0));
    assert!(same.stdout.is_empty());
    let out = tfgrid(&["flist", "diff", s(&a), s(&b)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("M /content (") && l.contains("content")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("M /mode (mode")),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "- /d/gone"), "{text}");
    assert!(text.lines().any(|l| l == "+ /d/new"), "{text}");
    assert!(!text.contains("/same"), "{text}");
}

#[test]
fn zstd_block_codec_round_trips_and_is_recorded_in_the_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    // Compressible text over several blocks, plus incompressible noise.
    let text: Vec<u8> = (0..1_200_000u32)
        .map(|i| b"flist zstd "[i as usize % 11])
        .collect();
    std::fs::write(src.join("text"), &text).unwrap();
    std::fs::write(src.join("noise"), noise(300_000, 5)).unwrap();
    let (snappy_store, zstd_store) = (tmp.path().join("s1"), tmp.path().join("s2"));
    let (a, b) = (tmp.path().join("a.fl"), tmp.path().join("b.fl"));
    ok(&[
        "flist",
        "create",
        s(&src),
        s(&a),
        "--store",
        &format!("dir://{}", snappy_store.display()),
    ]);
    ok(&[
        "flist",
        "create",
        s(&src),
        s(&b),
        "--block-codec",
        "zstd",
        "--store",
        &format!("dir://{}", zstd_store.display()),
    ]);
    assert!(ok(&["flist", "inspect", s(&b)]).contains("tag block-codec = zstd"));
    assert!(!ok(&["flist", "inspect", s(&a)]).contains("block-codec"));
    let size = |dir: &Path| -> u64 {
        let mut total = 0;
        for sub in std::fs::read_dir(dir).unwrap() {
            for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
                total += f.unwrap().metadata().unwrap().len();
            }
        }
        total
    };
    assert!(
        size(&zstd_store) < size(&snappy_store),
        "zstd store not smaller"
    );
    let cat = tfgrid(&["flist", "cat", s(&b), "/text"]);
    assert!(
        cat.status.success() && cat.stdout == text,
        "zstd block read back wrong"
    );
    let dest = tmp.path().join("dest");
    ok(&["flist", "extract", s(&b), s(&dest)]);
    assert!(std::fs::read(dest.join("noise")).unwrap() == noise(300_000, 5));
    let err = fails(&[
        "flist",
        "create",
        s(&src),
        s(&tmp.path().join("c.fl")),
        "--block-codec",
        "lz4",
        "--store",
        "dir:///tmp/x",
    ]);
    assert!(err.contains("unknown codec"), "{err}");
}
