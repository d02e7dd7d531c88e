//! The Status API: `/status`, `/status/ready` (3.3+, draining from 3.9)
//! and `/metrics`.

use super::node::{Node, Role, EMPTY_CONFIG_HASH};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub fn router(node: Arc<Node>) -> Router {
    Router::new().fallback(handle).with_state(node)
}

async fn handle(State(node): State<Arc<Node>>, method: Method, uri: Uri, body: Bytes) -> Response {
    node.metrics.total_requests.fetch_add(1, Ordering::Relaxed);
    match (&method, uri.path().trim_end_matches('/')) {
        (&Method::GET, "/status") => node.json(StatusCode::OK, &node.status_info().await),
        (&Method::GET, "/status/ready") if node.version.at_least(3, 3) => ready(&node).await,
        (&Method::POST, "/status/ready") if node.version.at_least(3, 9) => drain(&node, &body),
        (&Method::GET, "/metrics") => metrics_response(&node).await,
        _ => node.message(StatusCode::NOT_FOUND, "Not found"),
    }
}

/// `kong/status/ready.lua`.
async fn ready(node: &Node) -> Response {
    match not_ready_reason(node).await {
        None => node.message(StatusCode::OK, "ready"),
        Some(reason) => node.message(StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}

async fn not_ready_reason(node: &Node) -> Option<&'static str> {
    if node.draining.load(Ordering::Relaxed) {
        return Some("draining");
    }
    match &node.store {
        Some(store) if node.role != Role::DataPlane => {
            if !store.reachable().await {
                return Some("failed to connect to database");
            }
            None
        }
        _ if node.config_hash() == EMPTY_CONFIG_HASH => {
            Some("no configuration available (empty configuration present)")
        }
        _ => None,
    }
}

/// `POST /status/ready {"status":"draining"}` (3.9, `kong drain`).
fn drain(node: &Node, body: &Bytes) -> Response {
    let status = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_string));
    if status.as_deref() == Some("draining") {
        node.draining.store(true, Ordering::Relaxed);
        node.empty(StatusCode::NO_CONTENT)
    } else {
        node.message(StatusCode::BAD_REQUEST, "invalid status")
    }
}

pub async fn metrics_response(node: &Node) -> Response {
    let reachable = match &node.store {
        Some(_) if node.role != Role::DataPlane => {
            Some(node.last_datastore_reachable.load(Ordering::Relaxed))
        }
        _ => None,
    };
    let text = node
        .metrics
        .render(&node.node_id, &node.reported_version, reachable);
    let mut response = Response::new(Body::from(text));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    headers.insert(header::SERVER, node.server_token.clone());
    response
}
