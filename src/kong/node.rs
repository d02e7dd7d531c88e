//! A Kong node's facts from `GET /` and `GET /status`, across 2.8-era and
//! 3.x response shapes.

use super::client::{KongClient, KongError};
use crate::version::{Edition, KongVersion};
use serde_json::Value as Json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Traditional,
    ControlPlane,
    DataPlane,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Traditional => "traditional",
            Role::ControlPlane => "control_plane",
            Role::DataPlane => "data_plane",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    pub version: KongVersion,
    pub edition: Edition,
    pub hostname: String,
    pub node_id: String,
    /// "postgres", "off" (DB-less), or what an old node reports.
    pub database: String,
    pub role: Role,
    pub plugins_available: Vec<String>,
    pub plugins_enabled: Vec<String>,
    /// `None` when the node has no database (DB-less, data plane).
    pub database_reachable: Option<bool>,
    /// DB-less nodes and data planes: hash of the loaded configuration.
    pub configuration_hash: Option<String>,
    /// Kong Enterprise's `vitals` setting: Vitals keeps its metrics in the
    /// database. Community nodes have no such setting (false).
    pub vitals_enabled: bool,
    /// `wasm = on` (3.4+): only then does Kong serve `/filter-chains`.
    pub wasm_enabled: bool,
}

impl KongClient {
    /// Reads `GET /` and `GET /status`.
    pub async fn node_info(&self) -> Result<NodeInfo, KongError> {
        let root = self.get_json("/").await?;
        let status = self.get_json("/status").await?;
        parse_node_info(self.base_url().as_str(), &root, &status)
    }
}

impl KongClient {
    /// `GET /` alone: what the node is and has, without its status (the
    /// fields `GET /status` gives are left unknown).
    pub async fn root_info(&self) -> Result<NodeInfo, KongError> {
        let root = self.get_json("/").await?;
        parse_node_info(self.base_url().as_str(), &root, &Json::Null)
    }
}

