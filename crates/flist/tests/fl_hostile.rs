//! `.fl` reader against malformed and hostile files: clear errors, no panic, no hang.

use std::path::{Path, PathBuf};

use flist::fl::{FlError, FlReader, Walk, S_IFDIR, S_IFREG};
use rusqlite::{params, Connection};

const SCHEMA: &str = "
    CREATE TABLE inode (ino INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER, name VARCHAR(255),
        size INTEGER, uid INTEGER, gid INTEGER, mode INTEGER, rdev INTEGER, ctime INTEGER, mtime INTEGER);
    CREATE TABLE extra (ino INTEGER PRIMARY KEY, data VARCHAR(4096));
    CREATE TABLE block (ino INTEGER, id VARCHAR(32), key VARCHAR(32));
    CREATE TABLE tag (key VARCHAR(10) PRIMARY KEY, value VARCHAR(255));
    CREATE TABLE route (start integer, end integer, url VARCHAR(2048));";

/// A file with the rfs schema, a root directory, and whatever `fill` adds.
fn fl_with(dir: &Path, fill: impl FnOnce(&Connection)) -> PathBuf {
    let path = dir.join("hostile.fl");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    add(&conn, 1, 0, b"/", S_IFDIR | 0o755);
    fill(&conn);
    path
}

fn add(conn: &Connection, ino: i64, parent: i64, name: &[u8], mode: u32) {
    let name = match std::str::from_utf8(name) {
        Ok(s) => rusqlite::types::Value::Text(s.into()),
        Err(_) => rusqlite::types::Value::Blob(name.into()),
    };
    conn.execute(
        "INSERT INTO inode VALUES (?1, ?2, ?3, 0, 0, 0, ?4, 0, 0, 0)",
        params![ino, parent, name, mode],
    )
    .unwrap();
}

/// Asserts `res` is [`FlError::Invalid`] with a reason containing `needle`.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(res: Result<T, FlError>, needle: &str) {
    match res {
        Err(FlError::Invalid { reason, .. }) => {
            assert!(
                reason.contains(needle),
                "reason {reason:?} lacks {needle:?}"
            )
        }
        other => panic!("expected Invalid containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn not_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.fl");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    assert_invalid(FlReader::open(&path), "not a SQLite database");
}

#[test]
fn missing_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let res = FlReader::open(&dir.path().join("nope.fl"));
    assert!(
        matches!(res, Err(FlError::Io { op: "open", .. })),
        "{res:?}"
    );
    assert_invalid(FlReader::open(dir.path()), "not a regular file");
}

#[test]
fn sqlite_file_without_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.fl");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE unrelated (x)").unwrap();
    drop(conn);
    assert_invalid(FlReader::open(&path), "table `inode` is missing");
    std::fs::write(&path, b"").unwrap();
    assert_invalid(FlReader::open(&path), "table `inode` is missing");
}

#[test]
fn table_missing_a_column_or_replaced_by_a_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cols.fl");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(&SCHEMA.replace("url VARCHAR(2048)", "uri TEXT"))
        .unwrap();
    drop(conn);
    assert_invalid(FlReader::open(&path), "table `route` has no column `url`");

    let path = dir.path().join("view.fl");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(&SCHEMA.replace("CREATE TABLE block (", "CREATE TABLE real_block ("))
        .unwrap();
    conn.execute_batch("CREATE VIEW block AS SELECT * FROM real_block")
        .unwrap();
    drop(conn);
    assert_invalid(FlReader::open(&path), "`block` is a view, not a table");
}

#[test]
fn block_row_with_a_short_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = fl_with(dir.path(), |c| {
        add(c, 2, 1, b"f", S_IFREG | 0o644);
        let ins = "INSERT INTO block (ino, id, key) VALUES (?1, ?2, ?3)";
        c.execute(ins, params![2, [1u8; 32], [2u8; 32]]).unwrap();
        c.execute(ins, params![2, [1u8; 31], [2u8; 32]]).unwrap();
        add(c, 3, 1, b"g", S_IFREG | 0o644);
        c.execute(ins, params![3, "text id", [2u8; 32]]).unwrap();
        add(c, 4, 1, b"h", S_IFREG | 0o644);
        c.execute(ins, params![4, [1u8; 32], None::<Vec<u8>>])
            .unwrap();
    });
    let r = FlReader::open(&path).unwrap();
    assert_invalid(r.blocks(2), "inode 2: block 2: id is 31 bytes, expected 32");
    assert_invalid(r.blocks(3), "inode 3: block 1: id is 7 bytes");
    assert_invalid(r.blocks(4), "inode 4: block 1: key is NULL");
}

