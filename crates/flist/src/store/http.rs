//! `http://` and `https://` stores: blocks on a hub, through its block API.
//!
//! URL form: `http[s]://[user[:password]@]host[:port][/prefix]`, where the
//! prefix is the path a hub is published under (behind a reverse proxy). The
//! requests, relative to that base:
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/blocks/{hex id}` | 200 with the bytes, 404 when missing |
//! | `HEAD /api/v1/blocks/{hex id}` | 200 / 404 |
//! | `POST /api/v1/blocks/missing` `{"ids":[hex…]}` (≤ 4096 ids) | `{"missing":[hex…]}` |
//! | `PUT /api/v1/blocks/{hex id}` (signed), body = the block | 201 stored, 200 already there |
//!
//! Reads are public. An upload carries an ed25519 request signature
//! ([`identity::http_signature`]) of a key registered on the hub, over the
//! path exactly as sent (prefix included); without a key, [`HttpStore::put`]
//! refuses before touching the network. Credentials in the URL are sent as
//! HTTP Basic authentication on reads (for a proxy that wants them; uploads
//! use the `Authorization` header for their signature) and never appear in
//! [`BlockStore::url`], in errors, or in the URLs handed to the HTTP client.
//!
//! Every request is idempotent (blocks are content-addressed), so a busy
//! answer (429, 503) is retried a few times, waiting what `Retry-After` asks
//! (capped) or a short doubling backoff, and a broken connection is retried
//! once at once, as the `zdb` store does; an upload is signed afresh on each
//! attempt, since the hub refuses a nonce it has seen.

use std::collections::HashSet;
use std::time::Duration;

use identity::http_signature::{
    body_digest, sign_request, unix_now, AUTHORIZATION, CONTENT_DIGEST,
};
use identity::{KeyPair, RequestToSign};
use ureq::http::{Response, StatusCode};

use super::url::{percent_encode_path, StoreUrl};
use super::{BlockStore, StoreError};

/// Largest body accepted for a block: the hub stores at most 1 MiB, so this
/// is generous, and it keeps a hostile server from filling memory.
const MAX_BLOCK_BODY: u64 = 2 << 20;
/// Largest `missing` answer: 4096 quoted hex ids are about 270 KiB.
const MAX_JSON_BODY: u64 = 1 << 20;
/// Most of an error body read for its message.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// Most ids in one `missing` question, the hub's default limit.
const MISSING_BATCH: usize = 4096;
/// Attempts at a request the hub answers as busy (429 / 503).
const BUSY_ATTEMPTS: u32 = 4;
/// First wait when a busy answer has no `Retry-After`; doubled each time.
const BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between attempts, whatever `Retry-After` asks.
const MAX_WAIT: Duration = Duration::from_secs(2);
/// Connecting gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request (connect, send, answer) gives up after this, so a stalled hub cannot hang a reader.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Blocks on a hub, over its HTTP block API.
pub struct HttpStore {
    /// `scheme://host[:port]`: what requests go to.
    origin: String,
    /// The origin without the password, for error messages.
    display_origin: String,
    /// `Basic …` from the URL's user info, sent with reads.
    basic: Option<String>,
    /// The prefix path as sent, without a trailing `/`; request paths start with it.
    prefix: String,
    /// The base without the password: [`BlockStore::url`] and error messages.
    url: String,
    agent: ureq::Agent,
    signer: Option<KeyPair>,
}

/// By hand: the Basic credentials and the key stay out of logs.
impl std::fmt::Debug for HttpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStore")
            .field("url", &self.url)
            .field("signer", &self.signer.as_ref().map(|k| k.public().to_hex()))
            .finish_non_exhaustive()
    }
}

impl HttpStore {
    /// Opens `http(s)://host[:port][/prefix]`; no network until first use.
    pub fn open(url: &str) -> Result<HttpStore, StoreError> {
        let parsed = StoreUrl::parse(url)?;
        let bad = |reason: &str| StoreError::Url {
            url: parsed.without_password(),
            reason: reason.to_string(),
        };
        if parsed.scheme != "http" && parsed.scheme != "https" {
            return Err(bad("not an http:// or https:// URL"));
        }
        if parsed.host.is_empty() {
            return Err(bad("missing host"));
        }
        if !parsed.query.is_empty() {
            return Err(bad("a hub URL takes no query"));
        }
        let prefix = percent_encode_path(&parsed.path)
            .trim_end_matches('/')
            .to_string();
        let port = parsed.port.map(|p| format!(":{p}")).unwrap_or_default();
        // Sent by us, decoded: ureq would send the user info percent-encoded as written.
        let basic = (parsed.user.is_some() || parsed.password.is_some()).then(|| {
            let mut credentials = parsed.user.clone().unwrap_or_default();
            credentials.push(b':');
            credentials.extend(parsed.password.as_deref().unwrap_or_default());
            format!("Basic {}", base64(&credentials))
        });
        let origin = format!("{}://{}{port}", parsed.scheme, parsed.host);
        let url = parsed.without_password();
        // `scheme://[user@]host[:port]` of the redacted URL: its authority holds no `/`.
        let scheme_end = parsed.scheme.len() + "://".len();
        let authority_end = url[scheme_end..]
            .find('/')
            .map_or(url.len(), |i| scheme_end + i);
        let display_origin = url[..authority_end].to_string();
        let agent = ureq::Agent::config_builder()
            // Statuses are answers here (404 is "missing"), not transport failures.
            .http_status_as_error(false)
            // The block API never redirects; following one would resend credentials elsewhere.
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(HttpStore {
            origin,
            display_origin,
            basic,
            prefix,
            url,
            agent,
            signer: None,
        })
    }

