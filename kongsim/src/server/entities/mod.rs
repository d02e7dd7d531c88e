//! Kong core entities over their real PostgreSQL tables: field lists with
//! Kong's defaults, validation with Kong's error shapes (`code`, `name`,
//! `message`, `fields`), and Kong's pagination (`data`, `next`, `offset`).
//!
//! Reads and writes go through `json_populate_record` / `to_jsonb`, so the
//! tables the migrations created are the only storage there is.
//! `defs.rs` lists the entities and their fields, `error.rs` Kong's error
//! bodies; this file reads and writes them.

mod defs;
mod error;
mod seed;

pub use defs::*;
pub use error::ApiError;

use crate::conf::KongConf;
use crate::pg::{escape_identifier, Pg, PgError};
use crate::version::KongVersion;
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// A parent scope such as `/upstreams/{u}/targets`: the foreign field that
/// must point at `id`, plus the path prefix for `next` links.
#[derive(Debug, Clone)]
pub struct Scope {
    pub field: &'static str,
    pub column: &'static str,
    pub id: String,
}

pub struct Entities<'a> {
    pub pg: &'a Pg,
    pub version: &'a KongVersion,
    pub conf: &'a KongConf,
}

pub struct Page {
    pub data: Vec<Value>,
    pub offset: Option<String>,
}

