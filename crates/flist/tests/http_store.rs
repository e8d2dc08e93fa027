//! The `http://` block store against a real hub started in-process: round trips, batched
//! `missing`, the hub's refusals, busy answers, and an address nobody listens on.
//!
//! The hub is the one `tfgrid hub` runs (`hub::Hub` on `127.0.0.1:0`, its default dir store),
//! so these tests check the store against the server's actual routes, signature checks and
//! limits rather than against a mock's idea of them.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flist::block::{content_id, decode_block, encode_block, BLOCK_SIZE};
use flist::store::{open_store, BlockStore, HttpStore, StoreError};
use hub::client::HubClient;
use identity::KeyPair;

/// A hub serving on a runtime of its own until dropped.
/// Fields drop in order, so the runtime (and the serving task) goes before the data directory.
struct TestHub {
    base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _runtime: tokio::runtime::Runtime,
    _data: tempfile::TempDir,
}

impl TestHub {
    /// A hub with default limits.
    fn start() -> TestHub {
        TestHub::start_with(|_| {})
    }

    /// A hub whose configuration `tweak` adjusted (limits, mostly).
    fn start_with(tweak: impl FnOnce(&mut hub::HubConfig)) -> TestHub {
        let data = tempfile::tempdir().unwrap();
        let mut config = hub::HubConfig::new(data.path());
        tweak(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let hub = runtime
            .block_on(hub::Hub::bind(&config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let base = format!("http://{}", hub.local_addr());
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(hub.serve(async {
            let _ = stop.await;
        }));
        TestHub {
            base,
            shutdown: Some(shutdown),
            _runtime: runtime,
            _data: data,
        }
    }

    /// A fresh key registered on the hub as `name`.
    fn register(&self, name: &str) -> KeyPair {
        let key = KeyPair::generate();
        HubClient::new(&self.base)
            .with_key(key.clone())
            .register(name)
            .unwrap();
        key
    }

    /// A store on this hub that signs uploads with `key`.
    fn store(&self, key: &KeyPair) -> HttpStore {
        HttpStore::open(&self.base)
            .unwrap()
            .with_signer(key.clone())
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Distinct small encrypted blocks.
fn blocks(n: usize, tag: &str) -> Vec<([u8; 32], Vec<u8>)> {
    (0..n)
        .map(|i| {
            let (r, cipher) = encode_block(format!("{tag} {i}").as_bytes());
            (r.id, cipher)
        })
        .collect()
}

#[test]
fn put_get_exists_round_trip() {
    let hub = TestHub::start();
    let store = hub.store(&hub.register("alice"));
    let plains = [
        Vec::new(),
        b"hello".to_vec(),
        (0..BLOCK_SIZE).map(|i| (i * 31 % 253) as u8).collect(),
    ];
    for plain in plains {
        let (r, cipher) = encode_block(&plain);
        assert!(!store.exists(&r.id).unwrap());
        assert_eq!(store.get(&r.id).unwrap(), None);
        store.put(&r.id, &cipher).unwrap(); // 201 stored
        store.put(&r.id, &cipher).unwrap(); // 200 already there
        assert!(store.exists(&r.id).unwrap());
        let served = store.get(&r.id).unwrap().expect("just stored");
        assert_eq!(served, cipher);
        assert_eq!(decode_block(&r, &served).unwrap(), plain);
    }
}

/// More ids than the hub takes in one question: only batching gets an answer at all.
#[test]
fn missing_spans_several_batches() {
    let hub = TestHub::start();
    let store = hub.store(&hub.register("alice"));
    let present = blocks(7, "present");
    for (id, cipher) in &present {
        store.put(id, cipher).unwrap();
    }
    // 2 * 4096 + 50 ids, the present ones spread across all three batches.
    let mut ids: Vec<[u8; 32]> = (0u32..2 * 4096 + 43)
        .map(|i| content_id(&i.to_le_bytes()))
        .collect();
    for (n, (id, _)) in present.iter().enumerate() {
        ids.insert(n * 1300, *id);
    }
    let expected: Vec<[u8; 32]> = ids
        .iter()
        .filter(|id| !present.iter().any(|(p, _)| p == *id))
        .copied()
        .collect();
    assert_eq!(ids.len(), 2 * 4096 + 50);
    assert_eq!(store.missing(&ids).unwrap(), expected);
    // The same through the trait object `open_store` gives, which forwards to the batched form.
    let boxed = open_store(&hub.base).unwrap();
    assert_eq!(boxed.missing(&ids).unwrap(), expected);
    assert_eq!(store.missing(&[]).unwrap(), Vec::<[u8; 32]>::new());
}

#[test]
fn uploads_the_hub_refuses() {
    let hub = TestHub::start();
    let store = hub.store(&hub.register("alice"));
    let (r, cipher) = encode_block(b"some block");

    // Bytes that are not the block named: the hub's reason comes back.
    match store.put(&[0x42; 32], &cipher) {
        Err(StoreError::Http {
            status: 400,
            message,
            url,
        }) => {
            assert!(message.contains("not block"), "{message}");
            assert!(url.ends_with(&"42".repeat(32)), "{url}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }

    // A key the hub does not know.
    let stranger = HttpStore::open(&hub.base)
        .unwrap()
        .with_signer(KeyPair::generate());
    match stranger.put(&r.id, &cipher) {
        Err(StoreError::Http {
            status: 401 | 403,
            message,
            ..
        }) => assert!(message.contains("not registered"), "{message}"),
        other => panic!("expected 401/403, got {other:?}"),
    }

    // No key at all: refused before asking.
    let unsigned = HttpStore::open(&hub.base).unwrap();
    let e = unsigned.put(&r.id, &cipher).unwrap_err();
    assert!(matches!(e, StoreError::ReadOnly { .. }), "{e:?}");
    assert!(e.to_string().contains("signed with a key"), "{e}");

    // None of that stored anything.
    assert!(!store.exists(&r.id).unwrap());
    assert!(!store.exists(&[0x42; 32]).unwrap());
}

/// Through `open_store` with credentials in the URL: they never show, and reads still work.
#[test]
fn dispatch_and_redaction() {
    let hub = TestHub::start();
    let writer = hub.store(&hub.register("alice"));
    let (r, cipher) = encode_block(b"via dispatch");
    writer.put(&r.id, &cipher).unwrap();

    let with_creds = hub.base.replace("http://", "http://reader:s3cret@");
    let store = open_store(&with_creds).unwrap();
    assert_eq!(store.url(), hub.base.replace("http://", "http://reader@"));
    assert!(!store.url().contains("s3cret"));
    assert_eq!(store.get(&r.id).unwrap(), Some(cipher.clone()));
    assert!(store.exists(&r.id).unwrap());
    // The dispatched store has no signer, and its error does not leak the password either.
    let e = store.put(&r.id, &cipher).unwrap_err().to_string();
    assert!(e.contains("read-only") && !e.contains("s3cret"), "{e}");
}

#[test]
fn nothing_listening_is_an_io_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store = HttpStore::open(&format!("http://u:pw@127.0.0.1:{port}/hub"))
        .unwrap()
        .with_signer(KeyPair::generate());
    let id = [7u8; 32];
    for result in [
        store.get(&id).map(drop),
        store.exists(&id).map(drop),
        store.put(&id, b"x"),
        store.missing(&[id]).map(drop),
    ] {
        match result {
            Err(e @ StoreError::Io { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains(&format!("127.0.0.1:{port}/hub/api/v1/blocks")),
                    "{text}"
                );
                assert!(!text.contains("pw"), "{text}");
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
}

/// A hub allowing one block request a second (burst two): the store waits out each 429 and gets there.
#[test]
fn rate_limited_requests_are_retried() {
    let hub = TestHub::start_with(|config| config.limits.block_rate = 1);
    let store = hub.store(&hub.register("alice"));
    let (r, cipher) = encode_block(b"slowly");
    store.put(&r.id, &cipher).unwrap();
    for _ in 0..3 {
        assert!(store.exists(&r.id).unwrap());
    }
    assert_eq!(store.get(&r.id).unwrap(), Some(cipher));
}

/// A server that is always busy: the store gives up after a bounded number of attempts.
#[test]
fn always_busy_gives_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // Read the request head (a GET has no body), then answer and close.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"error":"block request rate exceeded; retry shortly"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let store = HttpStore::open(&format!("http://{addr}")).unwrap();
    match store.get(&[1; 32]) {
        Err(StoreError::Http {
            status: 429,
            message,
            ..
        }) => assert!(message.contains("rate exceeded"), "{message}"),
        other => panic!("expected a 429, got {other:?}"),
    }
    let attempts = requests.load(Ordering::SeqCst);
    assert!((2..=6).contains(&attempts), "{attempts} attempts");
}
