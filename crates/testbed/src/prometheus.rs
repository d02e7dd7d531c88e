//! A throwaway Prometheus server (Debian's `/usr/bin/prometheus`) scraping a
//! fixed set of loopback targets at a short interval, its TSDB in a temp dir.

use crate::process::{find_program, free_port};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_ATTEMPTS: usize = 3;

/// One scrape target; `job` becomes the `job` label of every series it
/// exposes, so queries can tell cluster X's metrics from cluster Y's.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    pub job: String,
    pub address: SocketAddr,
    pub metrics_path: String,
}

impl ScrapeTarget {
    /// A target serving metrics at `/metrics`.
    pub fn new(job: impl Into<String>, address: SocketAddr) -> Self {
        ScrapeTarget {
            job: job.into(),
            address,
            metrics_path: "/metrics".into(),
        }
    }
}

pub struct Prometheus {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` every `scrape_interval` and
    /// returns once `/-/ready` answers 200.
    pub fn start(targets: &[ScrapeTarget], scrape_interval: Duration) -> Result<Self, String> {
        let binary = find_program("prometheus", &["/usr/bin"])
            .ok_or("prometheus not found: install Debian's prometheus package")?;
        // A free port can be taken by a parallel test before Prometheus binds
        // it; Prometheus then exits, and a fresh port is tried.
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&binary, targets, scrape_interval) {
                Ok(prometheus) => return Ok(prometheus),
                Err(e) => failures.push(e),
            }
        }
        Err(failures.join("\n---\n"))
    }

    fn start_once(
        binary: &Path,
        targets: &[ScrapeTarget],
        scrape_interval: Duration,
    ) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("kong-prometheus-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, render_config(targets, scrape_interval))
            .map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("prometheus.log")).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("prometheus: {e}"))?;
        let mut prometheus = Prometheus { port, dir, child };
        prometheus.wait_until_ready(Duration::from_secs(30))?;
        prometheus.wait_until_scraped(targets.len(), Duration::from_secs(30))?;
        Ok(prometheus)
    }

    /// Base URL (`http://127.0.0.1:PORT`), without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Ready means our own process answers: `/-/ready` says 200 and the
    /// child is still running (had the port been taken, it would have exited).
    fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "prometheus exited ({status}); log:\n{}",
                    self.log()
                ));
            }
            if matches!(http_get(self.port, "/-/ready"), Some((200, _))) {
                std::thread::sleep(Duration::from_millis(20));
                if let Ok(None) = self.child.try_wait() {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "prometheus not ready within {timeout:?}; log:\n{}",
            self.log()
        ))
    }
}

impl Prometheus {
    /// Prometheus starts scraping about five seconds after it is ready (its
    /// discovery and scrape managers update on a fixed 5 s tick); waiting for
    /// one `up` sample per target keeps tests from reading "no data" that
    /// only means "not scraped yet".
    fn wait_until_scraped(&self, targets: usize, timeout: Duration) -> Result<(), String> {
        if targets == 0 {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let expected = format!("\"{targets}\"]");
        while Instant::now() < deadline {
            if let Some((200, body)) = http_get(self.port, "/api/v1/query?query=count(up)") {
                if body.contains(&expected) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "prometheus did not scrape its {targets} targets within {timeout:?}; log:\n{}",
            self.log()
        ))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn render_config(targets: &[ScrapeTarget], scrape_interval: Duration) -> String {
    let interval = format!("{}ms", scrape_interval.as_millis().max(1));
    let mut config = format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  evaluation_interval: {interval}\nscrape_configs:\n"
    );
    for target in targets {
        config.push_str(&format!(
            "  - job_name: '{}'\n    metrics_path: '{}'\n    static_configs:\n      - targets: ['{}']\n",
            target.job, target.metrics_path, target.address
        ));
    }
    config
}

/// Status and body of a plain HTTP/1.0 GET on loopback, or `None` when nothing
/// answers (the testbed has no HTTP client dependency, and needs none).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_once_every_target_was_scraped() {
        // Nothing listens on the target, so its `up` is 0: proof that the
        // generated configuration was loaded and scraping runs.
        let dead: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let prometheus = Prometheus::start(
            &[ScrapeTarget::new("dead", dead)],
            Duration::from_millis(200),
        )
        .expect("prometheus starts");
        let (status, body) = http_get(
            prometheus.port,
            "/api/v1/query?query=up%7Bjob%3D%22dead%22%7D",
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"0\"]"), "{body}");
    }
}