    /// Signs uploads with `key` (a key registered on the hub). Without one, `put` fails with a clear error.
    pub fn with_signer(mut self, key: KeyPair) -> HttpStore {
        self.signer = Some(key);
        self
    }

    /// Which of `ids` the store lacks, asked in batches of at most 4096 (one request per batch).
    ///
    /// The answer keeps the order of `ids`. An id the hub names that was not
    /// asked about makes the answer malformed: it cannot be trusted for the rest.
    pub fn missing(&self, ids: &[[u8; 32]]) -> Result<Vec<[u8; 32]>, StoreError> {
        let path = format!("{}/api/v1/blocks/missing", self.prefix);
        let mut missing = Vec::new();
        for batch in ids.chunks(MISSING_BATCH) {
            let request =
                serde_json::json!({ "ids": batch.iter().map(hex::encode).collect::<Vec<_>>() });
            let body = serde_json::to_vec(&request).expect("a list of strings serializes");
            let response = self.send("POST", &path, |url| {
                self.with_basic(self.agent.post(url))
                    .header("content-type", "application/json")
                    .send(&body[..])
            })?;
            if response.status() != StatusCode::OK {
                return Err(self.status_error(&path, response));
            }
            let text = read_body(response, MAX_JSON_BODY, |e| {
                self.io("read the answer to", &path, e)
            })?;
            let malformed = |why: String| {
                let source = std::io::Error::new(std::io::ErrorKind::InvalidData, why);
                self.io("read the answer to", &path, source)
            };
            let answer: MissingAnswer = serde_json::from_slice(&text)
                .map_err(|e| malformed(format!("malformed answer: {e}")))?;
            let asked: HashSet<&[u8; 32]> = batch.iter().collect();
            let mut lacking = HashSet::new();
            for text in answer.missing {
                let mut id = [0u8; 32];
                hex::decode_to_slice(&text, &mut id)
                    .map_err(|_| malformed(format!("{text:?} is not a block id")))?;
                if !asked.contains(&id) {
                    return Err(malformed(format!("block {text} was not asked about")));
                }
                lacking.insert(id);
            }
            missing.extend(batch.iter().filter(|id| lacking.contains(*id)));
        }
        Ok(missing)
    }

    /// Adds the URL's credentials, if any (uploads carry their signature in `Authorization` instead).
    fn with_basic<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.basic {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    }

    /// `/prefix/api/v1/blocks/<hex id>`: the path sent and signed.
    fn block_path(&self, id: &[u8; 32]) -> String {
        format!("{}/api/v1/blocks/{}", self.prefix, hex::encode(id))
    }

    /// Runs `attempt` against `path` until it is neither busy nor a broken connection, within the retry bounds.
    fn send(
        &self,
        method: &str,
        path: &str,
        attempt: impl Fn(&str) -> Result<Response<ureq::Body>, ureq::Error>,
    ) -> Result<Response<ureq::Body>, StoreError> {
        let url = format!("{}{path}", self.origin);
        let mut busy = 0;
        let mut reconnected = false;
        loop {
            match attempt(&url) {
                Ok(response) if is_busy(response.status()) && busy + 1 < BUSY_ATTEMPTS => {
                    let wait = retry_after(&response).unwrap_or(BACKOFF * 2u32.pow(busy));
                    std::thread::sleep(wait.min(MAX_WAIT));
                    busy += 1;
                }
                Ok(response) => return Ok(response),
                // A kept-alive connection the hub closed fails like this; one fresh try is cheap.
                Err(ureq::Error::Io(_) | ureq::Error::ConnectionFailed) if !reconnected => {
                    reconnected = true;
                }
                Err(e) => return Err(self.io(method, path, e.into_io())),
            }
        }
    }

    /// A transport failure of `what` on `path`, naming the URL without its password.
    fn io(&self, what: &str, path: &str, source: std::io::Error) -> StoreError {
        StoreError::Io {
            what: format!("{what} {}", self.display_url(path)),
            source,
        }
    }

    /// The redacted URL of `path` (which starts with the prefix).
    fn display_url(&self, path: &str) -> String {
        format!("{}{path}", self.display_origin)
    }

