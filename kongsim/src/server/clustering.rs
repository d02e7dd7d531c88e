//! `clustering_data_planes` as a control plane sees it: rows listed by
//! `GET /clustering/data-planes` with the fields the node's version has,
//! and (through the test-only control API) rows registered the way a
//! connecting data plane would register itself.

use super::entities::{encode_offset, ApiError, Page};
use crate::pg::Pg;
use crate::version::KongVersion;
use base64::Engine as _;
use serde_json::{json, Value};

/// `cluster_data_plane_purge_delay` default: 14 days.
const PURGE_DELAY_SECS: u64 = 1_209_600;

pub async fn page(
    pg: &Pg,
    version: &KongVersion,
    size: usize,
    offset: Option<&str>,
) -> Result<Page<Value>, ApiError> {
    let after = match offset {
        Some(token) => Some(decode(token).ok_or_else(|| ApiError::invalid_offset(token))?),
        None => None,
    };
    let mut fields = String::from(
        "'id', id, 'ip', ip, 'hostname', hostname, 'version', version, 'sync_status', sync_status, \
         'config_hash', config_hash, 'last_seen', floor(extract(epoch from last_seen))::bigint",
    );
    if version.at_least(3, 4) {
        fields.push_str(", 'updated_at', floor(extract(epoch from updated_at))::bigint");
    }
    if version.at_least(3, 6) {
        fields.push_str(", 'labels', labels, 'cert_details', cert_details");
    }
    if version.at_least(3, 9) {
        fields.push_str(", 'rpc_capabilities', rpc_capabilities");
    }
    let sql = format!(
        "SELECT jsonb_build_object({fields})::text FROM clustering_data_planes \
         WHERE (ttl IS NULL OR ttl >= CURRENT_TIMESTAMP) AND ($1::text IS NULL OR id > $1::text::uuid) \
         ORDER BY id LIMIT $2"
    );
    let limit = (size + 1) as i64;
    let rows = pg.query(&sql, &[&after, &limit]).await?;
    let mut data: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.get::<_, Option<String>>(0))
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    let offset = if data.len() > size {
        data.truncate(size);
        data.last()
            .and_then(|d| d.get("id"))
            .and_then(Value::as_str)
            .map(encode_offset)
    } else {
        None
    };
    Ok(Page { data, offset })
}

fn decode(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let id = value.get(0)?.as_str()?;
    uuid::Uuid::parse_str(id).ok().map(|_| id.to_string())
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct DataPlaneRegistration {
    pub id: Option<String>,
    pub hostname: String,
    pub ip: String,
    pub version: String,
    pub sync_status: Option<String>,
    pub config_hash: Option<String>,
    pub labels: Option<Value>,
    pub cert_details: Option<Value>,
    pub rpc_capabilities: Option<Vec<String>>,
}

/// The `sync_status` a control plane records for a data plane of
/// `dp_version` (`check_kong_version_compatibility`): same major, and a DP
/// minor no newer than the CP's; patch levels are ignored.
pub fn sync_status_for(cp: &KongVersion, dp_version: &str) -> &'static str {
    let mut parts = dp_version.split(['.', '-']).map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) if major == cp.major && minor <= cp.minor => "normal",
        _ => "kong_version_incompatible",
    }
}

pub async fn register(
    pg: &Pg,
    cp: &KongVersion,
    dp: DataPlaneRegistration,
) -> Result<Value, ApiError> {
    let id = match dp.id.as_deref() {
        Some(id) if uuid::Uuid::parse_str(id).is_ok() => id.to_string(),
        Some(_) => {
            return Err(ApiError {
                status: 400,
                body: json!({ "message": "id must be a UUID" }),
            });
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let sync_status = dp
        .sync_status
        .clone()
        .unwrap_or_else(|| sync_status_for(cp, &dp.version).to_string());
    let mut row = json!({
        "id": id,
        "hostname": dp.hostname,
        "ip": dp.ip,
        "version": dp.version,
        "sync_status": sync_status,
        "config_hash": dp.config_hash.clone().unwrap_or_else(|| super::node::EMPTY_CONFIG_HASH.to_string()),
    });
    if cp.at_least(3, 6) {
        row["labels"] = dp.labels.clone().unwrap_or(Value::Null);
        row["cert_details"] = dp.cert_details.clone().unwrap_or(Value::Null);
    }
    if cp.at_least(3, 9) {
        row["rpc_capabilities"] = dp
            .rpc_capabilities
            .clone()
            .map(Value::from)
            .unwrap_or(Value::Null);
    }
    let columns: Vec<&str> = row
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let cols = columns.join(", ");
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| **c != "id")
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    let touch_updated = if cp.at_least(3, 4) {
        ", updated_at = EXCLUDED.updated_at"
    } else {
        ""
    };
    let updated_col = if cp.at_least(3, 4) {
        ", updated_at"
    } else {
        ""
    };
    let updated_val = if cp.at_least(3, 4) {
        ", CURRENT_TIMESTAMP(0)"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO clustering_data_planes ({cols}, last_seen, ttl{updated_col}) \
         SELECT {cols}, CURRENT_TIMESTAMP(0), CURRENT_TIMESTAMP + make_interval(secs => {PURGE_DELAY_SECS}){updated_val} \
           FROM json_populate_record(NULL::clustering_data_planes, $1::text::json) \
         ON CONFLICT (id) DO UPDATE SET {}, last_seen = EXCLUDED.last_seen, ttl = EXCLUDED.ttl{touch_updated}",
        updates.join(", ")
    );
    let payload = row.to_string();
    pg.execute(&sql, &[&payload]).await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_plane_compatibility_follows_kong_rules() {
        let cp = KongVersion::parse("3.9.1").unwrap();
        assert_eq!(sync_status_for(&cp, "3.7.0"), "normal");
        assert_eq!(sync_status_for(&cp, "3.9.2"), "normal");
        assert_eq!(sync_status_for(&cp, "3.9.0.1"), "normal");
        assert_eq!(sync_status_for(&cp, "3.10.0"), "kong_version_incompatible");
        assert_eq!(sync_status_for(&cp, "2.8.5"), "kong_version_incompatible");
        assert_eq!(sync_status_for(&cp, "garbage"), "kong_version_incompatible");
    }
}
