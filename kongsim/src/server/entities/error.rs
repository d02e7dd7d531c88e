//! Kong's error bodies (`kong/db/errors.lua`): `code`, `name`, `message`,
//! `fields`, with their HTTP status.

use crate::pg::PgError;
use serde_json::{json, Map, Value};

/// Kong's error body and HTTP status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    pub(super) fn new(
        status: u16,
        code: u64,
        name: &str,
        message: String,
        fields: Option<Value>,
    ) -> Self {
        let mut body = json!({ "code": code, "name": name, "message": message });
        if let Some(fields) = fields {
            body["fields"] = fields;
        }
        Self { status, body }
    }

    pub fn not_found() -> Self {
        Self {
            status: 404,
            body: json!({ "message": "Not found" }),
        }
    }

    /// Kong's "schema violation" (code 2) from per-field errors.
    pub fn schema_violation(fields: Map<String, Value>) -> Self {
        let parts: Vec<String> = fields
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("@entity", Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                (k, Value::String(s)) => format!("{k}: {s}"),
                (k, other) => format!("{k}: {other}"),
            })
            .collect();
        Self::new(
            400,
            2,
            "schema violation",
            format!("schema violation ({})", parts.join("; ")),
            Some(Value::Object(fields)),
        )
    }

    pub(super) fn field(field: &str, message: &str) -> Self {
        let mut fields = Map::new();
        fields.insert(field.to_string(), json!(message));
        Self::schema_violation(fields)
    }

    pub(super) fn entity_check(message: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("@entity".into(), json!([message]));
        Self::schema_violation(fields)
    }

    pub fn invalid_size() -> Self {
        Self::new(
            400,
            9,
            "invalid size",
            "size must be an integer between 1 and 1000".into(),
            None,
        )
    }

    pub fn invalid_offset(offset: &str) -> Self {
        Self::new(
            400,
            7,
            "invalid offset",
            format!("'{offset}' is not a valid offset: bad base64 encoding"),
            None,
        )
    }

    pub fn unique(field: &str, value: &Value) -> Self {
        let rendered = match value {
            Value::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        };
        let mut fields = Map::new();
        fields.insert(field.to_string(), value.clone());
        Self::new(
            409,
            5,
            "unique constraint violation",
            format!("UNIQUE violation detected on '{{{field}={rendered}}}'"),
            Some(Value::Object(fields)),
        )
    }

    pub(super) fn foreign_missing(field: &str, target: &str, id: &str) -> Self {
        let mut fields = Map::new();
        fields.insert(field.to_string(), json!({ "id": id }));
        Self::new(
            400,
            4,
            "foreign key violation",
            format!("the foreign key '{{id=\"{id}\"}}' does not reference an existing '{target}' entity."),
            Some(Value::Object(fields)),
        )
    }

    pub(super) fn referenced_by(entity: &str, referencing: &str) -> Self {
        Self::new(
            400,
            4,
            "foreign key violation",
            format!("an existing '{referencing}' entity references this '{entity}' entity"),
            Some(json!({ "@referenced_by": referencing })),
        )
    }

    pub fn database(e: &PgError) -> Self {
        Self::new(500, 8, "database error", e.to_string(), None)
    }
}

impl From<PgError> for ApiError {
    fn from(e: PgError) -> Self {
        ApiError::database(&e)
    }
}
