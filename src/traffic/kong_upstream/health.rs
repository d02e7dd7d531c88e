//! Whether each serving node's balancer serves the weights written: every
//! page of `GET /upstreams/{u}/health` (`data.nodeWeight` per target;
//! <https://github.com/Kong/kong/blob/3.6.1/kong/api/routes/upstreams.lua>).
//! Every page is read (`pages.rs`), so an upstream of any number of targets
//! is read whole.

use super::KongUpstreamDriver;
use crate::traffic::{DriverError, Weights};
use reqwest::Url;
use serde::Deserialize;

/// One target of `GET /upstreams/{u}/health`: the database's entry and,
/// under `data`, what this node's balancer holds (absent until it has the
/// target).
#[derive(Debug, Deserialize)]
struct TargetHealth {
    target: String,
    #[serde(default)]
    created_at: f64,
    #[serde(default)]
    data: Option<BalancerTarget>,
}

#[derive(Debug, Deserialize)]
struct BalancerTarget {
    #[serde(rename = "nodeWeight")]
    node_weight: Option<u64>,
}

impl KongUpstreamDriver {
    /// Polls every serving node until its balancer holds `weights` for both
    /// targets; an error names the first node and target still behind.
    pub(super) async fn wait_until_served(&self, weights: Weights) -> Result<(), DriverError> {
        let deadline = tokio::time::Instant::now() + self.propagation_timeout;
        let wanted = [
            (self.target_x.as_str(), u64::from(weights.x.percent())),
            (self.target_y.as_str(), u64::from(weights.y.percent())),
        ];
        loop {
            let mut behind = None;
            for node in &self.serving_nodes {
                if let Some(lag) = self.node_lag(node, &wanted).await? {
                    behind = Some((node, lag));
                    break;
                }
            }
            let Some((node, lag)) = behind else {
                return Ok(());
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(DriverError::NotServed {
                    attribute: "admin_url",
                    endpoint: format!("Kong node {node}"),
                    after: self.propagation_timeout,
                    detail: lag,
                });
            }
            tokio::time::sleep(Self::PROPAGATION_POLL).await;
        }
    }

    /// What `node` serves that differs from `wanted`, or `None`.
    async fn node_lag(
        &self,
        node: &Url,
        wanted: &[(&str, u64)],
    ) -> Result<Option<String>, DriverError> {
        let targets = self.node_health(node).await?;
        for (address, weight) in wanted {
            let served = targets
                .iter()
                .filter(|t| t.target == *address)
                .max_by(|a, b| a.created_at.total_cmp(&b.created_at))
                .and_then(|t| t.data.as_ref())
                .and_then(|d| d.node_weight);
            // A target the balancer does not have receives nothing.
            if served.unwrap_or(0) != *weight {
                let shown = served.map_or("no weight (target not loaded)".into(), |w| {
                    format!("weight {w}")
                });
                return Ok(Some(format!("target {address} has {shown}, not {weight}")));
            }
        }
        Ok(None)
    }

    /// Every page of `node`'s `/upstreams/{u}/health`.
    async fn node_health(&self, node: &Url) -> Result<Vec<TargetHealth>, DriverError> {
        let url = Self::node_url(node, &["upstreams", &self.upstream, "health"]);
        self.all_pages(node, url, &format!("Kong node {node}"))
            .await
    }
}