pub fn parse_node_info(url: &str, root: &Json, status: &Json) -> Result<NodeInfo, KongError> {
    let not_kong = |reason: &str| KongError::NotKong {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let raw_version = root
        .get("version")
        .and_then(Json::as_str)
        .ok_or_else(|| not_kong("`GET /` has no \"version\" field"))?;
    if root
        .get("configuration")
        .and_then(Json::as_object)
        .is_none()
    {
        return Err(not_kong("`GET /` has no \"configuration\" object"));
    }
    let version: KongVersion = raw_version.parse().map_err(|e| {
        not_kong(&format!(
            "its version {raw_version:?} is not a Kong version ({e})"
        ))
    })?;
    let config = &root["configuration"];
    Ok(NodeInfo {
        version,
        edition: edition(root, raw_version, &version),
        hostname: str_field(root, "hostname"),
        node_id: str_field(root, "node_id"),
        database: config
            .get("database")
            .and_then(Json::as_str)
            .unwrap_or("postgres")
            .to_string(),
        role: match config.get("role").and_then(Json::as_str) {
            Some("control_plane") => Role::ControlPlane,
            Some("data_plane") => Role::DataPlane,
            _ => Role::Traditional,
        },
        plugins_available: available_plugins(root),
        plugins_enabled: enabled_plugins(root),
        database_reachable: status
            .pointer("/database/reachable")
            .and_then(Json::as_bool),
        configuration_hash: status
            .get("configuration_hash")
            .and_then(Json::as_str)
            .map(str::to_string),
        vitals_enabled: config.get("vitals").is_some_and(is_on),
        wasm_enabled: config.get("wasm").is_some_and(is_on),
    })
}

/// Kong renders boolean settings as JSON booleans in `GET /`; the spellings
/// kong.conf accepts are tolerated in case a proxy or old node passes the
/// raw text through.
fn is_on(value: &Json) -> bool {
    match value {
        Json::Bool(on) => *on,
        Json::String(text) => matches!(text.as_str(), "on" | "true"),
        _ => false,
    }
}

/// `edition` exists from 3.6; before, the version string is the only hint.
fn edition(root: &Json, raw_version: &str, version: &KongVersion) -> Edition {
    match root.get("edition").and_then(Json::as_str) {
        Some("enterprise") => Edition::Enterprise,
        Some(_) => Edition::Community,
        None if raw_version.contains("enterprise") => Edition::Enterprise,
        None => version.edition_hint(),
    }
}

fn str_field(root: &Json, key: &str) -> String {
    root.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// 3.x: name → {version, priority}; 2.8: name → true. Either way the keys.
fn available_plugins(root: &Json) -> Vec<String> {
    let mut names: Vec<String> = root
        .pointer("/plugins/available_on_server")
        .and_then(Json::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn enabled_plugins(root: &Json) -> Vec<String> {
    let mut names: Vec<String> = root
        .pointer("/plugins/enabled_in_cluster")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root_3x() -> Json {
        json!({
            "tagline": "Welcome to kong", "version": "3.6.1", "edition": "community",
            "hostname": "kong-x", "node_id": "6a8c", "lua_version": "LuaJIT 2.1.0",
            "plugins": {"available_on_server": {"key-auth": {"version": "3.6.1", "priority": 1250}, "acl": {"version": "3.6.1", "priority": 950}},
                        "enabled_in_cluster": ["key-auth", "key-auth"]},
            "configuration": {"database": "postgres", "role": "traditional"}
        })
    }

    #[test]
    fn reads_3x_shapes() {
        let n =
            parse_node_info("u", &root_3x(), &json!({"database": {"reachable": true}})).unwrap();
        assert_eq!(n.version.to_string(), "3.6.1");
        assert_eq!(n.edition, Edition::Community);
        assert_eq!(n.plugins_available, vec!["acl", "key-auth"]);
        assert_eq!(n.plugins_enabled, vec!["key-auth"]);
        assert_eq!(n.database_reachable, Some(true));
        assert_eq!(n.configuration_hash, None);
        assert!(!n.vitals_enabled, "a community node has no Vitals");
    }

    #[test]
    fn reads_vitals_from_an_enterprise_configuration() {
        let status = json!({"database": {"reachable": true}});
        let mut root = root_3x();
        root["edition"] = json!("enterprise");
        root["version"] = json!("3.4.3.5");
        root["configuration"]["vitals"] = json!(true);
        let on = parse_node_info("u", &root, &status).unwrap();
        assert_eq!(on.edition, Edition::Enterprise);
        assert!(on.vitals_enabled);
        root["configuration"]["vitals"] = json!(false);
        assert!(!parse_node_info("u", &root, &status).unwrap().vitals_enabled);
        root["configuration"]["vitals"] = json!("on");
        assert!(parse_node_info("u", &root, &status).unwrap().vitals_enabled);
        root["configuration"]["vitals"] = json!("off");
        assert!(!parse_node_info("u", &root, &status).unwrap().vitals_enabled);
    }

    #[test]
    fn reads_28_shapes_without_edition_and_with_boolean_plugin_map() {
        let root = json!({
            "tagline": "Welcome to kong", "version": "2.8.1.1-enterprise-edition", "hostname": "h", "node_id": "n",
            "plugins": {"available_on_server": {"acl": true, "cors": true}, "enabled_in_cluster": []},
            "configuration": {"database": "off", "role": "data_plane"}
        });
        let n = parse_node_info(
            "u",
            &root,
            &json!({"configuration_hash": "0123456789abcdef0123456789abcdef"}),
        )
        .unwrap();
        assert_eq!(n.version.to_string(), "2.8.1.1");
        assert_eq!(n.edition, Edition::Enterprise);
        assert_eq!(n.role, Role::DataPlane);
        assert_eq!(n.plugins_available, vec!["acl", "cors"]);
        assert_eq!(n.database_reachable, None);
        assert_eq!(
            n.configuration_hash.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert!(!n.vitals_enabled, "no `vitals` key: off");
    }

    #[test]
    fn a_json_server_that_is_not_kong_is_named_as_such() {
        let err = parse_node_info("http://x/", &json!({"status": "ok"}), &json!({})).unwrap_err();
        assert!(matches!(err, KongError::NotKong { .. }), "{err}");
        let err = parse_node_info(
            "http://x/",
            &json!({"version": "banana", "configuration": {}}),
            &json!({}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("banana"));
    }
}
