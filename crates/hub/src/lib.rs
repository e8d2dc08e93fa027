//! The flist hub: users push archives or flists, the hub converts and signs them, and nodes pull blocks from it.
//!
//! * Reads are public: the user list, every flist's `.fl`, signature,
//!   metadata and contents, and blocks by id.
//! * Every change carries an ed25519 request signature of the user's key
//!   ([`identity::http_signature`]); a key is registered once under a name.
//! * Uploads are spooled to disk and converted by a job
//!   ([`flist::image`]); the result is stored once under its digest,
//!   signed by the hub's key, and named in the user's list.
//! * Blocks live in any [`flist::store`] (a dir store in the data
//!   directory by default, or a 0-db); the block API serves them and
//!   accepts uploads whose bytes hash to their id.
//!
//! | path | what |
//! |---|---|
//! | `GET /api/v1/hub`, `GET /api/v1/hub/key` | hub key and block URL |
//! | `POST /api/v1/users` (signed) | register the signing key under a name |
//! | `GET /api/v1/users`, `GET /api/v1/users/{u}/flists[?tag=]` | lists |
//! | `PUT /api/v1/users/{u}/flists/{n}` (signed, body = archive or `.fl`) | push → job |
//! | `GET /api/v1/jobs/{id}` | job progress |
//! | `GET /api/v1/users/{u}/flists/{n}[/files?path=]` | metadata, directory listing |
//! | `DELETE …/flists/{n}`, `POST …/flists/{n}/rename`, `PUT …/links/{n}`, `PUT`/`DELETE …/flists/{n}/tags/{t}`, `PUT …/flists/{n}/signature` (signed) | owner changes |
//! | `GET|HEAD|PUT /api/v1/blocks/{id}`, `POST /api/v1/blocks/missing` | blocks |
//! | `GET /{u}/{n}.fl`, `GET /{u}/{n}.fl.sig` | downloads (links followed) |
//! | `GET /`, `GET /{u}`, `GET /{u}/{n}[?path=]` | HTML pages |

mod api;
mod auth;
mod blocks;
pub mod client;
mod db;
mod error;
mod html;
mod jobs;
mod names;
mod objects;
mod ratelimit;
mod state;
mod upload;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::Router;

pub use api::{FileRow, FlistInfo, HubInfo, Link, Register, Rename, SignerRow, UserRow};
pub use blocks::{MissingRequest, MissingResponse};
pub use db::{Entry, User};
pub use error::ApiError;
pub use jobs::{JobState, JobStatus};
pub use state::{HubConfig, HubState, Limits, StartError};

/// The routes, over shared state.
pub fn router(state: Arc<HubState>) -> Router {
    Router::new()
        .route("/", get(html::index))
        .route("/api/v1/hub", get(api::hub_info))
        .route("/api/v1/hub/key", get(api::hub_key))
        .route("/api/v1/users", get(api::users).post(api::register))
        .route("/api/v1/users/{user}/flists", get(api::list))
        .route(
            "/api/v1/users/{user}/flists/{name}",
            get(api::info).put(upload::upload).delete(api::delete),
        )
        .route("/api/v1/users/{user}/flists/{name}/files", get(api::files))
        .route(
            "/api/v1/users/{user}/flists/{name}/rename",
            post(api::rename),
        )
        .route(
            "/api/v1/users/{user}/flists/{name}/signature",
            put(api::add_signature),
        )
        .route(
            "/api/v1/users/{user}/flists/{name}/tags/{tag}",
            put(api::tag).delete(api::tag),
        )
        .route("/api/v1/users/{user}/links/{name}", put(api::link))
        .route("/api/v1/jobs/{id}", get(api::job))
        .route("/api/v1/blocks/missing", post(blocks::missing))
        .route(
            "/api/v1/blocks/{id}",
            get(blocks::get_block)
                .head(blocks::head_block)
                .put(blocks::put_block),
        )
        .route("/{user}", get(html::user))
        .route("/{user}/{file}", get(html::user_file))
        .with_state(state)
}

/// A hub bound to its listening socket.
pub struct Hub {
    state: Arc<HubState>,
    listener: tokio::net::TcpListener,
}

impl Hub {
    /// Opens the data directory and binds `addr`.
    pub async fn bind(config: &HubConfig, addr: SocketAddr) -> Result<Hub, StartError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Io {
                what: format!("listen on {addr}"),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartError::Io {
            what: "read the listening address".into(),
            source,
        })?;
        let state = HubState::open(config, &format!("http://{local}"))?;
        Ok(Hub {
            state: Arc::new(state),
            listener,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state (its key, its block URL).
    pub fn state(&self) -> &Arc<HubState> {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets running requests finish.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
