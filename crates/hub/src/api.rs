//! The JSON API besides blocks and uploads: the hub's key, users, lists, metadata, downloads, and the owner's changes.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flist::fl::{FileType, FlReader};
use identity::http_signature::{body_digest, unix_now};
use serde::{Deserialize, Serialize};

use crate::db::{DbError, Entry, User};
use crate::error::{ApiError, ApiResult};
use crate::jobs::JobStatus;
use crate::state::HubState;
use crate::{auth, names};

/// Largest JSON body of a changing request.
const MAX_JSON: usize = 64 << 10;
/// Most links followed to find an flist.
const MAX_LINK_HOPS: usize = 8;
/// Most entries one directory listing returns.
const MAX_LISTING: usize = 10_000;

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        match e {
            DbError::NameTaken(_) | DbError::KeyTaken(_) | DbError::Exists(_) => {
                ApiError::conflict(e.to_string())
            }
            DbError::NotFound(_) => ApiError::not_found(e.to_string()),
            DbError::Sql(e) => ApiError::from(e),
        }
    }
}

/// Removes the `.fl` with `digest` once no entry names it.
pub(crate) fn forget_if_unused(state: &HubState, digest: &str) {
    match state.db.digest_in_use(digest) {
        Ok(false) => state.objects.remove(digest),
        Ok(true) => {}
        Err(e) => tracing::warn!("cannot tell whether {digest} is still used: {e}"),
    }
}

/// What `GET /api/v1/hub` answers.
#[derive(Debug, Serialize, Deserialize)]
pub struct HubInfo {
    /// The key the hub signs flists with, hex.
    pub public_key: String,
    /// The same, base58.
    pub public_key_base58: String,
    /// Where nodes fetch this hub's blocks (the route of the flists it builds).
    pub block_url: String,
}

/// `GET /api/v1/hub`.
pub(crate) async fn hub_info(State(state): State<Arc<HubState>>) -> Json<HubInfo> {
    let key = state.key.public();
    Json(HubInfo {
        public_key: key.to_hex(),
        public_key_base58: key.to_base58(),
        block_url: state.public_url.clone(),
    })
}

/// `GET /api/v1/hub/key`: the hub's public key, hex, one line (a stable path for trust files).
pub(crate) async fn hub_key(State(state): State<Arc<HubState>>) -> String {
    format!("{}\n", state.key.public().to_hex())
}

/// Reads a signed JSON body: signature, size limit, digest, parse.
async fn signed_json<T: serde::de::DeserializeOwned>(
    state: &HubState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(auth::Signed, T)> {
    let signed = auth::verify(state, method, uri, headers)?;
    let bytes = signed.read_body(body, MAX_JSON, "a JSON body").await?;
    let value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))?;
    Ok((signed, value))
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Register {
    /// The name to register the signing key as.
    pub name: String,
}

/// `POST /api/v1/users` (signed): registers the signer's key under a name.
pub(crate) async fn register(
    State(state): State<Arc<HubState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<User>)> {
    let (signed, req): (_, Register) = signed_json(&state, &method, &uri, &headers, body).await?;
    names::check_user(&req.name).map_err(ApiError::bad_request)?;
    let user = state
        .db
        .register(&signed.key.to_hex(), &req.name, unix_now())?;
    tracing::info!("registered user {} ({})", user.name, user.key);
    Ok((StatusCode::CREATED, Json(user)))
}

/// One row of `GET /api/v1/users`.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserRow {
    /// Name.
    pub name: String,
    /// Public key, hex.
    pub key: String,
    /// Names in their list.
    pub flists: u64,
}

/// `GET /api/v1/users`.
pub(crate) async fn users(State(state): State<Arc<HubState>>) -> ApiResult<Json<Vec<UserRow>>> {
    let rows = state
        .db
        .users()?
        .into_iter()
        .map(|(u, flists)| UserRow {
            name: u.name,
            key: u.key,
            flists,
        })
        .collect();
    Ok(Json(rows))
}

fn existing_user(state: &HubState, user: &str) -> ApiResult<User> {
    state
        .db
        .user_by_name(user)?
        .ok_or_else(|| ApiError::not_found(format!("no user {user:?}")))
}

/// Query of `GET /api/v1/users/{user}/flists`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    /// Only entries with this tag.
    pub tag: Option<String>,
}

