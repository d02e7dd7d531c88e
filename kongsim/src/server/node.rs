//! The state one kongsim node shares between its listeners, and the
//! responses every listener builds the same way.

use super::metrics::Metrics;
use crate::conf::{KongConf, SENSITIVE_KEYS};
use crate::pg::{Pg, PgError, PgSettings};
use crate::version::{reported_version, Edition, KongVersion};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Traditional,
    ControlPlane,
    DataPlane,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "traditional" => Some(Role::Traditional),
            "control_plane" => Some(Role::ControlPlane),
            "data_plane" => Some(Role::DataPlane),
            _ => None,
        }
    }
}

/// MD5 of an empty configuration as Kong reports it: all zeros.
pub const EMPTY_CONFIG_HASH: &str = "00000000000000000000000000000000";

/// What 3.x's `GET /config` exports for a node with no entities
/// (`kong/db/declarative/export.lua` emits these two keys first).
pub const EMPTY_EXPORT: &str = "_format_version: \"3.0\"\n_transform: false\n";

/// The test-only fault switch of the proxy.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaultSettings {
    /// Share of proxied requests answered with `status`, 0.0..=1.0.
    #[serde(default)]
    pub error_ratio: f64,
    /// Added to every proxied request before it is answered.
    #[serde(default)]
    pub added_latency_ms: u64,
    /// Status of a failed request (default 500, as an upstream error).
    #[serde(default = "default_fault_status")]
    pub status: u16,
}

fn default_fault_status() -> u16 {
    500
}

impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            error_ratio: 0.0,
            added_latency_ms: 0,
            status: default_fault_status(),
        }
    }
}

#[derive(Default)]
pub struct Faults {
    settings: RwLock<FaultSettings>,
    counter: AtomicU64,
}

impl Faults {
    pub fn get(&self) -> FaultSettings {
        self.settings.read().map(|s| *s).unwrap_or_default()
    }

    pub fn set(&self, settings: FaultSettings) {
        if let Ok(mut s) = self.settings.write() {
            *s = settings;
        }
        self.counter.store(0, Ordering::Relaxed);
    }

    /// Whether the next proxied request fails. Deterministic: exactly
    /// `error_ratio` of every run of requests fails, spread evenly, so a
    /// gate sees the configured ratio without sampling noise.
    pub fn next_fails(&self, settings: &FaultSettings) -> bool {
        if settings.error_ratio <= 0.0 {
            return false;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed) as f64;
        let ratio = settings.error_ratio.min(1.0);
        ((n + 1.0) * ratio).floor() > (n * ratio).floor()
    }
}

/// Connections the node's Admin API work spreads over. Kong gives each
/// request a connection of its own from a per-worker pool
/// (`pg_pool_size`, by default `lua_socket_pool_size`, and
/// `pg_max_concurrent_queries = 0`, no limit:
/// <https://github.com/Kong/kong/blob/3.6.1/kong.conf.default>), so
/// concurrent Admin API requests run their queries side by side, not
/// queued on one PostgreSQL backend.
const POOL_SIZE: usize = 4;

/// The node's connections to PostgreSQL for Admin API work, each
/// re-established when it drops. A request takes the next in turn and
/// keeps it for all its queries.
pub struct Store {
    pub settings: PgSettings,
    conns: Vec<tokio::sync::Mutex<Option<Arc<Pg>>>>,
    turn: AtomicUsize,
}

impl Store {
    /// `pg` is the first connection; the others are opened when first
    /// taken.
    pub fn new(settings: PgSettings, pg: Pg) -> Self {
        let mut conns = vec![tokio::sync::Mutex::new(Some(Arc::new(pg)))];
        conns.extend((1..POOL_SIZE).map(|_| tokio::sync::Mutex::new(None)));
        Self {
            settings,
            conns,
            turn: AtomicUsize::new(0),
        }
    }

    pub async fn pg(&self) -> Result<Arc<Pg>, PgError> {
        let slot = self.turn.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let mut guard = self.conns[slot].lock().await;
        if let Some(pg) = guard.as_ref().filter(|pg| !pg.is_closed()) {
            return Ok(pg.clone());
        }
        let pg = Arc::new(Pg::connect(&self.settings).await?);
        *guard = Some(pg.clone());
        Ok(pg)
    }

