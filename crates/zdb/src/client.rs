//! A typed async client for any 0-db server (this one or the C one), over
//! TCP or a unix socket, with pipelined batch calls.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use resp::Reply;
use tokio::net::ToSocketAddrs;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed or the reply was not valid RESP.
    #[error(transparent)]
    Connection(#[from] resp::ClientError),
    /// The server answered an error (its text, e.g. `Key not found`).
    #[error("server error: {0}")]
    Server(String),
    /// The server answered something this call does not expect.
    #[error("unexpected reply to {command}: {reply:?}")]
    Unexpected {
        /// The command sent.
        command: &'static str,
        /// What came back.
        reply: Reply,
    },
}

/// One key listed by [`Client::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEntry {
    /// The key (the 8-byte id in seq mode).
    pub key: Bytes,
    /// Payload length.
    pub length: u64,
    /// Unix seconds of the last write.
    pub timestamp: u64,
}

/// A connection to a 0-db server.
pub struct Client {
    inner: resp::Client,
}

fn server_error(reply: Reply, command: &'static str) -> ClientError {
    match reply {
        Reply::Error(text) => ClientError::Server(String::from_utf8_lossy(&text).into_owned()),
        reply => ClientError::Unexpected { command, reply },
    }
}

impl Client {
    /// Connects over TCP.
    pub async fn connect_tcp(addr: impl ToSocketAddrs) -> Result<Client, ClientError> {
        Ok(Client {
            inner: resp::Client::connect_tcp(addr).await?,
        })
    }

