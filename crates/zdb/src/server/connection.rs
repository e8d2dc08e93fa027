//! One client connection: read a batch, execute it under the state lock,
//! flush what it wrote, reply with one write; deliver WAIT notifications
//! and timeouts in between.

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use resp::{BatchEnd, Connection, Limits, Request, RequestError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc};

use super::dispatch::{execute, Flow};
use super::wait::Notification;
use super::{Counters, Shared, State};
use crate::db::NsId;

/// Requests parsed per read; replies are written when the batch is done.
const MAX_BATCH: usize = 512;
/// Reply bytes after which the rest of a batch waits for the next write.
const MAX_PENDING_REPLY: usize = 4 << 20;

/// Per-connection state seen by commands.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) conn_id: u64,
    pub(crate) ns: NsId,
    /// Admin rights (always, without `--admin`).
    pub(crate) admin: bool,
    /// May write in the current namespace.
    pub(crate) writable: bool,
    /// Nonce of the last `AUTH SECURE CHALLENGE`.
    pub(crate) nonce: Option<String>,
    /// Deadline of a pending WAIT.
    pub(crate) wait_deadline: Option<Instant>,
    pub(crate) notify: mpsc::UnboundedSender<Notification>,
}

/// Text of the reply to a malformed request; the connection closes after it.
fn protocol_error_text(e: &RequestError) -> &'static str {
    match e {
        RequestError::NotArray => "Malformed request, array expected",
        RequestError::EmptyArray => "Missing arguments",
        RequestError::TooManyArgs { .. } => "Too many arguments",
        RequestError::NegativeArrayLen => "Internal memory error",
        RequestError::BulkTooLarge { .. } => "Payload too big",
        RequestError::NotBulk
        | RequestError::InvalidLength
        | RequestError::LineTooLong
        | RequestError::MissingCrlf => "Malformed query string",
    }
}

pub(crate) async fn serve<S>(
    stream: S,
    shared: Arc<Shared>,
    conn_id: u64,
    mut stop: broadcast::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection::new(stream, Limits::default());
    let (notify, mut notifications) = mpsc::unbounded_channel();
    let mut session = {
        let state = shared.lock();
        Session {
            conn_id,
            ns: state.db.default_id(),
            admin: shared.config.admin.is_none(),
            writable: !shared.config.protect,
            nonce: None,
            wait_deadline: None,
            notify,
        }
    };
    let mut requests = Vec::with_capacity(64);
    let mut protocol_error = false;
    loop {
        let deadline = session.wait_deadline;
        let end = tokio::select! {
            read = conn.read_batch(&mut requests, MAX_BATCH) => match read {
                Ok(end) => end,
                Err(_) => break,
            },
            Some(note) = notifications.recv() => {
                note.encode(conn.out());
                if send(&mut conn, &shared).await.is_err() {
                    break;
                }
                continue;
            }
            _ = sleep_until(deadline), if deadline.is_some() => {
                session.wait_deadline = None;
                if shared.lock().watchers.remove(conn_id) {
                    resp::reply::error(conn.out(), b"Timeout");
                    if send(&mut conn, &shared).await.is_err() {
                        break;
                    }
                }
                continue;
            }
            _ = stop.recv() => break,
        };
        let mut flow = run_batch(&mut conn, &shared, &mut session, &mut requests).await;
        if let BatchEnd::ProtocolError(e) = &end {
            if flow == Flow::Continue {
                resp::reply::error(conn.out(), protocol_error_text(e).as_bytes());
                protocol_error = true;
            }
            flow = Flow::Close;
        }
        if send(&mut conn, &shared).await.is_err() || flow == Flow::Close {
            break;
        }
        if matches!(end, BatchEnd::Eof) {
            break;
        }
    }
    shared.lock().watchers.remove(conn_id);
    if protocol_error {
        resp::listen::linger(conn.get_mut(), async {
            let _ = stop.recv().await;
        })
        .await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

async fn send<S>(conn: &mut Connection<S>, shared: &Shared) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    Counters::add(&shared.counters.network_tx, conn.out().len() as u64);
    conn.flush().await
}

/// Executes `requests` in order; replies accumulate in the connection's
/// buffer, which is written out whenever it grows large.
async fn run_batch<S>(
    conn: &mut Connection<S>,
    shared: &Shared,
    session: &mut Session,
    requests: &mut Vec<Request>,
) -> Flow
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut pending = requests.drain(..);
    loop {
        let flow = {
            let mut state = shared.lock();
            let flow = execute_some(&mut state, shared, session, &mut pending, conn.out());
            if let Err(e) = flush_written(&mut state, shared, session) {
                tracing::error!("failed to flush namespace writes: {e}");
                // Nothing of this batch may be acknowledged: replace the
                // replies by an error and drop the client.
                let out = conn.out();
                out.clear();
                resp::reply::error(out, b"Cannot write data right now");
                return Flow::Close;
            }
            flow
        };
        if flow == Flow::Close || pending.len() == 0 {
            return flow;
        }
        if send(conn, shared).await.is_err() {
            return Flow::Close;
        }
    }
}

fn execute_some(
    state: &mut State,
    shared: &Shared,
    session: &mut Session,
    pending: &mut std::vec::Drain<'_, Request>,
    out: &mut BytesMut,
) -> Flow {
    for request in pending.by_ref() {
        let size: usize = request.args.iter().map(|a| a.len() + 16).sum();
        Counters::add(&shared.counters.network_rx, size as u64);
        if execute(state, shared, session, &request.args, out) == Flow::Close {
            return Flow::Close;
        }
        if out.len() >= MAX_PENDING_REPLY {
            break;
        }
    }
    Flow::Continue
}

/// Writes the queued entries of the session's namespace (the only one a
/// batch can write to besides explicit SELECTs, which flush on switch).
fn flush_written(state: &mut State, shared: &Shared, session: &Session) -> std::io::Result<()> {
    let Some(ns) = state.db.get(session.ns) else {
        return Ok(());
    };
    if !ns.has_uncommitted() {
        return Ok(());
    }
    let config = &shared.config;
    let due = config
        .sync_time
        .is_some_and(|every| state.last_sync.elapsed() >= every);
    let res = if config.sync || due {
        ns.sync()
    } else {
        ns.commit()
    };
    if let Err(e) = res {
        if let Err(reload) = ns.reload() {
            tracing::error!("failed to reload namespace after a write error: {reload}");
        }
        return Err(e);
    }
    if config.sync || due {
        state.last_sync = Instant::now();
    }
    Ok(())
}
