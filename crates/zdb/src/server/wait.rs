//! WAIT: clients waiting for another client's command in their namespace.

use bytes::BytesMut;
use tokio::sync::mpsc;

use crate::db::NsId;

/// What a waiting client receives: `+<COMMAND>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Notification(pub(crate) &'static str);

impl Notification {
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        resp::reply::status(out, self.0.as_bytes());
    }
}

#[derive(Debug)]
struct Watcher {
    conn_id: u64,
    ns: NsId,
    /// Canonical command name, or `None` for any command (`WAIT *`).
    command: Option<&'static str>,
    tx: mpsc::UnboundedSender<Notification>,
}

/// Pending WAITs, at most one per connection.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    list: Vec<Watcher>,
}

impl Watchers {
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Registers (or replaces) the WAIT of `conn_id`.
    pub(crate) fn add(
        &mut self,
        conn_id: u64,
        ns: NsId,
        command: Option<&'static str>,
        tx: mpsc::UnboundedSender<Notification>,
    ) {
        self.remove(conn_id);
        self.list.push(Watcher {
            conn_id,
            ns,
            command,
            tx,
        });
    }

    /// Drops the WAIT of `conn_id`; true if there was one.
    pub(crate) fn remove(&mut self, conn_id: u64) -> bool {
        let before = self.list.len();
        self.list.retain(|w| w.conn_id != conn_id);
        self.list.len() != before
    }

    /// `conn_id` switched to `ns`: its pending WAIT now watches there.
    pub(crate) fn moved(&mut self, conn_id: u64, ns: NsId) {
        for w in self.list.iter_mut().filter(|w| w.conn_id == conn_id) {
            w.ns = ns;
        }
    }

    /// `by` ran `command` in `ns`: wake every other client waiting for it.
    pub(crate) fn notify(&mut self, by: u64, ns: NsId, command: &'static str) {
        self.list.retain(|w| {
            let hit = w.conn_id != by && w.ns == ns && w.command.is_none_or(|c| c == command);
            if hit {
                let _ = w.tx.send(Notification(command));
            }
            !hit
        });
    }
}