/// `GET /api/v1/users/{user}/flists[?tag=…]`.
pub(crate) async fn list(
    State(state): State<Arc<HubState>>,
    Path(user): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Entry>>> {
    existing_user(&state, &user)?;
    Ok(Json(state.db.entries(&user, q.tag.as_deref())?))
}

/// Follows links from `user/name` to an flist entry.
pub(crate) fn resolve(state: &HubState, user: &str, name: &str) -> ApiResult<Entry> {
    let (mut user, mut name) = (user.to_string(), name.to_string());
    for _ in 0..=MAX_LINK_HOPS {
        let entry = state
            .db
            .entry(&user, &name)?
            .ok_or_else(|| ApiError::not_found(format!("no flist {user}/{name}")))?;
        match &entry.target {
            None => return Ok(entry),
            Some(target) => {
                let (u, n) = target
                    .split_once('/')
                    .ok_or_else(|| ApiError::internal(format!("bad link target {target}")))?;
                (user, name) = (u.to_string(), n.to_string());
            }
        }
    }
    Err(ApiError::not_found(format!(
        "{user}/{name}: more than {MAX_LINK_HOPS} links in a row"
    )))
}

fn fl_path(state: &HubState, entry: &Entry) -> ApiResult<PathBuf> {
    let digest = entry
        .digest
        .as_deref()
        .ok_or_else(|| ApiError::internal("resolved entry has no digest"))?;
    Ok(state.objects.fl_path(digest))
}

/// Who signed an flist, as the metadata shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignerRow {
    /// Public key, hex.
    pub public_key: String,
    /// `hub`, `owner` or `other`.
    pub role: String,
}

/// `GET /api/v1/users/{user}/flists/{name}` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct FlistInfo {
    /// The entry asked for (maybe a link).
    pub entry: Entry,
    /// `user/name` of the flist it resolves to.
    pub resolved: String,
    /// Hex digest of the `.fl`.
    pub digest: String,
    /// Size of the `.fl`.
    pub fl_size: u64,
    /// Directories.
    pub dirs: u64,
    /// Regular files.
    pub files: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Devices, FIFOs, sockets.
    pub specials: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Block references.
    pub blocks: u64,
    /// Tags recorded inside the `.fl`.
    pub fl_tags: Vec<(String, String)>,
    /// Routes recorded inside the `.fl`.
    pub routes: Vec<(u8, u8, String)>,
    /// The image configuration recorded in the `.fl` (entrypoint, cmd, env, …, and `oci-config`); empty for a plain tree.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Signers, each verified.
    pub signatures: Vec<SignerRow>,
}

/// `GET /api/v1/users/{user}/flists/{name}`: metadata as JSON.
pub(crate) async fn info(
    State(state): State<Arc<HubState>>,
    Path((user, name)): Path<(String, String)>,
) -> ApiResult<Json<FlistInfo>> {
    let entry = state
        .db
        .entry(&user, &name)?
        .ok_or_else(|| ApiError::not_found(format!("no flist {user}/{name}")))?;
    let flist = resolve(&state, &user, &name)?;
    let path = fl_path(&state, &flist)?;
    let owner_key = existing_user(&state, &flist.user)?.key;
    let state2 = state.clone();
    tokio::task::spawn_blocking(move || {
        let reader = FlReader::open(&path).map_err(ApiError::internal)?;
        let counts = reader.counts().map_err(ApiError::internal)?;
        // Values are JSON (the OCI config and its summary entries); anything else is shown as text.
        let config: serde_json::Map<String, serde_json::Value> = reader
            .config()
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_slice(&v).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&v).into_owned())
                });
                (k, value)
            })
            .collect();
        let hub_key = state2.key.public().to_hex();
        let signatures = flist::signature::signers(&path)
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|k| {
                let public_key = k.to_hex();
                let role = if public_key == hub_key {
                    "hub"
                } else if public_key == owner_key {
                    "owner"
                } else {
                    "other"
                };
                SignerRow {
                    public_key,
                    role: role.into(),
                }
            })
            .collect();
        Ok(Json(FlistInfo {
            resolved: format!("{}/{}", flist.user, flist.name),
            digest: flist.digest.clone().unwrap_or_default(),
            fl_size: flist.size,
            entry,
            dirs: counts.n_dirs,
            files: counts.n_files,
            symlinks: counts.n_symlinks,
            specials: counts.n_specials,
            bytes: counts.total_size,
            blocks: counts.n_blocks,
            fl_tags: reader.tags().map_err(ApiError::internal)?,
            routes: reader.routes().map_err(ApiError::internal)?,
            config,
            signatures,
        }))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Query of the files listing.
