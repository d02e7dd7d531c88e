//! Whether each serving node's balancer serves the weights written: every
//! page of `GET /upstreams/{u}/health` (`data.nodeWeight` per target;
//! <https://github.com/Kong/kong/blob/3.6.1/kong/api/routes/upstreams.lua>).
//! Kong's `next` link there carries only the offset, so `size` is set on
//! every page; an upstream of any number of targets is read whole.

use super::KongUpstreamDriver;
use crate::traffic::{DriverError, Weights};
use reqwest::{Method, Url};
use serde::Deserialize;
use std::collections::HashSet;

/// Pages one `/health` read may follow (a million targets): a node that
/// keeps sending new `next` links is refused, not followed for ever.
const MAX_HEALTH_PAGES: usize = 1000;

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

#[derive(Debug, Deserialize)]
struct HealthPage {
    data: Vec<TargetHealth>,
    #[serde(default)]
    next: Option<String>,
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
        let mut url = Self::node_url(node, &["upstreams", &self.upstream, "health"]);
        let mut targets = Vec::new();
        let mut followed = HashSet::new();
        loop {
            crate::kong::set_page_size(&mut url, crate::kong::MAX_PAGE_SIZE);
            if !followed.insert(url.to_string()) || followed.len() > MAX_HEALTH_PAGES {
                return Err(self.unexpected(
                    node,
                    &url,
                    format!(
                        "pagination does not end ({} pages, or a `next` link sent twice)",
                        followed.len()
                    ),
                ));
            }
            let (status, body) = self.send(Method::GET, url.clone(), None).await?;
            if !status.is_success() {
                return Err(self.refused(format!("GET {}", url.path()), status, &body));
            }
            let page: HealthPage = serde_json::from_str(&body).map_err(|e| {
                let shown: String = body.chars().take(200).collect();
                self.unexpected(node, &url, format!("{e}: {shown}"))
            })?;
            targets.extend(page.data);
            match page.next.filter(|n| !n.is_empty()) {
                Some(next) => url = Self::link_on(node, &next),
                None => return Ok(targets),
            }
        }
    }

    fn unexpected(&self, node: &Url, url: &Url, response: String) -> DriverError {
        DriverError::UnexpectedResponse {
            attribute: "admin_url",
            endpoint: format!("Kong node {node}"),
            request: format!("GET {}", url.path()),
            response,
        }
    }
}
