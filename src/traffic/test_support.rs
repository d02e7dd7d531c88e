//! Helpers shared by the real-component tests of the drivers.

use super::{Progression, StepSpec, TrafficWeight};
use std::net::SocketAddr;
use std::time::Duration;

/// A percentage from a literal the test knows is in range.
pub fn w(v: i64) -> TrafficWeight {
    TrafficWeight::new(v).unwrap()
}

/// Explicit steps at `weights`, each pausing `pause` with the gates on.
pub fn steps(weights: &[i64], pause: Duration) -> Progression {
    Progression::Steps(
        weights
            .iter()
            .map(|v| StepSpec {
                weight: w(*v),
                pause,
                analysis: true,
            })
            .collect(),
    )
}

/// Two tiny HTTP servers answering with their own name ("x", "y"), so a test
/// can see where a load balancer sent each request.
pub async fn named_backends() -> (SocketAddr, SocketAddr) {
    async fn serve(name: &'static str) -> SocketAddr {
        let app = axum::Router::new().fallback(move || async move { name });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }
    (serve("x").await, serve("y").await)
}

/// Sends `requests` sequential GETs over one keep-alive client and counts
/// the answers from X and from Y.
pub async fn count_answers(url: &str, requests: usize) -> (usize, usize) {
    let client = reqwest::Client::new();
    let (mut x, mut y) = (0, 0);
    for _ in 0..requests {
        let response = client.get(url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url} answered {}",
            response.status()
        );
        match response.text().await.unwrap().as_str() {
            "x" => x += 1,
            "y" => y += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    (x, y)
}

/// A kongsim node (DB-less, Kong 3.6.1) standing in for cluster `name`.
pub fn kong_cluster(name: &str) -> testbed::kongsim::KongSim {
    testbed::kongsim::KongSim::builder("3.6.1")
        .cluster_name(name)
        .start()
        .unwrap()
}

/// `http://127.0.0.1:PORT` → the socket address.
pub fn socket_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// Which cluster answered each of `requests` GETs (kongsim names its
/// cluster in the body); failed requests count under `"failed"`.
pub async fn answers_by_cluster(
    url: &str,
    requests: usize,
) -> std::collections::BTreeMap<String, usize> {
    let client = reqwest::Client::new();
    let mut answers = std::collections::BTreeMap::new();
    for _ in 0..requests {
        *answers.entry(answer_of(&client, url).await).or_insert(0) += 1;
    }
    answers
}

async fn answer_of(client: &reqwest::Client, url: &str) -> String {
    match client.get(url).send().await {
        Ok(response) => answer_of_response(response).await,
        Err(_) => "failed".to_string(),
    }
}

async fn answer_of_response(response: reqwest::Response) -> String {
    if !response.status().is_success() {
        return "failed".to_string();
    }
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["cluster"].as_str().unwrap_or("unnamed").to_string()
}

/// Steady background traffic through a load balancer, so metrics move.
///
/// Like browsers and most HTTP clients, it resends a GET once when a
/// keep-alive connection closes before any response arrives (RFC 9112
/// §9.3.1): an nginx reload closes idle keep-alive connections, and a request
/// already on its way on one of them is lost otherwise. Such resends are
/// counted under `"resent"`; requests that still fail, or get a non-2xx
/// answer, under `"failed"`.
pub struct Load {
    stop: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<std::collections::BTreeMap<String, usize>>>,
}

impl Load {
    pub fn start(url: String, concurrency: usize) -> Load {
        let stop = tokio_util::sync::CancellationToken::new();
        let tasks = (0..concurrency)
            .map(|_| {
                let (stop, url) = (stop.clone(), url.clone());
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut answers = std::collections::BTreeMap::new();
                    while !stop.is_cancelled() {
                        let answer = match client.get(&url).send().await {
                            Err(e) if e.is_request() => {
                                *answers.entry("resent".to_string()).or_insert(0) += 1;
                                answer_of(&client, &url).await
                            }
                            Err(_) => "failed".to_string(),
                            Ok(response) => answer_of_response(response).await,
                        };
                        *answers.entry(answer).or_insert(0) += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    answers
                })
            })
            .collect();
        Load { stop, tasks }
    }

    /// Stops the traffic and returns who answered how often.
    pub async fn stop(self) -> std::collections::BTreeMap<String, usize> {
        self.stop.cancel();
        let mut total = std::collections::BTreeMap::new();
        for task in self.tasks {
            for (who, n) in task.await.unwrap() {
                *total.entry(who).or_insert(0) += n;
            }
        }
        total
    }
}
