//! Who sent a changing request: its ed25519 request signature, checked before the body is read.
//!
//! The signature covers the method, path and query, the time, a nonce and
//! the BLAKE2b of the body the client *claims* (`x-content-blake2b`). The
//! hub checks all of that from the headers alone, so an unsigned upload is
//! refused before a byte of it is stored; the body is then hashed as it
//! streams in and must match the claim before anything is committed.

use axum::http::{HeaderMap, Method, Uri};
use identity::http_signature::{unix_now, AUTHORIZATION, CONTENT_DIGEST, DEFAULT_WINDOW_SECS};
use identity::{AuthError, AuthHeader, PublicKey, RequestToSign};

use crate::db::User;
use crate::error::{ApiError, ApiResult};
use crate::state::HubState;

/// A request whose signature verified.
pub(crate) struct Signed {
    /// The signer.
    pub key: PublicKey,
    /// The body digest the signature covers.
    pub body_digest: [u8; 32],
}

impl Signed {
    /// Reads a body of at most `max` bytes (`what` it is, for the error) and checks it is the
    /// one that was signed.
    pub(crate) async fn read_body(
        &self,
        body: axum::body::Body,
        max: usize,
        what: &str,
    ) -> ApiResult<axum::body::Bytes> {
        let bytes = axum::body::to_bytes(body, max)
            .await
            .map_err(|_| ApiError::too_large(format!("{what} is at most {max} bytes")))?;
        self.check_body(identity::http_signature::body_digest(&bytes))?;
        Ok(bytes)
    }

    /// Checks that `actual` (the digest of the body received) is what was signed.
    pub(crate) fn check_body(&self, actual: [u8; 32]) -> ApiResult<()> {
        if actual != self.body_digest {
            return Err(ApiError::bad_request(format!(
                "the body does not match its signed {CONTENT_DIGEST} header"
            )));
        }
        Ok(())
    }
}

/// Verifies the request signature in `headers` (and records its nonce).
pub(crate) fn verify(
    state: &HubState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<Signed> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized("this request must be signed (Authorization: TFGrid-Ed25519 …)")
        })?
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let header = AuthHeader::parse(value).map_err(auth_error)?;
    let digest_text = headers
        .get(CONTENT_DIGEST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized(format!("a signed request carries {CONTENT_DIGEST}"))
        })?;
    let body_digest: [u8; 32] = hex::decode(digest_text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::bad_request(format!("{CONTENT_DIGEST} is 64 hex digits")))?;
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let now = unix_now();
    let key = header
        .verify(
            &RequestToSign {
                method: method.as_str(),
                path_and_query,
                body_digest,
            },
            now,
            DEFAULT_WINDOW_SECS,
        )
        .map_err(auth_error)?;
    state.replay.check(&header, now).map_err(auth_error)?;
    Ok(Signed { key, body_digest })
}

/// The registered user behind `signed`, which must be `user` when given.
pub(crate) fn user(state: &HubState, signed: &Signed, user: Option<&str>) -> ApiResult<User> {
    let found = state
        .db
        .user_by_key(&signed.key.to_hex())
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::forbidden(format!(
                "key {} is not registered on this hub (tfgrid hub register NAME)",
                signed.key.to_hex()
            ))
        })?;
    match user {
        Some(name) if name != found.name => Err(ApiError::forbidden(format!(
            "signed by {:?}, but only {name:?} may change {name:?}'s flists",
            found.name
        ))),
        _ => Ok(found),
    }
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::Busy => ApiError::busy(e.to_string()),
        AuthError::Malformed(_) => ApiError::bad_request(e.to_string()),
        _ => ApiError::unauthorized(e.to_string()),
    }
}
