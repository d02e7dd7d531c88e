//! kong_upstream driver: an edge Kong balances between clusters X and Y as
//! two targets of one upstream; weights go through the Admin API targets
//! endpoints.
//!
//! Percentages are written as Kong target weights unchanged (0..=100 fits
//! every Kong version's range). A target that exists is updated in place
//! (`PATCH /upstreams/{u}/targets/{id}`); one that does not is created
//! (`POST /upstreams/{u}/targets`). Kong before 2.x has no PATCH and keeps
//! a history of targets instead; there a POST adds the newest entry, which
//! is the one Kong uses, and reading takes the newest entry per target.
//!
//! Writing a weight is not serving it: in traditional mode each node picks
//! target changes up from the database's cluster events every
//! `db_update_frequency` seconds (5 by default). After writing, the driver
//! waits until every serving node's `GET /upstreams/{u}/health` shows the new
//! weight in its balancer (`data.nodeWeight`, per node;
//! <https://github.com/Kong/kong/blob/3.6.1/kong/api/routes/upstreams.lua>,
//! <https://github.com/Kong/kong/blob/3.6.1/kong/runloop/balancer/balancers.lua>),
//! so the gates after a shift measure the split that was asked for.

mod health;
mod pages;

use super::{DriverError, TrafficDriver, Weights};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

#[derive(Clone)]
pub struct KongUpstreamDriver {
    admin_url: Url,
    upstream: String,
    target_x: String,
    target_y: String,
    admin_token: Option<String>,
    client: reqwest::Client,
    /// Admin APIs of the nodes that serve the upstream (the edge node alone
    /// unless told otherwise).
    serving_nodes: Vec<Url>,
    propagation_timeout: Duration,
}

/// Debug output never shows the admin token.
impl std::fmt::Debug for KongUpstreamDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KongUpstreamDriver")
            .field("admin_url", &self.admin_url.as_str())
            .field("upstream", &self.upstream)
            .field("target_x", &self.target_x)
            .field("target_y", &self.target_y)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Target {
    id: String,
    target: String,
    weight: u64,
    #[serde(default)]
    created_at: f64,
}

impl KongUpstreamDriver {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// How long nodes may take to serve a written weight: several of Kong's
    /// default `db_update_frequency` (5 s) periods.
    pub const DEFAULT_PROPAGATION_TIMEOUT: Duration = Duration::from_secs(30);
    const PROPAGATION_POLL: Duration = Duration::from_millis(250);

