//! The node's balancer: the target weights this node actually serves, and
//! how a target write reaches it in traditional mode. Kong broadcasts the
//! change as a cluster event (channel `balancer:targets`, not before
//! `db_update_propagation` seconds, `kong/runloop/balancer/targets.lua`);
//! every node polls the events every `db_update_frequency` seconds (5 by
//! default, `kong/templates/kong_defaults.lua`) and only then reloads its
//! targets. `GET /upstreams/{u}/health` reports what the balancer holds per
//! target (`data.nodeWeight`, `kong/runloop/balancer/balancers.lua`
//! `getTargetStatus`), next to the weight the database has.

use super::entities::{ApiError, Scope};
use super::node::Node;
use crate::pg::Pg;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "balancer:targets";

/// Target id → the weight this node's balancer uses.
#[derive(Default)]
pub struct BalancerView {
    weights: HashMap<String, i64>,
    seen_events: HashSet<String>,
}

fn seconds(node: &Node, key: &str, default: f64) -> f64 {
    node.conf
        .get(key)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .unwrap_or(default)
}

/// Loads the targets once, then polls the cluster events every
/// `db_update_frequency` until the node stops.
pub fn spawn_poller(node: Arc<Node>) {
    let Some(store) = &node.store else { return };
    let _ = store;
    let every = Duration::from_secs_f64(seconds(&node, "db_update_frequency", 5.0).max(0.05));
    tokio::spawn(async move {
        let mut first = true;
        loop {
            if let Some(store) = &node.store {
                if let Ok(pg) = store.pg().await {
                    if let Err(e) = poll(&node, &pg, first).await {
                        tracing::warn!(error = %e.body, "balancer: polling cluster events failed");
                    } else {
                        first = false;
                    }
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// Reloads the targets when a `balancer:targets` event this node has not
/// seen is due (or on the first poll).
async fn poll(node: &Node, pg: &Pg, first: bool) -> Result<(), ApiError> {
    let rows = pg
        .query(
            "SELECT id::text FROM cluster_events WHERE channel = $1 AND (nbf IS NULL OR nbf <= now())",
            &[&CHANNEL],
        )
        .await?;
    let due: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    let fresh = {
        let view = node.balancer.lock().map_err(|_| ApiError::not_found())?;
        due.iter().any(|id| !view.seen_events.contains(id))
    };
    if !fresh && !first {
        return Ok(());
    }
    let rows = pg
        .query("SELECT id::text, weight::bigint FROM targets", &[])
        .await?;
    let weights = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect();
    let mut view = node.balancer.lock().map_err(|_| ApiError::not_found())?;
    view.weights = weights;
    view.seen_events.extend(due);
    Ok(())
}

/// Announces a target write to every node of the cluster.
pub async fn broadcast_target_change(node: &Node, pg: &Pg) -> Result<(), ApiError> {
    let delay = seconds(node, "db_update_propagation", 0.0);
    pg.execute(
        "INSERT INTO cluster_events (id, node_id, at, nbf, expire_at, channel, data) \
         VALUES (gen_random_uuid(), gen_random_uuid(), now(), now() + make_interval(secs => $1), \
                 now() + interval '1 hour', $2, 'targets')",
        &[&delay, &CHANNEL],
    )
    .await?;
    Ok(())
}

/// `GET /upstreams/{u}/health`: the upstream's targets (from the database)
/// with what this node's balancer holds for each.
pub async fn upstream_health(
    node: &Node,
    pg: &Pg,
    scope: &Scope,
    size: usize,
    offset: Option<&str>,
) -> Result<Value, ApiError> {
    let page = node
        .entities(pg)
        .page(&super::entities::TARGETS, Some(scope), size, offset)
        .await?;
    let view = node.balancer.lock().map_err(|_| ApiError::not_found())?;
    let data: Vec<Value> = page
        .data
        .iter()
        .filter_map(|row| serde_json::from_str::<Value>(row.get()).ok())
        .map(|mut target| {
            let id = target["id"].as_str().unwrap_or_default().to_string();
            match view.weights.get(&id) {
                Some(weight) => {
                    let address = target["target"].as_str().unwrap_or_default().to_string();
                    let (host, port) = address.rsplit_once(':').unwrap_or((&address, "8000"));
                    let port: u64 = port.parse().unwrap_or(8000);
                    target["health"] = json!("HEALTHCHECKS_OFF");
                    target["data"] = json!({
                        "host": host,
                        "port": port,
                        "dns": "A",
                        "nodeWeight": weight,
                        "weight": { "total": weight, "available": weight, "unavailable": 0 },
                        "addresses": [{ "ip": host, "port": port, "weight": weight, "health": "HEALTHCHECKS_OFF" }],
                    });
                }
                // Not in the balancer yet: Kong reports it as a DNS error.
                None => target["health"] = json!("DNS_ERROR"),
            }
            target
        })
        .collect();
    let next = page.offset.as_ref().map(|o| {
        format!(
            "/upstreams/{}/health?offset={}",
            scope.id,
            super::admin::percent_encode(o)
        )
    });
    Ok(json!({ "data": data, "offset": page.offset, "next": next, "node_id": node.node_id }))
}
