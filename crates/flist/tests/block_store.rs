//! Blocks through real stores: a directory, an in-process 0-db server over TCP and a Unix socket, and the router.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use flist::block::{decode_block, encode_block, BlockError, BlockRef, BLOCK_SIZE};
use flist::store::{open_store, BlockStore, DirStore, Router, StoreError, ZdbStore};
use zdb::server::{Server, ServerConfig};
use zdb::Client;

/// A few distinct blocks: empty, tiny, a full block of zeros, a full block of varied bytes.
fn sample_blocks() -> Vec<(BlockRef, Vec<u8>, Vec<u8>)> {
    let plains = [
        Vec::new(),
        b"hello".to_vec(),
        vec![0u8; BLOCK_SIZE],
        (0..BLOCK_SIZE).map(|i| (i * 31 % 253) as u8).collect(),
    ];
    plains
        .into_iter()
        .map(|plain| {
            let (r, cipher) = encode_block(&plain);
            (r, cipher, plain)
        })
        .collect()
}

/// `n` small blocks whose ids cover both halves of the id space.
fn spread_blocks(n: usize) -> Vec<(BlockRef, Vec<u8>)> {
    (0..n)
        .map(|i| encode_block(format!("block {i}").as_bytes()))
        .collect()
}

fn dir_store(path: &Path) -> Box<dyn BlockStore> {
    open_store(&format!("dir://{}", path.display())).unwrap()
}

/// Puts, checks presence, reads back and decodes every sample block.
fn round_trip(store: &dyn BlockStore) {
    for (r, cipher, plain) in sample_blocks() {
        assert!(!store.exists(&r.id).unwrap());
        assert_eq!(store.get(&r.id).unwrap(), None);
        store.put(&r.id, &cipher).unwrap();
        store.put(&r.id, &cipher).unwrap();
        assert!(store.exists(&r.id).unwrap());
        let stored = store.get(&r.id).unwrap().expect("just stored");
        assert_eq!(decode_block(&r, &stored).unwrap(), plain);
    }
}

#[test]
fn dir_store_round_trip_and_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("blocks");
    let store = dir_store(&root);
    assert_eq!(store.url(), format!("dir://{}", root.display()));
    round_trip(store.as_ref());

    // sharded by the first id byte, no temporary files left behind
    let (r, cipher, _) = &sample_blocks()[1];
    let hex = r.id_hex();
    let path = root.join(&hex[..2]).join(&hex);
    assert_eq!(std::fs::read(&path).unwrap(), *cipher);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // putting an id that is already there leaves the stored bytes alone
    store.put(&r.id, b"something else").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), *cipher);
}

#[test]
fn dir_store_reads_the_flat_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let store = DirStore::new(tmp.path()).unwrap();
    let (r, cipher) = encode_block(b"flat");
    std::fs::write(tmp.path().join(r.id_hex()), &cipher).unwrap();
    assert!(store.exists(&r.id).unwrap());
    assert_eq!(store.get(&r.id).unwrap().as_deref(), Some(&cipher[..]));
    assert!(DirStore::new("relative/path").is_err());
}

#[test]
fn dir_store_tampered_block_fails_to_decode() {
    let tmp = tempfile::tempdir().unwrap();
    let store = DirStore::new(tmp.path()).unwrap();
    let (r, cipher) = encode_block(b"precious data");
    store.put(&r.id, &cipher).unwrap();
    let path = store.block_path(&r.id);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0x80;
    std::fs::write(&path, &bytes).unwrap();
    let stored = store.get(&r.id).unwrap().unwrap();
    assert!(matches!(
        decode_block(&r, &stored),
        Err(BlockError::IdMismatch)
    ));
}

