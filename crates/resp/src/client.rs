//! Async RESP client over TCP or a unix socket, with request pipelining.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, ToSocketAddrs, UnixStream};

use crate::reply::{scan_reply, take_reply, Progress, Reply, ReplyError, ReplyLimits};
use crate::request::encode_request;

/// Smallest free space offered to each socket read.
const MIN_READ: usize = 16 * 1024;
/// Most space reserved at once for a reply announced as large.
const MAX_RESERVE: usize = 16 * 1024 * 1024;

/// Why a client call failed; an error *reply* from the server is not one of these.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, reading or writing failed.
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// The server sent bytes that are not a valid reply.
    #[error("invalid reply from server")]
    Protocol(#[from] ReplyError),
    /// The server closed the connection before a whole reply arrived.
    #[error("connection closed by server")]
    Closed,
}

/// The transport under a [`Client`].
#[derive(Debug)]
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A connection to a RESP server.
///
/// Requests are encoded into a write buffer and sent in one write; replies are
/// decoded from a read buffer in the order the server sent them. Not
/// cancel-safe: a call whose future is dropped leaves the stream out of step,
/// so the client should then be discarded.
#[derive(Debug)]
pub struct Client {
    stream: Stream,
    limits: ReplyLimits,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Requests queued in `wbuf` whose replies have not been read.
    n_pending: usize,
    /// The read buffer cannot hold a whole reply before reaching this length.
    needed: usize,
}

impl Client {
    fn new(stream: Stream) -> Self {
        Client {
            stream,
            limits: ReplyLimits::default(),
            rbuf: BytesMut::with_capacity(MIN_READ),
            wbuf: BytesMut::with_capacity(MIN_READ),
            n_pending: 0,
            needed: 0,
        }
    }

    /// Connects over TCP, with `TCP_NODELAY` set.
    pub async fn connect_tcp(addr: impl ToSocketAddrs) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Client::new(Stream::Tcp(stream)))
    }

    /// Connects to a unix socket.
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).await?;
        Ok(Client::new(Stream::Unix(stream)))
    }

    /// Replaces the bounds applied to replies.
    pub fn set_limits(&mut self, limits: ReplyLimits) {
        self.limits = limits;
    }

    /// Sends one request and waits for its reply; a server error comes back as [`Reply::Error`].
    ///
    /// Requests already [`queue`](Self::queue)d are sent first and their replies
    /// are read and dropped, keeping the stream in step.
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Reply, ClientError> {
        self.queue(args);
        let mut replies = self.flush_pipeline().await?;
        replies.pop().ok_or(ClientError::Closed)
    }

    /// Encodes a request into the write buffer without sending it.
    pub fn queue(&mut self, args: &[&[u8]]) {
        encode_request(&mut self.wbuf, args);
        self.n_pending += 1;
    }

    /// Number of queued requests whose replies have not been read.
    pub fn pending(&self) -> usize {
        self.n_pending
    }

    /// Sends all queued requests in one write and reads their replies, in order.
    pub async fn flush_pipeline(&mut self) -> Result<Vec<Reply>, ClientError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        let mut replies = Vec::with_capacity(self.n_pending);
        while self.n_pending > 0 {
            replies.push(self.read_reply().await?);
            self.n_pending -= 1;
        }
        Ok(replies)
    }

    /// Reads the next reply, e.g. a message the server pushes without a request.
    pub async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        loop {
            if self.rbuf.len() >= self.needed {
                match scan_reply(&self.rbuf, &self.limits)? {
                    Progress::Complete(len) => {
                        self.needed = 0;
                        return Ok(take_reply(&mut self.rbuf, len, &self.limits)?);
                    }
                    Progress::Incomplete { needed } => self.needed = needed,
                }
            }
            let pending = self.needed.saturating_sub(self.rbuf.len());
            let want = pending.clamp(MIN_READ, MAX_RESERVE);
            if self.rbuf.capacity() - self.rbuf.len() < want {
                self.rbuf.reserve(want);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Sends any queued requests followed by `bytes` as they are, e.g. to see how
    /// a server handles malformed input; replies are then read with
    /// [`read_reply`](Self::read_reply).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.wbuf.extend_from_slice(bytes);
        self.stream.write_all(&self.wbuf).await?;
        self.wbuf.clear();
        Ok(())
    }

    /// Closes the writing half; the server sees end of input and replies already sent can still be read.
    pub async fn shutdown_write(&mut self) -> Result<(), ClientError> {
        self.stream.shutdown().await?;
        Ok(())
    }
}
