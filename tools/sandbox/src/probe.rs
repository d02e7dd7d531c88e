//! `sandbox probe`: one GET every few milliseconds, each on a fresh
//! connection, until SIGTERM/SIGINT; then the downtime windows it saw.
//!
//! A window opens at the first failed probe and closes at the first
//! successful probe after it, both taken at the moment the probe was sent.
//! The true outage began after the last success before the window and ended
//! before its closing success, so a window is accurate to about one probe
//! interval at each end (plus a probe's own round trip, ~1 ms on loopback).
//! Fresh connections, because what matters is whether a new client is
//! served, as a load balancer's next connection would be; a kept-alive
//! connection would only say something about the process that accepted it.

use crate::cli::ProbeOptions;
use crate::env::write_atomically;
use crate::error::SandboxError;
use crate::load::get_ok_json;
use crate::signals::StopSignals;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::time::MissedTickBehavior;

/// What one probe got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200; who answered, as `cluster version` from kongsim's body
    /// (`x 3.5.0`), or `unknown` for any other server.
    Served {
        by: String,
    },
    Failed {
        reason: String,
    },
}

/// One stretch of failed probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowntimeWindow {
    /// The last successful probe before the window (none if the very first
    /// probe failed).
    pub last_success_unix_ms: Option<u64>,
    pub first_failure_unix_ms: u64,
    /// The first successful probe after the window; none if probing stopped
    /// before the target answered again.
    pub recovered_unix_ms: Option<u64>,
    /// `recovered - first_failure`, once recovered.
    pub duration_ms: Option<u64>,
    pub failed_probes: u64,
    pub served_before: Option<String>,
    pub served_after: Option<String>,
}

/// Everything `probe` measured; written as JSON to `--out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub url: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub started_unix_ms: u64,
    pub stopped_unix_ms: u64,
    pub probes: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Failures per reason (`connect`, `HTTP 503`, `timeout`, ...).
    pub failures: BTreeMap<String, u64>,
    /// Successes per answering `cluster version`.
    pub served_by: BTreeMap<String, u64>,
    pub windows: Vec<DowntimeWindow>,
}

/// Turns a sequence of timed outcomes into counters and windows. No clock
/// and no I/O: times are given.
#[derive(Debug, Default)]
pub struct Tracker {
    probes: u64,
    succeeded: u64,
    failed: u64,
    failures: BTreeMap<String, u64>,
    served_by: BTreeMap<String, u64>,
    windows: Vec<DowntimeWindow>,
    last_success: Option<(u64, String)>,
    /// The window being measured, if the last probe failed.
    open: Option<DowntimeWindow>,
}

impl Tracker {
    pub fn record(&mut self, sent_unix_ms: u64, outcome: Outcome) {
        self.probes += 1;
        match outcome {
            Outcome::Served { by } => {
                self.succeeded += 1;
                *self.served_by.entry(by.clone()).or_default() += 1;
                if let Some(mut window) = self.open.take() {
                    window.recovered_unix_ms = Some(sent_unix_ms);
                    window.duration_ms =
                        Some(sent_unix_ms.saturating_sub(window.first_failure_unix_ms));
                    window.served_after = Some(by.clone());
                    self.windows.push(window);
                }
                self.last_success = Some((sent_unix_ms, by));
            }
            Outcome::Failed { reason } => {
                self.failed += 1;
                *self.failures.entry(reason).or_default() += 1;
                let last_success = self.last_success.clone();
                let window = self.open.get_or_insert_with(|| DowntimeWindow {
                    last_success_unix_ms: last_success.as_ref().map(|(at, _)| *at),
                    first_failure_unix_ms: sent_unix_ms,
                    recovered_unix_ms: None,
                    duration_ms: None,
                    failed_probes: 0,
                    served_before: last_success.map(|(_, by)| by),
                    served_after: None,
                });
                window.failed_probes += 1;
            }
        }
    }

    pub fn has_succeeded(&self) -> bool {
        self.succeeded > 0
    }

    /// The report so far; a window still open is reported unrecovered.
    pub fn report(&self, options: &ProbeOptions, started: u64, stopped: u64) -> ProbeReport {
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ProbeReport {
            url: options.url.clone(),
            interval_ms: millis(options.interval),
            timeout_ms: millis(options.timeout),
            started_unix_ms: started,
            stopped_unix_ms: stopped,
            probes: self.probes,
            succeeded: self.succeeded,
            failed: self.failed,
            failures: self.failures.clone(),
            served_by: self.served_by.clone(),
            windows: self.windows.iter().chain(&self.open).cloned().collect(),
        }
    }
}

