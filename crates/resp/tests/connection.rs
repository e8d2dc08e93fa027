//! A small server on `Connection`, driven by `Client` over TCP, a unix socket and in-memory pipes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use resp::{
    reply, BatchEnd, Client, ClientError, Connection, Limits, Reply, Request, RequestError,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc;

/// What the server observed, shared with the test.
#[derive(Default)]
struct Stats {
    writes: AtomicUsize,
    flushes: AtomicUsize,
    max_batch: AtomicUsize,
}

/// A stream that counts successful `poll_write` calls.
struct Counted<S> {
    inner: S,
    stats: Arc<Stats>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = poll {
            self.stats.writes.fetch_add(1, Ordering::SeqCst);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How a served connection ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Eof,
    Protocol(RequestError),
    Io,
}

/// Answers every request with its argument count; a protocol error gets an error line and a close.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    stats: Arc<Stats>,
    ended: mpsc::UnboundedSender<End>,
) {
    let mut conn = Connection::new(
        Counted {
            inner: stream,
            stats: stats.clone(),
        },
        Limits::default(),
    );
    let mut batch: Vec<Request> = Vec::new();
    let end = loop {
        batch.clear();
        let Ok(end) = conn.read_batch(&mut batch, 1024).await else {
            break End::Io;
        };
        stats.max_batch.fetch_max(batch.len(), Ordering::SeqCst);
        for req in &batch {
            reply::integer(conn.out(), req.args.len() as i64);
        }
        let end = match end {
            BatchEnd::More => None,
            BatchEnd::Eof => Some(End::Eof),
            BatchEnd::ProtocolError(e) => {
                reply::error(conn.out(), format!("ERR Protocol error: {e}").as_bytes());
                Some(End::Protocol(e))
            }
        };
        if !conn.out().is_empty() {
            stats.flushes.fetch_add(1, Ordering::SeqCst);
        }
        if conn.flush().await.is_err() {
            break End::Io;
        }
        if let Some(end) = end {
            break end;
        }
    };
    let _ = ended.send(end);
}

struct Server {
    addr: std::net::SocketAddr,
    stats: Arc<Stats>,
    ended: mpsc::UnboundedReceiver<End>,
}

async fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let stats = Arc::new(Stats::default());
    let (tx, ended) = mpsc::unbounded_channel();
    let server_stats = stats.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, server_stats.clone(), tx.clone()));
        }
    });
    Server { addr, stats, ended }
}

async fn next_end(server: &mut Server) -> End {
    let end = tokio::time::timeout(Duration::from_secs(10), server.ended.recv()).await;
    end.expect("server connection ended in time")
        .expect("server alive")
}

fn args_of(i: usize) -> Vec<Vec<u8>> {
    (0..i % 7 + 1)
        .map(|j| format!("arg{i}-{j}").into_bytes())
        .collect()
}

#[tokio::test]
async fn pipelined_requests_come_back_in_order() {
    let server = start().await;
    let mut client = Client::connect_tcp(server.addr).await.expect("connect");
    for i in 0..100 {
        let args = args_of(i);
        let args: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        client.queue(&args);
    }
    assert_eq!(client.pending(), 100);
    let replies = client.flush_pipeline().await.expect("replies");
    let expected: Vec<Reply> = (0..100)
        .map(|i| Reply::Integer((i % 7 + 1) as i64))
        .collect();
    assert_eq!(replies, expected);
    assert_eq!(client.pending(), 0);
    assert_eq!(
        client.call(&[b"PING"]).await.expect("call"),
        Reply::Integer(1)
    );
}

