//! A blocking client of the hub API, for the CLI and tests: every changing call is signed with the user's key.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use identity::http_signature::{
    body_digest, sign_request, unix_now, BodyDigest, AUTHORIZATION, CONTENT_DIGEST,
};
use identity::{KeyPair, RequestToSign};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{FlistInfo, HubInfo, Link, Register, Rename, UserRow};
use crate::db::{Entry, User};
use crate::jobs::{JobState, JobStatus};

/// Largest `.fl` a download accepts once decompressed.
const MAX_FL_BYTES: u64 = 4 << 30;

/// Why a hub call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub answered with an error status; `message` is its explanation.
    #[error("hub answered {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The hub's `error` text (or the raw body).
        message: String,
    },
    /// The hub could not be reached or the exchange broke.
    #[error("hub unreachable: {0}")]
    Transport(String),
    /// A local file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// Operation and file.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A changing call needs a key and none was given.
    #[error("this call must be signed: no identity key given")]
    NoKey,
    /// The job did not finish in time.
    #[error("job {0} did not finish in time")]
    Timeout(String),
    /// The job failed on the hub.
    #[error("conversion failed: {0}")]
    JobFailed(String),
}

/// A hub at a base URL (`http://host:port`).
pub struct HubClient {
    base: String,
    agent: ureq::Agent,
    key: Option<KeyPair>,
}

type Result<T> = std::result::Result<T, ClientError>;

