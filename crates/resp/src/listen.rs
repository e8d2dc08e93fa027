//! What every RESP server here does around its connections: bind its listeners, and end a
//! connection after a protocol error without losing the error reply.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

/// After a protocol error, how long input is discarded before the socket is closed.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// After a protocol error, how much input is discarded before the socket is closed.
const LINGER_BYTES: u64 = 64 << 20;

/// A listener that could not be bound: its address (or socket path) and why.
#[derive(Debug)]
pub struct BindError {
    /// The address or socket path.
    pub addr: String,
    /// Why.
    pub source: io::Error,
}

/// Binds a TCP listener on `tcp` and a unix one on `socket` (replacing a stale socket file),
/// each when given.
pub async fn bind(
    tcp: Option<SocketAddr>,
    socket: Option<&Path>,
) -> Result<(Option<TcpListener>, Option<UnixListener>), BindError> {
    let tcp = match tcp {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| BindError {
            addr: addr.to_string(),
            source,
        })?),
        None => None,
    };
    let unix = match socket {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            Some(UnixListener::bind(path).map_err(|source| BindError {
                addr: path.display().to_string(),
                source,
            })?)
        }
        None => None,
    };
    Ok((tcp, unix))
}

/// Ends a connection whose client may still be sending (the rest of a payload that is too
/// big, say). Closing a socket with unread input makes the kernel reset the connection, and
/// the client would lose the error reply already sent; instead the write side is shut down
/// (the client reads the reply, then EOF) and input is discarded for a bounded time and
/// amount, or until `stop` resolves.
pub async fn linger<S>(stream: &mut S, stop: impl Future<Output = ()>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if stream.shutdown().await.is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut scratch = vec![0u8; 64 * 1024];
    let mut n_discarded = 0u64;
    tokio::pin!(stop);
    while n_discarded < LINGER_BYTES {
        let read = tokio::select! {
            read = stream.read(&mut scratch) => read,
            _ = tokio::time::sleep_until(deadline) => return,
            _ = &mut stop => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n_discarded += n as u64,
        }
    }
}
