//! The load generator: a steady stream of GETs through HAProxy's frontend,
//! counting successes (HTTP 200), failures by reason, and which cluster
//! answered (kongsim names its cluster in every proxied body). Running
//! totals, and the last second's share, go to `DIR/load.json` once a second.
//! `sandbox load` runs one on its own, for exactly as long as a benchmark
//! wants to measure.

use crate::cli::LoadOptions;
use crate::env::write_atomically;
use crate::error::SandboxError;
use crate::signals::StopSignals;
use crate::status::describe_totals;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Semaphore};
use tokio::time::MissedTickBehavior;

/// More requests in flight than this means the target is stalled; new ticks
/// are then counted as failures instead of piling up.
const MAX_IN_FLIGHT: usize = 512;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long a stop waits for requests still in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(12);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub requests: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Successful responses per answering cluster (`x`, `y`).
    pub served_by: BTreeMap<String, u64>,
    /// Failures per reason (`HTTP 503`, `connect`, `timeout`, ...).
    pub failures: BTreeMap<String, u64>,
}

impl Totals {
    fn record(&mut self, outcome: Outcome) {
        self.requests += 1;
        match outcome {
            Outcome::Served { cluster } => {
                self.succeeded += 1;
                *self.served_by.entry(cluster).or_default() += 1;
            }
            Outcome::Failed { reason } => {
                self.failed += 1;
                *self.failures.entry(reason).or_default() += 1;
            }
        }
    }

    /// What happened since `earlier`, a previous snapshot of the same totals.
    pub fn since(&self, earlier: &Totals) -> Totals {
        let minus = |now: &BTreeMap<String, u64>, then: &BTreeMap<String, u64>| {
            now.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.saturating_sub(then.get(k).copied().unwrap_or(0)),
                    )
                })
                .filter(|(_, v)| *v > 0)
                .collect()
        };
        Totals {
            requests: self.requests.saturating_sub(earlier.requests),
            succeeded: self.succeeded.saturating_sub(earlier.succeeded),
            failed: self.failed.saturating_sub(earlier.failed),
            served_by: minus(&self.served_by, &earlier.served_by),
            failures: minus(&self.failures, &earlier.failures),
        }
    }
}

/// The content of `load.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub target_url: String,
    pub rate_per_s: u32,
    pub started_unix: u64,
    pub updated_unix: u64,
    /// Time since the generator started, as of this report: with
    /// `totals.requests`, the rate really achieved.
    #[serde(default)]
    pub elapsed_ms: u64,
    /// False once the generator has stopped (the totals are then final).
    pub running: bool,
    pub totals: Totals,
    pub last_second: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Served { cluster: String },
    Failed { reason: String },
}

pub struct LoadGenerator {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<Report, SandboxError>>,
}

impl LoadGenerator {
    /// Starts sending `rate_per_s` GETs per second to `target_url`.
    pub fn start(
        target_url: String,
        rate_per_s: u32,
        file: PathBuf,
    ) -> Result<LoadGenerator, SandboxError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(generate(client, target_url, rate_per_s, file, stopped));
        Ok(LoadGenerator { stop, task })
    }

    /// Stops sending, waits for requests in flight, writes the final report.
    pub async fn stop(self) -> Result<Report, SandboxError> {
        let _ = self.stop.send(true);
        self.task.await?
    }
}

async fn generate(
    client: reqwest::Client,
    target_url: String,
    rate_per_s: u32,
    file: PathBuf,
    mut stopped: watch::Receiver<bool>,
) -> Result<Report, SandboxError> {
    let totals = Arc::new(Mutex::new(Totals::default()));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let started = Instant::now();
    let mut report = Report {
        target_url: target_url.clone(),
        rate_per_s,
        started_unix: unix_now(),
        updated_unix: unix_now(),
        elapsed_ms: 0,
        running: true,
        totals: Totals::default(),
        last_second: Totals::default(),
    };
    let mut send_tick = tokio::time::interval(Duration::from_secs(1) / rate_per_s);
    // Late ticks are caught up, so the average rate holds; a long stall
    // cannot turn into a flood, as MAX_IN_FLIGHT bounds what is sent.
    send_tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut report_tick = tokio::time::interval(REPORT_EVERY);
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = send_tick.tick() => {
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    record(&totals, Outcome::Failed { reason: "stalled".into() });
                    continue;
                };
                let (client, url, totals) = (client.clone(), target_url.clone(), totals.clone());
                tokio::spawn(async move {
                    let outcome = send_one(&client, &url).await;
                    record(&totals, outcome);
                    drop(permit);
                });
            }
            _ = report_tick.tick() => {
                update_report(&mut report, &totals, started);
                write_report(&file, &report)?;
            }
        }
    }
    // Every permit back means every request has been counted.
    let drained =
        tokio::time::timeout(DRAIN_TIMEOUT, in_flight.acquire_many(MAX_IN_FLIGHT as u32)).await;
    if drained.is_err() {
        tracing::warn!(
            "load generator stopped with requests still in flight after {DRAIN_TIMEOUT:?}"
        );
    }
    update_report(&mut report, &totals, started);
    report.running = false;
    write_report(&file, &report)?;
    Ok(report)
}

async fn send_one(client: &reqwest::Client, url: &str) -> Outcome {
    match get_ok_json(client, url).await {
        Ok(body) => Outcome::Served {
            cluster: body
                .get("cluster")
                .and_then(|c| c.as_str())
                .unwrap_or("unknown")
                .to_string(),
        },
        Err(reason) => Outcome::Failed { reason },
    }
}