impl HubClient {
    /// A client for the hub at `base`; reads only until [`HubClient::with_key`].
    pub fn new(base: &str) -> HubClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        HubClient {
            base: base.trim_end_matches('/').to_string(),
            agent,
            key: None,
        }
    }

    /// Signs changing calls with `key`.
    pub fn with_key(mut self, key: KeyPair) -> HubClient {
        self.key = Some(key);
        self
    }

    /// The public key calls are signed with, if any.
    pub fn public_key(&self) -> Option<identity::PublicKey> {
        self.key.as_ref().map(KeyPair::public)
    }

    /// The hub's key and block URL.
    pub fn info(&self) -> Result<HubInfo> {
        self.get_json("/api/v1/hub")
    }

    /// Registers the key under `name`.
    pub fn register(&self, name: &str) -> Result<User> {
        self.signed_json("POST", "/api/v1/users", &Register { name: name.into() })
    }

    /// Every user.
    pub fn users(&self) -> Result<Vec<UserRow>> {
        self.get_json("/api/v1/users")
    }

    /// A user's flists, those with `tag` only when given.
    pub fn list(&self, user: &str, tag: Option<&str>) -> Result<Vec<Entry>> {
        match tag {
            Some(tag) => self.get_json(&format!("/api/v1/users/{user}/flists?tag={tag}")),
            None => self.get_json(&format!("/api/v1/users/{user}/flists")),
        }
    }

    /// Metadata of `user/name`.
    pub fn flist_info(&self, user: &str, name: &str) -> Result<FlistInfo> {
        self.get_json(&format!("/api/v1/users/{user}/flists/{name}"))
    }

    /// Uploads `file` (archive or `.fl`) as `user/name`; returns the queued job.
    pub fn push(&self, user: &str, name: &str, file: &Path) -> Result<JobStatus> {
        let io = |what: &str| {
            let what = format!("{what} {}", file.display());
            move |source| ClientError::Io { what, source }
        };
        // Hash first (the signature covers the digest), then stream.
        let mut digest = BodyDigest::new();
        let mut reader = File::open(file).map_err(io("open"))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).map_err(io("read"))?;
            if n == 0 {
                break;
            }
            digest.update(&buf[..n]);
        }
        let digest = digest.finish();
        let path = format!("/api/v1/users/{user}/flists/{name}");
        let auth = self.authorization("PUT", &path, digest)?;
        let mut body = File::open(file).map_err(io("open"))?;
        let response = self
            .agent
            .put(format!("{}{path}", self.base))
            .header(AUTHORIZATION, auth)
            .header(CONTENT_DIGEST, hex::encode(digest))
            .header("content-type", "application/octet-stream")
            .send(ureq::SendBody::from_reader(&mut body))
            .map_err(transport)?;
        read_json(response)
    }

    /// Adds the signatures in the `.fl.sig` file `sig` to `user/name` on the hub.
    pub fn add_signature(&self, user: &str, name: &str, sig: &Path) -> Result<()> {
        let bytes = std::fs::read(sig).map_err(|source| ClientError::Io {
            what: format!("read {}", sig.display()),
            source,
        })?;
        let path = format!("/api/v1/users/{user}/flists/{name}/signature");
        check(self.send_signed("PUT", &path, &bytes)?).map(drop)
    }

    /// The state of job `id`.
    pub fn job(&self, id: &str) -> Result<JobStatus> {
        self.get_json(&format!("/api/v1/jobs/{id}"))
    }

    /// Polls job `id` until it ends, calling `progress` on each poll.
    pub fn wait(
        &self,
        id: &str,
        timeout: Duration,
        mut progress: impl FnMut(&JobStatus),
    ) -> Result<JobStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.job(id)?;
            progress(&status);
            match status.state {
                JobState::Done => return Ok(status),
                JobState::Failed => {
                    return Err(ClientError::JobFailed(status.error.unwrap_or_default()))
                }
                _ if Instant::now() > deadline => return Err(ClientError::Timeout(id.into())),
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Downloads `user/name` (compressed on the wire) to `dest` and its
    /// signature to `dest.sig`.
    pub fn download(&self, user: &str, name: &str, dest: &Path) -> Result<()> {
        let packed = self.get_bytes(&format!("/{user}/{name}.fl.zst"))?;
        let mut fl = Vec::new();
        let decoder = zstd::stream::read::Decoder::new(&packed[..])
            .map_err(|e| ClientError::Transport(format!("bad compressed flist: {e}")))?;
        decoder
            .take(MAX_FL_BYTES + 1)
            .read_to_end(&mut fl)
            .map_err(|e| ClientError::Transport(format!("bad compressed flist: {e}")))?;
        if fl.len() as u64 > MAX_FL_BYTES {
            return Err(ClientError::Transport(format!(
                "the flist is larger than {MAX_FL_BYTES} bytes"
            )));
        }
        let sig = self.get_bytes(&format!("/{user}/{name}.fl.sig"))?;
        for (path, bytes) in [
            (dest.to_path_buf(), fl),
            (flist::signature::signature_path(dest), sig),
        ] {
            std::fs::write(&path, bytes).map_err(|source| ClientError::Io {
                what: format!("write {}", path.display()),
                source,
            })?;
        }
        Ok(())
    }

    /// Deletes `user/name`.
    pub fn delete(&self, user: &str, name: &str) -> Result<()> {
        self.signed_empty("DELETE", &format!("/api/v1/users/{user}/flists/{name}"))
    }

    /// Renames `user/name` to `to`.
    pub fn rename(&self, user: &str, name: &str, to: &str) -> Result<()> {
        let path = format!("/api/v1/users/{user}/flists/{name}/rename");
        self.signed_json_empty("POST", &path, &Rename { to: to.into() })
    }

    /// Makes `user/name` a link following `target` (`user/name`).
    pub fn link(&self, user: &str, name: &str, target: &str) -> Result<()> {
        let path = format!("/api/v1/users/{user}/links/{name}");
        self.signed_json_empty(
            "PUT",
            &path,
            &Link {
                target: target.into(),
            },
        )
    }

    /// Adds (`on`) or removes a tag.
    pub fn tag(&self, user: &str, name: &str, tag: &str, on: bool) -> Result<()> {
        let path = format!("/api/v1/users/{user}/flists/{name}/tags/{tag}");
        self.signed_empty(if on { "PUT" } else { "DELETE" }, &path)
    }

    fn authorization(&self, method: &str, path: &str, digest: [u8; 32]) -> Result<String> {
        let key = self.key.as_ref().ok_or(ClientError::NoKey)?;
        let req = RequestToSign {
            method,
            path_and_query: path,
            body_digest: digest,
        };
        Ok(sign_request(key, &req, unix_now()))
    }

    fn send_signed(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let digest = body_digest(body);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.authorization(method, path, digest)?)
            .header(CONTENT_DIGEST, hex::encode(digest))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        self.agent.run(request).map_err(transport)
    }

    fn signed_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let bytes = serde_json::to_vec(body).expect("request bodies serialize");
        read_json(self.send_signed(method, path, &bytes)?)
    }

    fn signed_json_empty<B: Serialize>(&self, method: &str, path: &str, body: &B) -> Result<()> {
        let bytes = serde_json::to_vec(body).expect("request bodies serialize");
        check(self.send_signed(method, path, &bytes)?).map(drop)
    }

    fn signed_empty(&self, method: &str, path: &str) -> Result<()> {
        check(self.send_signed(method, path, b"")?).map(drop)
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(transport)?;
        read_json(response)
    }

    fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(transport)?;
        let mut response = check(response)?;
        response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(transport)
    }
}

fn transport(e: ureq::Error) -> ClientError {
    ClientError::Transport(e.to_string())
}

/// Passes a success through; turns an error status into [`ClientError::Http`].
fn check(
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<ureq::http::Response<ureq::Body>> {
    let status = response.status().as_u16();
    if status < 400 {
        return Ok(response);
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or(text);
    Err(ClientError::Http { status, message })
}

fn read_json<T: DeserializeOwned>(response: ureq::http::Response<ureq::Body>) -> Result<T> {
    let mut response = check(response)?;
    let text = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(transport)?;
    serde_json::from_str(&text)
        .map_err(|e| ClientError::Transport(format!("malformed answer: {e}")))
}
