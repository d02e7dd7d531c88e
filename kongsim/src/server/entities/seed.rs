//! TEST-ONLY: bulk creation for benchmarks at scale (kongsim's control
//! listener, `POST /seed`). Kong has no such endpoint.

use super::{as_object, ApiError, Entities, EntityDef};
use crate::pg::escape_identifier;
use serde_json::Value;

impl Entities<'_> {
    /// TEST-ONLY bulk seed: `count` copies of `template` in one statement,
    /// validated once as a POST would be, each with a fresh id and its
    /// endpoint key (`name`, `username`, `key`...) suffixed `-N` so unique
    /// keys stay unique. Returns how many rows were written.
    pub async fn create_many(
        &self,
        def: &EntityDef,
        template: &Value,
        count: i64,
    ) -> Result<u64, ApiError> {
        let record = self.complete(def, as_object(template)?, None).await?;
        let unique = def
            .endpoint_key
            .filter(|k| record.get(*k).is_some_and(|v| !v.is_null()));
        let columns: Vec<&String> = record.keys().collect();
        let selected: Vec<String> = columns
            .iter()
            .map(|c| {
                let c = escape_identifier(c);
                match unique {
                    Some(key) if escape_identifier(key) == c => format!("r.{c} || '-' || g"),
                    _ => format!("r.{c}"),
                }
            })
            .collect();
        let table = escape_identifier(def.name);
        let sql = format!(
            "INSERT INTO {table} (id, {cols}) SELECT gen_random_uuid(), {selected} \
             FROM json_populate_record(NULL::{table}, $1::text::json) r, generate_series(1, $2::bigint) g",
            cols = columns.iter().map(|c| escape_identifier(c)).collect::<Vec<_>>().join(", "),
            selected = selected.join(", ")
        );
        let payload = Value::Object(record.clone()).to_string();
        self.pg
            .execute(&sql, &[&payload, &count])
            .await
            .map_err(|e| self.write_error(def, &record, e))
    }
}
