//! `.fl` writer: publication by rename, cleanup of unfinished files, and rejected arguments.

use std::path::Path;

use flist::block::BlockRef;
use flist::fl::{FlError, FlReader, FlWriter, Inode, S_IFDIR, S_IFLNK, S_IFREG};

fn node(parent: u64, name: &[u8], mode: u32) -> Inode {
    Inode {
        parent,
        name: name.to_vec(),
        mode,
        ..Inode::default()
    }
}

fn dir_node() -> Inode {
    node(0, b"/", S_IFDIR | 0o755)
}

/// Asserts `res` is [`FlError::InvalidArgument`] with a reason containing `needle`.
#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(res: Result<T, FlError>, needle: &str) {
    match res {
        Err(FlError::InvalidArgument { reason, .. }) => {
            assert!(
                reason.contains(needle),
                "reason {reason:?} lacks {needle:?}"
            )
        }
        other => panic!("expected InvalidArgument containing {needle:?}, got {other:?}"),
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn never_overwrites_and_publishes_only_on_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.fl");
    std::fs::write(&path, b"keep").unwrap();
    assert!(matches!(FlWriter::create(&path), Err(FlError::Exists(p)) if p == path));
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");

    let path = dir.path().join("b.fl");
    let mut w = FlWriter::create(&path).unwrap();
    w.root(&dir_node()).unwrap();
    assert!(!path.exists(), "nothing under the final name before finish");
    drop(w);
    assert_eq!(
        entries(dir.path()),
        ["a.fl"],
        "an abandoned writer leaves nothing behind"
    );

    std::fs::write(dir.path().join("b.fl.tmp"), b"stale").unwrap();
    let mut w = FlWriter::create(&path).unwrap();
    w.root(&dir_node()).unwrap();
    w.finish().unwrap();
    assert_eq!(entries(dir.path()), ["a.fl", "b.fl"]);
    assert_eq!(FlReader::open(&path).unwrap().root().unwrap().ino, 1);
}

#[test]
fn finish_refuses_a_path_that_appeared_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.fl");
    let mut w = FlWriter::create(&path).unwrap();
    w.root(&dir_node()).unwrap();
    std::fs::write(&path, b"other").unwrap();
    assert!(matches!(w.finish(), Err(FlError::Exists(_))));
    assert_eq!(std::fs::read(&path).unwrap(), b"other");
    assert_eq!(entries(dir.path()), ["a.fl"]);
}

#[test]
fn finish_without_root_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.fl");
    let w = FlWriter::create(&path).unwrap();
    assert_rejected(w.finish(), "no root inode");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn root_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = FlWriter::create(&dir.path().join("a.fl")).unwrap();
    assert_rejected(
        w.add_inode(&node(1, b"x", S_IFREG)),
        "root must be written before",
    );
    assert_rejected(
        w.root(&node(0, b"/", S_IFREG | 0o644)),
        "root must be a directory",
    );
    assert_eq!(w.root(&dir_node()).unwrap(), 1);
    assert_rejected(w.root(&dir_node()), "first inode, written once");
}

