//! `sandbox up`: PostgreSQL, cluster X on it, HAProxy in front of X and of
//! the address Y will listen on, and the load generator; then wait for
//! SIGTERM/SIGINT and stop everything (Y included, if the upgrade started it).
//!
//! With `--layout in-place`, Y's addresses are X's: Y can only start once X
//! has stopped, and then answers where X did, as a node upgraded in place.

use crate::cli::{Layout, UpOptions};
use crate::cluster_y::stop_cluster_y;
use crate::env::{
    ClusterEnv, HaproxyEnv, LoadEnv, PostgresEnv, SandboxEnv, BACKUP_DIR, ENV_FILE, LOAD_FILE,
    TFVARS_FILE, UP_PID_FILE, Y_LOG_FILE, Y_PID_FILE,
};
use crate::error::SandboxError;
use crate::haproxy::RuntimeApi;
use crate::load::{LoadGenerator, Report};
use crate::process::{is_alive, program_of, read_pid, write_pid};
use crate::signals::StopSignals;
use crate::status::SANDBOX_PROGRAM;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use testbed::haproxy::{Haproxy, BACKEND, SERVER_X, SERVER_Y};
use testbed::kongsim::KongSim;
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;

/// The path every load-generator request asks for.
const LOAD_PATH: &str = "/demo";

pub async fn up(options: UpOptions) -> Result<(), SandboxError> {
    let dir = prepare_dir(&options.dir)?;
    let kongsim = resolve_kongsim(options.kongsim.as_deref())?;
    let mut stop = StopSignals::register()?;
    let pid_file = PidFile::create(dir.join(UP_PID_FILE))?;

    let start_dir = dir.clone();
    let start_options = options.clone();
    let (world, env) =
        tokio::task::spawn_blocking(move || World::start(&start_dir, &start_options, &kongsim))
            .await??;
    let load = match start_load(&env) {
        Ok(load) => load,
        Err(e) => {
            tokio::task::spawn_blocking(move || drop(world)).await?;
            return Err(e);
        }
    };
    let saved = env.save();
    if saved.is_ok() {
        print_ready(&env);
        let signal = stop.recv().await;
        tracing::info!("{signal}: stopping the sandbox");
    }
    let report = match load {
        Some(load) => Some(load.stop().await),
        None => None,
    };
    tokio::task::spawn_blocking(move || drop(world)).await?;
    drop(pid_file);
    saved?;
    match report {
        Some(report) => print_final(&report?),
        None => println!("sandbox stopped"),
    }
    Ok(())
}

/// The load generator, unless `--rate 0` asked for none.
fn start_load(env: &SandboxEnv) -> Result<Option<LoadGenerator>, SandboxError> {
    if env.load.rate_per_s == 0 {
        return Ok(None);
    }
    LoadGenerator::start(
        env.load.target_url.clone(),
        env.load.rate_per_s,
        env.load.file.clone(),
    )
    .map(Some)
}

/// Creates the directory, refuses a second `up` in it, and clears what a
/// previous run left (a stale Y first: it would hold Y's ports).
fn prepare_dir(dir: &Path) -> Result<PathBuf, SandboxError> {
    std::fs::create_dir_all(dir).map_err(|e| SandboxError::io("create", dir, e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| SandboxError::io("resolve", dir, e))?;
    if let Some(pid) = read_pid(&dir.join(UP_PID_FILE)) {
        if pid != std::process::id()
            && is_alive(pid)
            && program_of(pid).as_deref() == Some(SANDBOX_PROGRAM)
        {
            return Err(SandboxError::AlreadyRunning { dir, pid });
        }
    }
    stop_cluster_y(&dir)?;
    for stale in [ENV_FILE, TFVARS_FILE, LOAD_FILE, Y_PID_FILE, Y_LOG_FILE] {
        let path = dir.join(stale);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SandboxError::io("remove", path, e)),
        }
    }
    Ok(dir)
}

