//! The project's Kong test double, `kongsim`, as a process on loopback
//! ports. kongsim is not Kong: it imitates one Kong version's Admin API,
//! Status API, proxy and `kong migrations` (see kongsim/README.md).
//!
//! The binary is found through `KONGSIM_BIN`, else `$CARGO_TARGET_DIR/debug/
//! kongsim`, else `target/debug/kongsim` at the workspace root; nothing here
//! builds it (`cargo build -p kongsim` or a test of the kongsim crate does).

use crate::postgres::{Postgres, KONG_PASSWORD};
use crate::process::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Traditional,
    ControlPlane,
    DataPlane,
}

impl Role {
    fn as_kong(self) -> &'static str {
        match self {
            Role::Traditional => "traditional",
            Role::ControlPlane => "control_plane",
            Role::DataPlane => "data_plane",
        }
    }
}

/// Where the kongsim binary is: `KONGSIM_BIN`, `$CARGO_TARGET_DIR/debug/kongsim`
/// or `<workspace>/target/debug/kongsim`.
pub fn kongsim_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("KONGSIM_BIN") {
        return PathBuf::from(bin);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("debug").join("kongsim");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/kongsim")
}

/// The `KONG_PG_*` variables that point Kong (and kongsim) at `pg`.
pub fn kong_pg_env(pg: &Postgres) -> Vec<(String, String)> {
    [
        ("KONG_DATABASE", "postgres".to_string()),
        ("KONG_PG_HOST", "127.0.0.1".to_string()),
        ("KONG_PG_PORT", pg.port.to_string()),
        ("KONG_PG_USER", "kong".to_string()),
        ("KONG_PG_PASSWORD", KONG_PASSWORD.to_string()),
        ("KONG_PG_DATABASE", "kong".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `kongsim --kong-version <version>` with `KONG_PG_*` set for `pg`; append
/// `migrations up`, `migrations list`, ... as for the real `kong` CLI.
pub fn kongsim_cli(version: &str, pg: &Postgres) -> Command {
    let mut cmd = Command::new(kongsim_bin());
    cmd.args(["--kong-version", version]).envs(kong_pg_env(pg));
    cmd
}

pub struct KongSimBuilder {
    version: String,
    edition: Option<String>,
    role: Role,
    pg_env: Option<Vec<(String, String)>>,
    admin_token: Option<String>,
    cluster_name: String,
    node_id: Option<String>,
    binary: Option<PathBuf>,
    bootstrap: bool,
    empty_config: bool,
    env: Vec<(String, String)>,
}

impl KongSimBuilder {
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    pub fn edition(mut self, edition: &str) -> Self {
        self.edition = Some(edition.to_string());
        self
    }

    /// Kong Enterprise's `vitals` setting, as Kong reads it (`KONG_VITALS`).
    /// Only an enterprise node reports it in `GET /` (`configuration.vitals`).
    pub fn vitals(self, on: bool) -> Self {
        self.env("KONG_VITALS", if on { "on" } else { "off" })
    }

    /// DB-less (`database = off`); the default.
    pub fn database_off(mut self) -> Self {
        self.pg_env = None;
        self
    }

    /// `database = postgres` on `pg`. The node refuses to start (like Kong)
    /// unless the database is bootstrapped and has no new migrations for its
    /// version; see [`KongSimBuilder::bootstrap`].
    pub fn postgres(mut self, pg: &Postgres) -> Self {
        self.pg_env = Some(kong_pg_env(pg));
        self
    }

    /// Runs `kongsim migrations bootstrap` for this version before starting.
    pub fn bootstrap(mut self) -> Self {
        self.bootstrap = true;
        self
    }

    /// Requires `Kong-Admin-Token: <token>` on the Admin API.
    pub fn admin_token(mut self, token: &str) -> Self {
        self.admin_token = Some(token.to_string());
        self
    }

    /// Named in every proxied response body, to tell clusters apart.
    pub fn cluster_name(mut self, name: &str) -> Self {
        self.cluster_name = name.to_string();
        self
    }

    pub fn node_id(mut self, id: &str) -> Self {
        self.node_id = Some(id.to_string());
        self
    }

    /// A DB-less node or data plane normally gets a small configuration so
    /// that `/status/ready` says ready; this leaves it empty (503).
    pub fn empty_config(mut self) -> Self {
        self.empty_config = true;
        self
    }

    /// Uses this kongsim binary instead of [`kongsim_bin`].
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn start(self) -> Result<KongSim, String> {
        let binary = self.binary.clone().unwrap_or_else(kongsim_bin);
        if !binary.is_file() {
            return Err(format!(
                "kongsim binary not found at {} (run `cargo build -p kongsim` or set KONGSIM_BIN)",
                binary.display()
            ));
        }
        if self.bootstrap {
            self.run_bootstrap(&binary)?;
        }
        // A free port can be taken by a parallel test before kongsim binds
        // it; kongsim then exits, and fresh ports are tried.
        let mut failures = Vec::new();
        for _ in 0..5 {
            match self.start_once(&binary) {
                Ok(sim) => return Ok(sim),
                Err(e) if e.contains("Address already in use") => failures.push(e),
                Err(e) => return Err(e),
            }
        }
        Err(failures.join("\n---\n"))
    }

    fn start_once(&self, binary: &Path) -> Result<KongSim, String> {
        let binary = binary.to_path_buf();
        let dir = tempfile::Builder::new()
            .prefix("kongsim-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let [admin, status, proxy, control] = ports.map(|p| format!("127.0.0.1:{p}"));
        let stdout_path = dir.path().join("stdout.log");
        let stderr_path = dir.path().join("stderr.log");
        let mut cmd = Command::new(&binary);
        cmd.args(["--kong-version", &self.version]);
        if let Some(edition) = &self.edition {
            cmd.args(["--edition", edition]);
        }
        cmd.args(["serve", "--role", self.role.as_kong()])
            .args(["--admin-listen", &admin, "--status-listen", &status])
            .args(["--proxy-listen", &proxy, "--control-listen", &control])
            .args(["--cluster-name", &self.cluster_name]);
        if let Some(token) = &self.admin_token {
            cmd.args(["--admin-token", token]);
        }
        if let Some(id) = &self.node_id {
            cmd.args(["--node-id", id]);
        }
        match &self.pg_env {
            Some(env) => {
                cmd.envs(env.iter().cloned());
            }
            None => {
                cmd.args(["--database", "off"]);
                if self.role == Role::Traditional && !self.empty_config {
                    let config = dir.path().join("kong.yml");
                    std::fs::write(&config, "_format_version: \"3.0\"\nservices: []\n")
                        .map_err(|e| e.to_string())?;
                    cmd.arg("--declarative-config").arg(&config);
                }
            }
        }
        cmd.envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(open_log(&stdout_path)?)
            .stderr(open_log(&stderr_path)?);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let mut sim = KongSim {
            admin_url: format!("http://{admin}"),
            status_url: format!("http://{status}"),
            proxy_url: format!("http://{proxy}"),
            control_url: format!("http://{control}"),
            version: self.version.clone(),
            cluster_name: self.cluster_name.clone(),
            child: Some(child),
            stdout_path,
            stderr_path,
            _dir: dir,
        };
        sim.wait_until_started()?;
        if self.pg_env.is_none() && self.role == Role::DataPlane && !self.empty_config {
            sim.push_config("{\"_format_version\":\"3.0\",\"services\":[]}")?;
        }
        Ok(sim)
    }

    fn run_bootstrap(&self, binary: &Path) -> Result<(), String> {
        let Some(env) = &self.pg_env else {
            return Err("bootstrap() needs postgres(&pg)".to_string());
        };
        let out = Command::new(binary)
            .args(["--kong-version", &self.version, "migrations", "bootstrap"])
            .envs(env.iter().cloned())
            .envs(self.env.iter().cloned())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "kongsim migrations bootstrap failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

fn open_log(path: &Path) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A running kongsim node. Dropping it sends SIGTERM and waits.
pub struct KongSim {
    pub admin_url: String,
    pub status_url: String,
    pub proxy_url: String,
    /// The TEST-ONLY control API (faults, data-plane rows, configs).
    pub control_url: String,
    pub version: String,
    pub cluster_name: String,
    child: Option<Child>,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl KongSim {
    pub fn builder(version: &str) -> KongSimBuilder {
        KongSimBuilder {
            version: version.to_string(),
            edition: None,
            role: Role::Traditional,
            pg_env: None,
            admin_token: None,
            cluster_name: "kongsim".to_string(),
            node_id: None,
            binary: None,
            bootstrap: false,
            empty_config: false,
            env: Vec::new(),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the node printed so far (stdout, then stderr).
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(&self.stdout_path), read(&self.stderr_path))
    }

    /// Makes `error_ratio` (0.0..=1.0) of proxied requests fail with a 500
    /// and delays every proxied request by `latency_ms`.
    pub fn set_faults(&self, error_ratio: f64, latency_ms: u64) -> Result<(), String> {
        let body = format!("{{\"error_ratio\":{error_ratio},\"added_latency_ms\":{latency_ms}}}");
        self.control("POST", "/faults", &body).map(|_| ())
    }

    /// Registers a data plane on a control-plane node; `json` as for
    /// `POST /data-planes` (hostname, ip, version, optional id, labels, ...).
    /// Returns the row as JSON text.
    pub fn register_data_plane(&self, json: &str) -> Result<String, String> {
        self.control("POST", "/data-planes", json)
    }

    /// Delivers a configuration to a DB-less node or data plane (its MD5
    /// becomes `configuration_hash`). Returns the response JSON text.
    pub fn push_config(&self, config: &str) -> Result<String, String> {
        self.control("POST", "/config", config)
    }

    /// Bulk-creates `count` entities of an Admin API collection from one
    /// JSON `template` (endpoint keys get a `-N` suffix). Returns how many.
    pub fn seed(&self, collection: &str, count: u64, template: &str) -> Result<u64, String> {
        let body = format!(
            "{{\"collection\":\"{collection}\",\"count\":{count},\"template\":{template}}}"
        );
        let text = self.control("POST", "/seed", &body)?;
        text.split(':')
            .nth(1)
            .and_then(|n| n.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
            .ok_or_else(|| format!("kongsim seed: unexpected answer {text}"))
    }

    fn control(&self, method: &str, path: &str, body: &str) -> Result<String, String> {
        let (status, text) = http_request(&self.control_url, method, path, body)?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(format!(
                "kongsim control {method} {path}: HTTP {status}: {text}"
            ))
        }
    }

    /// SIGTERM, then waits for in-flight requests to finish and the process
    /// to exit (SIGKILL after 15 s).
    pub fn stop(&mut self) -> Result<ExitStatus, String> {
        let Some(mut child) = self.child.take() else {
            return Err("already stopped".to_string());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().map_err(|e| e.to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_until_started(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if std::fs::read_to_string(&self.stdout_path).is_ok_and(|s| s.contains("Kong started"))
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                    self.child = None;
                    return Err(format!(
                        "kongsim exited during startup ({status}):\n{}",
                        self.logs()
                    ));
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "kongsim did not start within {START_TIMEOUT:?}:\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for KongSim {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// A one-shot HTTP/1.1 request with `Connection: close`; returns status and
/// body. Enough for the control API without an HTTP client dependency.
pub fn http_request(
    base_url: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let authority = base_url.strip_prefix("http://").unwrap_or(base_url);
    let mut stream = TcpStream::connect(authority).map_err(|e| format!("{authority}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("malformed HTTP response from {authority}"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("malformed HTTP response from {authority}"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|line| usize::from_str_radix(line.trim(), 16).ok())
            .unwrap_or(0);
        let data = &rest[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        rest = data[size..].strip_prefix(b"\r\n").unwrap_or(&data[size..]);
    }
    out
}