#[test]
fn names_parents_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.fl");
    let mut w = FlWriter::create(&path).unwrap();
    w.root(&dir_node()).unwrap();
    for (name, needle) in [
        (&b""[..], "empty name"),
        (b".", "reserved"),
        (b"..", "reserved"),
        (b"a/b", "contains '/'"),
        (b"a\0b", "NUL"),
        (&[b'n'; 256], "over the 255-byte limit"),
    ] {
        assert_rejected(w.add_inode(&node(1, name, S_IFREG)), needle);
    }
    let file = w.add_inode(&node(1, b"f", S_IFREG | 0o644)).unwrap();
    let sub = w.add_inode(&node(1, b"d", S_IFDIR | 0o755)).unwrap();
    assert_rejected(
        w.add_inode(&node(file, b"x", S_IFREG)),
        "parent 2 is not a directory",
    );
    assert_rejected(
        w.add_inode(&node(99, b"x", S_IFREG)),
        "parent 99 is not a directory",
    );
    assert_rejected(
        w.add_inode(&node(1, b"f", S_IFDIR)),
        "\"f\" already exists in directory 1",
    );
    assert_eq!(
        w.add_inode(&node(sub, b"f", S_IFREG)).unwrap(),
        4,
        "same name elsewhere is fine"
    );
    let odd = w.add_inode(&node(1, b"\xff", S_IFREG)).unwrap();
    assert_rejected(w.add_inode(&node(1, b"\xff", S_IFREG)), "already exists");
    let huge = Inode {
        size: u64::MAX,
        ..node(1, b"huge", S_IFREG)
    };
    assert_rejected(w.add_inode(&huge), "size over i64::MAX");
    // Rejected calls wrote nothing: the next inode number follows on.
    assert_eq!(w.add_inode(&node(1, b"g", S_IFREG)).unwrap(), odd + 1);
    w.finish().unwrap();
    let r = FlReader::open(&path).unwrap();
    assert_eq!(r.counts().unwrap().n_inodes, 6);
}

#[test]
fn other_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.fl");
    let mut w = FlWriter::create(&path).unwrap();
    w.root(&dir_node()).unwrap();
    let link = w.add_inode(&node(1, b"l", S_IFLNK | 0o777)).unwrap();
    let block = BlockRef {
        id: [1; 32],
        key: [2; 32],
    };
    assert_rejected(w.add_block(9, &block), "inode 9 has not been written");
    assert_rejected(w.add_block(0, &block), "inode 0 has not been written");
    assert_rejected(
        w.set_symlink_target(link, b""),
        "symlink target of 0 bytes (1..=4096)",
    );
    assert_rejected(
        w.set_symlink_target(link, &[b'x'; 4097]),
        "symlink target of 4097 bytes",
    );
    assert_rejected(
        w.set_symlink_target(7, b"x"),
        "inode 7 has not been written",
    );
    assert_rejected(
        w.add_route(0x80, 0x7f, "dir:///x"),
        "route range 80-7f is empty",
    );
    assert_rejected(w.add_xattr(link, b"", b"v"), "xattr name of 0 bytes");
    assert_rejected(
        w.add_xattr(link, &[b'n'; 256], b"v"),
        "xattr name of 256 bytes",
    );
    assert_rejected(
        w.add_xattr(link, b"n", &[0; 65537]),
        "xattr value of 65537 bytes",
    );
    assert_rejected(w.set_tag("", "v"), "tag key of 0 bytes");
    assert_rejected(w.add_route(0, 1, ""), "route url of 0 bytes");
    assert_rejected(w.set_digest(link, "", b"d"), "digest algorithm of 0 bytes");
    assert_rejected(w.set_digest(link, "x", &[0; 1025]), "digest of 1025 bytes");
    assert_rejected(w.set_config("", b"v"), "config key of 0 bytes");
    assert_rejected(w.set_hardlink(link, link), "hardlink to itself");
    assert_rejected(w.set_hardlink(link, 5), "inode 5 has not been written");
    assert_rejected(w.set_prefetch(&[1, 5]), "inode 5 has not been written");

    w.set_symlink_target(link, b"a").unwrap();
    w.set_symlink_target(link, b"b").unwrap();
    w.set_tag("version", "1").unwrap();
    w.set_tag("version", "2").unwrap();
    w.set_prefetch(&[1]).unwrap();
    w.set_prefetch(&[link, 1]).unwrap();
    w.set_config("k", b"1").unwrap();
    w.set_config("k", b"2").unwrap();
    w.finish().unwrap();
    let r = FlReader::open(&path).unwrap();
    assert_eq!(r.symlink_target(link).unwrap().unwrap(), b"b");
    assert_eq!(r.tag("version").unwrap().as_deref(), Some("2"));
    assert_eq!(r.prefetch().unwrap(), vec![link, 1]);
    assert_eq!(r.config().unwrap(), vec![("k".to_string(), b"2".to_vec())]);
    assert_eq!(r.xattrs(link).unwrap(), vec![]);
}