impl Entities<'_> {
    fn fields<'d>(&self, def: &'d EntityDef) -> impl Iterator<Item = &'d Field> + use<'d, '_> {
        let version = *self.version;
        def.fields
            .iter()
            .filter(move |f| version.at_least(f.since.0, f.since.1))
    }

    fn has_updated_at(&self, def: &EntityDef) -> bool {
        def.updated_at_since
            .is_some_and(|s| self.version.at_least(s.0, s.1))
    }

    fn select_sql(&self, def: &EntityDef) -> String {
        let epoch = |col: &str| {
            if def.millisecond_timestamps {
                format!("round(extract(epoch from t.{col})::numeric, 3)")
            } else {
                format!("floor(extract(epoch from t.{col}))::bigint")
            }
        };
        let mut extra = format!("'created_at', {}", epoch("created_at"));
        if self.has_updated_at(def) {
            extra.push_str(&format!(", 'updated_at', {}", epoch("updated_at")));
        }
        format!(
            "SELECT (to_jsonb(t) || jsonb_build_object({extra}))::text FROM {} t",
            escape_identifier(def.name)
        )
    }

    /// Turns a row (column names) into Kong's API shape (field names).
    fn to_api(&self, def: &EntityDef, row: &Value) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), row.get("id").cloned().unwrap_or(Value::Null));
        out.insert(
            "created_at".into(),
            row.get("created_at").cloned().unwrap_or(Value::Null),
        );
        if self.has_updated_at(def) {
            out.insert(
                "updated_at".into(),
                row.get("updated_at").cloned().unwrap_or(Value::Null),
            );
        }
        for field in self.fields(def) {
            let value = row.get(field.column).cloned().unwrap_or(Value::Null);
            let value = match (field.kind, value) {
                (Kind::Foreign(_), Value::Null) => Value::Null,
                (Kind::Foreign(_), id) => json!({ "id": id }),
                (_, v) => v,
            };
            out.insert(field.name.to_string(), value);
        }
        Value::Object(out)
    }

    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Value>, ApiError> {
        let rows = self.pg.query(sql, params).await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(0))
            .filter_map(|text| serde_json::from_str(&text).ok())
            .collect())
    }

    pub async fn page(
        &self,
        def: &EntityDef,
        scope: Option<&Scope>,
        size: usize,
        offset: Option<&str>,
    ) -> Result<Page, ApiError> {
        let after = match offset {
            Some(token) => {
                Some(decode_offset(token).ok_or_else(|| ApiError::invalid_offset(token))?)
            }
            None => None,
        };
        let limit = (size + 1) as i64;
        let scope_id = scope.map(|s| s.id.clone());
        let scope_column = scope.map(|s| s.column).unwrap_or("id");
        let sql = format!(
            "{} WHERE ($1::text IS NULL OR t.{col} = $1::text::uuid) AND ($2::text IS NULL OR t.id > $2::text::uuid) ORDER BY t.id LIMIT $3",
            self.select_sql(def),
            col = escape_identifier(scope_column)
        );
        let mut rows = self.rows(&sql, &[&scope_id, &after, &limit]).await?;
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last()
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
                .map(encode_offset)
        } else {
            None
        };
        Ok(Page {
            data: rows.iter().map(|r| self.to_api(def, r)).collect(),
            offset: next,
        })
    }

    /// Looks an entity up by id, or by its endpoint key (e.g. a service
    /// name, or a target address within its upstream).
    pub async fn find(
        &self,
        def: &EntityDef,
        key: &str,
        scope: Option<&Scope>,
    ) -> Result<Option<Value>, ApiError> {
        let (column, value) = if uuid::Uuid::parse_str(key).is_ok() {
            ("id", key.to_string())
        } else if let Some(endpoint_key) = def.endpoint_key {
            let value = if def.name == "targets" {
                normalize_target(key)
            } else {
                key.to_string()
            };
            (endpoint_key, value)
        } else {
            return Ok(None);
        };
        let scope_id = scope.map(|s| s.id.clone());
        let scope_column = scope.map(|s| s.column).unwrap_or("id");
        let sql = format!(
            "{} WHERE t.{col}::text = $1 AND ($2::text IS NULL OR t.{scol} = $2::text::uuid) LIMIT 1",
            self.select_sql(def),
            col = escape_identifier(column),
            scol = escape_identifier(scope_column)
        );
        let rows = self.rows(&sql, &[&value, &scope_id]).await?;
        Ok(rows.first().map(|r| self.to_api(def, r)))
    }

    pub async fn create(
        &self,
        def: &EntityDef,
        body: &Value,
        scope: Option<&Scope>,
    ) -> Result<Value, ApiError> {
        let mut input = as_object(body)?;
        if let Some(scope) = scope {
            input.insert(scope.field.to_string(), json!({ "id": scope.id }));
        }
        let id = match input.get("id").and_then(Value::as_str) {
            Some(id) if uuid::Uuid::parse_str(id).is_ok() => id.to_string(),
            Some(_) => return Err(ApiError::field("id", "expected a valid UUID")),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let record = self.complete(def, input, None).await?;
        self.insert(def, &id, &record).await?;
        self.find(def, &id, None)
            .await?
            .ok_or_else(ApiError::not_found)
    }

    /// PATCH: merges `body` into the stored entity, then validates the whole.
    pub async fn update(
        &self,
        def: &EntityDef,
        existing: &Value,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let patch = as_object(body)?;
        let mut merged = as_object(existing)?;
        for (key, value) in patch {
            let deep = self
                .fields(def)
                .any(|f| f.name == key && f.kind == Kind::Json);
            match (deep, merged.get_mut(&key), value) {
                (true, Some(Value::Object(old)), Value::Object(new)) => merge_objects(old, new),
                (_, _, value) => {
                    merged.insert(key, value);
                }
            }
        }
        let id = existing
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let record = self.complete(def, merged, Some(existing)).await?;
        self.replace(def, &id, &record).await?;
        self.find(def, &id, None)
            .await?
            .ok_or_else(ApiError::not_found)
    }

    /// PUT: creates or replaces the entity at `key` with exactly `body`
    /// (plus defaults).
    pub async fn upsert(
        &self,
        def: &EntityDef,
        key: &str,
        body: &Value,
        scope: Option<&Scope>,
    ) -> Result<(u16, Value), ApiError> {
        let mut input = as_object(body)?;
        if let Some(scope) = scope {
            input.insert(scope.field.to_string(), json!({ "id": scope.id }));
        }
        match self.find(def, key, scope).await? {
            Some(existing) => {
                let id = existing
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                input.remove("id");
                let record = self.complete(def, input, Some(&existing)).await?;
                self.replace(def, &id, &record).await?;
                Ok((
                    200,
                    self.find(def, &id, None)
                        .await?
                        .ok_or_else(ApiError::not_found)?,
                ))
            }
            None => {
                if uuid::Uuid::parse_str(key).is_ok() {
                    input.insert("id".into(), json!(key));
                } else if let Some(endpoint_key) = def.endpoint_key {
                    input.insert(endpoint_key.into(), json!(key));
                } else {
                    return Err(ApiError::not_found());
                }
                Ok((200, self.create(def, &Value::Object(input), None).await?))
            }
        }
    }

    pub async fn delete(&self, def: &EntityDef, existing: &Value) -> Result<(), ApiError> {
        let id = existing
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let sql = format!(
            "DELETE FROM {} WHERE id = $1::text::uuid",
            escape_identifier(def.name)
        );
        match self.pg.execute(&sql, &[&id]).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_foreign_key_violation() => {
                let referencing = referencing_table(&e.message).unwrap_or("routes");
                Err(ApiError::referenced_by(def.name, referencing))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Validates `input` against the entity's fields and fills defaults,
    /// returning column name → value for storage.
    async fn complete(
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
        if def.name == "acls" {
            record.insert("cache_key".into(), json!(acl_cache_key(&record)));
        }
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
                if !super::plugins::is_available(self.version, name) {
                    return Err(ApiError::field(
                        "name",
                        &format!("plugin '{name}' not enabled; add it to the 'plugins' configuration property"),
                    ));
                }
            }
            "filter_chains" => self.check_filter_chain(record)?,
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

    async fn insert(
        &self,
        def: &EntityDef,
        id: &str,
        record: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let mut row = record.clone();
        row.insert("id".into(), json!(id));
        let columns: Vec<String> = row.keys().map(|c| escape_identifier(c)).collect();
        let table = escape_identifier(def.name);
        let sql = format!(
            "INSERT INTO {table} ({cols}) SELECT {cols} FROM json_populate_record(NULL::{table}, $1::text::json)",
            cols = columns.join(", ")
        );
        let payload = Value::Object(row).to_string();
        self.pg
            .execute(&sql, &[&payload])
            .await
            .map(|_| ())
            .map_err(|e| self.write_error(def, record, e))
    }

    async fn replace(
        &self,
        def: &EntityDef,
        id: &str,
        record: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let columns: Vec<String> = record.keys().map(|c| escape_identifier(c)).collect();
        let table = escape_identifier(def.name);
        let touch = if self.has_updated_at(def) {
            ", updated_at = CURRENT_TIMESTAMP(0)"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE {table} SET ({cols}) = (SELECT {cols} FROM json_populate_record(NULL::{table}, $1::text::json)){touch} WHERE id = $2::text::uuid",
            cols = columns.join(", ")
        );
        let payload = Value::Object(record.clone()).to_string();
        let id = id.to_string();
        self.pg
            .execute(&sql, &[&payload, &id])
            .await
            .map(|_| ())
            .map_err(|e| self.write_error(def, record, e))
    }

    fn write_error(&self, def: &EntityDef, record: &Map<String, Value>, e: PgError) -> ApiError {
        if e.is_unique_violation() {
            let field = unique_field(def, &e.message);
            let value = record.get(field).cloned().unwrap_or(Value::Null);
            return ApiError::unique(field, &value);
        }
        if e.is_foreign_key_violation() {
            if let Some(field) = self
                .fields(def)
                .find(|f| matches!(f.kind, Kind::Foreign(_)) && e.message.contains(f.column))
            {
                let id = record
                    .get(field.column)
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let Kind::Foreign(target) = field.kind else {
                    return ApiError::database(&e);
                };
                return ApiError::foreign_missing(field.name, target, id);
            }
        }
        ApiError::database(&e)
    }
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

fn as_object(value: &Value) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        _ => Err(ApiError::entity_check("expected a record")),
    }
}

fn merge_objects(old: &mut Map<String, Value>, new: Map<String, Value>) {
    for (key, value) in new {
        match (old.get_mut(&key), value) {
            (Some(Value::Object(o)), Value::Object(n)) => merge_objects(o, n),
            (_, value) => {
                old.insert(key, value);
            }
        }
    }
}

/// The column a PostgreSQL unique-violation message names (`services_name_key`).
fn unique_field(def: &EntityDef, message: &str) -> &'static str {
    def.fields
        .iter()
        .map(|f| f.name)
        .find(|name| {
            message.contains(&format!("{}_{}_key", def.name, name))
                || message.contains(&format!("_{name}_key"))
        })
        .unwrap_or("id")
}