#[tokio::test]
async fn each_batch_is_written_once() {
    let server = start().await;
    let mut client = Client::connect_tcp(server.addr).await.expect("connect");
    for _ in 0..100 {
        client.queue(&[b"SET", b"key", b"value"]);
    }
    let replies = client.flush_pipeline().await.expect("replies");
    assert_eq!(replies.len(), 100);
    let stats = &server.stats;
    assert!(
        stats.max_batch.load(Ordering::SeqCst) > 1,
        "requests were not batched"
    );
    assert_eq!(
        stats.writes.load(Ordering::SeqCst),
        stats.flushes.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn one_write_for_a_buffered_batch() {
    let (mut peer, server_side) = tokio::io::duplex(1 << 16);
    let stats = Arc::new(Stats::default());
    let mut conn = Connection::new(
        Counted {
            inner: server_side,
            stats: stats.clone(),
        },
        Limits::default(),
    );
    let mut wire = BytesMut::new();
    for _ in 0..10 {
        resp::encode_request(&mut wire, &[b"GET", b"k"]);
    }
    peer.write_all(&wire).await.expect("write");
    let mut batch = Vec::new();
    assert_eq!(
        conn.read_batch(&mut batch, 1024).await.expect("read"),
        BatchEnd::More
    );
    assert_eq!(batch.len(), 10);
    for _ in &batch {
        reply::bulk(conn.out(), &[b'v'; 4096]);
    }
    conn.flush().await.expect("flush");
    assert_eq!(stats.writes.load(Ordering::SeqCst), 1);
    assert!(conn.out().is_empty());
}

#[tokio::test]
async fn batch_respects_max() {
    let (mut peer, server_side) = tokio::io::duplex(1 << 16);
    let mut conn = Connection::new(server_side, Limits::default());
    let mut wire = BytesMut::new();
    for _ in 0..5 {
        resp::encode_request(&mut wire, &[b"PING"]);
    }
    peer.write_all(&wire).await.expect("write");
    drop(peer);
    let mut batch = Vec::new();
    for expected_len in [2, 4, 5] {
        assert_eq!(
            conn.read_batch(&mut batch, 2).await.expect("read"),
            BatchEnd::More
        );
        assert_eq!(batch.len(), expected_len);
    }
    assert_eq!(
        conn.read_batch(&mut batch, 2).await.expect("read"),
        BatchEnd::Eof
    );
    assert_eq!(batch.len(), 5);
}

#[tokio::test]
async fn protocol_error_after_valid_requests() {
    let mut server = start().await;
    let mut client = Client::connect_tcp(server.addr).await.expect("connect");
    let mut wire = BytesMut::new();
    resp::encode_request(&mut wire, &[b"A"]);
    resp::encode_request(&mut wire, &[b"B", b"C"]);
    wire.extend_from_slice(b"PING\r\n");
    client.send_raw(&wire).await.expect("send");
    assert_eq!(client.read_reply().await.expect("first"), Reply::Integer(1));
    assert_eq!(
        client.read_reply().await.expect("second"),
        Reply::Integer(2)
    );
    let err = client.read_reply().await.expect("error reply");
    assert_eq!(
        err.as_error(),
        Some(&b"ERR Protocol error: expected '*' at the start of a request"[..])
    );
    assert!(matches!(
        client.read_reply().await,
        Err(ClientError::Closed)
    ));
    assert_eq!(
        next_end(&mut server).await,
        End::Protocol(RequestError::NotArray)
    );
}

#[tokio::test]
async fn oversized_bulk_is_refused_from_its_header() {
    let mut server = start().await;
    let mut client = Client::connect_tcp(server.addr).await.expect("connect");
    client
        .send_raw(b"*2\r\n$3\r\nSET\r\n$8388609\r\n")
        .await
        .expect("send");
    let err = client.read_reply().await.expect("error reply");
    assert!(err.is_error(), "{err:?}");
    let expected = RequestError::BulkTooLarge { len: 8_388_609 };
    assert_eq!(next_end(&mut server).await, End::Protocol(expected));
}

#[tokio::test]
async fn largest_bulk_is_accepted() {
    let server = start().await;
    let mut client = Client::connect_tcp(server.addr).await.expect("connect");
    let value = vec![b'x'; 8 * 1024 * 1024];
    assert_eq!(
        client.call(&[b"SET", b"k", &value]).await.expect("call"),
        Reply::Integer(3)
    );
    assert_eq!(
        client.call(&[b"GET", b"k"]).await.expect("call"),
        Reply::Integer(2)
    );
}

#[tokio::test]
async fn close_mid_frame_ends_the_connection() {
    let mut server = start().await;
    let mut client = Client::connect_tcp(server.addr).await.expect("connect");
    client
        .send_raw(b"*2\r\n$3\r\nGET\r\n$10\r\nabc")
        .await
        .expect("send");
    drop(client);
    assert_eq!(next_end(&mut server).await, End::Eof);

    let mut client = Client::connect_tcp(server.addr).await.expect("connect");
    client
        .send_raw(b"*1\r\n$4\r\nPING\r\n*3\r")
        .await
        .expect("send");
    client.shutdown_write().await.expect("shutdown");
    assert_eq!(client.read_reply().await.expect("reply"), Reply::Integer(1));
    assert!(matches!(
        client.read_reply().await,
        Err(ClientError::Closed)
    ));
    assert_eq!(next_end(&mut server).await, End::Eof);
}

#[tokio::test]
async fn client_reads_large_replies() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let value = vec![b'z'; 8 * 1024 * 1024 + 5];
    let mut wire = BytesMut::new();
    reply::bulk(&mut wire, &value);
    reply::array_header(&mut wire, 100_000);
    for i in 0..100_000 {
        reply::integer(&mut wire, i);
    }
    tokio::spawn(async move {
        if let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(&wire).await;
        }
    });
    let mut client = Client::connect_tcp(addr).await.expect("connect");
    let big = client.read_reply().await.expect("bulk");
    assert_eq!(big.as_bytes(), Some(&value[..]));
    let array = client.read_reply().await.expect("array");
    let items = array.as_array().expect("an array");
    assert_eq!(items.len(), 100_000);
    assert!(items
        .iter()
        .enumerate()
        .all(|(i, r)| r.as_integer() == Some(i as i64)));
    assert!(matches!(
        client.read_reply().await,
        Err(ClientError::Closed)
    ));
}

#[tokio::test]
async fn unix_socket_client() {
    let dir = std::env::temp_dir().join(format!("resp-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    let (tx, _ended) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            serve(stream, Arc::new(Stats::default()), tx).await;
        }
    });
    let mut client = Client::connect_unix(&path).await.expect("connect");
    assert_eq!(
        client.call(&[b"A", b"B", b""]).await.expect("call"),
        Reply::Integer(3)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn read_batch_survives_cancellation() {
    let (mut peer, server_side) = tokio::io::duplex(64);
    let mut conn = Connection::new(server_side, Limits::default());
    let mut wire = BytesMut::new();
    for i in 0..20 {
        let value = vec![b'a' + i as u8; 100 + i];
        resp::encode_request(&mut wire, &[b"SET", b"k", &value]);
    }
    let writer = tokio::spawn(async move {
        for chunk in wire.chunks(7) {
            peer.write_all(chunk).await.expect("write");
            tokio::task::yield_now().await;
        }
    });
    let mut got = Vec::new();
    let mut n_cancelled = 0;
    while got.len() < 20 {
        tokio::select! {
            end = conn.read_batch(&mut got, 1024) => assert_eq!(end.expect("read"), BatchEnd::More),
            _ = tokio::task::yield_now() => n_cancelled += 1,
        }
    }
    writer.await.expect("writer");
    assert!(n_cancelled > 0, "the read was never interrupted");
    for (i, req) in got.iter().enumerate() {
        assert_eq!(&req.args[2][..], &vec![b'a' + i as u8; 100 + i][..]);
    }
}
