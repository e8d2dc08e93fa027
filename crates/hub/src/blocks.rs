//! The block API: download by id, ask which of a batch are missing, upload (signed).
//!
//! Blocks are the encrypted, content-addressed bytes of the flist crate's
//! block pipeline; the hub never sees their keys. An upload is accepted
//! only when its bytes hash to the id it is stored under, so nobody can
//! plant wrong bytes for another image's block.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flist::store::BlockStore;
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::state::HubState;

/// Body of `POST /api/v1/blocks/missing`.
#[derive(Debug, Serialize, Deserialize)]
pub struct MissingRequest {
    /// Hex block ids.
    pub ids: Vec<String>,
}

/// Answer of `POST /api/v1/blocks/missing`.
#[derive(Debug, Serialize, Deserialize)]
pub struct MissingResponse {
    /// The asked ids the hub does not have, in the order asked.
    pub missing: Vec<String>,
}

fn parse_id(text: &str) -> ApiResult<[u8; 32]> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id)
        .map_err(|_| ApiError::bad_request(format!("a block id is 64 hex digits, not {text:?}")))?;
    Ok(id)
}

fn limit(state: &HubState, peer: SocketAddr) -> ApiResult<()> {
    if state.limiter.allow(peer.ip()) {
        Ok(())
    } else {
        Err(ApiError::too_many(
            "block request rate exceeded; retry shortly",
        ))
    }
}

/// Runs blocking store work off the reactor.
async fn with_store<T: Send + 'static>(
    state: &Arc<HubState>,
    work: impl FnOnce(&dyn BlockStore) -> Result<T, flist::store::StoreError> + Send + 'static,
) -> ApiResult<T> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || work(state.store.as_ref()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// `GET /api/v1/blocks/{id}`.
pub(crate) async fn get_block(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    limit(&state, peer)?;
    let id = parse_id(&id)?;
    match with_store(&state, move |s| s.get(&id)).await? {
        Some(bytes) => {
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
        }
        None => {
            tracing::debug!("GET block {}: not in the store", hex::encode(id));
            Err(ApiError::not_found(format!("no block {}", hex::encode(id))))
        }
    }
}

/// `HEAD /api/v1/blocks/{id}`: 200 when present, 404 when not.
pub(crate) async fn head_block(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    limit(&state, peer)?;
    let id = parse_id(&id)?;
    if with_store(&state, move |s| s.exists(&id)).await? {
        Ok(StatusCode::OK)
    } else {
        Ok(StatusCode::NOT_FOUND)
    }
}

/// `POST /api/v1/blocks/missing`: which of these ids the hub lacks.
pub(crate) async fn missing(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(request): Json<MissingRequest>,
) -> ApiResult<Json<MissingResponse>> {
    limit(&state, peer)?;
    if request.ids.len() > state.limits.max_batch {
        return Err(ApiError::too_large(format!(
            "at most {} ids per question",
            state.limits.max_batch
        )));
    }
    let ids = request
        .ids
        .iter()
        .map(|t| parse_id(t))
        .collect::<ApiResult<Vec<_>>>()?;
    let missing = with_store(&state, move |s| {
        let mut missing = Vec::new();
        for id in ids {
            if !s.exists(&id)? {
                missing.push(hex::encode(id));
            }
        }
        Ok(missing)
    })
    .await?;
    Ok(Json(MissingResponse { missing }))
}

/// `PUT /api/v1/blocks/{id}` (signed by a registered user): 201 stored, 200 already there.
pub(crate) async fn put_block(
    State(state): State<Arc<HubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<StatusCode> {
    limit(&state, peer)?;
    let id = parse_id(&id)?;
    let signed = auth::verify(&state, &method, &uri, &headers)?;
    auth::user(&state, &signed, None)?;
    let bytes = signed
        .read_body(body, state.limits.max_block, "a block")
        .await?;
    if flist::block::content_id(&bytes) != id {
        return Err(ApiError::bad_request(format!(
            "these bytes are not block {}: their BLAKE2b-256 differs",
            hex::encode(id)
        )));
    }
    let stored = with_store(&state, move |s| {
        if s.exists(&id)? {
            return Ok(false);
        }
        s.put(&id, &bytes)?;
        Ok(true)
    })
    .await?;
    Ok(if stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}
