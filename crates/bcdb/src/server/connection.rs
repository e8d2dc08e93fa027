//! One client connection: read a batch, execute it and commit it on a blocking thread under
//! the database lock, then write all its replies at once.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use resp::{BatchEnd, Connection, Limits, Request, RequestError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::dispatch::{bounded_error, execute, Ctx, Fail, Session};
use super::Shared;

/// Requests parsed per read.
const MAX_BATCH: usize = 512;
/// Reply bytes after which the rest of a batch is committed and answered in a later write,
/// so a batch of large reads does not hold all its replies in memory.
const MAX_PENDING_REPLY: usize = 4 << 20;

/// Redis's wording for a request that cannot be parsed; the connection closes after it.
fn protocol_error_text(e: &RequestError) -> String {
    let what = match e {
        RequestError::NotArray => "expected '*', inline commands are not supported".to_string(),
        RequestError::BulkTooLarge { .. } => "invalid bulk length (above 8 MiB)".to_string(),
        RequestError::TooManyArgs { .. } => "invalid multibulk length (too many arguments)".into(),
        other => other.to_string(),
    };
    format!("ERR Protocol error: {what}")
}

pub(crate) async fn serve<S>(
    stream: S,
    shared: &Arc<Shared>,
    conn_id: u64,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection::new(stream, Limits::default());
    let caller = if shared.config.require_auth {
        crate::acl::Caller::Anonymous
    } else {
        crate::acl::Caller::Owner
    };
    let mut session = Some(Session::new(conn_id, caller));
    let mut incoming = Vec::with_capacity(64);
    let mut pending = VecDeque::new();
    let mut protocol_error = false;
    loop {
        let end = tokio::select! {
            read = conn.read_batch(&mut incoming, MAX_BATCH) => match read {
                Ok(end) => end,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        pending.extend(incoming.drain(..));
        let mut close = false;
        while !pending.is_empty() && !close {
            let job_shared = shared.clone();
            let mut job_session = session.take().expect("session is back after each chunk");
            let mut job_pending = std::mem::take(&mut pending);
            let mut out = std::mem::take(conn.out());
            let job = off_reactor(move || {
                let (mut close, target) =
                    run_chunk(&job_shared, &mut job_session, &mut job_pending, &mut out);
                if let Err(why) = job_shared.commit_through(target) {
                    close = fatal(&job_shared, &mut out, &why);
                }
                (job_session, job_pending, out, close)
            });
            let Ok((s, p, out, c)) = job.await else {
                tracing::error!("a command panicked; the server stops serving until restarted");
                shared.failed.store(true, Ordering::SeqCst);
                return;
            };
            (session, pending, close) = (Some(s), p, c);
            *conn.out() = out;
            if conn.flush().await.is_err() {
                return;
            }
        }
        if close {
            break;
        }
        match end {
            BatchEnd::More => {}
            BatchEnd::Eof => break,
            BatchEnd::ProtocolError(e) => {
                resp::reply::error(conn.out(), protocol_error_text(&e).as_bytes());
                let _ = conn.flush().await;
                protocol_error = true;
                break;
            }
        }
    }
    if protocol_error {
        resp::listen::linger(conn.get_mut(), async {
            let _ = stop.changed().await;
        })
        .await;
    }
}

/// Runs `job` (which takes the database lock, and may fsync) where it cannot hold up other
/// connections' I/O. On a multi-threaded runtime that is this worker thread, handed over for
/// the time being (`block_in_place`): no hop to another thread and back per batch, which was
/// about a third of the CPU time of small writes. Elsewhere, the blocking pool. `Err` when the
/// job panicked.
async fn off_reactor<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, ()> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        let job = std::panic::AssertUnwindSafe(job);
        std::panic::catch_unwind(move || tokio::task::block_in_place(job)).map_err(drop)
    } else {
        tokio::task::spawn_blocking(job).await.map_err(drop)
    }
}

/// Executes requests from the front of `pending` until it is empty, a command closes the
/// connection, or the replies grow past [`MAX_PENDING_REPLY`]. Returns whether the
/// connection closes, and how many ledger entries must be durable before the replies may
/// go out: every entry recorded so far, by any connection, since a read may have seen it.
fn run_chunk(
    shared: &Shared,
    session: &mut Session,
    pending: &mut VecDeque<Request>,
    out: &mut BytesMut,
) -> (bool, u64) {
    let mut guard = shared.lock();
    let Some(db) = guard.as_mut() else {
        resp::reply::error(out, b"ERR the server is shutting down");
        return (true, 0);
    };
    let mut ctx = Ctx::new(db, shared, session);
    while let Some(request) = pending.pop_front() {
        match execute(&mut ctx, &request.args) {
            Ok(reply) => reply.encode(out),
            Err(Fail::Err(text)) => resp::reply::error(out, bounded_error(&text).as_bytes()),
            Err(Fail::Fatal(why)) => return (fatal(shared, out, &why), 0),
        }
        if ctx.close || out.len() >= MAX_PENDING_REPLY {
            break;
        }
    }
    if ctx.close {
        pending.clear();
    }
    (ctx.close, ctx.db.len())
}

/// A write or commit failed: nothing of this chunk may be acknowledged, and the server stops
/// serving (memory may hold entries the disk does not) until a restart replays the ledger.
fn fatal(shared: &Shared, out: &mut BytesMut, why: &str) -> bool {
    tracing::error!("ledger write failed, refusing every command until restarted: {why}");
    shared.failed.store(true, Ordering::SeqCst);
    out.clear();
    let text =
        format!("ERR the ledger failed to write ({why}); nothing in this batch is acknowledged");
    resp::reply::error(out, text.as_bytes());
    true
}
