//! The Admin API: `GET /`, `GET /status`, `/metrics`, core entity
//! collections over PostgreSQL, and the control plane's
//! `/clustering/data-planes`. Only endpoints real Kong has live here; the
//! test controls are on the separate control listener.

use super::entities::{self, ApiError, EntityDef, Kind, Scope, Served};
use super::node::{Node, Role};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const DEFAULT_PAGE_SIZE: usize = 100;
const ADMIN_TOKEN_HEADER: &str = "kong-admin-token";

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
    node.metrics.total_requests.fetch_add(1, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut response = route(&node, &method, &uri, &headers, &body).await;
    if let Ok(latency) = HeaderValue::from_str(&started.elapsed().as_millis().to_string()) {
        response
            .headers_mut()
            .insert("x-kong-admin-latency", latency);
    }
    response
}

async fn route(
    node: &Node,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if let Some(expected) = &node.admin_token {
        let given = headers
            .get(ADMIN_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return node.message(
                StatusCode::UNAUTHORIZED,
                "Invalid credentials. Token or User credentials required",
            );
        }
    }
    let path = uri.path().trim_matches('/');
    let segments: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    let query = parse_query(uri.query().unwrap_or(""));
    match (method, segments.as_slice()) {
        (&Method::GET, []) => root(node).await,
        (&Method::GET, ["status"]) => node.json(StatusCode::OK, &node.status_info().await),
        (&Method::GET, ["metrics"]) => super::status::metrics_response(node).await,
        (&Method::GET, ["clustering", "data-planes"]) => data_planes(node, &query).await,
        (&Method::GET, ["clustering", "status"]) => clustering_status(node).await,
        (&Method::GET, ["config"]) => get_config(node),
        (&Method::GET, ["upstreams", upstream, "health"]) => {
            upstream_health(node, upstream, &query).await
        }
        (&Method::POST, ["config"]) => post_config(node, body),
        (
            _,
            ["status"]
            | ["metrics"]
            | ["clustering", "data-planes"]
            | ["clustering", "status"]
            | ["config"]
            | [],
        ) => node.message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
        _ => entity_route(node, method, &segments, &query, headers, body).await,
    }
}

