//! Packing a directory: whole-file digests are recorded only where the block keys do not already give them.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use flist::block::BLOCK_SIZE;
use flist::fl::{FlReader, FlWriter};
use flist::pack::{pack_dir, PackOptions};
use flist::store::DirStore;

fn blake2b_256(data: &[u8]) -> Vec<u8> {
    Blake2b::<U32>::digest(data).to_vec()
}

#[test]
fn digests_are_recorded_for_multi_block_files_and_derived_for_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let big: Vec<u8> = (0..2 * BLOCK_SIZE + 100)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(src.join("big"), &big).unwrap();
    std::fs::write(src.join("small"), b"one block").unwrap();
    std::fs::write(src.join("empty"), b"").unwrap();
    let fl = tmp.path().join("t.fl");
    let store = DirStore::new(tmp.path().join("store")).unwrap();
    let mut writer = FlWriter::create(&fl).unwrap();
    pack_dir(&src, &mut writer, &store, &PackOptions::default()).unwrap();
    writer.finish().unwrap();

    let reader = FlReader::open(&fl).unwrap();
    let root = reader.root().unwrap();
    let digest_of = |name: &str| {
        let ino = reader
            .lookup(root.ino, name.as_bytes())
            .unwrap()
            .unwrap()
            .ino;
        reader.digest(ino).unwrap()
    };
    let algo = "blake2b-256".to_string();
    assert_eq!(digest_of("big"), Some((algo.clone(), blake2b_256(&big))));
    assert_eq!(digest_of("small"), Some((algo, blake2b_256(b"one block"))));
    assert_eq!(digest_of("empty"), None);
    let conn = rusqlite::Connection::open(&fl).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM tfgrid_digest", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "only the multi-block file has a digest row");
}
