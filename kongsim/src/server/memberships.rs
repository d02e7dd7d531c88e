//! Kong Enterprise's consumer-group membership, per workspace, with the
//! shapes and status codes of Kong's Admin API reference
//! (<https://docs.konghq.com/gateway/3.3.x/admin-api/consumer-groups/reference/>):
//!
//! - `GET /consumer_groups/{group}/consumers` → `{"consumers": [...]}`;
//! - `POST /consumer_groups/{group}/consumers` (`consumer`, a name or id)
//!   → 201 `{"consumer_group": {...}, "consumers": [...]}`;
//! - `GET /consumers/{consumer}/consumer_groups` → `{"consumer_groups": [...]}`;
//! - `POST /consumers/{consumer}/consumer_groups` (`group`)
//!   → 201 `{"consumer": {...}, "consumer_groups": [...]}`;
//! - `DELETE` of one membership from either side, or of all of a group's
//!   or a consumer's → 204.
//!
//! The reference documents neither paging nor the answer to a second add
//! of the same member: kongsim answers the whole list in one, and a
//! second add with Kong's unique-violation error (409). Deleting a group
//! or a consumer removes its memberships (`ON DELETE CASCADE`). Kong OSS
//! has none of these paths (404).

use super::admin::{parse_body, serves, At};
use super::entities::{self, ApiError, EntityDef, CONSUMERS, CONSUMER_GROUPS};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// Which side of a membership a path starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `/consumer_groups/{group}/consumers[/{consumer}]`
    Group,
    /// `/consumers/{consumer}/consumer_groups[/{group}]`
    Consumer,
}

impl Side {
    fn of(segments: &[&str]) -> Option<Self> {
        match segments {
            ["consumer_groups", _, "consumers", ..] => Some(Side::Group),
            ["consumers", _, "consumer_groups", ..] => Some(Side::Consumer),
            _ => None,
        }
    }

    /// The entity the path starts from, and the one it lists.
    fn defs(self) -> (&'static EntityDef, &'static EntityDef) {
        match self {
            Side::Group => (&CONSUMER_GROUPS, &CONSUMERS),
            Side::Consumer => (&CONSUMERS, &CONSUMER_GROUPS),
        }
    }

    /// The body field naming the other side on `POST`.
    fn body_field(self) -> &'static str {
        match self {
            Side::Group => "consumer",
            Side::Consumer => "group",
        }
    }
}

/// True for a membership path (the caller then answers with [`route`]).
pub fn is_membership(segments: &[&str]) -> bool {
    matches!(segments.len(), 3 | 4) && Side::of(segments).is_some()
}

/// Answers a membership path of the workspace in `at`.
pub async fn route(
    at: At<'_>,
    method: &Method,
    segments: &[&str],
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let side = Side::of(segments).ok_or_else(ApiError::not_found)?;
    let (own_def, other_def) = side.defs();
    let node = at.node;
    serves(node, &CONSUMER_GROUPS)?;
    let store = node.store.as_ref().ok_or_else(ApiError::not_found)?;
    let pg = store.pg().await?;
    let entities = at.entities(&pg);
    let own = entities
        .find(own_def, segments[1], None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let own_id = id_of(&own);
    let members = Members { pg: &pg, side };
    match (method, segments.get(3)) {
        (&Method::GET, None) => {
            let listed = members.list(&entities, &own_id).await?;
            Ok(node.json(StatusCode::OK, &json!({ other_def.name: listed })))
        }
        (&Method::POST, None) => {
            let input = parse_body(headers, body)?;
            let key = named_in(&input, side.body_field())?;
            let other = entities
                .find(other_def, &key, None)
                .await?
                .ok_or_else(ApiError::not_found)?;
            members.add(&own_id, &id_of(&other), &key).await?;
            let listed = members.list(&entities, &own_id).await?;
            let own_name = singular(own_def);
            Ok(node.json(
                StatusCode::CREATED,
                &json!({ own_name: own, other_def.name: listed }),
            ))
        }
        (&Method::DELETE, None) => {
            members.remove(&own_id, None).await?;
            Ok(node.empty(StatusCode::NO_CONTENT))
        }
        (&Method::DELETE, Some(key)) => {
            let other = entities
                .find(other_def, key, None)
                .await?
                .ok_or_else(ApiError::not_found)?;
            members.remove(&own_id, Some(&id_of(&other))).await?;
            Ok(node.empty(StatusCode::NO_CONTENT))
        }
        _ => Ok(node.message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")),
    }
}

/// The `consumer_group_consumers` rows of one group or one consumer.
struct Members<'a> {
    pg: &'a crate::pg::Pg,
    side: Side,
}

impl Members<'_> {
    /// The column holding the id the path starts from, and the other one.
    fn columns(&self) -> (&'static str, &'static str) {
        match self.side {
            Side::Group => ("consumer_group_id", "consumer_id"),
            Side::Consumer => ("consumer_id", "consumer_group_id"),
        }
    }

    /// The entities on the other side, oldest membership first.
    async fn list(
        &self,
        entities: &entities::Entities<'_>,
        own_id: &str,
    ) -> Result<Vec<Value>, ApiError> {
        let (own, other) = self.columns();
        let sql = format!(
            "SELECT {other}::text FROM consumer_group_consumers WHERE {own} = $1::text::uuid ORDER BY created_at, {other}"
        );
        let rows = self.pg.query(&sql, &[&own_id]).await?;
        let (_, other_def) = self.side.defs();
        let mut listed = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.get(0);
            if let Some(entity) = entities.find(other_def, &id, None).await? {
                listed.push(entity);
            }
        }
        Ok(listed)
    }

    async fn add(&self, own_id: &str, other_id: &str, key: &str) -> Result<(), ApiError> {
        let (group, consumer) = match self.side {
            Side::Group => (own_id, other_id),
            Side::Consumer => (other_id, own_id),
        };
        let added = self
            .pg
            .execute(
                "INSERT INTO consumer_group_consumers (consumer_group_id, consumer_id, ws_id, created_at) \
                 SELECT $1::text::uuid, $2::text::uuid, g.ws_id, CURRENT_TIMESTAMP(0) \
                 FROM consumer_groups g WHERE g.id = $1::text::uuid",
                &[&group, &consumer],
            )
            .await;
        match added {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => {
                Err(ApiError::unique(self.side.body_field(), &json!(key)))
            }
            Err(e) => Err(ApiError::database(&e)),
        }
    }

    /// One membership, or (`other_id` None) all of the group's or consumer's.
    async fn remove(&self, own_id: &str, other_id: Option<&str>) -> Result<(), ApiError> {
        let (own, other) = self.columns();
        let sql = format!(
            "DELETE FROM consumer_group_consumers WHERE {own} = $1::text::uuid AND ($2::text IS NULL OR {other} = $2::text::uuid)"
        );
        self.pg.execute(&sql, &[&own_id, &other_id]).await?;
        Ok(())
    }
}

fn id_of(entity: &Value) -> String {
    entity
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `consumer_group` / `consumer`, the key of the entity the path starts
/// from in a `POST` answer.
fn singular(def: &EntityDef) -> &'static str {
    match def.name {
        "consumer_groups" => "consumer_group",
        _ => "consumer",
    }
}

/// The name or id in the body's `field`.
fn named_in(input: &Value, field: &str) -> Result<String, ApiError> {
    match input.get(field) {
        Some(Value::String(key)) if !key.is_empty() => Ok(key.clone()),
        _ => {
            let mut fields = serde_json::Map::new();
            fields.insert(field.to_string(), json!("required field missing"));
            Err(ApiError::schema_violation(fields))
        }
    }
}
