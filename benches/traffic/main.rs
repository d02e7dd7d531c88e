//! Traffic-shift benchmark (issue 4). Prints figures; asserts nothing.
//!
//! 1. Failed requests during a 0 → 100 % shift (10 steps of 10 %, 1 s each,
//!    gated by Prometheus) under `wrk` load, for the haproxy and nginx
//!    drivers. Goal: 0.
//! 2. Abort reaction: from cluster Y turning bad (kongsim's fault switch) to
//!    100 % of traffic on X, with a 1 s gate interval and Prometheus scraping
//!    every 1 s. Goal: ≤ 2 s.
//!
//! Real components throughout: two kongsim clusters, Debian's HAProxy,
//! nginx, Prometheus and wrk.
//!
//! Run: `cargo build -p kongsim && cargo bench --bench traffic_shift`
//! (`TRAFFIC_BENCH_TRIALS=N` sets the number of abort trials, default 8).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use terraform_provider_kong::gates::{AnalysisPolicy, GateCheck, GateSpec, PrometheusCheck};
use terraform_provider_kong::traffic::{
    plan_shift, shift, HaproxyDriver, NginxDriver, OnFailure, Progression, Reaction,
    RuntimeApiAddress, ShiftEvent, StepSpec, TrafficDriver, TrafficWeight, Weights,
};
use testbed::haproxy::{Haproxy, BACKEND, SERVER_X, SERVER_Y};
use testbed::kongsim::{http_request, KongSim};
use testbed::nginx::Nginx;
use testbed::prometheus::{Prometheus, ScrapeTarget};
use tokio_util::sync::CancellationToken;