/// Probes until SIGTERM/SIGINT, then prints the windows and writes the
/// report. Says so on stdout once the target has answered for the first
/// time, which is when a benchmark may start what it measures.
pub async fn run(options: ProbeOptions) -> Result<(), SandboxError> {
    let mut stop = StopSignals::register()?;
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .pool_max_idle_per_host(0)
        .build()?;
    let mut tracker = Tracker::default();
    let started = unix_ms_now();
    let mut tick = tokio::time::interval(options.interval);
    // A probe that took longer than the interval is not followed by a burst
    // of catch-up probes: they would all land in the same millisecond.
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let signal = loop {
        tokio::select! {
            signal = stop.recv() => break signal,
            _ = tick.tick() => {}
        }
        let sent = unix_ms_now();
        let outcome = tokio::select! {
            signal = stop.recv() => break signal,
            outcome = probe_once(&client, &options.url) => outcome,
        };
        let first_success = !tracker.has_succeeded() && matches!(outcome, Outcome::Served { .. });
        tracker.record(sent, outcome);
        if first_success {
            println!(
                "probe: {} answers; probing every {} ms until SIGTERM/SIGINT",
                options.url,
                options.interval.as_millis()
            );
        }
    };
    tracing::info!("{signal}: stopping the probe");
    let report = tracker.report(&options, started, unix_ms_now());
    print!("{}", describe(&report));
    if let Some(out) = &options.out {
        let json =
            serde_json::to_string_pretty(&report).map_err(|source| SandboxError::BadEnvFile {
                path: out.clone(),
                source,
            })?;
        write_atomically(out, &(json + "\n"))?;
    }
    Ok(())
}

async fn probe_once(client: &reqwest::Client, url: &str) -> Outcome {
    match get_ok_json(client, url).await {
        Ok(body) => Outcome::Served {
            by: answered_by(&body),
        },
        Err(reason) => Outcome::Failed { reason },
    }
}

/// `x 3.5.0` from kongsim's proxied body; `unknown` for anything else.
fn answered_by(body: &serde_json::Value) -> String {
    let field = |name: &str| body.get(name).and_then(|v| v.as_str());
    match (field("cluster"), field("version")) {
        (Some(cluster), Some(version)) => format!("{cluster} {version}"),
        (Some(cluster), None) => cluster.to_string(),
        _ => "unknown".to_string(),
    }
}

