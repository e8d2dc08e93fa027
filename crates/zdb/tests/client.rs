//! The typed client against an in-process server on 127.0.0.1:0.

use zdb::server::{Server, ServerConfig};
use zdb::{Client, ClientError};

struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::local(dir.path());
    config.db.datasize = 1 << 20;
    let server = Server::bind(config, None).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

impl Running {
    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.task).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_and_pipelines() {
    let server = start().await;
    let mut c = Client::connect_tcp(server.addr).await.unwrap();
    c.ping().await.unwrap();
    c.nsnew(b"photos").await.unwrap();
    c.select(b"photos", None).await.unwrap();
    assert_eq!(c.set(b"a", b"1").await.unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(c.set(b"a", b"1").await.unwrap(), None, "unchanged value");
    assert_eq!(c.get(b"a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(c.get(b"missing").await.unwrap(), None);
    assert!(c.exists(b"a").await.unwrap());
    match c.del(b"missing").await {
        Err(ClientError::Server(text)) => assert_eq!(text, "Key not found"),
        other => panic!("expected a server error, got {other:?}"),
    }

    let keys: Vec<Vec<u8>> = (0..500).map(|i| format!("k{i:03}").into_bytes()).collect();
    let items: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (k.as_slice(), k.as_slice())).collect();
    let replies = c.set_many(&items).await.unwrap();
    assert!(replies
        .iter()
        .zip(&keys)
        .all(|(r, k)| r.as_deref() == Some(k.as_slice())));
    let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let values = c.get_many(&key_refs).await.unwrap();
    assert!(values
        .iter()
        .zip(&keys)
        .all(|(v, k)| v.as_deref() == Some(k.as_slice())));
    assert_eq!(c.dbsize().await.unwrap(), 501);

    // SCAN to the end sees every key once, in write order.
    let mut seen = Vec::new();
    let mut cursor = None;
    while let Some((next, entries)) = c.scan(cursor.as_deref()).await.unwrap() {
        seen.extend(entries.into_iter().map(|e| e.key.to_vec()));
        cursor = Some(next.to_vec());
    }
    let mut expected = vec![b"a".to_vec()];
    expected.extend(keys.iter().cloned());
    assert_eq!(seen, expected);

    let info = c.nsinfo(b"photos").await.unwrap();
    assert_eq!(info["entries"], "501");
    assert_eq!(info["mode"], "userkey");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_namespace_ids() {
    let server = start().await;
    let mut c = Client::connect_tcp(server.addr).await.unwrap();
    c.nsnew(b"seq").await.unwrap();
    c.nsset(b"seq", "mode", b"seq").await.unwrap();
    c.select(b"seq", None).await.unwrap();
    assert_eq!(c.insert(b"first").await.unwrap(), 0);
    assert_eq!(c.insert(b"second").await.unwrap(), 1);
    assert_eq!(
        c.get(&1u64.to_le_bytes()).await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(c.nslist().await.unwrap(), vec!["default", "seq"]);
    server.shutdown().await;
}