/// `--kongsim`, else `KONGSIM_BIN`, else the kongsim built beside this
/// binary (`cargo build --workspace` puts both in target/<profile>/), else
/// testbed's default.
fn resolve_kongsim(flag: Option<&Path>) -> Result<PathBuf, SandboxError> {
    let beside_us = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("kongsim")))
        .filter(|p| p.is_file());
    let path = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("KONGSIM_BIN").map(PathBuf::from))
        .or(beside_us)
        .unwrap_or_else(testbed::kongsim::kongsim_bin);
    if !path.is_file() {
        return Err(SandboxError::KongsimMissing { path });
    }
    path.canonicalize()
        .map_err(|e| SandboxError::io("resolve", path, e))
}

/// Every component `up` owns. Fields drop in declaration order: X before
/// HAProxy before the database it uses.
struct World {
    dir: PathBuf,
    _x: KongSim,
    _haproxy: Haproxy,
    _pg: Postgres,
}

impl World {
    fn start(
        dir: &Path,
        options: &UpOptions,
        kongsim: &Path,
    ) -> Result<(World, SandboxEnv), SandboxError> {
        tracing::info!("starting PostgreSQL");
        let pg = Postgres::start().map_err(|message| SandboxError::Start {
            component: "PostgreSQL",
            message,
        })?;
        tracing::info!(version = %options.from_version, "bootstrapping the database and starting cluster X");
        let x = KongSim::builder(&options.from_version)
            .postgres(&pg)
            .bootstrap()
            .cluster_name(SERVER_X)
            .binary(kongsim)
            .start()
            .map_err(|message| SandboxError::Start {
                component: "cluster X (kongsim)",
                message,
            })?;
        let x_proxy = socket_addr_of(&x.proxy_url)?;
        let [y_admin, y_status, y_proxy, y_control] = match options.layout {
            Layout::BlueGreen => reserve_ports()?,
            Layout::InPlace => [
                socket_addr_of(&x.admin_url)?,
                socket_addr_of(&x.status_url)?,
                x_proxy,
                socket_addr_of(&x.control_url)?,
            ],
        };
        tracing::info!("starting HAProxy in front of X ({x_proxy}) and Y ({y_proxy}, not started)");
        let haproxy =
            Haproxy::start(x_proxy, y_proxy, (100, 0)).map_err(|message| SandboxError::Start {
                component: "HAProxy",
                message,
            })?;
        let api = RuntimeApi::new(haproxy.admin_socket());
        api.replace_with_checked_server(BACKEND, SERVER_X, x_proxy, 100)?;
        api.replace_with_checked_server(BACKEND, SERVER_Y, y_proxy, 0)?;
        let backup_dir = dir.join(BACKUP_DIR);
        std::fs::create_dir_all(&backup_dir)
            .map_err(|e| SandboxError::io("create", &backup_dir, e))?;

        let url = |addr: SocketAddr| format!("http://{addr}");
        let env = SandboxEnv {
            dir: dir.to_path_buf(),
            from_version: options.from_version.clone(),
            to_version: options.to_version.clone(),
            up_pid: std::process::id(),
            sandbox_bin: std::env::current_exe()
                .map_err(|e| SandboxError::io("find", "this executable", e))?,
            kongsim_bin: kongsim.to_path_buf(),
            backup_dir,
            postgres: PostgresEnv {
                host: "127.0.0.1".into(),
                port: pg.port,
                user: "kong".into(),
                password: KONG_PASSWORD.into(),
                database: "kong".into(),
                bin_dir: pg.bin_dir().to_path_buf(),
            },
            cluster_x: ClusterEnv {
                name: SERVER_X.into(),
                version: options.from_version.clone(),
                admin_url: x.admin_url.clone(),
                status_url: x.status_url.clone(),
                proxy_url: x.proxy_url.clone(),
                control_url: x.control_url.clone(),
                pid: x.pid(),
                log: None,
            },
            cluster_y: ClusterEnv {
                name: SERVER_Y.into(),
                version: options.to_version.clone(),
                admin_url: url(y_admin),
                status_url: url(y_status),
                proxy_url: url(y_proxy),
                control_url: url(y_control),
                pid: None,
                log: Some(dir.join(Y_LOG_FILE)),
            },
            haproxy: HaproxyEnv {
                frontend_url: haproxy.frontend_url(),
                runtime_api_socket: haproxy.admin_socket(),
                runtime_api_tcp: haproxy.admin_address(),
                backend: BACKEND.into(),
                server_x: SERVER_X.into(),
                server_y: SERVER_Y.into(),
            },
            load: LoadEnv {
                file: dir.join(LOAD_FILE),
                target_url: format!("{}{LOAD_PATH}", haproxy.frontend_url()),
                rate_per_s: options.rate_per_s,
            },
        };
        let world = World {
            dir: dir.to_path_buf(),
            _x: x,
            _haproxy: haproxy,
            _pg: pg,
        };
        Ok((world, env))
    }
}