/// GETs `url` and decodes the JSON body of a 200 answer; otherwise the
/// short reason it failed (`timeout`, `connect`, `HTTP 503`, ...).
pub(crate) async fn get_ok_json(
    client: &reqwest::Client,
    url: &str,
) -> Result<serde_json::Value, String> {
    let response = client.get(url).send().await.map_err(|e| reason_of(&e))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    response
        .json::<serde_json::Value>()
        .await
        .map_err(|e| reason_of(&e))
}

fn reason_of(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else if error.is_decode() {
        "bad body".into()
    } else if error.is_body() {
        "body cut off".into()
    } else {
        "request".into()
    }
}

fn record(totals: &Mutex<Totals>, outcome: Outcome) {
    // A poisoned lock only means another recorder panicked mid-update;
    // the counters are still the best figures there are.
    let mut totals = totals
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    totals.record(outcome);
}

fn update_report(report: &mut Report, totals: &Mutex<Totals>, started: Instant) {
    let now = totals
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    report.last_second = now.since(&report.totals);
    report.totals = now;
    report.updated_unix = unix_now();
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
}

fn write_report(file: &std::path::Path, report: &Report) -> Result<(), SandboxError> {
    let json = serde_json::to_string_pretty(report).map_err(|source| SandboxError::BadEnvFile {
        path: file.to_path_buf(),
        source,
    })?;
    write_atomically(file, &(json + "\n"))
}

pub fn read_report(file: &std::path::Path) -> Result<Report, SandboxError> {
    let text = std::fs::read_to_string(file).map_err(|e| SandboxError::io("read", file, e))?;
    serde_json::from_str(&text).map_err(|source| SandboxError::BadEnvFile {
        path: file.to_path_buf(),
        source,
    })
}

/// `sandbox load`: a load generator of its own until SIGTERM/SIGINT, then
/// the final totals and the rate achieved.
pub async fn run(options: LoadOptions) -> Result<(), SandboxError> {
    let mut stop = StopSignals::register()?;
    let generator = LoadGenerator::start(options.url.clone(), options.rate_per_s, options.out)?;
    println!(
        "load: sending {} req/s to {} until SIGTERM/SIGINT",
        options.rate_per_s, options.url
    );
    let signal = stop.recv().await;
    tracing::info!("{signal}: stopping the load generator");
    let report = generator.stop().await?;
    println!("load: {}", describe_report(&report));
    Ok(())
}

/// `12000 requests, 0 failed; served by x 6000, y 6000; 200.0 req/s over 60.0 s`.
pub fn describe_report(report: &Report) -> String {
    let seconds = report.elapsed_ms as f64 / 1000.0;
    let rate = if seconds > 0.0 {
        report.totals.requests as f64 / seconds
    } else {
        0.0
    };
    format!(
        "{}; {rate:.1} req/s over {seconds:.1} s",
        describe_totals(&report.totals)
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_counters_and_drops_empty_keys() {
        let mut earlier = Totals::default();
        earlier.record(Outcome::Served {
            cluster: "x".into(),
        });
        let mut now = earlier.clone();
        now.record(Outcome::Served {
            cluster: "y".into(),
        });
        now.record(Outcome::Failed {
            reason: "HTTP 503".into(),
        });
        let delta = now.since(&earlier);
        assert_eq!((delta.requests, delta.succeeded, delta.failed), (2, 1, 1));
        assert_eq!(delta.served_by, BTreeMap::from([("y".to_string(), 1)]));
        assert_eq!(
            delta.failures,
            BTreeMap::from([("HTTP 503".to_string(), 1)])
        );
    }

    /// Against a real kongsim node behind a real HAProxy, with kongsim's
    /// deterministic fault injection: 3 in every 10 requests fail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_what_a_real_cluster_behind_haproxy_answers() {
        let node = testbed::kongsim::KongSim::builder("3.6.1")
            .cluster_name("x")
            .start()
            .unwrap();
        let proxy: std::net::SocketAddr = node
            .proxy_url
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let unused: std::net::SocketAddr = ([127, 0, 0, 1], testbed::free_port()).into();
        let haproxy = testbed::haproxy::Haproxy::start(proxy, unused, (100, 0)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("load.json");

        let generator = LoadGenerator::start(
            format!("{}/demo", haproxy.frontend_url()),
            100,
            file.clone(),
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let healthy = read_report(&file).unwrap();
        assert!(healthy.running);
        assert!(healthy.totals.succeeded > 0, "{healthy:?}");
        assert_eq!(healthy.totals.failed, 0, "{healthy:?}");
        assert_eq!(healthy.totals.served_by.keys().collect::<Vec<_>>(), ["x"]);

        node.set_faults(0.3, 0).unwrap();
        // The next report written after this is entirely under faults.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let faults_on = read_report(&file).unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let report = generator.stop().await.unwrap();
        assert!(!report.running);
        assert_eq!(
            report.totals.requests,
            report.totals.succeeded + report.totals.failed
        );
        let faulted = report.totals.since(&faults_on.totals);
        // kongsim fails exactly 3 in every 10; the window may cut a cycle.
        let expected = faulted.requests * 3 / 10;
        assert!(faulted.failed.abs_diff(expected) <= 3, "{faulted:?}");
        assert_eq!(faulted.failures.keys().collect::<Vec<_>>(), ["HTTP 500"]);
        assert_eq!(read_report(&file).unwrap(), report);
    }
}
