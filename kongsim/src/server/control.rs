//! TEST-ONLY control API on its own listener, so nothing the provider talks
//! to exists only in kongsim:
//! - `GET /faults`, `POST /faults {"error_ratio":0.3,"added_latency_ms":200[,"status":502]}`,
//!   `DELETE /faults`: the proxy's fault switch.
//! - `POST /data-planes {...}`: register a data plane row on a control plane,
//!   as a connecting data plane would.
//! - `POST /config` (any body): a data plane or DB-less node receives a
//!   configuration; its hash becomes the node's `configuration_hash` and
//!   the Admin API's `GET /config` serves it.
//! - `POST /seed {"collection":"services","count":50000,"template":{...}}`:
//!   bulk-creates entities in one statement (benchmarks at scale); the
//!   template is validated as the Admin API would validate a POST.
//! - `GET /health`: identity and request counters.

use super::clustering::{self, DataPlaneRegistration};
use super::node::{FaultSettings, Node, Role};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub fn router(node: Arc<Node>) -> Router {
    Router::new().fallback(handle).with_state(node)
}

async fn handle(State(node): State<Arc<Node>>, method: Method, uri: Uri, body: Bytes) -> Response {
    match (&method, uri.path().trim_end_matches('/')) {
        (&Method::GET, "/faults") => faults_body(&node),
        (&Method::POST, "/faults") => set_faults(&node, &body),
        (&Method::DELETE, "/faults") => {
            node.faults.set(FaultSettings::default());
            faults_body(&node)
        }
        (&Method::POST, "/data-planes") => register_data_plane(&node, &body).await,
        (&Method::POST, "/config") => receive_config(&node, &body),
        (&Method::POST, "/seed") => seed(&node, &body).await,
        (&Method::GET, "/health") => node.json(
            StatusCode::OK,
            &json!({
                "kongsim": "test double of Kong Gateway",
                "node_id": node.node_id,
                "version": node.reported_version,
                "cluster": node.cluster_name,
                "proxied_requests": node.metrics.proxied_total(),
                "total_requests": node.metrics.total_requests.load(Ordering::Relaxed),
            }),
        ),
        _ => node.message(StatusCode::NOT_FOUND, "Not found"),
    }
}

fn faults_body(node: &Node) -> Response {
    match serde_json::to_value(node.faults.get()) {
        Ok(v) => node.json(StatusCode::OK, &v),
        Err(e) => node.message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn set_faults(node: &Node, body: &Bytes) -> Response {
    let settings: FaultSettings = match serde_json::from_slice(body) {
        Ok(s) => s,
        Err(e) => return node.message(StatusCode::BAD_REQUEST, &format!("invalid faults: {e}")),
    };
    if !(0.0..=1.0).contains(&settings.error_ratio) {
        return node.message(
            StatusCode::BAD_REQUEST,
            "error_ratio must be between 0 and 1",
        );
    }
    if !(400..=599).contains(&settings.status) {
        return node.message(
            StatusCode::BAD_REQUEST,
            "status must be an HTTP error status (400-599)",
        );
    }
    tracing::info!(
        error_ratio = settings.error_ratio,
        added_latency_ms = settings.added_latency_ms,
        "faults set"
    );
    node.faults.set(settings);
    faults_body(node)
}

async fn register_data_plane(node: &Node, body: &Bytes) -> Response {
    if node.role != Role::ControlPlane {
        return node.message(
            StatusCode::BAD_REQUEST,
            "data planes register only on a control_plane node",
        );
    }
    let Some(store) = &node.store else {
        return node.message(StatusCode::BAD_REQUEST, "a control plane needs a database");
    };
    let registration: DataPlaneRegistration = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return node.message(StatusCode::BAD_REQUEST, &format!("invalid data plane: {e}"))
        }
    };
    let result = async {
        let pg = store.pg().await?;
        clustering::register(&pg, &node.version, registration).await
    }
    .await;
    match result {
        Ok(row) => node.json(StatusCode::CREATED, &row),
        Err(e) => node.json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body,
        ),
    }
}

fn receive_config(node: &Node, body: &Bytes) -> Response {
    if !node.is_dbless() {
        return node.message(
            StatusCode::BAD_REQUEST,
            "only DB-less and data plane nodes receive configurations",
        );
    }
    let text = String::from_utf8_lossy(body);
    node.load_config(&text);
    node.json(
        StatusCode::CREATED,
        &json!({ "configuration_hash": node.config_hash() }),
    )
}

#[derive(serde::Deserialize)]
struct SeedRequest {
    /// Admin API collection, e.g. `services` or `key-auths`.
    collection: String,
    count: i64,
    #[serde(default)]
    template: serde_json::Value,
}

async fn seed(node: &Node, body: &Bytes) -> Response {
    let request: SeedRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return node.message(StatusCode::BAD_REQUEST, &format!("invalid seed: {e}")),
    };
    let Some(def) = super::entities::by_path(&request.collection) else {
        return node.message(StatusCode::NOT_FOUND, "no such collection");
    };
    let Some(store) = &node.store else {
        return node.message(StatusCode::BAD_REQUEST, "seeding needs a database");
    };
    let template = match request.template {
        serde_json::Value::Null => json!({}),
        t => t,
    };
    let result = async {
        let pg = store.pg().await?;
        node.entities(&pg)
            .create_many(def, &template, request.count)
            .await
    }
    .await;
    match result {
        Ok(created) => node.json(StatusCode::CREATED, &json!({ "created": created })),
        Err(e) => node.json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body,
        ),
    }
}
