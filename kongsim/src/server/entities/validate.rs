//! Validation of an entity before it is stored, as Kong's schemas do it:
//! field types and defaults, foreign keys, and the entity checks
//! (`entity_checks` in `kong/db/schema/entities/*.lua`) kongsim models.

use super::{by_name, normalize_target, ApiError, Entities, EntityDef, Field, Kind};
use crate::conf::KongConf;
use serde_json::{json, Map, Value};

impl Entities<'_> {
    /// Validates `input` against the entity's fields and fills defaults,
    /// returning column name → value for storage.
    pub(super) async fn complete(
        &self,
        def: &EntityDef,
        mut input: Map<String, Value>,
        existing: Option<&Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        for key in ["id", "created_at", "updated_at"] {
            input.remove(key);
        }
        if def.name == "services" {
            expand_service_url(&mut input)?;
        }
        if def.name == "targets" {
            if let Some(Value::String(target)) = input.get("target") {
                let normalized = normalize_target(target);
                input.insert("target".into(), json!(normalized));
            }
        }
        let mut errors = Map::new();
        for key in input.keys() {
            if !self.fields(def).any(|f| f.name == key) {
                errors.insert(key.clone(), json!("unknown field"));
            }
        }
        let mut record = Map::new();
        for field in self.fields(def) {
            let value = match input.get(field.name) {
                Some(v) => v.clone(),
                // Kong's `utils.random_string()`: 32 hex characters.
                None if field.auto && existing.is_none() => {
                    json!(uuid::Uuid::new_v4().simple().to_string())
                }
                None => serde_json::from_str(field.default).unwrap_or(Value::Null),
            };
            if value.is_null() {
                if field.required {
                    errors.insert(field.name.into(), json!("required field missing"));
                }
                record.insert(field.column.into(), Value::Null);
                continue;
            }
            if let Kind::Foreign(target) = field.kind {
                let id = self.resolve_foreign(field, target, &value).await?;
                record.insert(field.column.into(), id);
                continue;
            }
            match check_kind(field, value) {
                Ok(stored) => {
                    record.insert(field.column.into(), stored);
                }
                Err(message) => {
                    errors.insert(field.name.into(), json!(message));
                }
            }
        }
        if errors.is_empty() {
            self.entity_checks(def, &record, existing)?;
        }
        if !errors.is_empty() {
            return Err(ApiError::schema_violation(errors));
        }
        derive_columns(def, &mut record)?;
        Ok(record)
    }
}

/// Checks a value against its field's type; foreign keys are resolved
/// separately because that needs the database.
fn check_kind(field: &Field, value: Value) -> Result<Value, String> {
    match field.kind {
        Kind::Text => value
            .as_str()
            .map(|_| value.clone())
            .ok_or_else(|| "expected a string".to_string()),
        Kind::Integer => {
            let n = value
                .as_i64()
                .ok_or_else(|| "expected an integer".to_string())?;
            if field.name == "weight" && !(0..=65535).contains(&n) {
                return Err("value should be between 0 and 65535".into());
            }
            Ok(value)
        }
        Kind::Boolean => value
            .as_bool()
            .map(|_| value.clone())
            .ok_or_else(|| "expected a boolean".to_string()),
        Kind::TextArray => match &value {
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(value),
            _ => Err("expected a set".into()),
        },
        Kind::UuidArray => match &value {
            Value::Array(items)
                if items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())) =>
            {
                Ok(value)
            }
            _ => Err("expected an array of UUIDs".into()),
        },
        Kind::Json | Kind::Foreign(_) => Ok(value),
    }
}