/// An in-process 0-db server on 127.0.0.1:0 and a Unix socket, on its own runtime.
struct ZdbServer {
    rt: tokio::runtime::Runtime,
    port: u16,
    socket: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl ZdbServer {
    fn start() -> ZdbServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("zdb.sock");
        let config = ServerConfig {
            socket: Some(socket.clone()),
            ..ServerConfig::local(dir.path())
        };
        let server = rt.block_on(Server::bind(config, None)).unwrap();
        let port = server.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(server.run(async {
            let _ = stopped.await;
        }));
        ZdbServer {
            rt,
            port,
            socket,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Creates namespace `ns` with `password` and the given `public` flag.
    fn namespace(&self, ns: &str, password: &str, public: bool) {
        self.rt.block_on(async {
            let mut c = Client::connect_tcp(("127.0.0.1", self.port)).await.unwrap();
            c.nsnew(ns.as_bytes()).await.unwrap();
            c.nsset(ns.as_bytes(), "password", password.as_bytes())
                .await
                .unwrap();
            let public: &[u8] = if public { b"1" } else { b"0" };
            c.nsset(ns.as_bytes(), "public", public).await.unwrap();
        });
    }
}

impl Drop for ZdbServer {
    fn drop(&mut self) {
        if let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) {
            let _ = stop.send(());
            let _ = self.rt.block_on(task);
        }
    }
}

#[test]
fn zdb_store_with_password_over_tcp() {
    let server = ZdbServer::start();
    server.namespace("blocks", "secret", false);
    let url = format!("zdb://:secret@127.0.0.1:{}/blocks", server.port);
    let store = open_store(&url).unwrap();
    assert_eq!(
        store.url(),
        format!("zdb://127.0.0.1:{}/blocks", server.port)
    );
    round_trip(store.as_ref());

    // many calls from several threads share the small pool
    let store: Arc<dyn BlockStore> = Arc::from(store);
    let blocks = spread_blocks(64);
    std::thread::scope(|s| {
        for chunk in blocks.chunks(16) {
            let store = store.clone();
            s.spawn(move || {
                for (r, cipher) in chunk {
                    store.put(&r.id, cipher).unwrap();
                    assert_eq!(store.get(&r.id).unwrap().as_deref(), Some(&cipher[..]));
                }
            });
        }
    });

    let wrong = ZdbStore::open(&format!("zdb://:nope@127.0.0.1:{}/blocks", server.port)).unwrap();
    match wrong.get(&blocks[0].0.id) {
        Err(StoreError::Zdb(text)) => assert_eq!(text, "select namespace blocks: Access denied"),
        other => panic!("expected access denied, got {other:?}"),
    }
    let anonymous = open_store(&store.url()).unwrap();
    match anonymous.exists(&blocks[0].0.id) {
        Err(e @ StoreError::Zdb(_)) => assert_eq!(
            e.to_string(),
            "0-db: select namespace blocks: Namespace protected and private"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn zdb_public_namespace_is_read_only_without_password() {
    let server = ZdbServer::start();
    server.namespace("hub", "secret", true);
    let writer = open_store(&format!("zdb://:secret@127.0.0.1:{}/hub", server.port)).unwrap();
    let (r, cipher) = encode_block(b"published");
    writer.put(&r.id, &cipher).unwrap();

    // the URL a .fl records is enough to read, not to write
    let reader = open_store(&writer.url()).unwrap();
    assert_eq!(
        decode_block(&r, &reader.get(&r.id).unwrap().unwrap()).unwrap(),
        b"published"
    );
    let (other, other_cipher) = encode_block(b"vandalism");
    match reader.put(&other.id, &other_cipher) {
        Err(StoreError::Zdb(text)) => assert_eq!(text, "Namespace is in read-only mode"),
        other => panic!("expected a read-only refusal, got {other:?}"),
    }
    assert!(!writer.exists(&other.id).unwrap());
}

#[test]
fn zdb_store_default_namespace_and_unix_socket() {
    let server = ZdbServer::start();
    let tcp = open_store(&format!("zdb://127.0.0.1:{}", server.port)).unwrap();
    round_trip(tcp.as_ref());

    server.namespace("local", "pw", false);
    let unix = open_store(&format!(
        "zdb://{}?ns=local&password=pw",
        server.socket.display()
    ))
    .unwrap();
    assert_eq!(
        unix.url(),
        format!("zdb://{}?ns=local", server.socket.display())
    );
    round_trip(unix.as_ref());
}

/// Serves `GET` with a nil reply on each accepted connection, closing each after `per_conn` replies.
fn flaky_server(per_conn: usize, conns: usize) -> (u16, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut served = 0;
        for stream in listener.incoming().take(conns) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            for _ in 0..per_conn {
                // *2 $3 GET $32 <id>: five lines
                let mut line = Vec::new();
                for _ in 0..5 {
                    line.clear();
                    if reader.read_until(b'\n', &mut line).unwrap() == 0 {
                        break;
                    }
                }
                stream.write_all(b"$-1\r\n").unwrap();
                served += 1;
            }
        }
        served
    });
    (port, handle)
}

#[test]
fn zdb_store_reconnects_once_after_the_server_drops_it() {
    let (port, server) = flaky_server(1, 2);
    let store = ZdbStore::open(&format!("zdb://127.0.0.1:{port}")).unwrap();
    let id = [7u8; 32];
    assert_eq!(store.get(&id).unwrap(), None);
    // the pooled connection is closed by now; the store retries on a new one
    assert_eq!(store.get(&id).unwrap(), None);
    assert_eq!(server.join().unwrap(), 2);
}

#[test]
fn router_shards_by_first_id_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let (low, high) = (tmp.path().join("low"), tmp.path().join("high"));
    let mut router = Router::new();
    router.add(0x00, 0x7f, dir_store(&low));
    router
        .add_spec(&format!("80-ff=dir://{}", high.display()))
        .unwrap();
    assert_eq!(
        router.routes(),
        vec![
            (0x00, 0x7f, format!("dir://{}", low.display())),
            (0x80, 0xff, format!("dir://{}", high.display())),
        ]
    );

