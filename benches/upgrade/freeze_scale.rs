//! Freeze at scale (issue 9). Prints figures; asserts nothing.
//!
//! For kongsim 3.6.1 on PostgreSQL holding N entities (10,000 and 50,000),
//! the provider's freeze fingerprint (`steps::freeze::take`, then the JSON
//! the provider keeps in private state) and its verification (a second
//! fingerprint and `compare`): Admin API requests made (counted by the
//! provider and by kongsim itself), wall time, and the peak RSS of this
//! process while the provider's code runs (the kernel's high-water mark,
//! reset through /proc/self/clear_refs before each measurement).
//! Targets at 50,000: <= 60 requests and <= 1.0 s per fingerprint, peak RSS
//! <= 40 MiB.
//!
//! The entities: 40 % services, 40 % routes (of one service), 10 %
//! consumers and 10 % key-auth credentials (of one consumer), seeded in
//! bulk through kongsim's control API.
//!
//! Run: `cargo build --release -p kongsim && KONGSIM_BIN=target/release/kongsim
//! cargo bench --bench freeze_scale` (`make bench-upgrade` does this);
//! `FREEZE_SIZES=10000,50000` sets the sizes.

use std::time::{Duration, Instant};
use terraform_provider_kong::kong::{AdminSettings, KongClient};
use terraform_provider_kong::steps::freeze;
use testbed::kongsim::{http_request, KongSim};
use testbed::Postgres;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BenchResult<()> {
    let sizes: Vec<u64> = std::env::var("FREEZE_SIZES")
        .unwrap_or_else(|_| "10000,50000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    // One worker, as the provider's runtime has no more to spare on a
    // loaded machine: the freeze's concurrent collection reads overlap
    // Kong's answers with the hashing, they do not need more threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    println!("freeze at scale (kongsim 3.6.1 on PostgreSQL)");
    println!(
        "{:>8}  {:<12} {:>9} {:>10} {:>9} {:>12} {:>13}",
        "entities", "step", "requests", "(kongsim)", "wall", "peak RSS", "state JSON"
    );
    for n in sizes {
        let pg = Postgres::start()?;
        let kong = KongSim::builder("3.6.1")
            .postgres(&pg)
            .bootstrap()
            .start()?;
        seed(&kong, n)?;
        // Past the seed's second, so the fingerprint settles at once.
        std::thread::sleep(Duration::from_millis(1100));
        let client = KongClient::new(&kong.admin_url, &AdminSettings::default())?;

        let before = kongsim_requests(&kong)?;
        reset_peak_rss();
        let started = Instant::now();
        let (frozen, stats, state_len) = runtime.block_on(async {
            let (fp, stats) = freeze::take_counted(&client).await?;
            // What the provider then keeps in Terraform's private state.
            let state = serde_json::to_vec(&fp)?;
            Ok::<_, Box<dyn std::error::Error>>((fp, stats, state.len()))
        })?;
        let wall = started.elapsed();
        let rss = peak_rss_kib();
        let served = kongsim_requests(&kong)? - before;
        row(
            n,
            "fingerprint",
            stats.requests,
            served,
            wall,
            rss,
            Some(state_len),
        );

        let before = kongsim_requests(&kong)?;
        reset_peak_rss();
        let started = Instant::now();
        let (violation, stats) = runtime.block_on(async {
            let (now, stats) = freeze::take_counted(&client).await?;
            Ok::<_, Box<dyn std::error::Error>>((freeze::compare(&frozen, &now), stats))
        })?;
        let wall = started.elapsed();
        let rss = peak_rss_kib();
        let served = kongsim_requests(&kong)? - before;
        row(n, "verification", stats.requests, served, wall, rss, None);
        if !violation.is_empty() {
            println!("          (unexpected violation: {violation})");
        }
        drop(frozen);
    }
    Ok(())
}

fn seed(kong: &KongSim, n: u64) -> BenchResult<()> {
    let tenth = n / 10;
    kong.seed(
        "services",
        4 * tenth,
        r#"{"name":"svc","host":"seed.internal"}"#,
    )?;
    let service = first_id(kong, "/services")?;
    kong.seed(
        "routes",
        4 * tenth,
        &format!(r#"{{"name":"route","paths":["/seed"],"service":{{"id":"{service}"}}}}"#),
    )?;
    kong.seed("consumers", tenth, r#"{"username":"user"}"#)?;
    let consumer = first_id(kong, "/consumers")?;
    kong.seed(
        "key-auths",
        n - 9 * tenth,
        &format!(r#"{{"key":"k","consumer":{{"id":"{consumer}"}}}}"#),
    )?;
    Ok(())
}

fn first_id(kong: &KongSim, path: &str) -> BenchResult<String> {
    let (_, body) = http_request(&kong.admin_url, "GET", &format!("{path}?size=1"), "")?;
    let page: serde_json::Value = serde_json::from_str(&body)?;
    Ok(page["data"][0]["id"]
        .as_str()
        .ok_or("no entity")?
        .to_string())
}

/// kongsim's own count of Admin API requests (`GET /health` on its control
/// listener).
fn kongsim_requests(kong: &KongSim) -> BenchResult<u64> {
    let (_, body) = http_request(&kong.control_url, "GET", "/health", "")?;
    let health: serde_json::Value = serde_json::from_str(&body)?;
    Ok(health["total_requests"]
        .as_u64()
        .ok_or("no total_requests")?)
}

/// Resets the kernel's peak-RSS mark of this process (`VmHWM`) to its
/// current RSS.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn row(
    n: u64,
    step: &str,
    requests: usize,
    served: u64,
    wall: Duration,
    rss_kib: Option<u64>,
    state_len: Option<usize>,
) {
    let rss = rss_kib.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    let state = state_len.map_or(String::new(), |b| {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    });
    println!(
        "{n:>8}  {step:<12} {requests:>9} {served:>10} {:>8.2}s {rss:>12} {state:>13}",
        wall.as_secs_f64()
    );
}
