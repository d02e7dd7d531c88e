//! A throwaway HAProxy (Debian's `/usr/sbin/haproxy`) balancing one HTTP
//! frontend between two servers, `x` and `y`, in backend `kong`, with the
//! runtime API reachable on a unix socket (admin level), a TCP socket (admin
//! level) and a second unix socket at user level (to exercise permission
//! errors).

use crate::process::{find_program, free_port};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_ATTEMPTS: usize = 3;

/// Name of the backend the two servers live in.
pub const BACKEND: &str = "kong";
/// Server name of cluster X inside [`BACKEND`].
pub const SERVER_X: &str = "x";
/// Server name of cluster Y inside [`BACKEND`].
pub const SERVER_Y: &str = "y";

pub struct Haproxy {
    /// Port of the HTTP frontend on 127.0.0.1.
    pub port: u16,
    /// Port of the admin-level runtime API on 127.0.0.1.
    pub api_port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Haproxy {
    /// Starts HAProxy with servers `x` → `x_addr` and `y` → `y_addr` carrying
    /// the given HAProxy weights (0..=256).
    pub fn start(
        x_addr: SocketAddr,
        y_addr: SocketAddr,
        weights: (u16, u16),
    ) -> Result<Self, String> {
        let binary = find_program("haproxy", &["/usr/sbin"])
            .ok_or("haproxy not found: install Debian's haproxy package")?;
        // A free port can be taken by a parallel test before HAProxy binds
        // it; HAProxy then exits, and a fresh pair of ports is tried.
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&binary, x_addr, y_addr, weights) {
                Ok(haproxy) => return Ok(haproxy),
                Err(e) => failures.push(e),
            }
        }
        Err(failures.join("\n---\n"))
    }

    fn start_once(
        binary: &Path,
        x_addr: SocketAddr,
        y_addr: SocketAddr,
        weights: (u16, u16),
    ) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("kong-haproxy-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let api_port = free_port();
        let config = render_config(dir.path(), port, api_port, x_addr, y_addr, weights);
        let config_path = dir.path().join("haproxy.cfg");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("haproxy.log")).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        // `-db` keeps HAProxy in the foreground as a single process, so
        // killing the child stops everything.
        let child = Command::new(binary)
            .args(["-db", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("haproxy: {e}"))?;
        let haproxy = Haproxy {
            port,
            api_port,
            dir,
            child,
        };
        haproxy.wait_until_running(Duration::from_secs(10))?;
        Ok(haproxy)
    }

    /// HAProxy binds every listener before it serves the runtime API, and
    /// exits if any bind fails; so its own pid answering on the socket in our
    /// temp dir proves the ports are ours.
    fn wait_until_running(&self, timeout: Duration) -> Result<(), String> {
        let expected = format!("Pid: {}", self.child.id());
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if runtime_api(&self.admin_socket(), "show info")
                .is_some_and(|info| info.contains(&expected))
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "haproxy did not start within {timeout:?}; log:\n{}",
            self.log()
        ))
    }

    /// The admin-level runtime API unix socket.
    pub fn admin_socket(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }

    /// A runtime API unix socket at `user` level: reads work, `set` is denied.
    pub fn user_socket(&self) -> PathBuf {
        self.dir.path().join("user.sock")
    }

    /// The admin-level runtime API as `127.0.0.1:port`.
    pub fn admin_address(&self) -> String {
        format!("127.0.0.1:{}", self.api_port)
    }

    /// Base URL of the HTTP frontend, without a trailing slash.
    pub fn frontend_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What HAProxy wrote to stdout/stderr so far (for test failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One runtime API exchange, `None` if the socket does not answer.
fn runtime_api(socket: &Path, command: &str) -> Option<String> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(format!("{command}\n").as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

fn render_config(
    dir: &Path,
    port: u16,
    api_port: u16,
    x_addr: SocketAddr,
    y_addr: SocketAddr,
    (weight_x, weight_y): (u16, u16),
) -> String {
    let dir = dir.display();
    // Round-robin is a dynamic algorithm, so runtime weight changes apply to
    // the very next request. `retries`/`redispatch` are deliberately absent:
    // the benchmark must see every failure the weight changes themselves cause.
    format!(
        "global
    maxconn 4096
    stats socket {dir}/admin.sock mode 600 level admin
    stats socket {dir}/user.sock mode 600 level user
    stats socket ipv4@127.0.0.1:{api_port} level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend proxy
    bind 127.0.0.1:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    server {SERVER_X} {x_addr} weight {weight_x}
    server {SERVER_Y} {y_addr} weight {weight_y}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_the_requested_weights_and_an_admin_socket() {
        let unused: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let haproxy = Haproxy::start(unused, unused, (100, 0)).expect("haproxy starts");
        let weight_y = runtime_api(&haproxy.admin_socket(), "get weight kong/y").unwrap();
        assert!(weight_y.starts_with("0 "), "{weight_y}");
        let denied = runtime_api(&haproxy.user_socket(), "set server kong/y weight 5").unwrap();
        assert!(denied.contains("ermission denied"), "{denied}");
        assert!(std::net::TcpStream::connect(("127.0.0.1", haproxy.port)).is_ok());
    }
}