    /// What `/status` reports as `database.reachable`: a fresh connection.
    pub async fn reachable(&self) -> bool {
        let mut settings = self.settings.clone();
        settings.timeout = settings.timeout.min(Duration::from_secs(2));
        match Pg::connect(&settings).await {
            Ok(pg) => pg.simple("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }
}

pub struct Node {
    pub version: KongVersion,
    pub edition: Edition,
    /// `version` as `GET /` reports it.
    pub reported_version: String,
    /// `kong/<version>`, the server token.
    pub server_token: HeaderValue,
    pub role: Role,
    pub node_id: String,
    pub hostname: String,
    pub cluster_name: String,
    pub admin_token: Option<String>,
    pub conf: KongConf,
    pub store: Option<Store>,
    pub faults: Faults,
    pub metrics: Metrics,
    pub config_hash: RwLock<String>,
    /// The declarative configuration a DB-less node serves, as it was
    /// loaded (kongsim keeps the text; it does not parse it).
    pub declarative_config: RwLock<Option<String>>,
    pub draining: AtomicBool,
    pub last_datastore_reachable: AtomicBool,
    /// The target weights this node's balancer serves (see `balancer.rs`).
    pub balancer: std::sync::Mutex<super::balancer::BalancerView>,
}

/// Who a node is: everything fixed at startup.
pub struct Identity {
    pub version: KongVersion,
    pub edition: Edition,
    pub role: Role,
    pub node_id: String,
    pub hostname: String,
    pub cluster_name: String,
    pub conf: KongConf,
}

impl Node {
    pub fn new(identity: Identity, store: Option<Store>) -> Self {
        let Identity {
            version,
            edition,
            role,
            node_id,
            hostname,
            cluster_name,
            conf,
        } = identity;
        let reported = reported_version(&version, edition);
        let server_token = HeaderValue::from_str(&format!("kong/{reported}"))
            .unwrap_or_else(|_| HeaderValue::from_static("kong"));
        Self {
            version,
            edition,
            reported_version: reported,
            server_token,
            role,
            node_id,
            hostname,
            cluster_name,
            admin_token: None,
            conf,
            store,
            faults: Faults::default(),
            metrics: Metrics::default(),
            config_hash: RwLock::new(EMPTY_CONFIG_HASH.to_string()),
            declarative_config: RwLock::new(None),
            draining: AtomicBool::new(false),
            last_datastore_reachable: AtomicBool::new(true),
            balancer: Default::default(),
        }
    }

    pub fn is_dbless(&self) -> bool {
        self.store.is_none()
    }

    pub fn config_hash(&self) -> String {
        self.config_hash
            .read()
            .map(|h| h.clone())
            .unwrap_or_else(|_| EMPTY_CONFIG_HASH.to_string())
    }

    pub fn set_config_hash(&self, hash: String) {
        if let Ok(mut h) = self.config_hash.write() {
            *h = hash;
        }
    }

    /// A DB-less node takes `text` as its configuration: it is served by
    /// `GET /config` and its MD5 becomes `configuration_hash`.
    pub fn load_config(&self, text: &str) {
        self.set_config_hash(super::config_hash(text.as_bytes()));
        if let Ok(mut config) = self.declarative_config.write() {
            *config = Some(text.to_string());
        }
    }

    /// `config` of `GET /config`: what was loaded, or Kong's export of an
    /// empty configuration.
    pub fn served_config(&self) -> String {
        self.declarative_config
            .read()
            .ok()
            .and_then(|c| c.clone())
            .unwrap_or_else(|| EMPTY_EXPORT.to_string())
    }

    /// A JSON response carrying Kong's own headers (`Server: kong/X`).
    pub fn json(&self, status: StatusCode, body: &(impl serde::Serialize + ?Sized)) -> Response {
        // `to_vec`, not `to_string`: `Display` goes through the formatter
        // machinery, a measurable cost on a 1,000-entity page.
        let mut response = Response::new(Body::from(
            serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec()),
        ));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(header::SERVER, self.server_token.clone());
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        response
    }

    pub fn message(&self, status: StatusCode, message: &str) -> Response {
        self.json(status, &json!({ "message": message }))
    }

    pub fn empty(&self, status: StatusCode) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::SERVER, self.server_token.clone());
        response
    }

    /// The entity store over `pg`, as this node's version and settings see it.
    pub fn entities<'a>(&'a self, pg: &'a crate::pg::Pg) -> super::entities::Entities<'a> {
        super::entities::Entities {
            pg,
            version: &self.version,
            conf: &self.conf,
            workspace: self.default_workspace(),
        }
    }