impl Drop for World {
    /// Y first: `start-y` detached it, so no field of ours owns it. The
    /// fields then stop themselves.
    fn drop(&mut self) {
        if let Err(e) = stop_cluster_y(&self.dir) {
            tracing::warn!("cluster Y: {e}");
        }
    }
}

/// Four distinct loopback ports for Y's listeners, free a moment ago. All
/// four are held at once so the OS cannot hand out the same one twice.
fn reserve_ports() -> Result<[SocketAddr; 4], SandboxError> {
    let bind = || TcpListener::bind("127.0.0.1:0").and_then(|l| Ok((l.local_addr()?, l)));
    let io = |e| SandboxError::io("reserve a port on", "127.0.0.1", e);
    let (a, _la) = bind().map_err(io)?;
    let (b, _lb) = bind().map_err(io)?;
    let (c, _lc) = bind().map_err(io)?;
    let (d, _ld) = bind().map_err(io)?;
    Ok([a, b, c, d])
}

fn socket_addr_of(url: &str) -> Result<SocketAddr, SandboxError> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|_| SandboxError::Start {
            component: "cluster X (kongsim)",
            message: format!("its proxy URL {url:?} is not http://IP:PORT"),
        })
}

/// Removes the pid file when `up` ends, however it ends.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: PathBuf) -> Result<PidFile, SandboxError> {
        write_pid(&path, std::process::id())?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn print_ready(env: &SandboxEnv) {
    let dir = env.dir.display();
    let (x, y, pg) = (&env.cluster_x, &env.cluster_y, &env.postgres);
    println!("sandbox is up (pid {}) in {dir}", env.up_pid);
    println!(
        "  PostgreSQL  {}:{}  database {}, user {}",
        pg.host, pg.port, pg.database, pg.user
    );
    println!(
        "  cluster X   kongsim {}  admin {}  status {}  proxy {}",
        x.version, x.admin_url, x.status_url, x.proxy_url
    );
    let y_addresses = if y.admin_url == x.admin_url {
        "X's addresses, once X has stopped"
    } else {
        "`sandbox start-y`"
    };
    println!(
        "  cluster Y   kongsim {}  admin {}  status {}  proxy {}  (not started: {y_addresses})",
        y.version, y.admin_url, y.status_url, y.proxy_url
    );
    println!(
        "  HAProxy     {}  backend {}: {}=100, {}=0, health-checked; runtime API {}",
        env.haproxy.frontend_url,
        env.haproxy.backend,
        env.haproxy.server_x,
        env.haproxy.server_y,
        env.haproxy.runtime_api_socket.display()
    );
    if env.load.rate_per_s == 0 {
        println!("  load        none (--rate 0)");
    } else {
        println!(
            "  load        {} req/s to {}, totals in {}",
            env.load.rate_per_s,
            env.load.target_url,
            env.load.file.display()
        );
    }
    println!("  Terraform   {}", env.dir.join(TFVARS_FILE).display());
    println!("stop it with Ctrl-C, SIGTERM or `sandbox down --dir {dir}`");
}

fn print_final(report: &Report) {
    let totals = &report.totals;
    println!(
        "sandbox stopped; load: {} requests, {} succeeded, {} failed {:?}, served by {:?}",
        totals.requests, totals.succeeded, totals.failed, totals.failures, totals.served_by
    );
}
