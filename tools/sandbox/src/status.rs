//! `sandbox status`, `sandbox down` and `sandbox env`: looking at, and
//! stopping, a sandbox another process runs.

use crate::cluster_y::{admin_version, stop_cluster_y};
use crate::env::{ClusterEnv, SandboxEnv, UP_PID_FILE};
use crate::error::SandboxError;
use crate::haproxy::{RuntimeApi, ServerState};
use crate::load::{read_report, Totals};
use crate::process::{is_alive, program_of, read_pid, terminate};
use std::path::Path;
use std::time::Duration;

/// Stopping `up` includes waiting for X (up to 10 s of in-flight requests)
/// and Y, then PostgreSQL.
pub const SANDBOX_PROGRAM: &str = "sandbox";

const DOWN_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn status(dir: &Path) -> Result<(), SandboxError> {
    let env = SandboxEnv::load(dir)?;
    let running = running_up(&env.dir);
    println!(
        "sandbox in {}: {}",
        env.dir.display(),
        match running {
            Some(pid) => format!("up (pid {pid})"),
            None => "not running".to_string(),
        }
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    for (label, cluster) in [("cluster X", &env.cluster_x), ("cluster Y", &env.cluster_y)] {
        println!("  {label}  {}", describe_cluster(&client, cluster).await);
    }
    let api = RuntimeApi::new(&env.haproxy.runtime_api_socket);
    let servers = match api.servers(&env.haproxy.backend) {
        Ok(servers) => servers
            .iter()
            .map(ServerState::describe)
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("not answering ({e})"),
    };
    println!(
        "  HAProxy    {}  backend {}: {servers}",
        env.haproxy.frontend_url, env.haproxy.backend
    );
    match read_report(&env.load.file) {
        Ok(report) => {
            println!("  load       {}", describe_totals(&report.totals));
            if report.running {
                println!(
                    "             last second: {}",
                    describe_totals(&report.last_second)
                );
            }
        }
        Err(_) => println!("  load       no figures yet ({})", env.load.file.display()),
    }
    Ok(())
}

async fn describe_cluster(client: &reqwest::Client, cluster: &ClusterEnv) -> String {
    match admin_version(client, &cluster.admin_url).await {
        Some(version) => format!("answers on {}: Kong {version}", cluster.admin_url),
        None => format!(
            "does not answer on {} (kongsim {})",
            cluster.admin_url, cluster.version
        ),
    }
}

/// `12000 requests, 0 failed; served by x 6000, y 6000`.
pub fn describe_totals(totals: &Totals) -> String {
    let mut text = format!("{} requests, {} failed", totals.requests, totals.failed);
    if !totals.failures.is_empty() {
        let reasons: Vec<String> = totals
            .failures
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        text.push_str(&format!(" ({})", reasons.join(", ")));
    }
    if !totals.served_by.is_empty() {
        let served: Vec<String> = totals
            .served_by
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        text.push_str(&format!("; served by {}", served.join(", ")));
    }
    text
}

fn running_up(dir: &Path) -> Option<u32> {
    read_pid(&dir.join(UP_PID_FILE))
        .filter(|pid| is_alive(*pid) && program_of(*pid).as_deref() == Some(SANDBOX_PROGRAM))
}

/// Stops a running `up` (which stops every component, Y included), then Y
/// on its own in case `up` was killed without a chance to.
pub fn down(dir: &Path) -> Result<(), SandboxError> {
    match running_up(dir) {
        Some(pid) => {
            terminate("sandbox up", pid, SANDBOX_PROGRAM, DOWN_TIMEOUT)?;
            println!("sandbox in {} stopped (pid {pid})", dir.display());
        }
        None => println!("no sandbox running in {}", dir.display()),
    }
    stop_cluster_y(dir)
}

pub fn print_env(dir: &Path, key: Option<&str>) -> Result<(), SandboxError> {
    let env = SandboxEnv::load(dir)?;
    match key {
        Some(key) => println!("{}", env.get(key)?),
        None => {
            let text = std::fs::read_to_string(SandboxEnv::path(dir))
                .map_err(|e| SandboxError::io("read", SandboxEnv::path(dir), e))?;
            print!("{text}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn totals_read_as_one_line() {
        let totals = Totals {
            requests: 10,
            succeeded: 9,
            failed: 1,
            served_by: BTreeMap::from([("x".into(), 4), ("y".into(), 5)]),
            failures: BTreeMap::from([("HTTP 503".into(), 1)]),
        };
        assert_eq!(
            describe_totals(&totals),
            "10 requests, 1 failed (HTTP 503 1); served by x 4, y 5"
        );
        assert_eq!(describe_totals(&Totals::default()), "0 requests, 0 failed");
    }
}