const GATE_INTERVAL: Duration = Duration::from_secs(1);
const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);
const WRK_THREADS: &str = "2";
const WRK_CONNECTIONS: &str = "16";

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> BenchResult<()> {
    let x = KongSim::builder("3.6.1").cluster_name("x").start()?;
    let y = Arc::new(KongSim::builder("3.6.1").cluster_name("y").start()?);
    let targets = [
        ScrapeTarget::new("x", addr(&x.status_url)?),
        ScrapeTarget::new("y", addr(&y.status_url)?),
    ];
    let prometheus = Prometheus::start(&targets, SCRAPE_INTERVAL)?;
    let gates = [y_error_gate(&prometheus)];
    println!("traffic shift benchmark: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, gate interval {GATE_INTERVAL:?}, scrape interval {SCRAPE_INTERVAL:?}\n");

    println!("## Failed requests during a 0 → 100 % shift (10 × 10 %, 1 s per step)");
    {
        let haproxy = Haproxy::start(addr(&x.proxy_url)?, addr(&y.proxy_url)?, (100, 0))?;
        let driver = HaproxyDriver::new(
            RuntimeApiAddress::Unix(haproxy.admin_socket()),
            BACKEND,
            SERVER_X,
            SERVER_Y,
        )?;
        let figures = shift_under_load(&driver, &gates, &haproxy.frontend_url(), &[], &y).await?;
        figures.print("haproxy (keep-alive clients)");
    }
    for (label, extra) in [
        ("nginx (keep-alive clients)", &[][..]),
        (
            "nginx (Connection: close)",
            &["-H", "Connection: close"][..],
        ),
    ] {
        let (x_addr, y_addr) = (
            addr(&x.proxy_url)?.to_string(),
            addr(&y.proxy_url)?.to_string(),
        );
        let initial = NginxDriver::new("/unused".into(), "kong", &x_addr, &y_addr)?
            .render(Weights::all_on_x());
        let nginx = Nginx::start("kong", &initial)?;
        let driver = NginxDriver::new(nginx.upstream_file(), "kong", &x_addr, &y_addr)?
            .with_reload_argv(nginx.reload_argv())?
            .with_validate_argv(nginx.validate_argv())?
            .with_pid_file(nginx.pid_file());
        let figures = shift_under_load(&driver, &gates, &nginx.frontend_url(), extra, &y).await?;
        figures.print(label);
    }

    println!("\n## Abort reaction (Y turns bad at 30 % → 100 % on X)");
    let trials: usize = std::env::var("TRAFFIC_BENCH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(8);
    let haproxy = Haproxy::start(addr(&x.proxy_url)?, addr(&y.proxy_url)?, (100, 0))?;
    let driver = HaproxyDriver::new(
        RuntimeApiAddress::Unix(haproxy.admin_socket()),
        BACKEND,
        SERVER_X,
        SERVER_Y,
    )?;
    let wrk = Wrk::start(&haproxy.frontend_url(), &[])?;
    let mut reactions = Vec::new();
    for trial in 1..=trials {
        let reaction = abort_reaction(&driver, &gates, &y).await?;
        println!("  trial {trial}: {:.3} s", reaction.as_secs_f64());
        reactions.push(reaction);
        // Let the failures leave the gate's window before the next trial.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    wrk.stop()?;
    reactions.sort();
    if let (Some(min), Some(max)) = (reactions.first(), reactions.last()) {
        let median = reactions[reactions.len() / 2];
        println!(
            "  abort reaction over {trials} trials: min {:.3} s, median {:.3} s, max {:.3} s (goal ≤ 2 s)",
            min.as_secs_f64(),
            median.as_secs_f64(),
            max.as_secs_f64()
        );
    }
    Ok(())
}

/// No 5xx from Y over the last 3 s (2 scrapes at least).
fn y_error_gate(prometheus: &Prometheus) -> GateSpec {
    GateSpec {
        name: "y_errors".into(),
        check: GateCheck::Prometheus(PrometheusCheck {
            url: prometheus.url(),
            query:
                r#"sum(increase(kong_http_requests_total{job="y",code=~"5.."}[3s])) or vector(0)"#
                    .into(),
            min: None,
            max: Some(0.0),
            auth: Default::default(),
        }),
        policy: AnalysisPolicy {
            interval: GATE_INTERVAL,
            timeout: Duration::from_secs(5),
            ..AnalysisPolicy::default()
        },
    }
}

struct ShiftFigures {
    wrk: WrkReport,
    shift_seconds: f64,
    proxied_by_y: u64,
}

impl ShiftFigures {
    fn print(&self, label: &str) {
        let w = &self.wrk;
        println!(
            "  {label}: {} requests at {:.0} req/s; failed {} (non-2xx {}, socket errors: connect {}, read {}, write {}, timeout {}); shift took {:.1} s; Y answered {}",
            w.requests, w.requests_per_second, w.failed(), w.non_2xx, w.connect_errors, w.read_errors, w.write_errors,
            w.timeouts, self.shift_seconds, self.proxied_by_y
        );
    }
}

async fn shift_under_load(
    driver: &impl TrafficDriver,
    gates: &[GateSpec],
    url: &str,
    wrk_args: &[&str],
    y: &KongSim,
) -> BenchResult<ShiftFigures> {
    driver.set_weights(Weights::all_on_x()).await?;
    let y_before = proxied_requests(y)?;
    let wrk = Wrk::start(url, wrk_args)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let progression = Progression::Linear {
        step_weight: TrafficWeight::new(10)?,
        interval: Duration::from_secs(1),
    };
    let plan = plan_shift(
        TrafficWeight::ZERO,
        TrafficWeight::FULL,
        &progression,
        OnFailure::Rollback,
    )?;
    let started = Instant::now();
    let outcome = shift(
        driver,
        &plan,
        gates,
        &CancellationToken::new(),
        |_: &ShiftEvent| {},
    )
    .await?;
    let shift_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = wrk.stop()?;
    if outcome.weights != Weights::with_y(TrafficWeight::FULL) {
        return Err(format!("the shift ended at {}", outcome.weights).into());
    }
    Ok(ShiftFigures {
        wrk: report,
        shift_seconds,
        proxied_by_y: proxied_requests(y)? - y_before,
    })
}

/// One abort: walk 10 % → 30 % (long pause) → 100 %, turn Y bad two to three
/// seconds into the 30 % step (the fraction varies, so trials sample every
/// phase of the gate and scrape ticks), and time until the executor has put
/// all traffic on X.
async fn abort_reaction(
    driver: &HaproxyDriver,
    gates: &[GateSpec],
    y: &Arc<KongSim>,
) -> BenchResult<Duration> {
    y.set_faults(0.0, 0)?;
    driver.set_weights(Weights::all_on_x()).await?;
    let step = |weight: i64, pause: u64| -> BenchResult<StepSpec> {
        Ok(StepSpec {
            weight: TrafficWeight::new(weight)?,
            pause: Duration::from_secs(pause),
            analysis: true,
        })
    };
    let progression = Progression::Steps(vec![step(10, 3)?, step(30, 60)?]);
    let plan = plan_shift(
        TrafficWeight::ZERO,
        TrafficWeight::FULL,
        &progression,
        OnFailure::Rollback,
    )?;
    let turned_bad: Arc<Mutex<Option<Instant>>> = Arc::default();
    let rolled_back: Arc<Mutex<Option<Instant>>> = Arc::default();
    let on_event = {
        let (turned_bad, rolled_back, y) = (turned_bad.clone(), rolled_back.clone(), y.clone());
        move |event: &ShiftEvent| match event {
            ShiftEvent::StepApplied { weights, .. } if weights.y.percent() == 30 => {
                let (turned_bad, y) = (turned_bad.clone(), y.clone());
                tokio::task::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_secs(2) + phase_jitter());
                    let now = Instant::now();
                    if y.set_faults(0.5, 0).is_ok() {
                        *lock(&turned_bad) = Some(now);
                    }
                });
            }
            ShiftEvent::RolledBack { .. } => *lock(&rolled_back) = Some(Instant::now()),
            _ => {}
        }
    };
    let error = match shift(driver, &plan, gates, &CancellationToken::new(), on_event).await {
        Ok(outcome) => {
            return Err(format!("the shift was not aborted (ended at {})", outcome.weights).into())
        }
        Err(e) => e,
    };
    y.set_faults(0.0, 0)?;
    if !matches!(error.reaction, Reaction::RolledBack)
        || driver.read_weights().await? != Weights::all_on_x()
    {
        return Err(format!("not rolled back: {error}").into());
    }
    let (Some(bad), Some(back)) = (*lock(&turned_bad), *lock(&rolled_back)) else {
        return Err(format!("aborted before Y turned bad: {error}").into());
    };
    Ok(back.saturating_duration_since(bad))
}

