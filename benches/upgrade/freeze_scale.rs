//! Freeze at scale (issue 9). Prints figures; asserts nothing.
//!
//! For kongsim 3.6.1 on PostgreSQL holding N entities (10,000 and 50,000),
//! the provider's freeze fingerprint (`steps::freeze::take`, then the JSON
//! the provider keeps in private state) and its verification (a second
//! fingerprint and `compare`): Admin API requests made (counted by the
//! provider and by kongsim itself) and in how many readings (the freeze
//! reads again while Kong's clock has not passed the newest write), wall
//! time, CPU time spent by the provider (this process), kongsim and the
//! PostgreSQL backends serving kongsim (the machine's other load stretches
//! the wall, not these), and the peak RSS of this process while the provider's code runs (the
//! kernel's high-water mark, reset through /proc/self/clear_refs before
//! each measurement).
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

use std::collections::HashMap;
use std::time::{Duration, Instant};
use terraform_provider_kong::kong::{AdminSettings, KongClient};
use terraform_provider_kong::steps::freeze::{self, ReadStats};
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
        "{:>8}  {:<12} {:>9} {:>10} {:>9} {:>9} {:>25} {:>12} {:>13}",
        "entities",
        "step",
        "requests",
        "(kongsim)",
        "readings",
        "wall",
        "CPU provider/kongsim/pg",
        "peak RSS",
        "state JSON"
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
        let cpu = CpuTicks::sample(&kong, &pg);
        let started = Instant::now();
        let (frozen, stats, state_len) = runtime.block_on(async {
            let (fp, stats) = freeze::take_counted(&client).await?;
            // What the provider then keeps in Terraform's private state.
            let state = serde_json::to_vec(&fp)?;
            Ok::<_, Box<dyn std::error::Error>>((fp, stats, state.len()))
        })?;
        let measured = Measured::since(started, &cpu, stats, &kong, &pg);
        let served = kongsim_requests(&kong)? - before;
        row(n, "fingerprint", served, &measured, Some(state_len));

        let before = kongsim_requests(&kong)?;
        reset_peak_rss();
        let cpu = CpuTicks::sample(&kong, &pg);
        let started = Instant::now();
        let (violation, stats) = runtime.block_on(async {
            let (now, stats) = freeze::take_counted(&client).await?;
            Ok::<_, Box<dyn std::error::Error>>((freeze::compare(&frozen, &now), stats))
        })?;
        let measured = Measured::since(started, &cpu, stats, &kong, &pg);
        let served = kongsim_requests(&kong)? - before;
        row(n, "verification", served, &measured, None);
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

/// CPU time so far (user + system, all threads) in clock ticks
/// (`/proc/PID/stat` fields 14 and 15) of the provider (this process),
/// kongsim, and each PostgreSQL backend of role `kong` (kongsim's
/// connections), by pid.
struct CpuTicks {
    provider: u64,
    kongsim: u64,
    backends: HashMap<u32, u64>,
}

impl CpuTicks {
    fn sample(kong: &KongSim, pg: &Postgres) -> CpuTicks {
        let backends = pg
            .psql("SELECT pid FROM pg_stat_activity WHERE usename = 'kong'")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .map(|pid: u32| (pid, ticks_of(&pid.to_string()).unwrap_or(0)))
            .collect();
        CpuTicks {
            provider: ticks_of("self").unwrap_or(0),
            kongsim: kong
                .pid()
                .and_then(|p| ticks_of(&p.to_string()))
                .unwrap_or(0),
            backends,
        }
    }

    /// Ticks spent since `before`, as durations (Linux's USER_HZ is 100):
    /// provider, kongsim, PostgreSQL. A backend opened in between counts
    /// from zero.
    fn since(&self, before: &CpuTicks) -> [Duration; 3] {
        let pg: u64 = self
            .backends
            .iter()
            .map(|(pid, t)| t.saturating_sub(before.backends.get(pid).copied().unwrap_or(0)))
            .sum();
        [
            self.provider.saturating_sub(before.provider),
            self.kongsim.saturating_sub(before.kongsim),
            pg,
        ]
        .map(|t| Duration::from_millis(t * 10))
    }
}

fn ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// One step's figures.
struct Measured {
    stats: ReadStats,
    wall: Duration,
    cpu: [Duration; 3],
    rss_kib: Option<u64>,
}

impl Measured {
    fn since(
        started: Instant,
        cpu_before: &CpuTicks,
        stats: ReadStats,
        kong: &KongSim,
        pg: &Postgres,
    ) -> Measured {
        let wall = started.elapsed();
        let rss_kib = peak_rss_kib();
        Measured {
            stats,
            wall,
            cpu: CpuTicks::sample(kong, pg).since(cpu_before),
            rss_kib,
        }
    }
}

fn row(n: u64, step: &str, served: u64, m: &Measured, state_len: Option<usize>) {
    let rss = m
        .rss_kib
        .map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    let [provider, kongsim, pg] = m.cpu.map(|c| c.as_secs_f64());
    let cpu = format!("{provider:.2}/{kongsim:.2}/{pg:.2}s");
    let state = state_len.map_or(String::new(), |b| {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    });
    println!(
        "{n:>8}  {step:<12} {:>9} {served:>10} {:>9} {:>8.2}s {cpu:>25} {rss:>12} {state:>13}",
        m.stats.requests,
        m.stats.readings,
        m.wall.as_secs_f64()
    );
}