async fn root(node: &Node) -> Response {
    let enabled = match &node.store {
        Some(store) => match store.pg().await {
            Ok(pg) => pg
                .query("SELECT DISTINCT name FROM plugins ORDER BY name", &[])
                .await
                .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    node.json(StatusCode::OK, &node.root_info(enabled))
}

/// Kong's answer to `/config` on a node with a database
/// (`kong/api/routes/config.lua`).
const CONFIG_NEEDS_DBLESS: &str =
    "this endpoint is only available when Kong is configured to not use a database";

/// `GET /config` of a DB-less node or data plane: `{"config": "<yaml>"}`.
/// Kong exports its in-memory entities; kongsim serves the text it loaded.
fn get_config(node: &Node) -> Response {
    if !node.is_dbless() {
        return node.message(StatusCode::BAD_REQUEST, CONFIG_NEEDS_DBLESS);
    }
    node.json(StatusCode::OK, &json!({ "config": node.served_config() }))
}

/// `POST /config` of a DB-less node: the body (or its `config` string, as
/// Kong accepts both) becomes the node's configuration.
fn post_config(node: &Node, body: &Bytes) -> Response {
    if !node.is_dbless() {
        return node.message(StatusCode::BAD_REQUEST, CONFIG_NEEDS_DBLESS);
    }
    if node.role == Role::DataPlane {
        return node.message(StatusCode::NOT_FOUND, "Not found");
    }
    let wrapped = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("config").and_then(Value::as_str).map(str::to_string));
    match wrapped {
        Some(text) => node.load_config(&text),
        None => node.load_config(&String::from_utf8_lossy(body)),
    }
    node.json(StatusCode::CREATED, &json!({}))
}

async fn entity_route(
    node: &Node,
    method: &Method,
    segments: &[&str],
    query: &Map<String, Value>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let result = match workspace_of(node, segments).await {
        Ok((ws, segments)) => {
            let at = At { node, ws: &ws };
            match segments {
                _ if super::memberships::is_membership(segments) => {
                    super::memberships::route(at, method, segments, headers, body).await
                }
                [collection] => {
                    collection_endpoint(at, method, collection, None, query, headers, body).await
                }
                [collection, key] => {
                    entity_endpoint(at, method, collection, key, None, headers, body).await
                }
                [parent, parent_key, child] => match scope_for(at, parent, parent_key, child).await
                {
                    Ok(Some(scope)) => {
                        collection_endpoint(at, method, child, Some(scope), query, headers, body)
                            .await
                    }
                    Ok(None) => Err(ApiError::not_found()),
                    Err(e) => Err(e),
                },
                [parent, parent_key, child, key] => {
                    match scope_for(at, parent, parent_key, child).await {
                        Ok(Some(scope)) => {
                            entity_endpoint(at, method, child, key, Some(scope), headers, body)
                                .await
                        }
                        Ok(None) => Err(ApiError::not_found()),
                        Err(e) => Err(e),
                    }
                }
                _ => Err(ApiError::not_found()),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(response) => response,
        Err(e) => node.json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body,
        ),
    }
}

/// The node and the workspace a request is served in.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    pub(super) node: &'a Node,
    /// `None` on OSS; `default` for an unprefixed path on Kong Enterprise.
    ws: &'a Option<String>,
}

impl At<'_> {
    pub(super) fn entities<'p>(&'p self, pg: &'p crate::pg::Pg) -> entities::Entities<'p> {
        entities::Entities {
            workspace: self.ws.clone(),
            ..self.node.entities(pg)
        }
    }

    /// `/{workspace}` for a path Kong Enterprise served under one, for
    /// `next` links.
    fn prefix(&self) -> String {
        match self.ws.as_deref() {
            Some(ws) if Some(ws) != self.node.default_workspace().as_deref() => format!("/{ws}"),
            _ => String::new(),
        }
    }
}

/// Kong Enterprise serves every workspace's entities under `/{workspace}/`
/// (OSS has no such paths): a first segment that names no collection is a
/// workspace, which must exist.
async fn workspace_of<'s>(
    node: &Node,
    segments: &'s [&'s str],
) -> Result<(Option<String>, &'s [&'s str]), ApiError> {
    let default = node.default_workspace();
    let named = match segments {
        [first, _, ..] if default.is_some() && entities::by_path(first).is_none() => *first,
        _ => return Ok((default, segments)),
    };
    let store = node.store.as_ref().ok_or_else(ApiError::not_found)?;
    let pg = store.pg().await?;
    let found = pg
        .query("SELECT 1 FROM workspaces WHERE name = $1", &[&named])
        .await?;
    if found.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok((Some(named.to_string()), &segments[1..]))
}

/// Resolves `/upstreams/{u}/targets`-style prefixes: the parent must exist
/// and the child must reference it.
async fn scope_for(
    at: At<'_>,
    parent: &str,
    parent_key: &str,
    child: &str,
) -> Result<Option<Scope>, ApiError> {
    let (Some(parent_def), Some(child_def)) =
        (entities::by_path(parent), entities::by_nested_path(child))
    else {
        return Ok(None);
    };
    let node = at.node;
    serves(node, parent_def)?;
    serves(node, child_def)?;
    let Some(field) = child_def
        .fields
        .iter()
        .find(|f| f.kind == Kind::Foreign(parent_def.name))
    else {
        return Ok(None);
    };
    let Some(store) = &node.store else {
        return Ok(None);
    };
    let pg = store.pg().await?;
    let entities = at.entities(&pg);
    let Some(found) = entities.find(parent_def, parent_key, None).await? else {
        return Ok(None);
    };
    let id = found
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Some(Scope {
        field: field.name,
        column: field.column,
        id,
    }))
}