    /// `admin_url` is the edge Kong's Admin API base URL; `target_x` and
    /// `target_y` are `host:port` as registered in the upstream.
    pub fn new(
        admin_url: &str,
        upstream: &str,
        target_x: &str,
        target_y: &str,
    ) -> Result<KongUpstreamDriver, DriverError> {
        let invalid =
            |attribute, message: String| DriverError::InvalidConfig { attribute, message };
        tfplug::http_url(admin_url).map_err(|reason| invalid("admin_url", reason))?;
        let mut admin_url =
            Url::parse(admin_url).map_err(|e| invalid("admin_url", e.to_string()))?;
        if admin_url.cannot_be_a_base() {
            return Err(invalid(
                "admin_url",
                format!("{admin_url} cannot have paths appended"),
            ));
        }
        // Paths are appended segment by segment; a trailing slash would leave
        // an empty segment behind.
        let trimmed = admin_url.path().trim_end_matches('/').to_string();
        admin_url.set_path(&trimmed);
        for (attribute, value) in [
            ("upstream", upstream),
            ("target_x", target_x),
            ("target_y", target_y),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(attribute, "must not be empty".into()));
            }
        }
        if target_x == target_y {
            return Err(invalid(
                "target_y",
                format!("target_x and target_y are both {target_x:?}; they must be two targets"),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Self::DEFAULT_TIMEOUT)
            .build()
            .map_err(|e| invalid("admin_url", format!("cannot build an HTTP client: {e}")))?;
        Ok(KongUpstreamDriver {
            serving_nodes: vec![admin_url.clone()],
            propagation_timeout: Self::DEFAULT_PROPAGATION_TIMEOUT,
            admin_url,
            upstream: upstream.to_string(),
            target_x: target_x.to_string(),
            target_y: target_y.to_string(),
            admin_token: None,
            client,
        })
    }

    /// Where this split lives, never with the admin token (see
    /// [`super::SplitLocator`]).
    pub fn locator(&self) -> super::SplitLocator {
        super::SplitLocator::KongUpstream {
            admin_url: self.admin_url.to_string(),
            upstream: self.upstream.clone(),
            target_x: self.target_x.clone(),
            target_y: self.target_y.clone(),
        }
    }

    /// Sends `Kong-Admin-Token` with every request (Kong Enterprise RBAC).
    pub fn with_admin_token(mut self, token: String) -> KongUpstreamDriver {
        self.admin_token = Some(token);
        self
    }

    /// Waits on these nodes' Admin APIs (every node that serves the
    /// upstream) instead of the edge node's alone.
    pub fn with_serving_nodes(mut self, nodes: Vec<Url>) -> KongUpstreamDriver {
        if !nodes.is_empty() {
            self.serving_nodes = nodes;
        }
        self
    }

    pub fn with_propagation_timeout(mut self, timeout: Duration) -> KongUpstreamDriver {
        self.propagation_timeout = timeout;
        self
    }

    fn url(&self, segments: &[&str]) -> Url {
        Self::node_url(&self.admin_url, segments)
    }

    fn node_url(base: &Url, segments: &[&str]) -> Url {
        let mut url = base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // `http://node:8001/` and `http://node:8001` alike.
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, String), DriverError> {
        let mut request = self.client.request(method.clone(), url.clone());
        if let Some(token) = &self.admin_token {
            request = request.header("Kong-Admin-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            let endpoint = format!("Kong Admin API {}", self.admin_url);
            if e.is_timeout() {
                DriverError::Timeout {
                    attribute: "admin_url",
                    endpoint,
                    after: Self::DEFAULT_TIMEOUT,
                }
            } else {
                DriverError::Unreachable {
                    attribute: "admin_url",
                    endpoint,
                    detail: format!("{method} {url}: {}", e.without_url()),
                }
            }
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Ok((status, text))
    }

    fn refused(&self, request: String, status: StatusCode, body: &str) -> DriverError {
        let endpoint = format!("Kong Admin API {}", self.admin_url);
        let response = format!("{status}: {}", kong_message(body));
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => DriverError::PermissionDenied {
                attribute: "admin_token",
                endpoint,
                request,
                response,
            },
            StatusCode::NOT_FOUND => DriverError::NotFound {
                attribute: "upstream",
                what: format!("upstream {:?}", self.upstream),
                endpoint,
                response,
            },
            _ => DriverError::Rejected {
                attribute: "upstream",
                endpoint,
                request,
                response,
            },
        }
    }

    /// Every target of the upstream, following pagination.
    async fn targets(&self) -> Result<Vec<Target>, DriverError> {
        let url = self.url(&["upstreams", &self.upstream, "targets"]);
        let endpoint = format!("Kong Admin API {}", self.admin_url);
        self.all_pages(&self.admin_url, url, &endpoint).await
    }

    /// Kong's `next` link (a root-relative path) on the Admin API at `base`.
    fn link_on(base_url: &Url, next: &str) -> Url {
        let mut url = base_url.clone();
        let (path, query) = next.split_once('?').unwrap_or((next, ""));
        let base = base_url.path().trim_end_matches('/');
        // Kong answers with a root-relative path; keep any prefix the Admin
        // API is mounted under.
        let full = if path.starts_with(base) {
            path.to_string()
        } else {
            format!("{base}{path}")
        };
        url.set_path(&full);
        url.set_query((!query.is_empty()).then_some(query));
        url
    }

    /// Sets one target's weight: update in place, or create it.
    async fn set_target(
        &self,
        existing: Option<&Target>,
        address: &str,
        weight: u8,
    ) -> Result<(), DriverError> {
        if let Some(target) = existing {
            let url = self.url(&["upstreams", &self.upstream, "targets", &target.id]);
            let (status, body) = self
                .send(
                    Method::PATCH,
                    url.clone(),
                    Some(json!({ "weight": weight })),
                )
                .await?;
            if status.is_success() {
                return Ok(());
            }
            // Kong before 2.x: targets are immutable, fall through to POST.
            if status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::NOT_FOUND {
                return Err(self.refused(
                    format!("PATCH {} weight={weight}", url.path()),
                    status,
                    &body,
                ));
            }
        }
        let url = self.url(&["upstreams", &self.upstream, "targets"]);
        let body = json!({ "target": address, "weight": weight });
        let (status, text) = self.send(Method::POST, url.clone(), Some(body)).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.refused(
                format!("POST {} target={address} weight={weight}", url.path()),
                status,
                &text,
            ))
        }
    }
}

