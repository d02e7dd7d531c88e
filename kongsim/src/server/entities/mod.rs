//! Kong core entities over their real PostgreSQL tables: field lists with
//! Kong's defaults, validation with Kong's error shapes (`code`, `name`,
//! `message`, `fields`), and Kong's pagination (`data`, `next`, `offset`).
//!
//! Reads and writes go through `json_populate_record` / `row_to_json`, so the
//! tables the migrations created are the only storage there is.
//! `defs.rs` lists the entities and their fields, `error.rs` Kong's error
//! bodies; this file reads and writes them.

mod api_row;
mod defs;
mod error;
mod seed;
mod validate;

pub use api_row::ApiRow;
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
    /// Kong Enterprise keeps workspaceable entities per workspace: reads
    /// see only this workspace's rows and writes land in it. `None` (OSS)
    /// does not scope.
    pub workspace: Option<String>,
}

/// Matches a row of the requested workspace (`$N`, a workspace name; NULL
/// = no scoping). Rows written before a table had `ws_id` belong to
/// `default`, as Kong's 2.1 migration put them there.
fn workspace_filter(def: &EntityDef, param: usize) -> String {
    if !def.workspaceable() {
        // Global entities: every workspace sees them (the parameter is
        // still bound, so it must be used).
        return format!("(${param}::text IS NULL OR TRUE)");
    }
    format!(
        "(${param}::text IS NULL OR COALESCE(t.ws_id, (SELECT id FROM workspaces WHERE name = 'default')) = (SELECT id FROM workspaces WHERE name = ${param}::text))"
    )
}

/// A page of rows; an entity page holds each row already in Kong's API
/// shape as JSON text.
pub struct Page<Row = Box<serde_json::value::RawValue>> {
    pub data: Vec<Row>,
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

    /// A row as JSON (`row_to_json`, which costs PostgreSQL a third of
    /// what `to_jsonb` with a merge did on a 1,000-row page), then
    /// `created_at` and `updated_at` in Kong's epoch form (see
    /// [`Entities::rows`]).
    fn select_sql(&self, def: &EntityDef) -> String {
        let epoch = |col: &str| {
            if def.millisecond_timestamps {
                format!("round(extract(epoch from t.{col})::numeric, 3)::text")
            } else {
                format!("floor(extract(epoch from t.{col}))::bigint::text")
            }
        };
        let updated_at = if self.has_updated_at(def) {
            epoch("updated_at")
        } else {
            "NULL::text".to_string()
        };
        format!(
            "SELECT row_to_json(t)::text, {}, {updated_at} FROM {} t",
            epoch("created_at"),
            escape_identifier(def.name)
        )
    }

    /// Where each of `def`'s API fields comes from in a row: `id`, the
    /// timestamps, then the fields this version has.
    fn api_shape(&self, def: &EntityDef) -> api_row::Shape {
        use api_row::Source;
        let mut fields = vec![
            ("id", Source::Column("id")),
            ("created_at", Source::Column("created_at")),
        ];
        if self.has_updated_at(def) {
            fields.push(("updated_at", Source::Column("updated_at")));
        }
        fields.extend(self.fields(def).map(|f| match f.kind {
            Kind::Foreign(_) => (f.name, Source::Foreign(f.column)),
            _ => (f.name, Source::Column(f.column)),
        }));
        api_row::shape(fields)
    }

    /// The rows `sql` (from [`Entities::select_sql`]) selects, in `def`'s
    /// API shape.
    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        def: &EntityDef,
    ) -> Result<Vec<ApiRow>, ApiError> {
        let shape = self.api_shape(def);
        let rows = self.pg.query(sql, params).await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let epochs = [row.get(1), row.get(2)];
                api_row::api_row(&shape, row.get::<_, Option<&str>>(0)?, epochs)
            })
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
            "{} WHERE ($1::text IS NULL OR t.{col} = $1::text::uuid) AND ($2::text IS NULL OR t.id > $2::text::uuid) AND {ws} ORDER BY t.id LIMIT $3",
            self.select_sql(def),
            col = escape_identifier(scope_column),
            ws = workspace_filter(def, 4),
        );
        let mut rows = self
            .rows(&sql, &[&scope_id, &after, &limit, &self.workspace], def)
            .await?;
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().and_then(|r| r.id.as_deref()).map(encode_offset)
        } else {
            None
        };
        Ok(Page {
            data: rows.into_iter().map(|r| r.text).collect(),
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
            "{} WHERE t.{col}::text = $1 AND ($2::text IS NULL OR t.{scol} = $2::text::uuid) AND {ws} LIMIT 1",
            self.select_sql(def),
            col = escape_identifier(column),
            scol = escape_identifier(scope_column),
            ws = workspace_filter(def, 3),
        );
        let rows = self
            .rows(&sql, &[&value, &scope_id, &self.workspace], def)
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| serde_json::from_str(r.text.get()).ok()))
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

    async fn insert(
        &self,
        def: &EntityDef,
        id: &str,
        record: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let mut row = record.clone();
        row.insert("id".into(), json!(id));
        let columns: Vec<String> = row.keys().map(|c| escape_identifier(c)).collect();
        let (extra_columns, extra_values) = self.columns_kong_sets(def);
        let table = escape_identifier(def.name);
        let sql = format!(
            "INSERT INTO {table} ({cols}{extra_columns}) SELECT {cols}{extra_values} FROM json_populate_record(NULL::{table}, $1::text::json)",
            cols = columns.join(", ")
        );
        let payload = Value::Object(row).to_string();
        let workspace = self.workspace.clone().unwrap_or_default();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = if extra_values.contains("$2")
        {
            vec![&payload, &workspace]
        } else {
            vec![&payload]
        };
        self.pg
            .execute(&sql, &params)
            .await
            .map(|_| ())
            .map_err(|e| self.write_error(def, record, e))
    }

    /// Columns Kong sets itself on insert, whatever the table's defaults:
    /// the timestamps (some tables have no default) and, on Kong
    /// Enterprise, the workspace (`$2`). As `(", a, b", ", x, y")`.
    fn columns_kong_sets(&self, def: &EntityDef) -> (String, String) {
        let now = if def.millisecond_timestamps {
            "CURRENT_TIMESTAMP(3)"
        } else {
            "CURRENT_TIMESTAMP(0)"
        };
        let mut columns = vec![("created_at", now)];
        if self.has_updated_at(def) {
            columns.push(("updated_at", now));
        }
        if def.workspaceable() && self.workspace.is_some() {
            columns.push(("ws_id", "(SELECT id FROM workspaces WHERE name = $2::text)"));
        }
        columns.iter().fold(
            (String::new(), String::new()),
            |(mut names, mut values), (name, value)| {
                names.push_str(&format!(", {}", escape_identifier(name)));
                values.push_str(&format!(", {value}"));
                (names, values)
            },
        )
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
