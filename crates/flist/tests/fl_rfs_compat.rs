//! `.fl` compatibility with rfs: the exact schema, storage classes, rfs's own queries, and files written the rfs way.

use std::path::Path;

use flist::block::BlockRef;
use flist::fl::{FlReader, FlWriter, Inode, S_IFDIR, S_IFLNK, S_IFREG};
use rusqlite::Connection;

fn node(parent: u64, name: &[u8], mode: u32) -> Inode {
    Inode {
        parent,
        name: name.to_vec(),
        mode,
        uid: 1000,
        gid: 2000,
        ..Inode::default()
    }
}

/// Writes a root, `/link` (ino 2, non-UTF-8 target), `/hosts` (ino 3, two
/// blocks), a non-UTF-8 name (ino 4) and, with `ext`, one row in each
/// extension table.
fn write_small(path: &Path, ext: bool) {
    let mut w = FlWriter::create(path).unwrap();
    w.root(&node(0, b"/", S_IFDIR | 0o755)).unwrap();
    let link = w.add_inode(&node(1, b"link", S_IFLNK | 0o777)).unwrap();
    w.set_symlink_target(link, b"/target/\xfe\xff").unwrap();
    let hosts = w.add_inode(&node(1, b"hosts", S_IFREG | 0o644)).unwrap();
    for n in 1..=2 {
        let block = BlockRef {
            id: [n; 32],
            key: [n + 10; 32],
        };
        w.add_block(hosts, &block).unwrap();
    }
    w.add_inode(&node(1, b"\xff", S_IFREG | 0o644)).unwrap();
    w.set_tag("version", "v1").unwrap();
    w.add_route(0, 255, "dir:///srv").unwrap();
    if ext {
        w.add_xattr(hosts, b"user.a", b"1").unwrap();
        w.set_hardlink(4, hosts).unwrap();
        w.set_digest(hosts, "blake2b-256", &[0; 32]).unwrap();
        w.set_prefetch(&[hosts]).unwrap();
        w.set_config("oci.config", b"{}").unwrap();
    }
    w.finish().unwrap();
}

/// rfs's schema, as SQLite keeps it in `sqlite_master`, in creation order.
const RFS_SQL: &[(&str, &str)] = &[
    (
        "inode",
        "CREATE TABLE inode (\n    ino INTEGER PRIMARY KEY AUTOINCREMENT,\n    parent INTEGER,\n    \
         name VARCHAR(255),\n    size INTEGER,\n    uid INTEGER,\n    gid INTEGER,\n    mode INTEGER,\n    \
         rdev INTEGER,\n    ctime INTEGER,\n    mtime INTEGER\n)",
    ),
    // Created by SQLite for AUTOINCREMENT, in rfs's files too.
    ("sqlite_sequence", "CREATE TABLE sqlite_sequence(name,seq)"),
    ("parents", "CREATE INDEX parents ON inode (parent)"),
    ("names", "CREATE INDEX names ON inode (name)"),
    ("extra", "CREATE TABLE extra (\n    ino INTEGER PRIMARY KEY,\n    data VARCHAR(4096)\n)"),
    (
        "block",
        "CREATE TABLE block (\n    ino INTEGER,\n    id VARCHAR(32),\n    key VARCHAR(32)\n)",
    ),
    ("block_ino", "CREATE INDEX block_ino ON block (ino)"),
    (
        "tag",
        "CREATE TABLE tag (\n    key VARCHAR(10) PRIMARY KEY,\n    value VARCHAR(255)\n)",
    ),
    (
        "route",
        "CREATE TABLE route (\n    start integer,\n    end integer,\n    url VARCHAR(2048)\n)",
    ),
];