#[derive(Debug, Deserialize)]
pub(crate) struct FilesQuery {
    /// Directory to list, `/` by default.
    pub path: Option<String>,
}

/// One directory entry of an flist.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileRow {
    /// Name (lossy UTF-8).
    pub name: String,
    /// `dir`, `file`, `symlink`, `char`, `block`, `fifo`, `socket`, `unknown`.
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// Mode bits, octal text.
    pub mode: String,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, unix seconds.
    pub mtime: i64,
    /// Symlink target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The entries of directory `dir` of the `.fl` at `path`.
pub(crate) fn list_dir(path: &std::path::Path, dir: &str) -> ApiResult<Vec<FileRow>> {
    let reader = FlReader::open(path).map_err(ApiError::internal)?;
    let node = reader
        .resolve(dir.as_bytes())
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("no {dir} in this flist")))?;
    if FileType::from_mode(node.mode) != FileType::Dir {
        return Err(ApiError::bad_request(format!("{dir} is not a directory")));
    }
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let page = reader
            .children(node.ino, after, 1000)
            .map_err(ApiError::internal)?;
        let Some(last) = page.last() else { break };
        after = last.ino;
        for child in page {
            if rows.len() == MAX_LISTING {
                return Ok(rows);
            }
            let kind = match FileType::from_mode(child.mode) {
                FileType::Dir => "dir",
                FileType::File => "file",
                FileType::Symlink => "symlink",
                FileType::CharDevice => "char",
                FileType::BlockDevice => "block",
                FileType::Fifo => "fifo",
                FileType::Socket => "socket",
                _ => "unknown",
            };
            let target = (kind == "symlink")
                .then(|| reader.symlink_target(child.ino))
                .transpose()
                .map_err(ApiError::internal)?
                .flatten()
                .map(|t| String::from_utf8_lossy(&t).into_owned());
            rows.push(FileRow {
                name: String::from_utf8_lossy(&child.name).into_owned(),
                kind: kind.into(),
                size: child.size,
                mode: format!("{:o}", child.mode & 0o7777),
                uid: child.uid,
                gid: child.gid,
                mtime: child.mtime,
                target,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// `GET /api/v1/users/{user}/flists/{name}/files?path=/dir`.
pub(crate) async fn files(
    State(state): State<Arc<HubState>>,
    Path((user, name)): Path<(String, String)>,
    Query(q): Query<FilesQuery>,
) -> ApiResult<Json<Vec<FileRow>>> {
    let flist = resolve(&state, &user, &name)?;
    let path = fl_path(&state, &flist)?;
    let dir = q.path.unwrap_or_else(|| "/".into());
    let rows = tokio::task::spawn_blocking(move || list_dir(&path, &dir))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(rows))
}

/// What a download asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Download {
    /// The `.fl` as it is.
    Fl,
    /// The `.fl` zstd-compressed (same digest once decompressed).
    FlZst,
    /// The signature file.
    Sig,
}

/// Serves `/{user}/{name}.fl`, `.fl.zst` and `.fl.sig` (links followed).
pub(crate) async fn download(
    state: &Arc<HubState>,
    user: &str,
    name: &str,
    what: Download,
) -> ApiResult<Response> {
    let flist = resolve(state, user, name)?;
    let digest = flist.digest.clone().unwrap_or_default();
    let path = match what {
        Download::Fl => state.objects.fl_path(&digest),
        Download::Sig => state.objects.sig_path(&digest),
        Download::FlZst => {
            // Objects published before compressed copies existed get one now.
            let (shared, d) = (state.clone(), digest.clone());
            tokio::task::spawn_blocking(move || shared.objects.compress(&d))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            state.objects.zst_path(&digest)
        }
    };
    let bytes = tokio::fs::read(&path).await.map_err(ApiError::internal)?;
    let kind = match what {
        Download::Sig => "application/json",
        Download::Fl => "application/octet-stream",
        Download::FlZst => "application/zstd",
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::HeaderName::from_static("x-flist-blake2b"), digest),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/jobs/{id}`.
pub(crate) async fn job(
    State(state): State<Arc<HubState>>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobStatus>> {
    state.jobs.get(&id).map(Json).ok_or_else(|| {
        ApiError::not_found(format!(
            "no job {id} (finished jobs are forgotten after a restart)"
        ))
    })
}

/// `DELETE /api/v1/users/{user}/flists/{name}` (owner).
pub(crate) async fn delete(
    State(state): State<Arc<HubState>>,
    Path((user, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let signed = auth::verify(&state, &method, &uri, &headers)?;
    signed.check_body(body_digest(b""))?;
    auth::user(&state, &signed, Some(&user))?;
    let entry = state.db.delete(&user, &name)?;
    if let Some(digest) = entry.digest {
        forget_if_unused(&state, &digest);
    }
    tracing::info!("deleted {user}/{name}");
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the rename request.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rename {
    /// The new name.
    pub to: String,
}

/// `POST /api/v1/users/{user}/flists/{name}/rename` (owner).
pub(crate) async fn rename(
    State(state): State<Arc<HubState>>,
    Path((user, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let (signed, req): (_, Rename) = signed_json(&state, &method, &uri, &headers, body).await?;
    auth::user(&state, &signed, Some(&user))?;
    names::check_flist(&req.to).map_err(ApiError::bad_request)?;
    state.db.rename(&user, &name, &req.to, unix_now())?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the link request.
#[derive(Debug, Serialize, Deserialize)]
pub struct Link {
    /// `user/name` the link follows (any user's flist).
    pub target: String,
}

/// `PUT /api/v1/users/{user}/links/{name}` (owner): `name` follows `target`.
pub(crate) async fn link(
    State(state): State<Arc<HubState>>,
    Path((user, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let (signed, req): (_, Link) = signed_json(&state, &method, &uri, &headers, body).await?;
    auth::user(&state, &signed, Some(&user))?;
    names::check_flist(&name).map_err(ApiError::bad_request)?;
    let (t_user, t_name) = req
        .target
        .split_once('/')
        .ok_or_else(|| ApiError::bad_request("a link target is user/name"))?;
    if (t_user, t_name) == (user.as_str(), name.as_str()) {
        return Err(ApiError::bad_request("a link cannot follow itself"));
    }
    resolve(&state, t_user, t_name)?;
    let old = state.db.put_link(&user, &name, &req.target, unix_now())?;
    if resolve(&state, &user, &name).is_err() {
        // The new link closed a loop: undo it.
        match old {
            Some(digest) => state.db.put_flist(&user, &name, &digest, 0, unix_now())?,
            None => state.db.delete(&user, &name).map(|_| None)?,
        };
        return Err(ApiError::bad_request(format!(
            "{user}/{name} -> {} makes a loop",
            req.target
        )));
    }
    if let Some(old) = old {
        forget_if_unused(&state, &old);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT` / `DELETE /api/v1/users/{user}/flists/{name}/tags/{tag}` (owner).
pub(crate) async fn tag(
    State(state): State<Arc<HubState>>,
    Path((user, name, tag)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let signed = auth::verify(&state, &method, &uri, &headers)?;
    signed.check_body(body_digest(b""))?;
    auth::user(&state, &signed, Some(&user))?;
    names::check_tag(&tag).map_err(ApiError::bad_request)?;
    state
        .db
        .set_tag(&user, &name, &tag, method == Method::PUT)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/users/{user}/flists/{name}/signature` (owner): adds the
/// signatures of an uploaded `.fl.sig` to the hub's, so nodes that trust the
/// owner's key (rather than the hub's) accept the flist. Every signature in
/// it must verify over this flist's bytes, and the owner's must be among them.
pub(crate) async fn add_signature(
    State(state): State<Arc<HubState>>,
    Path((user, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let signed = auth::verify(&state, &method, &uri, &headers)?;
    let owner = auth::user(&state, &signed, Some(&user))?;
    let bytes = signed.read_body(body, MAX_JSON, "a signature file").await?;
    let entry = state
        .db
        .entry(&user, &name)?
        .ok_or_else(|| ApiError::not_found(format!("no flist {user}/{name}")))?;
    if entry.target.is_some() {
        return Err(ApiError::bad_request(format!(
            "{user}/{name} is a link; sign the flist it follows"
        )));
    }
    let path = fl_path(&state, &entry)?;
    let added = tokio::task::spawn_blocking(move || flist::signature::merge(&path, &bytes))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::bad_request(format!("signature refused: {e}")))?;
    if !added.iter().any(|k| k.to_hex() == owner.key) {
        return Err(ApiError::bad_request(
            "the signature file must carry the owner's own signature",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