    /// An unexpected status as [`StoreError::Http`], with the hub's `error` text when its body has one.
    fn status_error(&self, path: &str, response: Response<ureq::Body>) -> StoreError {
        let status = response.status();
        let body = read_body(response, MAX_ERROR_BODY, |e| e).unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let mut message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .unwrap_or_else(|| match text.trim() {
                "" => status.canonical_reason().unwrap_or("").to_string(),
                raw => raw.chars().take(200).collect(),
            });
        if is_busy(status) {
            message.push_str(&format!(" (gave up after {BUSY_ATTEMPTS} attempts)"));
        }
        StoreError::Http {
            url: self.display_url(path),
            status: status.as_u16(),
            message,
        }
    }
}

/// The `missing` answer.
#[derive(serde::Deserialize)]
struct MissingAnswer {
    missing: Vec<String>,
}

fn is_busy(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// `Retry-After` in seconds (the HTTP-date form is not worth honouring here).
fn retry_after(response: &Response<ureq::Body>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// Reads a body of at most `limit` bytes; a bigger one is an error, not a truncation.
fn read_body<E>(
    mut response: Response<ureq::Body>,
    limit: u64,
    err: impl FnOnce(std::io::Error) -> E,
) -> Result<Vec<u8>, E> {
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| err(e.into_io()))
}

/// Standard base64 with padding, for the one Basic header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            let sextet = (n >> (18 - 6 * i)) & 63;
            out.push(if i <= chunk.len() {
                ALPHABET[sextet as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

impl BlockStore for HttpStore {
    /// Does not verify the bytes (the router and the decoder do), but refuses a body over 2 MiB.
    fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.block_path(id);
        let response = self.send("GET", &path, |url| {
            self.with_basic(self.agent.get(url)).call()
        })?;
        match response.status() {
            StatusCode::OK => {
                let bytes = read_body(response, MAX_BLOCK_BODY, |e| self.io("read", &path, e))?;
                Ok(Some(bytes))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.status_error(&path, response)),
        }
    }

    fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        let Some(key) = &self.signer else {
            return Err(StoreError::ReadOnly {
                url: self.url.clone(),
                reason:
                    "uploads must be signed with a key registered on the hub, and none was given"
                        .to_string(),
            });
        };
        let path = self.block_path(id);
        let digest = body_digest(data);
        let response = self.send("PUT", &path, |url| {
            let request = RequestToSign {
                method: "PUT",
                path_and_query: &path,
                body_digest: digest,
            };
            self.agent
                .put(url)
                .header(AUTHORIZATION, sign_request(key, &request, unix_now()))
                .header(CONTENT_DIGEST, hex::encode(digest))
                .header("content-type", "application/octet-stream")
                .send(data)
        })?;
        match response.status() {
            StatusCode::OK | StatusCode::CREATED => Ok(()),
            _ => Err(self.status_error(&path, response)),
        }
    }

    fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
        let path = self.block_path(id);
        let response = self.send("HEAD", &path, |url| {
            self.with_basic(self.agent.head(url)).call()
        })?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(&path, response)),
        }
    }

    fn missing(&self, ids: &[[u8; 32]]) -> Result<Vec<[u8; 32]>, StoreError> {
        HttpStore::missing(self, ids)
    }

    fn url(&self) -> String {
        self.url.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let store = HttpStore::open("https://me:p%40ss@hub.example:8443/grid/hub/").unwrap();
        assert_eq!(store.url(), "https://me@hub.example:8443/grid/hub/");
        assert_eq!(store.prefix, "/grid/hub");
        assert_eq!(store.origin, "https://hub.example:8443");
        assert_eq!(store.basic.as_deref(), Some("Basic bWU6cEBzcw==")); // me:p@ss
        let path = store.block_path(&[0xab; 32]);
        assert_eq!(path, format!("/grid/hub/api/v1/blocks/{}", "ab".repeat(32)));
        assert_eq!(
            store.display_url(&path),
            format!(
                "https://me@hub.example:8443/grid/hub/api/v1/blocks/{}",
                "ab".repeat(32)
            )
        );

        let plain = HttpStore::open("HTTP://127.0.0.1:9000").unwrap();
        assert_eq!(plain.url(), "http://127.0.0.1:9000");
        assert_eq!(plain.prefix, "");
        assert_eq!(plain.display_url("/x"), "http://127.0.0.1:9000/x");
    }

    #[test]
    fn base64_padding() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn bad_urls() {
        let err = |url: &str| HttpStore::open(url).unwrap_err().to_string();
        assert_eq!(err("http:///path"), "store URL http:///path: missing host");
        assert_eq!(
            err("http://:pw@h/?a=b"),
            "store URL http://h/?a=b: a hub URL takes no query"
        );
        assert_eq!(
            err("zdb://h/ns"),
            "store URL zdb://h/ns: not an http:// or https:// URL"
        );
    }

    #[test]
    fn put_without_signer_is_refused_offline() {
        // Port 9 (discard) on a documentation address: never contacted.
        let store = HttpStore::open("http://:pw@192.0.2.1:9").unwrap();
        let e = store.put(&[0; 32], b"x").unwrap_err().to_string();
        assert_eq!(
            e,
            "http://192.0.2.1:9 is read-only: uploads must be signed with a key registered on the hub, and none was given"
        );
    }
}
