//! What every route handler shares: the controller, the stop signal, the watch-stream
//! permits, and the two ways a route answers (a postcard body, or a 400).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::controller::Controller;
use crate::rpc::wire::POSTCARD;

/// What every route handler gets.
pub(crate) struct RouteState {
    pub(crate) controller: Arc<Controller>,
    /// Cancelled on shutdown; long-lived watch streams end on it.
    pub(crate) stop: CancellationToken,
    /// One permit per open watch stream.
    pub(crate) watchers: Arc<Semaphore>,
}

pub(crate) type Shared = Arc<RouteState>;

/// A postcard body, or a 500 naming what could not be encoded.
pub(crate) fn postcard_reply<T: Serialize>(value: &T) -> Response {
    match postcard::to_allocvec(value) {
        Ok(bytes) => ([(CONTENT_TYPE, POSTCARD)], bytes).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the reply: {e}"),
        )
            .into_response(),
    }
}

/// A 400 for a body that is not what the route expects.
pub(crate) fn bad_request(what: &str, e: &postcard::Error) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("undecodable {what} request: {e}"),
    )
        .into_response()
}
