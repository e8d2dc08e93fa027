//! `zdb://` stores: blocks in a 0-db namespace, over a small blocking RESP client with a connection pool.
//!
//! URL forms:
//!
//! * `zdb://[user][:password]@host[:port][/namespace]` — TCP, port 9900 and
//!   namespace `default` unless given. 0-db has no users; a user name is
//!   accepted and ignored.
//! * `zdb:///path/to/zdb.sock[?ns=namespace&password=secret]` — a Unix
//!   socket; the namespace and password go in the query (a password in the
//!   user info, `zdb://:secret@/path`, works too).
//!
//! Each new connection sends `SELECT <namespace> [password]` when the
//! namespace is not `default` or a password is given. A block is stored under
//! its raw 32-byte id: `SET id data`, `GET id`, `EXISTS id`. Idle connections
//! are kept (at most four); a request that fails with an I/O or
//! protocol error is retried once on a fresh connection, which is safe because
//! every request is idempotent. Error replies from the server become
//! [`StoreError::Zdb`] and keep the connection.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use bytes::BytesMut;
use resp::{Reply, ReplyLimits};

use super::url::StoreUrl;
use super::{BlockStore, StoreError};

/// Port 0-db listens on unless told otherwise.
const DEFAULT_PORT: u16 = 9900;
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 4;
/// Connect, read and write timeout.
const TIMEOUT: Duration = Duration::from_secs(10);
/// 0-db refuses values above 8 MiB, so no honest reply is bigger.
const REPLY_LIMITS: ReplyLimits = ReplyLimits {
    max_depth: 4,
    max_array: 1024,
    max_bulk: 8 * 1024 * 1024,
    max_line: 64 * 1024,
};

