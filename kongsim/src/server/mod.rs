//! `kongsim serve` / `kongsim start`: one Kong node with its Admin API,
//! Status API, proxy and the test-only control listener.

pub mod admin;
mod balancer;
pub mod clustering;
pub mod control;
pub mod entities;
mod memberships;
pub mod metrics;
pub mod node;
pub mod plugins;
pub mod proxy;
pub mod status;

use crate::cli::ServeOptions;
use crate::conf::{first_listen_address, KongConf};
use crate::log::{CliLog, Level};
use crate::migrations::commands::{
    catalog_for, check_state_for_start, connect_for_cli, report_error, up_for_start,
};
use crate::version::{Edition, KongVersion};
use md5::{Digest, Md5};
use node::{Identity, Node, Role, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long in-flight requests get to finish after SIGTERM (`kong quit`'s
/// default timeout).
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(10);

/// Runs a node until SIGTERM/SIGINT/SIGQUIT and returns the exit code.
pub async fn run(version: KongVersion, edition: Edition, options: ServeOptions) -> i32 {
    let log = CliLog::new(if options.verbose {
        Level::Verbose
    } else {
        Level::Info
    });
    match start(version, edition, &options, log).await {
        Ok(()) => 0,
        Err(message) => report_error(&message, options.verbose),
    }
}

async fn start(
    version: KongVersion,
    edition: Edition,
    options: &ServeOptions,
    log: CliLog,
) -> Result<(), String> {
    let conf = effective_conf(&version, options)?;
    let role = Role::parse(conf.role())
        .ok_or_else(|| format!("role has an invalid value: '{}'", conf.role()))?;
    let store = if conf.database() == "postgres" {
        Some(open_store(&version, &conf, options, log).await?)
    } else {
        None
    };
    let node_id = options
        .node_id
        .clone()
        .or_else(|| conf.get("node_id").map(str::to_string))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if uuid::Uuid::parse_str(&node_id).is_err() {
        return Err(format!("node_id must be a valid UUID: {node_id}"));
    }
    let hostname = options.hostname.clone().unwrap_or_else(system_hostname);
    let cluster_name = options
        .cluster_name
        .clone()
        .unwrap_or_else(|| "kongsim".to_string());
    let identity = Identity {
        version,
        edition,
        role,
        node_id,
        hostname,
        cluster_name,
        conf: conf.clone(),
    };
    let mut node = Node::new(identity, store);
    node.admin_token = options.admin_token.clone();
    if node.is_dbless() && role == Role::Traditional {
        if let Some(path) = conf.get("declarative_config") {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("error parsing declarative config file {path}:\n{e}"))?;
            node.load_config(&text);
        }
    }
    let node = Arc::new(node);

    let shutdown = CancellationToken::new();
    let mut servers = Vec::new();
    let listeners = [
        (
            "admin",
            conf.get("admin_listen").and_then(first_listen_address),
            admin::router(node.clone()),
        ),
        (
            "status",
            conf.get("status_listen").and_then(first_listen_address),
            status::router(node.clone()),
        ),
        (
            "proxy",
            conf.get("proxy_listen").and_then(first_listen_address),
            proxy::router(node.clone()),
        ),
        (
            "control",
            options
                .control_listen
                .as_deref()
                .and_then(first_listen_address),
            control::router(node.clone()),
        ),
    ];
    for (name, address, router) in listeners {
        let Some(address) = address else { continue };
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| bind_error(&address, &e))?;
        tracing::info!(listener = name, %address, "listening");
        let token = shutdown.clone();
        servers.push(tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(listener = name, error = %e, "listener failed");
            }
        }));
    }
    balancer::spawn_poller(node.clone());
    log.info("Kong started");

    wait_for_stop_signal().await;
    tracing::info!("stopping: finishing in-flight requests");
    shutdown.cancel();
    let all = futures_join(servers);
    if tokio::time::timeout(GRACEFUL_SHUTDOWN, all).await.is_err() {
        tracing::warn!("in-flight requests did not finish within {GRACEFUL_SHUTDOWN:?}; exiting");
    }
    Ok(())
}

/// kong.conf and `KONG_*`, overridden by the command-line flags.
fn effective_conf(version: &KongVersion, options: &ServeOptions) -> Result<KongConf, String> {
    let mut conf =
        KongConf::load(options.conf.as_deref(), std::env::vars()).map_err(|e| e.to_string())?;
    let overrides = [
        ("role", &options.role),
        ("database", &options.database),
        ("admin_listen", &options.admin_listen),
        ("status_listen", &options.status_listen),
        ("proxy_listen", &options.proxy_listen),
        ("node_id", &options.node_id),
    ];
    for (key, value) in overrides {
        if let Some(value) = value {
            conf.set(key, value.clone());
        }
    }
    if let Some(path) = &options.declarative_config {
        conf.set("declarative_config", path.display().to_string());
    }
    if conf.get("status_listen").is_none() {
        // The Status API is on by default from 3.6.
        let default = if version.at_least(3, 6) {
            "127.0.0.1:8007 reuseport backlog=16384"
        } else {
            "off"
        };
        conf.set("status_listen", default);
    }
    conf.validate().map_err(|e| e.to_string())?;
    Ok(conf)
}

/// Connects like `kong start`: runs `up` first with `--run-migrations`,
/// then refuses to start on a database that needs bootstrap or has new
/// migrations.
async fn open_store(
    version: &KongVersion,
    conf: &KongConf,
    options: &ServeOptions,
    log: CliLog,
) -> Result<Store, String> {
    let mut settings = conf.pg_settings().map_err(|e| e.to_string())?;
    if let Some(secs) = options.db_timeout_secs.filter(|s| *s > 0.0) {
        settings.timeout = Duration::from_secs_f64(secs);
    }
    let catalog = catalog_for(version)?;
    let pg = connect_for_cli(&settings).await?;
    if options.run_migrations {
        up_for_start(
            version,
            &pg,
            &catalog,
            &settings.database,
            options.lock_timeout_secs,
            log,
        )
        .await?;
    }
    check_state_for_start(&pg, &catalog, log).await?;
    Ok(Store::new(settings, pg))
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
    ) else {
        tracing::warn!("cannot listen for stop signals; stop with SIGKILL");
        return std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = quit.recv() => {}
    }
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) {
    for handle in handles {
        let _ = handle.await;
    }
}

/// nginx's wording, e.g. "bind() to 0.0.0.0:8000 failed (98: Address already in use)".
fn bind_error(address: &str, e: &std::io::Error) -> String {
    let text = e.to_string();
    let reason = text.split(" (os error").next().unwrap_or(&text);
    match e.raw_os_error() {
        Some(code) => format!("nginx: [emerg] bind() to {address} failed ({code}: {reason})"),
        None => format!("nginx: [emerg] bind() to {address} failed ({reason})"),
    }
}

/// Kong's configuration hash: the MD5 of the configuration, in hex.
pub fn config_hash(body: &[u8]) -> String {
    let digest = Md5::digest(body);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