impl Entities<'_> {
    /// `{"id": ...}` or `{"name": ...}` to the referenced entity's id.
    async fn resolve_foreign(
        &self,
        field: &Field,
        target: &'static str,
        value: &Value,
    ) -> Result<Value, ApiError> {
        let key = value
            .get("id")
            .or_else(|| value.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::field(field.name, "expected a record with an 'id'"))?;
        let def = by_name(target).ok_or_else(ApiError::not_found)?;
        match self.find(def, key, None).await? {
            Some(found) => Ok(found.get("id").cloned().unwrap_or(Value::Null)),
            None => Err(ApiError::foreign_missing(field.name, target, key)),
        }
    }

    fn entity_checks(
        &self,
        def: &EntityDef,
        record: &Map<String, Value>,
        _existing: Option<&Value>,
    ) -> Result<(), ApiError> {
        let set = |name: &str| {
            record
                .get(name)
                .is_some_and(|v| !v.is_null() && v != &json!([]))
        };
        match def.name {
            "routes" => {
                let protocols: Vec<&str> = record
                    .get("protocols")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let http_like = protocols.iter().any(|p| *p == "http" || *p == "https");
                if http_like
                    && !["methods", "hosts", "headers", "paths", "snis"]
                        .iter()
                        .any(|n| set(n))
                {
                    let shown = if protocols.contains(&"https") {
                        "https"
                    } else {
                        "http"
                    };
                    return Err(ApiError::entity_check(&format!(
                        "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is '{shown}'"
                    )));
                }
            }
            "consumers" if !set("username") && !set("custom_id") => {
                return Err(ApiError::entity_check(
                    "at least one of these fields must be non-empty: 'custom_id', 'username'",
                ));
            }
            "plugins" => {
                let name = record
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !crate::server::plugins::is_available(self.version, name) {
                    return Err(ApiError::field(
                        "name",
                        &format!("plugin '{name}' not enabled; add it to the 'plugins' configuration property"),
                    ));
                }
            }
            "filter_chains" => self.check_filter_chain(record)?,
            "vaults" | "vaults_beta" => check_vault(record)?,
            "keys" => check_key_format(record)?,
            _ => {}
        }
        Ok(())
    }

    /// `filter_chains.lua`'s entity checks: exactly one of route and
    /// service, at least one filter, each one a filter the node has (the
    /// `.wasm` files of `wasm_filters_path`).
    fn check_filter_chain(&self, record: &Map<String, Value>) -> Result<(), ApiError> {
        let set = |name: &str| record.get(name).is_some_and(|v| !v.is_null());
        match (set("route_id"), set("service_id")) {
            (true, true) => {
                return Err(ApiError::entity_check(
                    "these fields are mutually exclusive: 'service', 'route'",
                ))
            }
            (false, false) => {
                return Err(ApiError::entity_check(
                    "at least one of these fields must be non-empty: 'service', 'route'",
                ))
            }
            _ => {}
        }
        let filters = record
            .get("filters")
            .and_then(Value::as_array)
            .filter(|f| !f.is_empty())
            .ok_or_else(|| ApiError::field("filters", "length must be at least 1"))?;
        let known = wasm_filter_names(self.conf);
        for filter in filters {
            let name = filter.get("name").and_then(Value::as_str).unwrap_or("");
            if !known.iter().any(|k| k == name) {
                return Err(ApiError::field("filters", "no such filter"));
            }
        }
        Ok(())
    }
}

/// Columns Kong fills on write from other fields: cache keys, and a CA
/// certificate's digest (`transformations` in `ca_certificates.lua`).
fn derive_columns(def: &EntityDef, record: &mut Map<String, Value>) -> Result<(), ApiError> {
    match def.name {
        "acls" => {
            let key = acl_cache_key(record);
            record.insert("cache_key".into(), json!(key));
        }
        "keys" => {
            let key = key_cache_key(record);
            record.insert("cache_key".into(), json!(key));
        }
        "ca_certificates" => {
            let cert = record.get("cert").and_then(Value::as_str).unwrap_or("");
            let digest = certificate_digest(cert).ok_or_else(|| {
                ApiError::field("cert", "invalid certificate: could not parse PEM")
            })?;
            record.insert("cert_digest".into(), json!(digest));
        }
        _ => {}
    }
    Ok(())
}