#[test]
fn parent_cycles_error_instead_of_looping() {
    let dir = tempfile::tempdir().unwrap();
    let path = fl_with(dir.path(), |c| {
        add(c, 2, 3, b"a", S_IFDIR | 0o755);
        add(c, 3, 2, b"b", S_IFDIR | 0o755);
        add(c, 4, 4, b"self", S_IFDIR | 0o755);
        add(c, 5, 77, b"orphan", S_IFREG | 0o644);
        // Through the root: ino 0 is a child of the root, and the root
        // (parent 0) would be a child of ino 0; listings never return
        // ino 0, so walks cannot enter that loop.
        add(c, 0, 1, b"zero", S_IFDIR | 0o755);
    });
    let r = FlReader::open(&path).unwrap();
    assert_invalid(r.path_of(2), "more than 4096 levels deep");
    assert_invalid(r.path_of(4), "more than 4096 levels deep");
    assert_invalid(r.path_of(5), "inode 5: parent 77 does not exist");
    assert!(matches!(
        r.path_of(99),
        Err(FlError::NoSuchInode { ino: 99, .. })
    ));
    assert_eq!(
        r.children(4, 0, 10).unwrap(),
        vec![],
        "a self-parented row is not its own child"
    );
    let mut n_visits = 0;
    r.walk(|_, _| {
        n_visits += 1;
        Ok::<_, FlError>(Walk::Continue)
    })
    .unwrap();
    assert_eq!(n_visits, 1, "the cycles are not reachable from the root");
    assert_eq!(r.path_of(0).unwrap(), b"/zero");
    assert_eq!(r.resolve(b"/zero").unwrap().unwrap().ino, 0);
    assert_eq!(r.resolve(b"/zero/..").unwrap().unwrap().ino, 1);
}

#[test]
fn too_deep_a_tree_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = fl_with(dir.path(), |c| {
        c.execute_batch("BEGIN").unwrap();
        for ino in 2..4200 {
            add(c, ino, ino - 1, b"d", S_IFDIR | 0o755);
        }
        c.execute_batch("COMMIT").unwrap();
    });
    let r = FlReader::open(&path).unwrap();
    assert_eq!(r.path_of(4097).unwrap().len(), 2 * 4096);
    assert_invalid(r.path_of(4098), "inode 4098 is more than 4096 levels deep");
    let mut n_visits = 0;
    let res = r.walk(|_, _| {
        n_visits += 1;
        Ok::<_, FlError>(Walk::Continue)
    });
    assert_invalid(res, "inode 4098 is more than 4096 levels deep");
    assert_eq!(n_visits, 4097, "the root and 4096 levels below it");
}

#[test]
fn huge_name_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let huge = vec![b'n'; 1 << 20];
    let path = fl_with(dir.path(), |c| {
        add(c, 2, 1, b"ok", S_IFREG | 0o644);
        add(c, 3, 1, &huge, S_IFREG | 0o644);
    });
    let r = FlReader::open(&path).unwrap();
    assert_invalid(
        r.children(1, 0, 10),
        "inode 3: name is 1048576 bytes long, over the 255-byte limit",
    );
    assert_invalid(r.inode(3), "over the 255-byte limit");
    assert_eq!(r.lookup(1, &huge).unwrap(), None);
    assert_eq!(r.lookup(1, b"ok").unwrap().unwrap().ino, 2);
    assert_invalid(
        r.walk(|_, _| Ok::<_, FlError>(Walk::Continue)),
        "over the 255-byte limit",
    );
}