fn master(conn: &Connection) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn schema_is_exactly_rfs_plus_prefixed_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.fl");
    write_small(&path, false);
    let conn = Connection::open(&path).unwrap();
    let mut expected: Vec<_> = RFS_SQL
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    expected.push((
        "tfgrid_inode_parent_name".to_string(),
        "CREATE INDEX tfgrid_inode_parent_name ON inode (parent, name)".to_string(),
    ));
    assert_eq!(
        master(&conn),
        expected,
        "without extensions: rfs's schema and our lookup index"
    );
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");

    assert_eq!(
        FlReader::open(&path).unwrap().tag("ext-version").unwrap(),
        None
    );

    let path = dir.path().join("ext.fl");
    write_small(&path, true);
    let conn = Connection::open(&path).unwrap();
    let all = master(&conn);
    assert_eq!(&all[..expected.len()], &expected[..]);
    let ext: Vec<_> = all[expected.len()..]
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        ext,
        [
            "tfgrid_xattr",
            "tfgrid_xattr_ino_name",
            "tfgrid_hardlink",
            "tfgrid_digest",
            "tfgrid_prefetch",
            "tfgrid_config",
        ]
    );
    // Storage classes rfs relies on: TEXT names it can look up, BLOB ids,
    // keys and symlink targets; non-UTF-8 names as BLOB.
    let class = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        class("SELECT group_concat(DISTINCT typeof(name)) FROM inode WHERE ino < 4"),
        "text"
    );
    assert_eq!(
        class("SELECT typeof(name) FROM inode WHERE ino = 4"),
        "blob"
    );
    assert_eq!(
        class("SELECT group_concat(DISTINCT typeof(id) || typeof(key)) FROM block"),
        "blobblob"
    );
    assert_eq!(class("SELECT typeof(data) FROM extra"), "blob");
}

#[test]
fn rfs_queries_find_our_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.fl");
    write_small(&path, true);
    let conn = Connection::open(&path).unwrap();
    // rfs binds the name as a string and decodes every column by name.
    let (ino, name, gid, data): (i64, String, u32, Option<Vec<u8>>) = conn
        .query_row(
            "select inode.*, extra.data from inode left join extra on inode.ino = extra.ino \
             where inode.parent = ? and inode.name = ?",
            rusqlite::params![1, "link"],
            |r| Ok((r.get("ino")?, r.get("name")?, r.get("gid")?, r.get("data")?)),
        )
        .unwrap();
    assert_eq!((ino as u64, name.as_str(), gid), (2, "link", 2000));
    assert_eq!(data.unwrap(), b"/target/\xfe\xff");
    // …and SQLite answers that query from our (parent, name) index.
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN select inode.*, extra.data from inode left join extra \
             on inode.ino = extra.ino where inode.parent = ? and inode.name = ?",
            rusqlite::params![1, "link"],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("tfgrid_inode_parent_name"), "{plan}");
    let root: i64 = conn
        .query_row("select ino from inode where parent = 0 limit 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(root, 1);
}