async fn collection_endpoint(
    at: At<'_>,
    method: &Method,
    collection: &str,
    scope: Option<Scope>,
    query: &Map<String, Value>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let node = at.node;
    let def = collection_def(node, collection, &scope)?;
    let Some(store) = &node.store else {
        return match *method {
            Method::GET => Ok(node.json(StatusCode::OK, &json!({ "data": [], "next": null }))),
            _ => Err(dbless_refusal(method, def)),
        };
    };
    let pg = store.pg().await?;
    let entities = at.entities(&pg);
    match *method {
        Method::GET => {
            let size = page_size(query)?;
            let offset = query.get("offset").and_then(Value::as_str);
            let page = entities.page(def, scope.as_ref(), size, offset).await?;
            let size_in_next = next_keeps_size(node, &scope, query);
            Ok(node.json(
                StatusCode::OK,
                &page_body(
                    &format!("{}{}", at.prefix(), collection_path(def, &scope)),
                    page,
                    size_in_next.as_deref(),
                ),
            ))
        }
        Method::POST => {
            let input = parse_body(headers, body)?;
            let created = entities.create(def, &input, scope.as_ref()).await?;
            announce_write(node, def, &pg).await?;
            Ok(node.json(StatusCode::CREATED, &created))
        }
        _ => Ok(node.message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")),
    }
}

async fn entity_endpoint(
    at: At<'_>,
    method: &Method,
    collection: &str,
    key: &str,
    scope: Option<Scope>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let node = at.node;
    let def = collection_def(node, collection, &scope)?;
    let Some(store) = &node.store else {
        return match *method {
            Method::GET => Err(ApiError::not_found()),
            _ => Err(dbless_refusal(method, def)),
        };
    };
    let pg = store.pg().await?;
    let entities = at.entities(&pg);
    match *method {
        Method::GET => {
            let found = entities
                .find(def, key, scope.as_ref())
                .await?
                .ok_or_else(ApiError::not_found)?;
            Ok(node.json(StatusCode::OK, &found))
        }
        Method::PATCH => {
            let existing = entities
                .find(def, key, scope.as_ref())
                .await?
                .ok_or_else(ApiError::not_found)?;
            let input = parse_body(headers, body)?;
            let updated = entities.update(def, &existing, &input).await?;
            announce_write(node, def, &pg).await?;
            Ok(node.json(StatusCode::OK, &updated))
        }
        Method::PUT => {
            let input = parse_body(headers, body)?;
            let (status, entity) = entities.upsert(def, key, &input, scope.as_ref()).await?;
            announce_write(node, def, &pg).await?;
            Ok(node.json(
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                &entity,
            ))
        }
        Method::DELETE => {
            if let Some(existing) = entities.find(def, key, scope.as_ref()).await? {
                entities.delete(def, &existing).await?;
                announce_write(node, def, &pg).await?;
            }
            Ok(node.empty(StatusCode::NO_CONTENT))
        }
        _ => Ok(node.message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")),
    }
}

/// A target write reaches the balancers through a cluster event, as in Kong.
async fn announce_write(node: &Node, def: &EntityDef, pg: &crate::pg::Pg) -> Result<(), ApiError> {
    if def.name == entities::TARGETS.name {
        super::balancer::broadcast_target_change(node, pg).await?;
    }
    Ok(())
}

/// `GET /upstreams/{u}/health` (`kong/api/routes/upstreams.lua`).
async fn upstream_health(node: &Node, upstream: &str, query: &Map<String, Value>) -> Response {
    let result = async {
        let at = At {
            node,
            ws: &node.default_workspace(),
        };
        let scope = scope_for(at, "upstreams", upstream, "targets")
            .await?
            .ok_or_else(ApiError::not_found)?;
        let store = node.store.as_ref().ok_or_else(ApiError::not_found)?;
        let pg = store.pg().await?;
        let size = page_size(query)?;
        let offset = query.get("offset").and_then(Value::as_str);
        super::balancer::upstream_health(node, &pg, &scope, size, offset).await
    }
    .await;
    match result {
        Ok(body) => node.json(StatusCode::OK, &body),
        Err(e) => node.json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body,
        ),
    }
}

/// The entity a path segment names (top-level, or nested under a parent),
/// if this node serves it.
fn collection_def(
    node: &Node,
    segment: &str,
    scope: &Option<Scope>,
) -> Result<&'static EntityDef, ApiError> {
    let def = match scope {
        Some(_) => entities::by_nested_path(segment),
        None => entities::by_path(segment),
    }
    .ok_or_else(ApiError::not_found)?;
    serves(node, def)?;
    Ok(def)
}