/// 0..1 s, from the clock's sub-second digits: enough spread to sample the
/// phase, without a random number generator dependency.
fn phase_jitter() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(u64::from(nanos % 1_000_000_000 / 1_000_000))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Requests kongsim's proxy answered so far (its control API's counter).
fn proxied_requests(node: &KongSim) -> BenchResult<u64> {
    let (_, body) = http_request(&node.control_url, "GET", "/health", "")?;
    let health: serde_json::Value = serde_json::from_str(&body)?;
    health["proxied_requests"]
        .as_u64()
        .ok_or_else(|| format!("no proxied_requests in {body}").into())
}

fn addr(url: &str) -> BenchResult<std::net::SocketAddr> {
    Ok(url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()?)
}

/// Debian's wrk, running until stopped with SIGINT (it then prints its
/// summary).
struct Wrk {
    child: Child,
}

#[derive(Debug, Default)]
struct WrkReport {
    requests: u64,
    requests_per_second: f64,
    non_2xx: u64,
    connect_errors: u64,
    read_errors: u64,
    write_errors: u64,
    timeouts: u64,
}

impl WrkReport {
    fn failed(&self) -> u64 {
        self.non_2xx + self.connect_errors + self.read_errors + self.write_errors + self.timeouts
    }

    fn parse(text: &str) -> WrkReport {
        let mut report = WrkReport::default();
        for line in text.lines().map(str::trim) {
            if line.contains(" requests in ") {
                report.requests = first_number(line);
            } else if let Some(rest) = line.strip_prefix("Requests/sec:") {
                report.requests_per_second = rest.trim().parse().unwrap_or(0.0);
            } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
                report.non_2xx = first_number(rest);
            } else if let Some(rest) = line.strip_prefix("Socket errors:") {
                let count = |name: &str| {
                    rest.split(',')
                        .find_map(|part| part.trim().strip_prefix(name))
                        .map_or(0, first_number)
                };
                report.connect_errors = count("connect");
                report.read_errors = count("read");
                report.write_errors = count("write");
                report.timeouts = count("timeout");
            }
        }
        report
    }
}

fn first_number(text: &str) -> u64 {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl Wrk {
    fn start(url: &str, extra: &[&str]) -> BenchResult<Wrk> {
        let child = Command::new("wrk")
            .args([
                "-t",
                WRK_THREADS,
                "-c",
                WRK_CONNECTIONS,
                "-d",
                "1h",
                "--timeout",
                "5s",
            ])
            .args(extra)
            .arg(format!("{url}/"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("wrk (Debian package `wrk`): {e}"))?;
        Ok(Wrk { child })
    }

    fn stop(self) -> BenchResult<WrkReport> {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        let output = self.child.wait_with_output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let report = WrkReport::parse(&text);
        if report.requests == 0 {
            return Err(format!(
                "wrk reported nothing: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(report)
    }
}
