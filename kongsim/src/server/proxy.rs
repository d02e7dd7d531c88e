//! The proxy port: every request is answered as if Kong had proxied it to
//! an echo upstream, with Kong's `Via` and latency headers, metrics, and
//! the test-only faults applied. No database work on this path.

use super::metrics::{ProxiedRequest, Source};
use super::node::Node;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn router(node: Arc<Node>) -> Router {
    Router::new().fallback(handle).with_state(node)
}

async fn handle(
    State(node): State<Arc<Node>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    node.metrics.total_requests.fetch_add(1, Ordering::Relaxed);
    node.metrics.active.fetch_add(1, Ordering::Relaxed);
    let faults = node.faults.get();
    let fails = node.faults.next_fails(&faults);
    let upstream_started = Instant::now();
    if faults.added_latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.added_latency_ms)).await;
    }
    let upstream_ms = upstream_started.elapsed().as_millis() as u64;
    let status = if fails {
        StatusCode::from_u16(faults.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    } else {
        StatusCode::OK
    };
    // A 502/503/504 is what Kong itself returns when the upstream fails;
    // any other injected status is passed through from the "upstream".
    let source = if fails && matches!(status.as_u16(), 502..=504) {
        Source::Kong
    } else {
        Source::Service
    };
    let body_json = if fails {
        json!({ "message": "kongsim: injected fault", "cluster": node.cluster_name, "node_id": node.node_id })
    } else {
        json!({
            "cluster": node.cluster_name,
            "node_id": node.node_id,
            "hostname": node.hostname,
            "version": node.reported_version,
            "method": method.as_str(),
            "path": uri.path(),
        })
    };
    let payload = body_json.to_string();
    let egress = payload.len() as u64;
    let mut response = Response::new(Body::from(payload));
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    insert_kong_headers(&node, out, source, upstream_ms, started);
    let request_ms = started.elapsed().as_millis() as u64;
    node.metrics.record_proxied(&ProxiedRequest {
        status: status.as_u16(),
        source,
        request_ms,
        upstream_ms,
        kong_ms: request_ms.saturating_sub(upstream_ms),
        ingress_bytes: body.len() as u64 + header_bytes(&headers),
        egress_bytes: egress,
    });
    node.metrics.active.fetch_sub(1, Ordering::Relaxed);
    response
}

/// `Via: 1.1 kong/X` (3.8+, RFC 7230 form) or `Via: kong/X` before; the
/// latency tokens; `Server` on proxied responses only from 3.8, or on
/// responses Kong generates itself.
fn insert_kong_headers(
    node: &Node,
    out: &mut HeaderMap,
    source: Source,
    upstream_ms: u64,
    started: Instant,
) {
    let via = if node.version.at_least(3, 8) {
        format!("1.1 kong/{}", node.reported_version)
    } else {
        format!("kong/{}", node.reported_version)
    };
    if let Ok(via) = HeaderValue::from_str(&via) {
        out.insert(header::VIA, via);
    }
    if node.version.at_least(3, 8) || source == Source::Kong {
        out.insert(header::SERVER, node.server_token.clone());
    }
    if source == Source::Service {
        out.insert("x-kong-upstream-latency", HeaderValue::from(upstream_ms));
        let proxy_ms = started.elapsed().as_millis() as u64
            - upstream_ms.min(started.elapsed().as_millis() as u64);
        out.insert("x-kong-proxy-latency", HeaderValue::from(proxy_ms));
    } else {
        out.insert(
            "x-kong-response-latency",
            HeaderValue::from(started.elapsed().as_millis() as u64),
        );
    }
}

fn header_bytes(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().len() + v.len() + 4) as u64)
        .sum()
}