/// Whether this node's version, plugins and `wasm` setting give it the
/// collection: Kong answers 404 for a collection it does not know, and
/// 400 on `/filter-chains` with wasm off
/// (`kong/api/routes/filter_chains.lua`).
pub(super) fn serves(node: &Node, def: &EntityDef) -> Result<(), ApiError> {
    let known = match def.served {
        Served::Since(major, minor) => node.version.at_least(major, minor),
        Served::WithPlugin(plugin) => super::plugins::is_available(&node.version, plugin),
        Served::WithWasmSince(major, minor) => node.version.at_least(major, minor),
        Served::Until(major, minor) => !node.version.at_least(major, minor),
        Served::Enterprise => node.edition == crate::version::Edition::Enterprise,
    };
    if !known {
        return Err(ApiError::not_found());
    }
    if matches!(def.served, Served::WithWasmSince(..)) && node.conf.get("wasm") != Some("on") {
        return Err(ApiError {
            status: 400,
            body: json!({ "message": "this endpoint is only available when wasm is enabled" }),
        });
    }
    Ok(())
}

fn dbless_refusal(method: &Method, def: &EntityDef) -> ApiError {
    let verb = match *method {
        Method::POST => "create",
        Method::PATCH => "update",
        Method::PUT => "create or update",
        Method::DELETE => "delete",
        _ => "modify",
    };
    ApiError {
        status: 405,
        body: json!({
            "code": 12,
            "name": "operation unsupported",
            "message": format!("cannot {verb} '{}' entities when not using a database", def.name),
        }),
    }
}

fn page_size(query: &Map<String, Value>) -> Result<usize, ApiError> {
    match query.get("size").and_then(Value::as_str) {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(ApiError::invalid_size),
    }
}

/// The collection's path for `next` links, as `kong/api/endpoints.lua`
/// builds them: a parent's path for nested collections.
fn collection_path(def: &EntityDef, scope: &Option<Scope>) -> String {
    match scope {
        Some(scope) => {
            let parent = match def
                .fields
                .iter()
                .find(|f| f.name == scope.field)
                .map(|f| f.kind)
            {
                Some(Kind::Foreign(target)) => entities::by_name(target).map_or(target, |d| d.path),
                _ => scope.field,
            };
            format!("/{parent}/{}/{}", scope.id, def.nested_path)
        }
        None => format!("/{}", def.path),
    }
}

/// Kong 3.3 and later carry `size` into a top-level collection's `next`;
/// earlier releases, and nested collections always, drop it.
fn next_keeps_size(
    node: &Node,
    scope: &Option<Scope>,
    query: &Map<String, Value>,
) -> Option<String> {
    let size = query.get("size").and_then(Value::as_str)?;
    (scope.is_none() && node.version.at_least(3, 3)).then(|| size.to_string())
}

/// Kong's paginated body: `data`, `next` (null on the last page) and
/// `offset` when there is a next page. The rows are spliced in as the text
/// they already are.
#[derive(serde::Serialize)]
struct PageBody<Row> {
    data: Vec<Row>,
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<String>,
}

fn page_body<Row>(
    path: &str,
    page: entities::Page<Row>,
    size_in_next: Option<&str>,
) -> PageBody<Row> {
    let next = page.offset.as_ref().map(|offset| {
        format!(
            "{path}?offset={}{}",
            percent_encode(offset),
            size_in_next
                .map(|s| format!("&size={s}"))
                .unwrap_or_default()
        )
    });
    PageBody {
        data: page.data,
        next,
        offset: page.offset,
    }
}