#[test]
fn hostile_names_and_wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = fl_with(dir.path(), |c| {
        add(c, 2, 1, b"..", S_IFDIR | 0o755);
        add(c, 3, 1, b"a/b", S_IFREG | 0o644);
        add(c, 4, 1, b"", S_IFREG | 0o644);
        add(c, 5, 1, b"ok", S_IFREG | 0o644);
        c.execute("UPDATE inode SET uid = 'root' WHERE ino = 5", [])
            .unwrap();
        add(c, 6, 1, b"neg", S_IFREG | 0o644);
        c.execute("UPDATE inode SET size = -1 WHERE ino = 6", [])
            .unwrap();
        add(c, 7, 1, b"null", S_IFREG | 0o644);
        c.execute("UPDATE inode SET mode = NULL WHERE ino = 7", [])
            .unwrap();
        add(c, 8, 1, b"big", S_IFREG | 0o644);
        c.execute("UPDATE inode SET gid = 4294967296 WHERE ino = 8", [])
            .unwrap();
        add(c, 9, 1, b"lnk", 0o120777);
        c.execute("INSERT INTO extra VALUES (9, ?1)", [vec![b'x'; 5000]])
            .unwrap();
        c.execute("INSERT INTO tag VALUES ('k', x'ff')", [])
            .unwrap();
        c.execute("INSERT INTO route VALUES (0, 256, 'dir:///x')", [])
            .unwrap();
    });
    let r = FlReader::open(&path).unwrap();
    assert_invalid(r.inode(2), "inode 2: name \"..\" is reserved");
    assert_invalid(r.inode(3), "inode 3: name \"a/b\" contains '/' or NUL");
    assert_invalid(r.inode(4), "inode 4: empty name");
    assert_invalid(r.inode(5), "inode 5: uid is text, expected an integer");
    assert_invalid(r.inode(6), "inode 6: size is -1");
    assert_invalid(r.inode(7), "inode 7: mode is NULL");
    assert_invalid(r.inode(8), "inode 8: gid is 4294967296");
    assert_invalid(
        r.symlink_target(9),
        "inode 9: symlink target is 5000 bytes long",
    );
    assert_invalid(r.tags(), "tag \"k\" is not valid UTF-8");
    assert_invalid(r.routes(), "route end is 256");
    assert_invalid(r.counts(), "inode 6: size is -1");
    assert_eq!(r.inode(u64::MAX).unwrap(), None);
    assert_eq!(r.children(u64::MAX, 0, 10).unwrap(), vec![]);
    assert_eq!(r.blocks(u64::MAX).unwrap(), vec![]);
}

#[test]
fn missing_root() {
    let dir = tempfile::tempdir().unwrap();
    let path = fl_with(dir.path(), |c| {
        c.execute("UPDATE inode SET parent = 9 WHERE ino = 1", [])
            .unwrap();
    });
    let r = FlReader::open(&path).unwrap();
    assert_invalid(r.root(), "no root inode");
    assert_invalid(r.resolve(b"/etc"), "no root inode");
    assert_invalid(
        r.walk(|_, _| Ok::<_, FlError>(Walk::Continue)),
        "no root inode",
    );
}

#[test]
fn hostile_extension_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = fl_with(dir.path(), |c| {
        c.execute_batch(
            "CREATE TABLE tfgrid_xattr (ino INTEGER, name BLOB, value BLOB);
             CREATE TABLE tfgrid_hardlink (ino INTEGER PRIMARY KEY, target INTEGER);
             INSERT INTO tfgrid_xattr VALUES (1, zeroblob(300), x'00');
             INSERT INTO tfgrid_hardlink VALUES (1, -5);",
        )
        .unwrap();
    });
    let r = FlReader::open(&path).unwrap();
    assert_invalid(r.xattrs(1), "inode 1: xattr is 300 bytes long");
    assert_invalid(r.hardlink_target(1), "inode 1: hardlink target is -5");
    assert_eq!(r.digest(1).unwrap(), None, "absent table");

    let path = dir.path().join("badext.fl");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch("CREATE TABLE tfgrid_digest (ino INTEGER PRIMARY KEY)")
        .unwrap();
    drop(conn);
    assert_invalid(
        FlReader::open(&path),
        "table `tfgrid_digest` has no column `algo`",
    );
}