impl TrafficDriver for KongUpstreamDriver {
    fn kind(&self) -> &'static str {
        "kong_upstream"
    }

    async fn read_weights(&self) -> Result<Weights, DriverError> {
        let targets = self.targets().await?;
        // An unregistered target receives nothing: weight 0.
        let weight = |address: &str| newest(&targets, address).map_or(0, |t| t.weight);
        Ok(Weights::from_native(
            weight(&self.target_x),
            weight(&self.target_y),
        ))
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), DriverError> {
        let targets = self.targets().await?;
        let x = (self.target_x.as_str(), weights.x.percent());
        let y = (self.target_y.as_str(), weights.y.percent());
        // The larger weight first, so the upstream always has a target > 0.
        let (first, second) = if x.1 >= y.1 { (x, y) } else { (y, x) };
        for (address, weight) in [first, second] {
            self.set_target(newest(&targets, address), address, weight)
                .await?;
        }
        tracing::info!(upstream = %self.upstream, %weights, "kong upstream target weights set");
        self.wait_until_served(weights).await?;
        tracing::info!(upstream = %self.upstream, %weights, nodes = self.serving_nodes.len(), "kong upstream target weights served");
        Ok(())
    }
}

/// The newest entry for `address` (older Kong keeps one entry per change).
fn newest<'a>(targets: &'a [Target], address: &str) -> Option<&'a Target> {
    targets
        .iter()
        .filter(|t| t.target == address)
        .max_by(|a, b| a.created_at.total_cmp(&b.created_at))
}

/// Kong's `{"message": "..."}` error body, or the raw text.
fn kong_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_paths_segment_by_segment() {
        let d = KongUpstreamDriver::new(
            "http://edge:8001/admin/",
            "my upstream",
            "10.0.0.1:8000",
            "10.0.0.2:8000",
        )
        .unwrap();
        assert_eq!(
            d.url(&["upstreams", "my upstream", "targets"]).as_str(),
            "http://edge:8001/admin/upstreams/my%20upstream/targets"
        );
        assert_eq!(
            KongUpstreamDriver::link_on(&d.admin_url, "/upstreams/u/targets?offset=abc&size=1000")
                .as_str(),
            "http://edge:8001/admin/upstreams/u/targets?offset=abc&size=1000"
        );
        assert_eq!(
            KongUpstreamDriver::new("nope", "u", "a:1", "b:1")
                .unwrap_err()
                .attribute(),
            "admin_url"
        );
    }

    #[test]
    fn debug_output_hides_the_admin_token() {
        let d = KongUpstreamDriver::new("http://edge:8001", "u", "a:1", "b:1")
            .unwrap()
            .with_admin_token("s3cret".into());
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn the_newest_entry_of_a_target_wins() {
        let t = |id: &str, weight, created_at| Target {
            id: id.into(),
            target: "a:1".into(),
            weight,
            created_at,
        };
        let targets = [t("1", 100, 1.0), t("2", 0, 3.0), t("3", 50, 2.0)];
        assert_eq!(newest(&targets, "a:1").map(|t| t.id.as_str()), Some("2"));
        assert!(newest(&targets, "b:1").is_none());
    }
}