async fn data_planes(node: &Node, query: &Map<String, Value>) -> Response {
    if node.role != Role::ControlPlane {
        return node.message(
            StatusCode::BAD_REQUEST,
            "this endpoint is only available when Kong is configured to run as Control Plane for the cluster",
        );
    }
    let result = async {
        let store = node.store.as_ref().ok_or_else(ApiError::not_found)?;
        let pg = store.pg().await?;
        let size = page_size(query)?;
        let offset = query.get("offset").and_then(Value::as_str);
        super::clustering::page(&pg, &node.version, size, offset).await
    }
    .await;
    match result {
        Ok(page) => node.json(
            StatusCode::OK,
            &page_body("/clustering/data-planes", page, None),
        ),
        Err(e) => node.json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body,
        ),
    }
}

async fn clustering_status(node: &Node) -> Response {
    if node.role != Role::ControlPlane {
        return node.message(
            StatusCode::BAD_REQUEST,
            "this endpoint is only available when Kong is configured to run as Control Plane for the cluster",
        );
    }
    let result = async {
        let store = node.store.as_ref().ok_or_else(ApiError::not_found)?;
        let pg = store.pg().await?;
        super::clustering::page(&pg, &node.version, 1000, None).await
    }
    .await;
    let mut response = match result {
        Ok(page) => {
            let by_id: Map<String, Value> = page
                .data
                .iter()
                .filter_map(|dp| {
                    let id = dp.get("id")?.as_str()?.to_string();
                    Some((
                        id,
                        json!({
                            "config_hash": dp.get("config_hash"),
                            "hostname": dp.get("hostname"),
                            "ip": dp.get("ip"),
                            "last_seen": dp.get("last_seen"),
                        }),
                    ))
                })
                .collect();
            node.json(StatusCode::OK, &Value::Object(by_id))
        }
        Err(e) => node.json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body,
        ),
    };
    response
        .headers_mut()
        .insert("deprecation", HeaderValue::from_static("true"));
    response
}

/// JSON bodies, or form bodies (`a=1&config.minute=5&hosts[]=x`) as Kong's
/// argument decoder reads them.
pub(super) fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = String::from_utf8_lossy(body);
        return Ok(Value::Object(form_to_object(&text)));
    }
    serde_json::from_slice(body).map_err(|_| ApiError {
        status: 400,
        body: json!({ "message": "Cannot parse JSON body" }),
    })
}

fn form_to_object(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key);
        let value = coerce_form_value(&percent_decode(value));
        let (key, is_array) = match key.strip_suffix("[]") {
            Some(k) => (k.to_string(), true),
            None => (key, false),
        };
        insert_dotted(&mut out, &key, value, is_array);
    }
    out
}

fn coerce_form_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.to_string())),
    }
}

fn insert_dotted(map: &mut Map<String, Value>, key: &str, value: Value, is_array: bool) {
    match key.split_once('.') {
        Some((head, rest)) => {
            let entry = map.entry(head.to_string()).or_insert_with(|| json!({}));
            if let Value::Object(inner) = entry {
                insert_dotted(inner, rest, value, is_array);
            }
        }
        None if is_array => {
            let entry = map.entry(key.to_string()).or_insert_with(|| json!([]));
            if let Value::Array(items) = entry {
                items.push(match value {
                    Value::Number(n) => Value::String(n.to_string()),
                    other => other,
                });
            }
        }
        None => {
            map.insert(key.to_string(), value);
        }
    }
}

pub fn parse_query(query: &str) -> Map<String, Value> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), Value::String(percent_decode(v)))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let decoded = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match decoded {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_nest_and_collect_arrays() {
        let obj = form_to_object(
            "name=rl&config.minute=5&protocols[]=http&protocols[]=https&enabled=true",
        );
        assert_eq!(
            Value::Object(obj),
            json!({ "name": "rl", "config": { "minute": 5 }, "protocols": ["http", "https"], "enabled": true })
        );
    }

    #[test]
    fn percent_coding_round_trips_offsets() {
        let token = "WyI3ZjFjIl0=+/";
        assert_eq!(percent_decode(&percent_encode(token)), token);
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
    }
}