/// Where the server listens.
#[derive(Debug, Clone)]
enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// Blocks in one namespace of a 0-db server.
pub struct ZdbStore {
    target: Target,
    namespace: Vec<u8>,
    password: Option<Vec<u8>>,
    url: String,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for ZdbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZdbStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ZdbStore {
    /// Parses a `zdb://` URL (see the module docs); connects lazily, on first use.
    pub fn open(url: &str) -> Result<ZdbStore, StoreError> {
        let parsed = StoreUrl::parse(url)?;
        let bad = |reason: &str| StoreError::Url {
            url: parsed.without_password(),
            reason: reason.to_string(),
        };
        if parsed.scheme != "zdb" {
            return Err(bad("not a zdb:// URL"));
        }
        let mut password = parsed.password.clone();
        let mut namespace = None;
        for (name, value) in &parsed.query {
            match name.as_str() {
                "ns" | "namespace" => namespace = Some(value.clone()),
                "password" => password = Some(value.clone()),
                _ => return Err(bad(&format!("unknown parameter {name:?}"))),
            }
        }
        let target = if parsed.host.is_empty() {
            if parsed.path.is_empty() {
                return Err(bad("missing host or socket path"));
            }
            Target::Unix(PathBuf::from(std::ffi::OsStr::from_bytes(&parsed.path)))
        } else {
            if namespace.is_some() {
                return Err(bad(
                    "over TCP the namespace is the path: zdb://host:port/namespace",
                ));
            }
            let ns = parsed.path.strip_prefix(b"/").unwrap_or(&parsed.path);
            if ns.contains(&b'/') {
                return Err(bad("the path must be a single namespace name"));
            }
            namespace = (!ns.is_empty()).then(|| ns.to_vec());
            Target::Tcp {
                host: parsed.bare_host().to_string(),
                port: parsed.port.unwrap_or(DEFAULT_PORT),
            }
        };
        Ok(ZdbStore {
            target,
            namespace: namespace.unwrap_or_else(|| b"default".to_vec()),
            password: password.filter(|p| !p.is_empty()),
            url: parsed.without_password(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Opens a connection and selects the namespace.
    fn connect(&self) -> Result<Conn, StoreError> {
        let io_err = |what: String| move |source| StoreError::Io { what, source };
        let (stream, peer): (Box<dyn Socket>, String) = match &self.target {
            Target::Tcp { host, port } => {
                let peer = format!("{host}:{port}");
                let stream =
                    connect_tcp(host, *port).map_err(io_err(format!("connect to {peer}")))?;
                (Box::new(stream), peer)
            }
            Target::Unix(path) => {
                let peer = path.display().to_string();
                let stream = UnixStream::connect(path)
                    .and_then(|s| {
                        s.set_read_timeout(Some(TIMEOUT))?;
                        s.set_write_timeout(Some(TIMEOUT))?;
                        Ok(s)
                    })
                    .map_err(io_err(format!("connect to {peer}")))?;
                (Box::new(stream), peer)
            }
        };
        let mut conn = Conn {
            stream,
            peer,
            buf: BytesMut::with_capacity(64 * 1024),
        };
        if self.namespace != b"default" || self.password.is_some() {
            let mut args: Vec<&[u8]> = vec![b"SELECT", &self.namespace];
            args.extend(self.password.as_deref());
            match conn.call(&args)? {
                Reply::Status(_) => {}
                Reply::Error(text) => {
                    return Err(StoreError::Zdb(format!(
                        "select namespace {}: {}",
                        String::from_utf8_lossy(&self.namespace),
                        String::from_utf8_lossy(&text)
                    )))
                }
                other => return Err(conn.unexpected("SELECT", &other)),
            }
        }
        tracing::debug!("connected to 0-db {}", self.url);
        Ok(conn)
    }

    /// Runs `request` on a pooled or new connection, once more on a fresh one after an I/O error.
    fn with_conn<T>(
        &self,
        request: impl Fn(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let first = match pooled {
            Some(conn) => Ok(conn),
            None => self.connect(),
        };
        let result = first.and_then(|mut conn| {
            let result = request(&mut conn);
            self.release(conn, &result);
            result
        });
        match result {
            Err(StoreError::Io { what, source }) => {
                tracing::warn!("0-db {}: {what}: {source}; reconnecting", self.url);
                let mut conn = self.connect()?;
                let result = request(&mut conn);
                self.release(conn, &result);
                result
            }
            other => other,
        }
    }

    /// Keeps `conn` for reuse unless `result` says its stream is broken or out of step.
    fn release<T>(&self, conn: Conn, result: &Result<T, StoreError>) {
        if matches!(result, Err(StoreError::Io { .. })) {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// Resolves `host` and connects to the first address that answers within the timeout.
fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(TIMEOUT))?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A connected TCP or Unix socket.
trait Socket: Read + Write + Send {}
impl<T: Read + Write + Send> Socket for T {}

/// One connection with its read buffer.
struct Conn {
    stream: Box<dyn Socket>,
    peer: String,
    buf: BytesMut,
}

impl Conn {
    /// Sends one request and reads its reply; error replies are returned as values.
    fn call(&mut self, args: &[&[u8]]) -> Result<Reply, StoreError> {
        let mut out = BytesMut::new();
        resp::encode_request(&mut out, args);
        self.stream
            .write_all(&out)
            .map_err(|source| StoreError::Io {
                what: format!("send to {}", self.peer),
                source,
            })?;
        let read_error = |source| StoreError::Io {
            what: format!("read reply from {}", self.peer),
            source,
        };
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let parsed = resp::parse_reply(&mut self.buf, &REPLY_LIMITS)
                .map_err(|e| read_error(io::Error::new(io::ErrorKind::InvalidData, e)))?;
            if let Some(reply) = parsed {
                return Ok(reply);
            }
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            }
            .map_err(read_error)?;
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A reply of the wrong kind: the stream can no longer be trusted.
    fn unexpected(&self, command: &str, reply: &Reply) -> StoreError {
        let source = io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected reply to {command}: {reply:?}"),
        );
        StoreError::Io {
            what: format!("read reply from {}", self.peer),
            source,
        }
    }
}

/// An error reply as [`StoreError::Zdb`].
fn server_error(text: &[u8]) -> StoreError {
    StoreError::Zdb(String::from_utf8_lossy(text).into_owned())
}

impl BlockStore for ZdbStore {
    fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_conn(|c| match c.call(&[b"GET", id])? {
            Reply::Bulk(data) => Ok(data.map(|d| d.to_vec())),
            Reply::Error(text) => Err(server_error(&text)),
            other => Err(c.unexpected("GET", &other)),
        })
    }

    fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        // a nil reply means the key already holds these bytes
        self.with_conn(|c| match c.call(&[b"SET", id, data])? {
            Reply::Bulk(_) => Ok(()),
            Reply::Error(text) => Err(server_error(&text)),
            other => Err(c.unexpected("SET", &other)),
        })
    }

    fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
        self.with_conn(|c| match c.call(&[b"EXISTS", id])? {
            Reply::Integer(n) => Ok(n != 0),
            Reply::Error(text) => Err(server_error(&text)),
            other => Err(c.unexpected("EXISTS", &other)),
        })
    }

    fn url(&self) -> String {
        self.url.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens `url` and checks the target, namespace, password and public URL.
    fn check(url: &str, target: &str, ns: &str, password: Option<&str>, public: &str) {
        let store = ZdbStore::open(url).unwrap();
        let got_target = match &store.target {
            Target::Tcp { host, port } => format!("tcp {host} {port}"),
            Target::Unix(path) => format!("unix {}", path.display()),
        };
        assert_eq!(got_target, target, "{url}");
        assert_eq!(store.namespace, ns.as_bytes(), "{url}");
        assert_eq!(
            store.password.as_deref(),
            password.map(str::as_bytes),
            "{url}"
        );
        assert_eq!(store.url(), public, "{url}");
    }

    fn check_err(url: &str, expected: &str) {
        assert_eq!(ZdbStore::open(url).unwrap_err().to_string(), expected);
    }

    #[test]
    fn urls() {
        check(
            "zdb://hub.example",
            "tcp hub.example 9900",
            "default",
            None,
            "zdb://hub.example",
        );
        check(
            "zdb://:secret@10.0.0.1:9901/blocks",
            "tcp 10.0.0.1 9901",
            "blocks",
            Some("secret"),
            "zdb://10.0.0.1:9901/blocks",
        );
        check(
            "zdb://me:pw@[::1]/ns",
            "tcp ::1 9900",
            "ns",
            Some("pw"),
            "zdb://me@[::1]/ns",
        );
        check("zdb://h/", "tcp h 9900", "default", None, "zdb://h/");
        check(
            "zdb:///run/zdb.sock",
            "unix /run/zdb.sock",
            "default",
            None,
            "zdb:///run/zdb.sock",
        );
        check(
            "zdb:///run/zdb.sock?ns=blocks&password=pw",
            "unix /run/zdb.sock",
            "blocks",
            Some("pw"),
            "zdb:///run/zdb.sock?ns=blocks",
        );
        check(
            "zdb://:pw@/run/zdb.sock?namespace=b",
            "unix /run/zdb.sock",
            "b",
            Some("pw"),
            "zdb:///run/zdb.sock?namespace=b",
        );
        // an empty password is no password
        check("zdb://:@h/ns", "tcp h 9900", "ns", None, "zdb://h/ns");
    }

    #[test]
    fn bad_urls() {
        check_err("dir:///x", "store URL dir:///x: not a zdb:// URL");
        check_err("zdb://", "store URL zdb://: missing host or socket path");
        check_err(
            "zdb://h/a/b",
            "store URL zdb://h/a/b: the path must be a single namespace name",
        );
        check_err(
            "zdb://h/a?ns=b",
            "store URL zdb://h/a?ns=b: over TCP the namespace is the path: zdb://host:port/namespace",
        );
        check_err(
            "zdb:///s?nss=b&password=pw",
            "store URL zdb:///s?nss=b: unknown parameter \"nss\"",
        );
    }
}