    /// Connects over a unix socket.
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        Ok(Client {
            inner: resp::Client::connect_unix(path).await?,
        })
    }

    async fn expect_ok(
        &mut self,
        command: &'static str,
        args: &[&[u8]],
    ) -> Result<(), ClientError> {
        match self.inner.call(args).await? {
            Reply::Status(s) if s.as_ref() == b"OK" => Ok(()),
            reply => Err(server_error(reply, command)),
        }
    }

    /// `PING`.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        match self.inner.call(&[b"PING"]).await? {
            Reply::Status(s) if s.as_ref() == b"PONG" => Ok(()),
            reply => Err(server_error(reply, "PING")),
        }
    }

    /// `AUTH password`: become admin.
    pub async fn auth(&mut self, password: &[u8]) -> Result<(), ClientError> {
        self.expect_ok("AUTH", &[b"AUTH", password]).await
    }

    /// `SELECT namespace [password]`.
    pub async fn select(
        &mut self,
        namespace: &[u8],
        password: Option<&[u8]>,
    ) -> Result<(), ClientError> {
        match password {
            Some(pw) => self.expect_ok("SELECT", &[b"SELECT", namespace, pw]).await,
            None => self.expect_ok("SELECT", &[b"SELECT", namespace]).await,
        }
    }

    /// `NSNEW namespace`.
    pub async fn nsnew(&mut self, namespace: &[u8]) -> Result<(), ClientError> {
        self.expect_ok("NSNEW", &[b"NSNEW", namespace]).await
    }

    /// `NSDEL namespace`.
    pub async fn nsdel(&mut self, namespace: &[u8]) -> Result<(), ClientError> {
        self.expect_ok("NSDEL", &[b"NSDEL", namespace]).await
    }

    /// `NSSET namespace property value` (`mode`, `password`, `public`,
    /// `maxsize`, `worm`, `lock`, `freeze`).
    pub async fn nsset(
        &mut self,
        namespace: &[u8],
        property: &str,
        value: &[u8],
    ) -> Result<(), ClientError> {
        self.expect_ok("NSSET", &[b"NSSET", namespace, property.as_bytes(), value])
            .await
    }

    /// `NSINFO namespace` as field → value.
    pub async fn nsinfo(
        &mut self,
        namespace: &[u8],
    ) -> Result<BTreeMap<String, String>, ClientError> {
        match self.inner.call(&[b"NSINFO", namespace]).await? {
            Reply::Bulk(Some(text)) => Ok(String::from_utf8_lossy(&text)
                .lines()
                .filter_map(|line| line.split_once(": "))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()),
            reply => Err(server_error(reply, "NSINFO")),
        }
    }

    /// `NSLIST`.
    pub async fn nslist(&mut self) -> Result<Vec<Bytes>, ClientError> {
        match self.inner.call(&[b"NSLIST"]).await? {
            Reply::Array(Some(items)) => items
                .into_iter()
                .map(|item| match item {
                    Reply::Bulk(Some(name)) => Ok(name),
                    reply => Err(server_error(reply, "NSLIST")),
                })
                .collect(),
            reply => Err(server_error(reply, "NSLIST")),
        }
    }

    /// `SET key value`: returns the key (or, in seq mode with an empty key,
    /// the new 8-byte id); `None` when the value was unchanged.
    pub async fn set(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, ClientError> {
        set_reply(self.inner.call(&[b"SET", key, value]).await?)
    }

    /// Inserts into a seq namespace; returns the new id.
    pub async fn insert(&mut self, value: &[u8]) -> Result<u64, ClientError> {
        let id = self
            .set(b"", value)
            .await?
            .ok_or(ClientError::Server("no id returned".into()))?;
        let raw: [u8; 8] = id
            .as_ref()
            .try_into()
            .map_err(|_| ClientError::Unexpected {
                command: "SET",
                reply: Reply::Bulk(Some(id.clone())),
            })?;
        Ok(u64::from_le_bytes(raw))
    }

    /// `GET key`.
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, ClientError> {
        get_reply(self.inner.call(&[b"GET", key]).await?)
    }

    /// `DEL key`.
    pub async fn del(&mut self, key: &[u8]) -> Result<(), ClientError> {
        self.expect_ok("DEL", &[b"DEL", key]).await
    }

    /// `EXISTS key`.
    pub async fn exists(&mut self, key: &[u8]) -> Result<bool, ClientError> {
        match self.inner.call(&[b"EXISTS", key]).await? {
            Reply::Integer(n) => Ok(n == 1),
            reply => Err(server_error(reply, "EXISTS")),
        }
    }

    /// `DBSIZE`.
    pub async fn dbsize(&mut self) -> Result<u64, ClientError> {
        match self.inner.call(&[b"DBSIZE"]).await? {
            Reply::Integer(n) => Ok(n.max(0) as u64),
            reply => Err(server_error(reply, "DBSIZE")),
        }
    }

    /// One `SCAN` step: the next keys after `cursor` (from the start with
    /// `None`) and the cursor to continue with; `None` at the end.
    pub async fn scan(
        &mut self,
        cursor: Option<&[u8]>,
    ) -> Result<Option<(Bytes, Vec<ScanEntry>)>, ClientError> {
        let reply = match cursor {
            Some(c) => self.inner.call(&[b"SCAN", c]).await?,
            None => self.inner.call(&[b"SCAN"]).await?,
        };
        if let Reply::Error(text) = &reply {
            if text.as_ref() == b"No more data" {
                return Ok(None);
            }
        }
        parse_scan(reply).map(Some)
    }

    /// Pipelined `SET`s: one write, replies in order.
    pub async fn set_many(
        &mut self,
        items: &[(&[u8], &[u8])],
    ) -> Result<Vec<Option<Bytes>>, ClientError> {
        for (key, value) in items {
            self.inner.queue(&[b"SET", key, value]);
        }
        self.inner
            .flush_pipeline()
            .await?
            .into_iter()
            .map(set_reply)
            .collect()
    }

    /// Pipelined `GET`s: one write, replies in order.
    pub async fn get_many(&mut self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, ClientError> {
        for key in keys {
            self.inner.queue(&[b"GET", key]);
        }
        self.inner
            .flush_pipeline()
            .await?
            .into_iter()
            .map(get_reply)
            .collect()
    }

    /// Any command, reply as received (errors included).
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Reply, ClientError> {
        Ok(self.inner.call(args).await?)
    }
}

fn set_reply(reply: Reply) -> Result<Option<Bytes>, ClientError> {
    match reply {
        Reply::Bulk(key) => Ok(key),
        reply => Err(server_error(reply, "SET")),
    }
}

fn get_reply(reply: Reply) -> Result<Option<Bytes>, ClientError> {
    match reply {
        Reply::Bulk(value) => Ok(value),
        reply => Err(server_error(reply, "GET")),
    }
}

fn parse_scan(reply: Reply) -> Result<(Bytes, Vec<ScanEntry>), ClientError> {
    let bad = |reply: Reply| server_error(reply, "SCAN");
    let Reply::Array(Some(mut parts)) = reply else {
        return Err(bad(reply));
    };
    if parts.len() != 2 {
        return Err(bad(Reply::Array(Some(parts))));
    }
    let items = parts.pop().expect("two parts");
    let cursor = parts.pop().expect("two parts");
    let (Reply::Bulk(Some(cursor)), Reply::Array(Some(items))) = (cursor, items) else {
        return Err(ClientError::Server("malformed SCAN reply".into()));
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Reply::Array(Some(fields)) if fields.len() == 3 => {
                match (&fields[0], &fields[1], &fields[2]) {
                    (Reply::Bulk(Some(key)), Reply::Integer(len), Reply::Integer(ts)) => entries
                        .push(ScanEntry {
                            key: key.clone(),
                            length: (*len).max(0) as u64,
                            timestamp: (*ts).max(0) as u64,
                        }),
                    _ => return Err(ClientError::Server("malformed SCAN item".into())),
                }
            }
            other => return Err(bad(other)),
        }
    }
    Ok((cursor, entries))
}
