//! Server side of one client connection: buffered request reading and batched reply writing.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::request::{scan, take, Limits, Request, RequestError, Scan};

/// Smallest free space offered to each socket read.
const MIN_READ: usize = 16 * 1024;
/// Largest free space offered to a socket read when no big payload is pending.
const MAX_READ: usize = 256 * 1024;
/// An empty read buffer above this capacity is released instead of reused.
const IN_KEEP: usize = 1024 * 1024;
/// Initial and idle capacity of the reply buffer.
const OUT_CAPACITY: usize = 16 * 1024;
/// A reply buffer above this capacity is released after a flush.
const OUT_KEEP: usize = 1024 * 1024;

/// How a call to [`Connection::read_batch`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchEnd {
    /// At least one request was pushed and the connection is still open.
    More,
    /// The peer closed the connection; a partial trailing request is dropped.
    Eof,
    /// The buffered bytes are not a valid request.
    ///
    /// Requests decoded before the bad bytes were pushed first; the caller
    /// answers them, writes its own error and closes the connection.
    ProtocolError(RequestError),
}

/// One client connection of a RESP server.
///
/// Bytes flow from the socket into a read buffer that [`read_batch`](Self::read_batch)
/// decodes into [`Request`]s; replies are encoded into [`out`](Self::out) and
/// sent with one write per [`flush`](Self::flush), so a pipelined batch costs
/// one read and one write system call.
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    limits: Limits,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// The read buffer cannot hold a whole request before reaching this length.
    needed: usize,
    /// Free space to offer the next read; grows while reads fill it.
    read_size: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps `stream`, decoding requests within `limits`.
    pub fn new(stream: S, limits: Limits) -> Self {
        Connection {
            stream,
            limits,
            rbuf: BytesMut::with_capacity(MIN_READ),
            wbuf: BytesMut::with_capacity(OUT_CAPACITY),
            needed: 0,
            read_size: MIN_READ,
        }
    }

    /// Pushes up to `max` requests into `out`, reading from the socket only when
    /// no whole request is buffered yet.
    ///
    /// Cancel-safe: bytes read stay in the connection's buffer, and requests are
    /// pushed only right before returning, so dropping the future loses nothing.
    /// A `max` of zero is treated as one.
    pub async fn read_batch(
        &mut self,
        out: &mut Vec<Request>,
        max: usize,
    ) -> std::io::Result<BatchEnd> {
        let max = max.max(1);
        loop {
            if let Some(end) = self.decode(out, max) {
                return Ok(end);
            }
            self.reserve();
            let n = self.stream.read_buf(&mut self.rbuf).await?;
            if n == 0 {
                return Ok(BatchEnd::Eof);
            }
            self.adapt_read_size(n);
        }
    }

    /// Decodes buffered requests; `None` when none is complete yet.
    fn decode(&mut self, out: &mut Vec<Request>, max: usize) -> Option<BatchEnd> {
        if self.rbuf.len() < self.needed {
            return None;
        }
        let mut n_pushed = 0;
        while n_pushed < max {
            let parsed = match scan(&self.rbuf, &self.limits) {
                Ok(Scan::Complete { len, n_args }) => {
                    take(&mut self.rbuf, len, n_args, &self.limits)
                }
                Ok(Scan::Incomplete { needed }) => {
                    self.needed = needed;
                    break;
                }
                Err(e) => Err(e),
            };
            match parsed {
                Ok(request) => {
                    out.push(request);
                    n_pushed += 1;
                    self.needed = 0;
                }
                Err(e) => return Some(BatchEnd::ProtocolError(e)),
            }
        }
        (n_pushed > 0).then_some(BatchEnd::More)
    }

    /// Makes room for the next read: the rest of a pending payload, or `read_size`.
    ///
    /// A buffer grown for a large payload is dropped once empty, so an idle
    /// connection does not pin it.
    fn reserve(&mut self) {
        let pending = self.needed.saturating_sub(self.rbuf.len());
        let want = pending.max(self.read_size);
        if self.rbuf.capacity() - self.rbuf.len() < want {
            self.rbuf.reserve(want);
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > IN_KEEP.max(want) {
            self.rbuf = BytesMut::with_capacity(want);
        }
    }

    /// Offers bigger reads to a peer that keeps filling them, smaller ones otherwise.
    fn adapt_read_size(&mut self, n_read: usize) {
        if n_read >= self.read_size {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        } else if n_read < self.read_size / 4 {
            self.read_size = (self.read_size / 2).max(MIN_READ);
        }
    }

    /// The reply buffer: encode replies into it, then call [`flush`](Self::flush).
    pub fn out(&mut self) -> &mut BytesMut {
        &mut self.wbuf
    }

    /// Sends the whole reply buffer in one write and empties it.
    ///
    /// Not cancel-safe: if the future is dropped part of the buffer may have
    /// been sent, so the connection should then be closed.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.stream.write_all(&self.wbuf).await?;
        if self.wbuf.capacity() > OUT_KEEP {
            self.wbuf = BytesMut::with_capacity(OUT_CAPACITY);
        } else {
            self.wbuf.clear();
        }
        Ok(())
    }

    /// The underlying stream, e.g. to read the peer address.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably; reading or writing it directly bypasses the buffers.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes received but not yet decoded into requests.
    pub fn buffered(&self) -> usize {
        self.rbuf.len()
    }
}
