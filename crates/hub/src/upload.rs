//! Pushing an image: the upload is streamed to a spool file, then converted (or checked, for a `.fl`) by a job.
//!
//! Order of trust: the request signature and the owner are checked from the
//! headers before the body is read; the body is hashed while it is spooled
//! (never held in memory) and must match the signed digest before a job
//! starts. A conversion's blocks are synced to the store before its `.fl`
//! is published, so a published flist never names a block lost in a crash.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use flist::fl::{FlReader, FlWriter};
use flist::image::{pack_archive_with, ImageLimits};
use flist::pack::{PackOptions, Progress};
use http_body_util::BodyExt;
use identity::http_signature::unix_now;
use identity::BodyDigest;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult};
use crate::jobs::{JobState, JobStatus};
use crate::state::HubState;
use crate::{auth, names};

/// First bytes of every SQLite file, hence of every `.fl`.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// A spooled upload, removed when dropped.
struct Spooled(PathBuf);

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Decrements the queue count when the job ends, however it ends.
struct QueueSlot(Arc<HubState>);

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `PUT /api/v1/users/{user}/flists/{name}`: body is a tar / tar.gz /
/// tar.zst, an OCI layout or `docker save` archive, or a `.fl`. Answers 202
/// with the job; `GET /api/v1/jobs/{id}` follows it.
pub(crate) async fn upload(
    State(state): State<Arc<HubState>>,
    UrlPath((user, name)): UrlPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<JobStatus>)> {
    names::check_user(&user).map_err(ApiError::bad_request)?;
    names::check_flist(&name).map_err(ApiError::bad_request)?;
    let signed = auth::verify(&state, &method, &uri, &headers)?;
    auth::user(&state, &signed, Some(&user))?;
    if state.queued.fetch_add(1, Ordering::SeqCst) >= state.limits.queue {
        state.queued.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError::busy(
            "the conversion queue is full; push again later",
        ));
    }
    let slot = QueueSlot(state.clone());
    let spooled = Spooled(state.spool.join(format!(
        "{}.upload",
        hex::encode(rand::random::<[u8; 16]>())
    )));
    let digest = receive(body, &spooled.0, state.limits.max_upload).await?;
    signed.check_body(digest)?;
    let flist = format!("{user}/{name}");
    let job = state.jobs.start(&flist);
    tracing::info!("job {job}: converting an upload into {flist}");
    let status = state
        .jobs
        .get(&job)
        .ok_or_else(|| ApiError::internal("job vanished"))?;
    tokio::spawn(run_job(state.clone(), job, spooled, slot, user, name));
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// Streams `body` into `path`, at most `max` bytes; returns its digest.
async fn receive(mut body: Body, path: &Path, max: u64) -> ApiResult<[u8; 32]> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut digest = BodyDigest::new();
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("upload cut off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size > max {
            return Err(ApiError::too_large(format!(
                "an upload is at most {max} bytes"
            )));
        }
        digest.update(&data);
        file.write_all(&data).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(digest.finish())
}

async fn run_job(
    state: Arc<HubState>,
    job: String,
    spooled: Spooled,
    _slot: QueueSlot,
    user: String,
    name: String,
) {
    let Ok(_permit) = state.conversions.acquire().await else {
        state
            .jobs
            .finish(&job, Err("the hub is shutting down".into()));
        return;
    };
    state.jobs.update(&job, |s| {
        s.state = JobState::Running;
        s.stage = "reading the upload".into();
    });
    let worker = state.clone();
    let job_id = job.clone();
    let result = tokio::task::spawn_blocking(move || {
        let result = build(&worker, &job_id, &spooled.0);
        drop(spooled);
        result.and_then(|tmp| publish(&worker, &tmp, &user, &name))
    })
    .await
    .unwrap_or_else(|e| Err(format!("conversion crashed: {e}")));
    if let Err(e) = &result {
        tracing::warn!("job {job} failed: {e}");
    }
    state.jobs.finish(&job, result);
}

/// Makes the `.fl` for a spooled upload; returns its temporary path.
fn build(state: &HubState, job: &str, spool: &Path) -> Result<PathBuf, String> {
    let tmp = spool.with_extension("fl");
    let mut magic = [0u8; 16];
    let is_fl = std::fs::File::open(spool)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == SQLITE_MAGIC;
    if is_fl {
        check_blocks_present(state, job, spool)?;
        std::fs::rename(spool, &tmp).map_err(|e| format!("keep the uploaded .fl: {e}"))?;
        return Ok(tmp);
    }
    let mut writer = FlWriter::create(&tmp).map_err(|e| e.to_string())?;
    let progress = |p: Progress| {
        state.jobs.update(job, |s| {
            s.stage = "packing files".into();
            s.files_done = p.files_done;
            s.files_total = p.files_total;
            s.bytes_done = p.bytes_done;
            s.bytes_total = p.bytes_total;
            s.blocks_uploaded = p.uploaded;
        })
    };
    let options = PackOptions {
        progress: Some(&progress),
        ..PackOptions::default()
    };
    let limits = ImageLimits {
        max_total_bytes: state.limits.max_expanded,
        ..ImageLimits::default()
    };
    let stats = pack_archive_with(spool, &mut writer, state.store.as_ref(), &options, &limits)
        .map_err(|e| e.to_string())?;
    writer
        .add_route(0, 255, &state.public_url)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    state.jobs.update(job, |s| {
        s.files_done = stats.pack.files;
        s.files_total = stats.pack.files;
        s.bytes_done = stats.pack.bytes;
        s.bytes_total = stats.pack.bytes;
        s.blocks_uploaded = stats.pack.uploaded;
        s.stage = "signing".into();
    });
    Ok(tmp)
}

/// A pushed `.fl` is accepted only when the hub holds every block it names.
fn check_blocks_present(state: &HubState, job: &str, fl: &Path) -> Result<(), String> {
    let reader = FlReader::open(fl).map_err(|e| format!("not a valid flist: {e}"))?;
    reader
        .counts()
        .map_err(|e| format!("not a valid flist: {e}"))?;
    let ids = reader
        .block_ids()
        .map_err(|e| format!("not a valid flist: {e}"))?;
    state
        .jobs
        .update(job, |s| s.stage = format!("checking {} blocks", ids.len()));
    let mut missing = 0usize;
    for id in &ids {
        if !state.store.exists(id).map_err(|e| e.to_string())? {
            missing += 1;
        }
    }
    if missing > 0 {
        return Err(format!(
            "{missing} of the {} blocks this flist names are not on the hub; upload them first \
             (tfgrid flist create --store {} …)",
            ids.len(),
            state.public_url
        ));
    }
    // Blocks uploaded one by one are synced now, before an flist names them.
    state.store.sync().map_err(|e| e.to_string())
}

/// Moves the `.fl` in, signs it, and points `user/name` at it.
fn publish(state: &HubState, tmp: &Path, user: &str, name: &str) -> Result<String, String> {
    let published = state
        .objects
        .publish(tmp, &state.key)
        .map_err(|e| format!("publish: {e}"))?;
    let old = state
        .db
        .put_flist(user, name, &published.digest, published.size, unix_now())
        .map_err(|e| e.to_string())?;
    if let Some(old) = old.filter(|d| *d != published.digest) {
        crate::api::forget_if_unused(state, &old);
    }
    tracing::info!("published {user}/{name} ({})", published.digest);
    Ok(published.digest)
}