/// The human summary `probe` prints when it stops.
pub fn describe(report: &ProbeReport) -> String {
    let mut text = format!(
        "probe: {} probes of {} every {} ms, {} failed",
        report.probes, report.url, report.interval_ms, report.failed
    );
    if !report.failures.is_empty() {
        let reasons: Vec<String> = report
            .failures
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        let _ = write!(text, " ({})", reasons.join(", "));
    }
    if !report.served_by.is_empty() {
        let served: Vec<String> = report
            .served_by
            .iter()
            .map(|(by, n)| format!("{by}: {n}"))
            .collect();
        let _ = write!(text, "; served by {}", served.join(", "));
    }
    let _ = writeln!(text, "\nprobe: {} downtime window(s)", report.windows.len());
    for window in &report.windows {
        let length = match window.duration_ms {
            Some(ms) => format!("{:.3} s", ms as f64 / 1000.0),
            None => "not over when probing stopped".to_string(),
        };
        let _ = writeln!(
            text,
            "  {length}: {} failed probe(s) from {} ({} before, {} after)",
            window.failed_probes,
            window.first_failure_unix_ms,
            window.served_before.as_deref().unwrap_or("nobody"),
            window.served_after.as_deref().unwrap_or("nobody"),
        );
    }
    text
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn served(by: &str) -> Outcome {
        Outcome::Served { by: by.into() }
    }

    fn failed(reason: &str) -> Outcome {
        Outcome::Failed {
            reason: reason.into(),
        }
    }

    fn options(url: &str) -> ProbeOptions {
        ProbeOptions {
            url: url.into(),
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(500),
            out: None,
        }
    }

    #[test]
    fn a_window_runs_from_the_first_failure_to_the_first_success_after_it() {
        let mut tracker = Tracker::default();
        tracker.record(1_000, served("x 3.5.0"));
        tracker.record(1_010, served("x 3.5.0"));
        tracker.record(1_020, failed("connect"));
        tracker.record(1_030, failed("connect"));
        tracker.record(1_041, failed("HTTP 503"));
        tracker.record(1_052, served("y 3.6.1"));
        tracker.record(1_062, served("y 3.6.1"));
        let report = tracker.report(&options("http://h/"), 990, 1_070);
        assert_eq!((report.probes, report.succeeded, report.failed), (7, 4, 3));
        assert_eq!(
            report.failures,
            BTreeMap::from([("HTTP 503".into(), 1), ("connect".into(), 2)])
        );
        assert_eq!(
            report.windows,
            vec![DowntimeWindow {
                last_success_unix_ms: Some(1_010),
                first_failure_unix_ms: 1_020,
                recovered_unix_ms: Some(1_052),
                duration_ms: Some(32),
                failed_probes: 3,
                served_before: Some("x 3.5.0".into()),
                served_after: Some("y 3.6.1".into()),
            }]
        );
    }

    #[test]
    fn every_outage_is_its_own_window_and_an_unfinished_one_is_reported_open() {
        let mut tracker = Tracker::default();
        tracker.record(0, failed("connect"));
        tracker.record(10, served("x"));
        tracker.record(20, failed("timeout"));
        tracker.record(30, served("x"));
        tracker.record(40, failed("connect"));
        let windows = tracker.report(&options("http://h/"), 0, 50).windows;
        assert_eq!(windows.len(), 3);
        assert_eq!(
            (windows[0].last_success_unix_ms, windows[0].duration_ms),
            (None, Some(10))
        );
        assert_eq!(windows[1].duration_ms, Some(10));
        assert_eq!(
            (windows[2].recovered_unix_ms, windows[2].duration_ms),
            (None, None)
        );
        assert!(describe(&tracker.report(&options("http://h/"), 0, 50))
            .contains("not over when probing stopped"));
    }

    #[test]
    fn kongsim_bodies_name_cluster_and_version() {
        let body = serde_json::json!({"cluster": "y", "version": "3.6.1", "path": "/"});
        assert_eq!(answered_by(&body), "y 3.6.1");
        assert_eq!(answered_by(&serde_json::json!({"ok": true})), "unknown");
    }

    /// A DB-less kongsim node whose proxy listens on `proxy`.
    fn serve_on(version: &str, cluster: &str, proxy: &str) -> std::process::Child {
        let free = || format!("127.0.0.1:{}", testbed::free_port());
        std::process::Command::new(testbed::kongsim::kongsim_bin())
            .args(["--kong-version", version, "serve", "--database", "off"])
            .args(["--proxy-listen", proxy, "--cluster-name", cluster])
            .args(["--admin-listen", &free(), "--status-listen", &free()])
            .args(["--control-listen", &free()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    async fn until_served(client: &reqwest::Client, url: &str) {
        for _ in 0..200 {
            if matches!(probe_once(client, url).await, Outcome::Served { .. }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{url} never answered");
    }

    /// A real kongsim node stopped, and another started on the same port:
    /// one window, closed by the second node.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sees_a_real_node_go_away_and_another_come_back_on_its_port() {
        let proxy = format!("127.0.0.1:{}", testbed::free_port());
        let url = format!("http://{proxy}/probe");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let mut first = serve_on("3.5.0", "x", &proxy);
        until_served(&client, &url).await;

        let mut tracker = Tracker::default();
        let mut clock = 0;
        let mut probe = |outcome: Outcome, tracker: &mut Tracker| {
            clock += 10;
            tracker.record(clock, outcome);
        };
        probe(probe_once(&client, &url).await, &mut tracker);
        first.kill().unwrap();
        first.wait().unwrap();
        probe(probe_once(&client, &url).await, &mut tracker);
        probe(probe_once(&client, &url).await, &mut tracker);
        let mut second = serve_on("3.6.1", "y", &proxy);
        until_served(&client, &url).await;
        probe(probe_once(&client, &url).await, &mut tracker);
        second.kill().unwrap();
        second.wait().unwrap();

        let report = tracker.report(&options(&url), 0, 40);
        assert_eq!(report.failures, BTreeMap::from([("connect".into(), 2)]));
        assert_eq!(report.windows.len(), 1, "{report:?}");
        let window = &report.windows[0];
        assert_eq!(window.served_before.as_deref(), Some("x 3.5.0"));
        assert_eq!(window.served_after.as_deref(), Some("y 3.6.1"));
        assert_eq!(window.duration_ms, Some(20));
    }
}