#[cfg(test)]
mod against_kongsim {
    use super::*;
    use crate::traffic::TrafficWeight;
    use testbed::kongsim::KongSim;
    use testbed::Postgres;

    const X: &str = "10.0.0.1:8000";
    const Y: &str = "10.0.0.2:8000";

    /// An edge Kong (kongsim on PostgreSQL, so its Admin API accepts writes)
    /// with upstream `clusters` and, optionally, one target per cluster.
    async fn edge_kong(pg: &Postgres, targets: &[(&str, u64)]) -> KongSim {
        edge_kong_propagating(pg, targets, "0.1", "0").await
    }

    /// An edge Kong whose balancer polls target changes every `frequency`
    /// seconds, each visible `propagation` seconds after the write.
    async fn edge_kong_propagating(
        pg: &Postgres,
        targets: &[(&str, u64)],
        frequency: &str,
        propagation: &str,
    ) -> KongSim {
        let kong = KongSim::builder("3.6.1")
            .postgres(pg)
            .bootstrap()
            .admin_token("s3cret")
            .env("KONG_DB_UPDATE_FREQUENCY", frequency)
            .env("KONG_DB_UPDATE_PROPAGATION", propagation)
            .start()
            .unwrap();
        let client = reqwest::Client::new();
        let post = |path: String, body: serde_json::Value| {
            client
                .post(format!("{}{path}", kong.admin_url))
                .header("Kong-Admin-Token", "s3cret")
                .json(&body)
                .send()
        };
        let created = post("/upstreams".into(), json!({ "name": "clusters" }))
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "{}",
            created.text().await.unwrap()
        );
        for (target, weight) in targets {
            let created = post(
                "/upstreams/clusters/targets".into(),
                json!({ "target": target, "weight": weight }),
            )
            .await
            .unwrap();
            assert!(
                created.status().is_success(),
                "{}",
                created.text().await.unwrap()
            );
        }
        kong
    }

    async fn get_json(kong: &KongSim, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("{}{path}", kong.admin_url))
            .header("Kong-Admin-Token", "s3cret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn driver(kong: &KongSim, upstream: &str) -> KongUpstreamDriver {
        KongUpstreamDriver::new(&kong.admin_url, upstream, X, Y)
            .unwrap()
            .with_admin_token("s3cret".into())
    }

    #[tokio::test]
    async fn sets_and_reads_target_weights_through_the_admin_api() {
        let pg = Postgres::start().unwrap();
        let kong = edge_kong(&pg, &[(X, 100)]).await;
        let d = driver(&kong, "clusters");
        // Y is not a target yet: it receives nothing.
        assert_eq!(d.read_weights().await.unwrap(), Weights::all_on_x());

        d.set_weights(Weights::with_y(TrafficWeight::new(30).unwrap()))
            .await
            .unwrap();
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::with_y(TrafficWeight::new(30).unwrap())
        );
        d.set_weights(Weights::with_y(TrafficWeight::FULL))
            .await
            .unwrap();
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::with_y(TrafficWeight::FULL)
        );

        // Updated in place: still one target per cluster, X kept at weight 0.
        let listed = get_json(&kong, "/upstreams/clusters/targets").await;
        let mut weights: Vec<(String, u64)> = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["target"].as_str().unwrap().to_string(),
                    t["weight"].as_u64().unwrap(),
                )
            })
            .collect();
        weights.sort();
        assert_eq!(weights, vec![(X.to_string(), 0), (Y.to_string(), 100)]);
    }

    #[tokio::test]
    async fn its_locator_reads_the_split_with_the_token_the_reader_is_given() {
        let pg = Postgres::start().unwrap();
        let kong = edge_kong(&pg, &[(X, 40), (Y, 60)]).await;
        let id = driver(&kong, "clusters").locator().to_string();
        assert!(
            !id.contains("s3cret"),
            "the id never carries the token: {id}"
        );
        let locator: crate::traffic::SplitLocator = id.parse().unwrap();

        let reader = locator.reader(Some("s3cret".into())).unwrap();
        assert_eq!(
            reader.read_weights().await.unwrap(),
            Weights::with_y(TrafficWeight::new(60).unwrap())
        );
        let e = locator
            .reader(None)
            .unwrap()
            .read_weights()
            .await
            .unwrap_err();
        assert_eq!(e.attribute(), "admin_token", "{e}");
    }

    #[tokio::test]
    async fn errors_name_the_attribute_at_fault() {
        let pg = Postgres::start().unwrap();
        let kong = edge_kong(&pg, &[]).await;
        let target = Weights::with_y(TrafficWeight::new(10).unwrap());

        let e = driver(&kong, "nope").set_weights(target).await.unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::NotFound {
                    attribute: "upstream",
                    ..
                }
            ),
            "{e}"
        );

        let anonymous = KongUpstreamDriver::new(&kong.admin_url, "clusters", X, Y).unwrap();
        let e = anonymous.read_weights().await.unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::PermissionDenied {
                    attribute: "admin_token",
                    ..
                }
            ),
            "{e}"
        );

        let unreachable = KongUpstreamDriver::new("http://127.0.0.1:1", "clusters", X, Y).unwrap();
        let e = unreachable.read_weights().await.unwrap_err();
        assert_eq!(e.attribute(), "admin_url", "{e}");
    }

    /// One more edge node on the database of [`edge_kong_propagating`]'s,
    /// polling every 0.5 s and announcing its writes `propagation` seconds
    /// late.
    fn another_edge_node(pg: &Postgres, propagation: &str) -> KongSim {
        KongSim::builder("3.6.1")
            .postgres(pg)
            .admin_token("s3cret")
            .env("KONG_DB_UPDATE_FREQUENCY", "0.5")
            .env("KONG_DB_UPDATE_PROPAGATION", propagation)
            .start()
            .unwrap()
    }

    /// Waits until every cluster event written so far has been due for
    /// 1.5 s (three polls at 0.5 s): after that no node reloads on an old
    /// write.
    async fn let_pending_events_through(pg: &Postgres) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while pg
            .psql("SELECT count(*) FROM cluster_events WHERE nbf > now() - interval '1.5 seconds'")
            .unwrap()
            .trim()
            != "0"
        {
            assert!(std::time::Instant::now() < deadline, "events never due");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// What `node` serves for `target` (`data.nodeWeight` of its health).
    async fn served(node: &KongSim, target: &str) -> Option<u64> {
        let health = get_json(node, "/upstreams/clusters/health").await;
        health["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["target"] == target)
            .and_then(|t| t["data"]["nodeWeight"].as_u64())
    }

    /// Two edge nodes on one database; a target change reaches their
    /// balancers 2 s after the write (`db_update_propagation`), polled every
    /// 0.5 s. Written is not served: the driver returns only once both
    /// nodes serve the new weights.
    #[tokio::test]
    async fn set_weights_returns_once_every_node_serves_them() {
        let pg = Postgres::start().unwrap();
        let a = edge_kong_propagating(&pg, &[(X, 100), (Y, 0)], "0.5", "2").await;
        let b = another_edge_node(&pg, "2");
        let nodes: Vec<Url> = [&a, &b]
            .iter()
            .map(|k| Url::parse(&k.admin_url).unwrap())
            .collect();
        let d = driver(&a, "clusters").with_serving_nodes(nodes.clone());
        // Both balancers have the first targets before the shift, and no
        // event of the setup's writes is left to reload them later (a
        // reload reads every target: it would serve the write below early).
        d.set_weights(Weights::all_on_x()).await.unwrap();
        let_pending_events_through(&pg).await;

        // The wait matters: right after a write, no node serves it yet.
        let raw = reqwest::Client::new()
            .patch(format!("{}/upstreams/clusters/targets/{Y}", a.admin_url))
            .header("Kong-Admin-Token", "s3cret")
            .json(&json!({ "weight": 5 }))
            .send()
            .await
            .unwrap();
        assert!(raw.status().is_success());
        assert_eq!(served(&a, Y).await, Some(0), "written, not yet served by A");
        assert_eq!(served(&b, Y).await, Some(0), "written, not yet served by B");
        // ... and later it is.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while served(&b, Y).await != Some(5) {
            assert!(
                std::time::Instant::now() < deadline,
                "B never served weight 5"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        let thirty = Weights::with_y(TrafficWeight::new(30).unwrap());
        d.set_weights(thirty).await.unwrap();
        for node in [&a, &b] {
            assert_eq!(served(node, Y).await, Some(30), "{}", node.admin_url);
            assert_eq!(served(node, X).await, Some(70), "{}", node.admin_url);
        }
    }

    /// A node that does not catch up within the bound: an error on admin_url
    /// naming the target behind. The node announces its writes 30 s late, so
    /// nothing the driver writes through it can be served within the 0.5 s
    /// bound however slow the machine is (with a propagation near the bound,
    /// a reload still pending from an earlier write could serve the new
    /// weights in time, and the test would flake).
    #[tokio::test]
    async fn set_weights_names_the_node_that_does_not_serve_them_in_time() {
        let pg = Postgres::start().unwrap();
        let _setup = edge_kong_propagating(&pg, &[(X, 70), (Y, 30)], "0.5", "0").await;
        // Started once the targets exist: its first load serves them.
        let late = another_edge_node(&pg, "30");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while served(&late, X).await != Some(70) {
            assert!(std::time::Instant::now() < deadline, "never served X");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let nodes = vec![Url::parse(&late.admin_url).unwrap()];
        let impatient = driver(&late, "clusters")
            .with_serving_nodes(nodes)
            .with_propagation_timeout(std::time::Duration::from_millis(500));
        let e = impatient
            .set_weights(Weights::with_y(TrafficWeight::new(60).unwrap()))
            .await
            .unwrap_err();
        assert!(matches!(e, DriverError::NotServed { .. }), "{e}");
        assert_eq!(e.attribute(), "admin_url");
        assert!(
            e.to_string()
                .contains(&format!("target {X} has weight 70, not 40")),
            "{e}"
        );
    }

    /// An upstream of more than one page of targets (Kong's page is at
    /// most 1,000, and `/health`'s `next` drops `size`): the two clusters'
    /// targets sort last, on the second page, and are still found served.
    #[tokio::test]
    async fn the_health_of_a_large_upstream_is_read_on_every_page() {
        let pg = Postgres::start().unwrap();
        let kong = edge_kong(&pg, &[]).await;
        assert_eq!(
            kong.seed(
                "targets",
                1500,
                r#"{"target":"10.9.0.1:80","weight":1,"upstream":{"name":"clusters"}}"#
            ),
            Ok(1500)
        );
        for (id, target, weight) in [
            ("ffffffff-ffff-4fff-8fff-000000000001", X, 100),
            ("ffffffff-ffff-4fff-8fff-000000000002", Y, 0),
        ] {
            let created = reqwest::Client::new()
                .post(format!("{}/upstreams/clusters/targets", kong.admin_url))
                .header("Kong-Admin-Token", "s3cret")
                .json(&json!({ "id": id, "target": target, "weight": weight }))
                .send()
                .await
                .unwrap();
            assert!(created.status().is_success());
        }
        let first_page = get_json(&kong, "/upstreams/clusters/health?size=1000").await;
        assert!(
            first_page["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["target"] != X && t["target"] != Y),
            "both clusters' targets are past the first page"
        );
        let d =
            driver(&kong, "clusters").with_propagation_timeout(std::time::Duration::from_secs(5));
        let thirty = Weights::with_y(TrafficWeight::new(30).unwrap());
        d.set_weights(thirty).await.unwrap();
        assert_eq!(d.read_weights().await.unwrap(), thirty);
    }
}
