//! Cluster Y's life, driven by the upgrade's hooks: `start-y` (after
//! `kong migrations up`, as with real Kong: before it, kongsim refuses to
//! start with "New migrations available") and, at shutdown, its stop. Also
//! `stop-x`, the decommission hook.

use crate::env::{ClusterEnv, SandboxEnv, Y_LOG_FILE, Y_PID_FILE};
use crate::error::SandboxError;
use crate::process::{is_alive, program_of, read_pid, spawn_detached, terminate, write_pid};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KONGSIM_PROGRAM: &str = "kongsim";
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// kongsim lets in-flight requests finish within 10 s of SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
const LOG_TAIL_LINES: usize = 20;

/// Starts Y detached and returns once its Admin API answers with Y's
/// version. Idempotent: a Y that already runs is only waited for, so a
/// re-run hook (after an interrupted apply) succeeds. The version matters
/// when Y takes over X's addresses (`--layout in-place`): an X still
/// running there is not Y, and Y's own start then fails to bind.
pub async fn start_y(dir: &Path) -> Result<(), SandboxError> {
    let env = SandboxEnv::load(dir)?;
    let y = &env.cluster_y;
    let pid_file = env.dir.join(Y_PID_FILE);
    let log = env.dir.join(Y_LOG_FILE);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;

    let running = read_pid(&pid_file).filter(|pid| is_kongsim(*pid));
    let (pid, mut child) = match running {
        Some(pid) => {
            tracing::info!(pid, "cluster Y already runs; waiting for its Admin API");
            (pid, None)
        }
        None => {
            let child = spawn_y(&env, &log)?;
            let pid = child.id();
            write_pid(&pid_file, pid)?;
            (pid, Some(child))
        }
    };
    let deadline = Instant::now() + START_TIMEOUT;
    let mut answered_as = None;
    loop {
        match admin_version(&client, &y.admin_url).await {
            Some(version) if version == y.version => {
                println!(
                    "cluster Y (kongsim, Kong {version}, pid {pid}) answers on {}; proxy {}",
                    y.admin_url, y.proxy_url
                );
                return Ok(());
            }
            Some(other) => answered_as = Some(other),
            None => {}
        }
        let exited = match child.as_mut() {
            Some(child) => child
                .try_wait()
                .map_err(|e| SandboxError::io("watch", &log, e))?,
            None => None,
        };
        if let Some(status) = exited {
            let _ = std::fs::remove_file(&pid_file);
            return Err(y_failed(
                format!("kongsim {} exited ({status})", y.version),
                &log,
            ));
        }
        if child.is_none() && !is_alive(pid) {
            let _ = std::fs::remove_file(&pid_file);
            return Err(y_failed("the running Y exited".into(), &log));
        }
        if Instant::now() > deadline {
            // A half-started Y would hold the ports of the next attempt.
            let _ = terminate("cluster Y", pid, KONGSIM_PROGRAM, STOP_TIMEOUT);
            let _ = std::fs::remove_file(&pid_file);
            let reason = match &answered_as {
                Some(other) => format!(
                    "{} answered as Kong {other}, not {}, for {START_TIMEOUT:?}",
                    y.admin_url, y.version
                ),
                None => format!(
                    "its Admin API {} did not answer within {START_TIMEOUT:?}",
                    y.admin_url
                ),
            };
            return Err(y_failed(reason, &log));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn_y(env: &SandboxEnv, log: &Path) -> Result<Child, SandboxError> {
    use std::io::Write;
    let y = &env.cluster_y;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| SandboxError::io("open", log, e))?;
    let _ = writeln!(out, "--- sandbox start-y: kongsim {} serve ---", y.version);
    let err = out
        .try_clone()
        .map_err(|e| SandboxError::io("open", log, e))?;
    let mut command = Command::new(&env.kongsim_bin);
    command
        .args([
            "--kong-version",
            &y.version,
            "serve",
            "--role",
            "traditional",
        ])
        .args(["--admin-listen", listen_address(y, &y.admin_url)?])
        .args(["--status-listen", listen_address(y, &y.status_url)?])
        .args(["--proxy-listen", listen_address(y, &y.proxy_url)?])
        .args(["--control-listen", listen_address(y, &y.control_url)?])
        .args(["--cluster-name", &y.name])
        .envs(pg_env(env))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    spawn_detached(&mut command).map_err(|e| SandboxError::io("run", &env.kongsim_bin, e))
}

fn listen_address<'a>(y: &ClusterEnv, url: &'a str) -> Result<&'a str, SandboxError> {
    url.strip_prefix("http://").ok_or_else(|| {
        SandboxError::Inconsistent(format!(
            "cluster {}'s {url:?} is not an http:// URL",
            y.name
        ))
    })
}

/// Kong's own `KONG_PG_*` settings for the shared database.
fn pg_env(env: &SandboxEnv) -> Vec<(&'static str, String)> {
    let pg = &env.postgres;
    vec![
        ("KONG_DATABASE", "postgres".into()),
        ("KONG_PG_HOST", pg.host.clone()),
        ("KONG_PG_PORT", pg.port.to_string()),
        ("KONG_PG_USER", pg.user.clone()),
        ("KONG_PG_PASSWORD", pg.password.clone()),
        ("KONG_PG_DATABASE", pg.database.clone()),
    ]
}

/// `version` from the node's `GET /`, or None if it does not answer.
pub async fn admin_version(client: &reqwest::Client, admin_url: &str) -> Option<String> {
    let response = client.get(format!("{admin_url}/")).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body.get("version")?.as_str().map(str::to_string)
}

fn y_failed(reason: String, log: &Path) -> SandboxError {
    SandboxError::ClusterYFailed {
        reason,
        log: log.to_path_buf(),
        tail: log_tail(log, LOG_TAIL_LINES),
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn is_kongsim(pid: u32) -> bool {
    is_alive(pid) && program_of(pid).as_deref() == Some(KONGSIM_PROGRAM)
}

/// Stops Y if a pid file says it runs; used by `up`'s shutdown and `down`.
pub fn stop_cluster_y(dir: &Path) -> Result<(), SandboxError> {
    let pid_file = dir.join(Y_PID_FILE);
    let Some(pid) = read_pid(&pid_file) else {
        return Ok(());
    };
    if is_kongsim(pid) && terminate("cluster Y", pid, KONGSIM_PROGRAM, STOP_TIMEOUT)? {
        tracing::info!(pid, "cluster Y stopped");
    }
    let _ = std::fs::remove_file(&pid_file);
    Ok(())
}

/// `stop-x`: SIGTERM to X, then wait until it is gone. Idempotent.
pub fn stop_x(dir: &Path) -> Result<(), SandboxError> {
    let env = SandboxEnv::load(dir)?;
    let x = &env.cluster_x;
    let Some(pid) = x.pid else {
        return Err(SandboxError::Inconsistent(
            "env.json records no pid for cluster X".into(),
        ));
    };
    if terminate("cluster X", pid, KONGSIM_PROGRAM, STOP_TIMEOUT)? {
        println!("cluster X (kongsim {}, pid {pid}) stopped", x.version);
    } else {
        println!(
            "cluster X (kongsim {}, pid {pid}) was already stopped",
            x.version
        );
    }
    Ok(())
}