    /// The workspace an unprefixed Admin API path is served from: Kong
    /// Enterprise scopes it to `default`; OSS has one workspace and no
    /// scoping.
    pub fn default_workspace(&self) -> Option<String> {
        (self.edition == crate::version::Edition::Enterprise).then(|| "default".to_string())
    }

    /// `configuration` of `GET /`: the effective kong.conf, secrets masked.
    pub fn configuration(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (key, value) in self.conf.iter() {
            let rendered = if SENSITIVE_KEYS.contains(&key) {
                json!("******")
            } else if key.ends_with("_listen") || key == "plugins" || key == "headers" {
                Value::Array(
                    value
                        .split(',')
                        .map(|s| json!(s.trim()))
                        .filter(|v| v != "")
                        .collect(),
                )
            } else if matches!(key, "pg_port" | "pg_timeout") {
                value
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| json!(value))
            } else if matches!(value, "on" | "off") && key != "status_listen" && key != "database" {
                json!(value == "on")
            } else {
                json!(value)
            };
            out.insert(key.to_string(), rendered);
        }
        // `vitals` is an Enterprise setting (off unless configured): a
        // community node has no such key, whatever its environment says.
        match self.edition {
            Edition::Enterprise => {
                out.entry("vitals").or_insert(json!(false));
            }
            Edition::Community => {
                out.remove("vitals");
            }
        }
        let loaded: serde_json::Map<String, Value> = super::plugins::available(&self.version)
            .map(|p| (p.name.to_string(), json!(true)))
            .collect();
        out.insert("loaded_plugins".into(), Value::Object(loaded));
        Value::Object(out)
    }

    /// `GET /` of the Admin API (`kong/api/routes/kong.lua`).
    pub fn root_info(&self, enabled_in_cluster: Vec<String>) -> Value {
        let mut info = json!({
            "tagline": "Welcome to kong",
            "version": self.reported_version,
            "hostname": self.hostname,
            "node_id": self.node_id,
            "timers": { "running": 0, "pending": 7 },
            "plugins": {
                "available_on_server": super::plugins::available_on_server(&self.version, &self.reported_version),
                "enabled_in_cluster": enabled_in_cluster,
            },
            "lua_version": lua_version(&self.version),
            "configuration": self.configuration(),
            "pids": { "master": std::process::id(), "workers": [std::process::id()] },
        });
        if self.version.at_least(3, 6) {
            info["edition"] = json!(self.edition.as_str());
        }
        info
    }

    /// `GET /status` (`kong/api/routes/health.lua`).
    pub async fn status_info(&self) -> Value {
        let total = self.metrics.total_requests.load(Ordering::Relaxed);
        let active = self.metrics.active.load(Ordering::Relaxed).max(0);
        let mut info = json!({
            "memory": {
                "workers_lua_vms": [{ "http_allocated_gc": resident_mib(), "pid": std::process::id() }],
                "lua_shared_dicts": {
                    "kong": { "allocated_slabs": "0.04 MiB", "capacity": "5.00 MiB" },
                    "kong_db_cache": { "allocated_slabs": "0.80 MiB", "capacity": "128.00 MiB" },
                },
            },
            "server": {
                "total_requests": total,
                "connections_active": active,
                "connections_accepted": total,
                "connections_handled": total,
                "connections_reading": 0,
                "connections_writing": active,
                "connections_waiting": 0,
            },
        });
        match &self.store {
            Some(store) if self.role != Role::DataPlane => {
                let reachable = store.reachable().await;
                self.last_datastore_reachable
                    .store(reachable, Ordering::Relaxed);
                info["database"] = json!({ "reachable": reachable });
            }
            _ => info["configuration_hash"] = json!(self.config_hash()),
        }
        info
    }
}

fn lua_version(version: &KongVersion) -> &'static str {
    if version.at_least(3, 4) {
        "LuaJIT 2.1.0-20231117"
    } else if version.major >= 3 {
        "LuaJIT 2.1.0-20220411"
    } else {
        "LuaJIT 2.1.0-beta3"
    }
}

fn resident_mib() -> String {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    format!("{:.2} MiB", (pages * 4096) as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_ratio_is_exact_over_a_run() {
        let faults = Faults::default();
        let settings = FaultSettings {
            error_ratio: 0.3,
            ..Default::default()
        };
        let failed = (0..100).filter(|_| faults.next_fails(&settings)).count();
        assert_eq!(failed, 30);
        let all = FaultSettings {
            error_ratio: 1.0,
            ..Default::default()
        };
        assert!((0..10).all(|_| faults.next_fails(&all)));
    }
}
