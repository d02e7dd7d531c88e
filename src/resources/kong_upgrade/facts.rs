//! Facts the planner needs, read from the clusters: X's role, database,
//! edition and version, plugins whose counters live in the database,
//! whether Vitals is on, and the versions on the other side of a hybrid
//! deployment.

use super::config::Cluster;
use crate::kong::{AdminSettings, KongClient, KongError, NodeInfo, Role as NodeRole};
use crate::planner::{Database, DeploymentFacts, Role};
use crate::version::KongVersion;

/// Plugins whose rate counters live in the database with these settings:
/// they split between two databases in a dual-cluster window.
fn counts_in_database(plugin: &serde_json::Value) -> Option<String> {
    let name = plugin.get("name")?.as_str()?;
    let config = plugin.get("config")?;
    let setting = |k: &str| config.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let db_backed = match name {
        "rate-limiting" | "response-ratelimiting" => setting("policy") == "cluster",
        "rate-limiting-advanced" => setting("strategy") == "cluster",
        _ => false,
    };
    db_backed.then(|| name.to_string())
}

pub struct ClusterFacts {
    pub node: NodeInfo,
    pub deployment: DeploymentFacts,
}

pub async fn read(
    x: &Cluster,
    control_plane_admin_url: Option<&str>,
    second_database_configured: bool,
    provider: &AdminSettings,
) -> Result<ClusterFacts, (String, KongError)> {
    fn at(attr: &'static str) -> impl Fn(KongError) -> (String, KongError) {
        move |e| (attr.to_string(), e)
    }
    let client = KongClient::new(&x.admin_url, &x.admin).map_err(at("cluster_x.admin_url"))?;
    let node = client
        .node_info()
        .await
        .map_err(at("cluster_x.admin_url"))?;
    let mut counters = Vec::new();
    if node.database != "off" && node.role != NodeRole::DataPlane {
        for plugin in client
            .paginate("/plugins")
            .await
            .map_err(at("cluster_x.admin_url"))?
        {
            if let Some(name) = counts_in_database(&plugin) {
                if !counters.contains(&name) {
                    counters.push(name);
                }
            }
        }
    }
    let mut deployment = DeploymentFacts {
        role: match node.role {
            NodeRole::Traditional => Role::Traditional,
            NodeRole::ControlPlane => Role::ControlPlane,
            NodeRole::DataPlane => Role::DataPlane,
        },
        database: match node.database.as_str() {
            "off" => Database::Off,
            "cassandra" => Database::Cassandra,
            _ => Database::Postgres,
        },
        edition: Some(node.edition),
        database_backed_counters: counters,
        // Vitals writes its metrics to the database: like the counters
        // above, they split between two databases in a dual-cluster window.
        vitals_enabled: node.vitals_enabled,
        control_plane_version: None,
        data_plane_versions: Vec::new(),
        second_database_configured,
    };
    if node.role == NodeRole::ControlPlane {
        deployment.data_plane_versions = data_plane_versions(&client)
            .await
            .map_err(at("cluster_x.admin_url"))?;
    }
    if let Some(url) = control_plane_admin_url {
        let cp = KongClient::new(url, provider).map_err(at("control_plane_admin_url"))?;
        deployment.control_plane_version = Some(
            cp.node_info()
                .await
                .map_err(at("control_plane_admin_url"))?
                .version,
        );
    }
    Ok(ClusterFacts { node, deployment })
}

async fn data_plane_versions(cp: &KongClient) -> Result<Vec<KongVersion>, KongError> {
    let mut out: Vec<KongVersion> = cp
        .paginate("/clustering/data-planes")
        .await?
        .iter()
        .filter_map(|dp| dp.get("version")?.as_str()?.parse().ok())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn database_backed_counters_are_recognised() {
        assert_eq!(
            counts_in_database(&json!({"name": "rate-limiting", "config": {"policy": "cluster"}}))
                .as_deref(),
            Some("rate-limiting")
        );
        assert_eq!(
            counts_in_database(&json!({"name": "rate-limiting", "config": {"policy": "redis"}})),
            None
        );
        assert_eq!(
            counts_in_database(
                &json!({"name": "rate-limiting-advanced", "config": {"strategy": "cluster"}})
            )
            .as_deref(),
            Some("rate-limiting-advanced")
        );
        assert_eq!(
            counts_in_database(&json!({"name": "key-auth", "config": {}})),
            None
        );
    }
}
