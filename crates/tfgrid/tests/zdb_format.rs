//! The files `tfgrid zdb` writes, byte for byte, against the 0-db v2 layout
//! built here by hand from the format tables (not with the server's own
//! encoder), so that the C 0-db can load what we write.

mod support;

use support::{bulk, crc32c, Raw, Zdb};

/// A 28-byte file header: magic, version, 16 reserved bytes, file id 0.
fn header(magic: &[u8; 4], version: u32) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

struct Idx<'a> {
    key: &'a [u8],
    data_offset: u32,
    length: u32,
    previous: u32,
    flags: u8,
    data_id: u32,
    timestamp: u32,
    crc: u32,
    parent: (u32, u32),
}

fn index_entry(e: &Idx<'_>) -> Vec<u8> {
    let mut out = vec![e.key.len() as u8];
    out.extend_from_slice(&e.data_offset.to_le_bytes());
    out.extend_from_slice(&e.length.to_le_bytes());
    out.extend_from_slice(&e.previous.to_le_bytes());
    out.push(e.flags);
    out.extend_from_slice(&e.data_id.to_le_bytes());
    out.extend_from_slice(&e.timestamp.to_le_bytes());
    out.extend_from_slice(&e.crc.to_le_bytes());
    out.extend_from_slice(&e.parent.0.to_le_bytes());
    out.extend_from_slice(&e.parent.1.to_le_bytes());
    out.extend_from_slice(e.key);
    out
}

fn data_entry(key: &[u8], payload: &[u8], previous: u32, flags: u8, ts: u32) -> Vec<u8> {
    let mut out = vec![key.len() as u8];
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&previous.to_le_bytes());
    let c = if flags & 1 != 0 { 0 } else { crc32c(payload) };
    out.extend_from_slice(&c.to_le_bytes());
    out.push(flags);
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(payload);
    out
}

#[test]
fn crc_matches_the_value_observed_from_the_c_server() {
    assert_eq!(crc32c(b"world"), 0x74d8_f77b);
}

#[test]
fn user_namespace_files_match_the_v2_layout() {
    let mut zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    assert_eq!(c.call(&[b"NSNEW", b"ns"]), b"+OK\r\n");
    assert_eq!(
        c.call(&[b"NSSET", b"ns", b"maxsize", b"1000000"]),
        b"+OK\r\n"
    );
    assert_eq!(c.call(&[b"SELECT", b"ns"]), b"+OK\r\n");
    // The admin form of SET/DEL fixes timestamps, so the bytes are known.
    assert_eq!(c.call(&[b"SET", b"k1", b"a", b"1000"]), b"$2\r\nk1\r\n");
    assert_eq!(c.call(&[b"SET", b"k2", b"bb", b"1001"]), b"$2\r\nk2\r\n");
    assert_eq!(c.call(&[b"SET", b"k1", b"ccc", b"1002"]), b"$2\r\nk1\r\n");
    assert_eq!(c.call(&[b"DEL", b"k2", b"1003"]), b"+OK\r\n");
    drop(c);
    assert!(zdb.terminate().success());

    // Descriptor: version 1, name, no password, maxsize, public|extended.
    let mut desc = vec![1, 0, 0, 0, 2, 0];
    desc.extend_from_slice(&1_000_000u64.to_le_bytes());
    desc.push(1 | 4);
    desc.extend_from_slice(b"ns");
    assert_eq!(
        std::fs::read(zdb.index_root().join("ns/zdb-namespace")).unwrap(),
        desc
    );

    // Data file: header, then every write in order, the delete as a record.
    let mut data = header(b"DAT0", 3);
    let d1 = data.len() as u32;
    data.extend(data_entry(b"k1", b"a", 0, 0, 1000));
    let d2 = data.len() as u32;
    data.extend(data_entry(b"k2", b"bb", d1, 0, 1001));
    let d3 = data.len() as u32;
    data.extend(data_entry(b"k1", b"ccc", d2, 0, 1002));
    data.extend(data_entry(b"k2", b"", d3, 1, 1003));
    assert_eq!(std::fs::read(zdb.data_root().join("ns/d0")).unwrap(), data);

    // Index file: header (mode 0 = user), entries with the previous chain,
    // the overwritten k1 and the deleted k2 flagged, k1's parent pointer.
    let mut index = header(b"IDX0", 4);
    index.push(0);
    let i1 = index.len() as u32;
    index.extend(index_entry(&Idx {
        key: b"k1",
        data_offset: d1,
        length: 1,
        previous: 0,
        flags: 1,
        data_id: 0,
        timestamp: 1000,
        crc: crc32c(b"a"),
        parent: (0, 0),
    }));
    let i2 = index.len() as u32;
    index.extend(index_entry(&Idx {
        key: b"k2",
        data_offset: d2,
        length: 2,
        previous: i1,
        flags: 1,
        data_id: 0,
        timestamp: 1001,
        crc: crc32c(b"bb"),
        parent: (0, 0),
    }));
    index.extend(index_entry(&Idx {
        key: b"k1",
        data_offset: d3,
        length: 3,
        previous: i2,
        flags: 0,
        data_id: 0,
        timestamp: 1002,
        crc: crc32c(b"ccc"),
        parent: (0, i1),
    }));
    assert_eq!(
        std::fs::read(zdb.index_root().join("ns/i0")).unwrap(),
        index
    );
}

#[test]
fn seq_namespace_files_match_the_v2_layout() {
    let mut zdb = Zdb::start(&["--mode", "seq"]);
    let mut c = Raw::connect(zdb.addr());
    let id0 = 0u64.to_le_bytes();
    assert_eq!(c.call(&[b"SET", b"", b"x", b"2000"]), bulk(&id0));
    assert_eq!(
        c.call(&[b"SET", b"", b"y", b"2001"])[4..12],
        1u64.to_le_bytes()
    );
    // Update id 0: the old slot is copied to id 2 (flagged), slot 0 rewritten.
    assert_eq!(c.call(&[b"SET", &id0, b"z", b"2002"]), bulk(&id0));
    drop(c);
    assert!(zdb.terminate().success());

    let header_len = 28u32;
    let d = |n: u32| header_len + n * (18 + 8 + 1);
    let mut index = header(b"IDX0", 4);
    index.push(1);
    let slot = |n: u32| 29 + n * 42;
    index.extend(index_entry(&Idx {
        key: &0u64.to_le_bytes(),
        data_offset: d(2),
        length: 1,
        previous: 0,
        flags: 0,
        data_id: 0,
        timestamp: 2002,
        crc: crc32c(b"z"),
        parent: (0, slot(2)),
    }));
    index.extend(index_entry(&Idx {
        key: &1u64.to_le_bytes(),
        data_offset: d(1),
        length: 1,
        previous: slot(0),
        flags: 0,
        data_id: 0,
        timestamp: 2001,
        crc: crc32c(b"y"),
        parent: (0, 0),
    }));
    index.extend(index_entry(&Idx {
        key: &0u64.to_le_bytes(),
        data_offset: d(0),
        length: 1,
        previous: slot(1),
        flags: 1,
        data_id: 0,
        timestamp: 2000,
        crc: crc32c(b"x"),
        parent: (0, 0),
    }));
    assert_eq!(
        std::fs::read(zdb.index_root().join("default/i0")).unwrap(),
        index
    );
}