    let (low_store, high_store) = (DirStore::new(&low).unwrap(), DirStore::new(&high).unwrap());
    let blocks = spread_blocks(32);
    assert!(blocks.iter().any(|(r, _)| r.id[0] < 0x80));
    assert!(blocks.iter().any(|(r, _)| r.id[0] >= 0x80));
    for (r, cipher) in &blocks {
        router.put(&r.id, cipher).unwrap();
        let in_low = r.id[0] < 0x80;
        assert_eq!(low_store.exists(&r.id).unwrap(), in_low);
        assert_eq!(high_store.exists(&r.id).unwrap(), !in_low);
        assert_eq!(router.get(&r.id).unwrap().as_deref(), Some(&cipher[..]));
    }
}

#[test]
fn router_replicates_and_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut router = Router::new();
    router.add(0x00, 0xff, dir_store(&a));
    router.add(0x00, 0xff, dir_store(&b));
    let (a_store, b_store) = (DirStore::new(&a).unwrap(), DirStore::new(&b).unwrap());

    let (r, cipher) = encode_block(b"replicated");
    router.put(&r.id, &cipher).unwrap();
    assert!(a_store.exists(&r.id).unwrap() && b_store.exists(&r.id).unwrap());

    // only the second store has it: reads still succeed
    let (late, late_cipher) = encode_block(b"only in b");
    b_store.put(&late.id, &late_cipher).unwrap();
    assert!(router.exists(&late.id).unwrap());
    assert_eq!(
        router.get(&late.id).unwrap().as_deref(),
        Some(&late_cipher[..])
    );
    let (missing, _) = encode_block(b"nowhere");
    assert_eq!(router.get(&missing.id).unwrap(), None);
    assert!(!router.exists(&missing.id).unwrap());
}

#[test]
fn router_skips_a_failing_store_on_read_but_not_on_write() {
    // nothing listens on a port we bound and released
    let dead_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let mut router = Router::new();
    router
        .add_spec(&format!("00-ff=zdb://:pw@127.0.0.1:{dead_port}/ns"))
        .unwrap();
    router.add(0x00, 0xff, dir_store(tmp.path()));
    assert_eq!(
        router.routes()[0].2,
        format!("zdb://127.0.0.1:{dead_port}/ns")
    );

    let (r, cipher) = encode_block(b"fallback");
    DirStore::new(tmp.path())
        .unwrap()
        .put(&r.id, &cipher)
        .unwrap();
    assert_eq!(router.get(&r.id).unwrap().as_deref(), Some(&cipher[..]));
    assert!(router.exists(&r.id).unwrap());
    // a miss in one store and a failure in the other is a failure, not a miss
    let (missing, missing_cipher) = encode_block(b"missing");
    assert!(matches!(
        router.get(&missing.id),
        Err(StoreError::Io { .. })
    ));
    // the write reaches the working store and still reports the broken one
    assert!(matches!(
        router.put(&missing.id, &missing_cipher),
        Err(StoreError::Io { .. })
    ));
    assert!(DirStore::new(tmp.path())
        .unwrap()
        .exists(&missing.id)
        .unwrap());
}

#[test]
fn router_skips_a_replica_that_serves_corrupt_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (bad, good) = (tmp.path().join("bad"), tmp.path().join("good"));
    let mut router = Router::new();
    router.add(0x00, 0xff, dir_store(&bad));
    router.add(0x00, 0xff, dir_store(&good));
    let (r, cipher) = encode_block(b"a block one replica damaged");
    router.put(&r.id, &cipher).unwrap();
    let mut damaged = cipher.clone();
    damaged[0] ^= 0x01;
    // damage the first replica's copy on disk
    let hex_id = r.id_hex();
    std::fs::write(bad.join(&hex_id[..2]).join(&hex_id), &damaged).unwrap();
    assert_eq!(
        DirStore::new(&bad).unwrap().get(&r.id).unwrap().as_deref(),
        Some(&damaged[..])
    );

    // the first replica is damaged; the router answers from the second
    assert_eq!(router.get(&r.id).unwrap().as_deref(), Some(&cipher[..]));

    // with only the damaged replica, the read fails and names the store
    let mut alone = Router::new();
    alone.add(0x00, 0xff, dir_store(&bad));
    match alone.get(&r.id) {
        Err(e @ StoreError::Corrupt { .. }) => {
            assert!(e.to_string().contains(&hex_id), "{e}");
            assert!(e.to_string().contains("bad"), "{e}");
        }
        other => panic!("expected a corrupt-block error, got {other:?}"),
    }
}