/// SHA-256 of the certificate's DER, in hex, as Kong's `cert_digest`.
fn certificate_digest(pem: &str) -> Option<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END CERTIFICATE-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()
        .filter(|d| !d.is_empty())?;
    Some(
        sha2::Sha256::digest(&der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// The vaults a node has installed: OSS bundles only `env`
/// (`kong/vaults/env`); a vault's `prefix` may not shadow one.
const INSTALLED_VAULTS: &[&str] = &["env"];

fn check_vault(record: &Map<String, Value>) -> Result<(), ApiError> {
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
    let name = text("name");
    if !INSTALLED_VAULTS.contains(&name) {
        return Err(ApiError::field(
            "name",
            &format!("vault '{name}' is not installed"),
        ));
    }
    if INSTALLED_VAULTS.contains(&text("prefix")) {
        return Err(ApiError::field(
            "prefix",
            &format!("must not be one of: {}", INSTALLED_VAULTS.join(", ")),
        ));
    }
    Ok(())
}

/// `keys.lua`: exactly one of `jwk` and `pem`.
fn check_key_format(record: &Map<String, Value>) -> Result<(), ApiError> {
    let set = |name: &str| record.get(name).is_some_and(|v| !v.is_null());
    match (set("jwk"), set("pem")) {
        (true, true) => Err(ApiError::entity_check(
            "these fields are mutually exclusive: 'jwk', 'pem'",
        )),
        (false, false) => Err(ApiError::entity_check(
            "at least one of these fields must be non-empty: 'jwk', 'pem'",
        )),
        _ => Ok(()),
    }
}

/// Kong's cache key of a key: `keys:KID:SET::::WORKSPACE` (`cache_key =
/// { "kid", "set" }`).
fn key_cache_key(record: &Map<String, Value>) -> String {
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
    format!("keys:{}:{}::::", text("kid"), text("set_id"))
}

/// Kong's cache key of an ACL: `acls:CONSUMER:GROUP::::WORKSPACE`
/// (kongsim keeps no workspace on credentials).
fn acl_cache_key(record: &Map<String, Value>) -> String {
    let text = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    format!("acls:{}:{}::::", text("consumer_id"), text("group"))
}

/// The filters a node with wasm on has: the `.wasm` files in
/// `wasm_filters_path`, by file stem.
fn wasm_filter_names(conf: &KongConf) -> Vec<String> {
    let Some(dir) = conf.get("wasm_filters_path") else {
        return Vec::new();
    };
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Kong's `service.url` shorthand.
fn expand_service_url(input: &mut Map<String, Value>) -> Result<(), ApiError> {
    let Some(url) = input.remove("url") else {
        return Ok(());
    };
    let Some(url) = url.as_str() else {
        return Err(ApiError::field("url", "expected a string"));
    };
    let (protocol, rest) = url
        .split_once("://")
        .ok_or_else(|| ApiError::field("url", "missing host in url"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| ApiError::field("url", "invalid port"))?,
        ),
        None => (
            authority,
            if protocol == "https" || protocol == "grpcs" || protocol == "tls" {
                443
            } else {
                80
            },
        ),
    };
    if host.is_empty() {
        return Err(ApiError::field("url", "missing host in url"));
    }
    input.insert("protocol".into(), json!(protocol));
    input.insert("host".into(), json!(host));
    input.insert("port".into(), json!(port));
    input.insert("path".into(), path.map(|p| json!(p)).unwrap_or(Value::Null));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_url_expands_into_fields() {
        let mut input = Map::new();
        input.insert("url".into(), json!("https://api.example/v1"));
        expand_service_url(&mut input).unwrap();
        assert_eq!(input["protocol"], "https");
        assert_eq!(input["host"], "api.example");
        assert_eq!(input["port"], 443);
        assert_eq!(input["path"], "/v1");
    }
}