#[test]
fn file_written_the_rfs_way_reads_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rfs.fl");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    // As rfs's schema file creates it (IF NOT EXISTS, comments in route).
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS inode (ino INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER,
            name VARCHAR(255), size INTEGER, uid INTEGER, gid INTEGER, mode INTEGER,
            rdev INTEGER, ctime INTEGER, mtime INTEGER);
         CREATE INDEX IF NOT EXISTS parents ON inode (parent);
         CREATE TABLE IF NOT EXISTS extra (ino INTEGER PRIMARY KEY, data VARCHAR(4096));
         CREATE TABLE IF NOT EXISTS block (ino INTEGER, id VARCHAR(32), key VARCHAR(32));
         CREATE INDEX IF NOT EXISTS block_ino ON block (ino);
         CREATE TABLE IF NOT EXISTS tag (key VARCHAR(10) PRIMARY KEY, value VARCHAR(255));
         CREATE TABLE IF NOT EXISTS route (
            start integer, -- one byte
            end integer, -- one byte
            url VARCHAR(2048));",
    )
    .unwrap();
    let ins = "insert into inode (parent, name, size, uid, gid, mode, rdev, ctime, mtime) \
               values (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let add = |parent: i64, name: &str, size: i64, mode: u32| {
        conn.execute(
            ins,
            rusqlite::params![parent, name, size, 5u32, 6u32, mode, 0i64, 10i64, 20i64],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    assert_eq!(add(0, "/", 4096, S_IFDIR | 0o755), 1);
    let etc = add(1, "etc", 4096, S_IFDIR | 0o755);
    let hosts = add(etc, "hosts", 100, S_IFREG | 0o644);
    let lnk = add(1, "lib", 0, S_IFLNK | 0o777);
    let lnk2 = add(1, "lib64", 0, S_IFLNK | 0o777);
    conn.execute(
        "insert into extra(ino, data) values (?, ?)",
        rusqlite::params![lnk, b"usr/lib".to_vec()],
    )
    .unwrap();
    conn.execute(
        "insert into extra(ino, data) values (?, ?)",
        rusqlite::params![lnk2, "usr/lib64"],
    )
    .unwrap();
    conn.execute(
        "insert into block (ino, id, key) values (?, ?, ?)",
        rusqlite::params![hosts, [1u8; 32], [2u8; 32]],
    )
    .unwrap();
    // Another writer may have stored a UTF-8 name as a BLOB.
    conn.execute(
        "insert into inode (parent, name, size, uid, gid, mode, rdev, ctime, mtime) \
         values (1, x'626c6f62', 0, 0, 0, 33188, 0, 0, 0)",
        [],
    )
    .unwrap();
    conn.execute("insert into tag (key, value) values ('version', 'v2')", [])
        .unwrap();
    conn.execute(
        "insert into route (start, end, url) values (0, 255, 'zdb://hub.grid.tf:9900')",
        [],
    )
    .unwrap();
    drop(conn);

    let r = FlReader::open(&path).unwrap();
    let hosts_inode = r.resolve(b"/etc/hosts").unwrap().unwrap();
    assert_eq!((hosts_inode.ino as i64, hosts_inode.size), (hosts, 100));
    assert_eq!((hosts_inode.uid, hosts_inode.gid), (5, 6));
    assert_eq!(
        r.blocks(hosts_inode.ino).unwrap(),
        vec![BlockRef {
            id: [1; 32],
            key: [2; 32]
        }]
    );
    assert_eq!(r.symlink_target(lnk as u64).unwrap().unwrap(), b"usr/lib");
    assert_eq!(
        r.symlink_target(lnk2 as u64).unwrap().unwrap(),
        b"usr/lib64"
    );
    assert_eq!(r.children(1, 0, 100).unwrap().len(), 4);
    assert_eq!(r.lookup(1, b"blob").unwrap().unwrap().name, b"blob");
    assert_eq!(
        r.tags().unwrap(),
        vec![("version".to_string(), "v2".to_string())]
    );
    assert_eq!(
        r.routes().unwrap(),
        vec![(0, 255, "zdb://hub.grid.tf:9900".to_string())]
    );
    assert_eq!(r.xattrs(hosts as u64).unwrap(), vec![]);
    assert_eq!(r.hardlink_target(hosts as u64).unwrap(), None);
    // no digest table: a one-block file's digest is its block key
    let hosts_blocks = r.blocks(hosts as u64).unwrap();
    assert_eq!(hosts_blocks.len(), 1);
    assert_eq!(
        r.digest(hosts as u64).unwrap(),
        Some(("blake2b-256".to_string(), hosts_blocks[0].key.to_vec()))
    );
    assert_eq!(r.prefetch().unwrap(), Vec::<u64>::new());
    assert_eq!(r.config().unwrap(), vec![]);
    assert_eq!(r.counts().unwrap().n_hardlinks, 0);
}

#[test]
fn file_left_in_wal_mode_reads_correctly() {
    // rfs used WAL before switching to a rollback journal; such files say
    // "WAL" in their header even once the log is checkpointed away.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.fl");
    write_small(&path, false);
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    let r = FlReader::open(&path).unwrap();
    assert_eq!(r.lookup(1, b"hosts").unwrap().unwrap().ino, 3);
    assert_eq!(r.blocks(3).unwrap().len(), 2);
}