/// The referencing table named in "update or delete on table "services"
/// violates foreign key constraint "routes_service_id_fkey" on table "routes"".
fn referencing_table(message: &str) -> Option<&'static str> {
    ALL.iter()
        .map(|d| d.name)
        .find(|name| message.ends_with(&format!("on table \"{name}\"")))
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

/// Kong appends the default target port 8000 when none is given.
pub fn normalize_target(target: &str) -> String {
    let has_port = if target.starts_with('[') {
        target.contains("]:")
    } else {
        target.contains(':')
    };
    if has_port {
        target.to_string()
    } else {
        format!("{target}:8000")
    }
}

pub fn encode_offset(id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(json!([id]).to_string())
}

fn decode_offset(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let id = value.get(0)?.as_str()?;
    uuid::Uuid::parse_str(id).ok().map(|_| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_and_reject_garbage() {
        let id = "7f1c2c5e-2b52-4a44-9bb2-1f5e1f0b7a11";
        assert_eq!(decode_offset(&encode_offset(id)).as_deref(), Some(id));
        assert_eq!(decode_offset("not base64!"), None);
    }

    #[test]
    fn targets_get_the_default_port() {
        assert_eq!(normalize_target("10.0.0.1"), "10.0.0.1:8000");
        assert_eq!(normalize_target("a.example:81"), "a.example:81");
        assert_eq!(normalize_target("[::1]"), "[::1]:8000");
    }

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

    #[test]
    fn schema_violation_message_lists_fields() {
        let mut fields = Map::new();
        fields.insert("host".into(), json!("required field missing"));
        let e = ApiError::schema_violation(fields);
        assert_eq!(
            e.body["message"],
            "schema violation (host: required field missing)"
        );
        assert_eq!(e.body["code"], 2);
    }
}
