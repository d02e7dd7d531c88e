//! A throwaway nginx (Debian's `/usr/sbin/nginx`): a master process with one
//! worker, in the foreground (`daemon off; master_process on;`), proxying one
//! loopback port to an upstream defined in a separate include file, so a
//! load-balancer driver can own that file and reload nginx gracefully.

use crate::process::{find_program, free_port, wait_for_tcp};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_ATTEMPTS: usize = 3;

pub struct Nginx {
    /// Port of the HTTP frontend on 127.0.0.1.
    pub port: u16,
    binary: PathBuf,
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// Starts nginx proxying to `upstream_name`, which `upstream_file`
    /// (written to [`Nginx::upstream_file`] before start) must define.
    pub fn start(upstream_name: &str, upstream_file: &str) -> Result<Self, String> {
        let binary = find_program("nginx", &["/usr/sbin"])
            .ok_or("nginx not found: install Debian's nginx package")?;
        // A free port can be taken by a parallel test before nginx binds it;
        // nginx then exits, and a fresh port is tried.
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&binary, upstream_name, upstream_file) {
                Ok(nginx) => return Ok(nginx),
                Err(e) => failures.push(e),
            }
        }
        Err(failures.join("\n---\n"))
    }

    fn start_once(binary: &Path, upstream_name: &str, upstream_file: &str) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("kong-nginx-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port();
        std::fs::write(dir.path().join("upstream.conf"), upstream_file)
            .map_err(|e| e.to_string())?;
        std::fs::create_dir(dir.path().join("tmp")).map_err(|e| e.to_string())?;
        std::fs::write(
            dir.path().join("nginx.conf"),
            render_config(dir.path(), port, upstream_name),
        )
        .map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("nginx: {e}"))?;
        let mut nginx = Nginx {
            port,
            binary: binary.to_path_buf(),
            dir,
            child,
        };
        if let Err(e) = nginx.wait_until_running(Duration::from_secs(10)) {
            nginx.stop();
            return Err(e);
        }
        Ok(nginx)
    }

    /// The master writes its pid file only after binding its listeners (it
    /// exits if a bind fails), so its own pid in our pid file proves the
    /// port is ours.
    fn wait_until_running(&mut self, timeout: Duration) -> Result<(), String> {
        let expected = self.child.id().to_string();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "nginx exited ({status}); error log:\n{}",
                    self.error_log()
                ));
            }
            let pid = std::fs::read_to_string(self.pid_file()).unwrap_or_default();
            if pid.trim() == expected && wait_for_tcp(self.port, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "nginx did not start within {timeout:?}; error log:\n{}",
            self.error_log()
        ))
    }

    /// The upstream include file a driver owns.
    pub fn upstream_file(&self) -> PathBuf {
        self.dir.path().join("upstream.conf")
    }

    /// The main configuration file (pass it with `-c` to `nginx -t` / `-s`).
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// The master's pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.path().join("nginx.pid")
    }

    /// `nginx -c <conf> -e <log> -s reload`: a graceful reload of this instance.
    pub fn reload_argv(&self) -> Vec<String> {
        self.argv(&["-s", "reload"])
    }

    /// `nginx -c <conf> -e <log> -t`: validates this instance's configuration.
    pub fn validate_argv(&self) -> Vec<String> {
        self.argv(&["-t"])
    }

    fn argv(&self, tail: &[&str]) -> Vec<String> {
        let mut argv = vec![
            self.binary.display().to_string(),
            "-c".into(),
            self.config_file().display().to_string(),
            "-e".into(),
            self.dir.path().join("error.log").display().to_string(),
        ];
        argv.extend(tail.iter().map(|s| s.to_string()));
        argv
    }

    /// Base URL of the HTTP frontend, without a trailing slash.
    pub fn frontend_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        // SIGKILL on the master would orphan its workers (still bound to the
        // port), so ask for a fast shutdown first and only then insist.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

fn render_config(dir: &Path, port: u16, upstream_name: &str) -> String {
    let dir = dir.display();
    // Keep-alive to the upstreams (HTTP/1.1, no `Connection: close`) so a
    // benchmark at hundreds of requests per second does not exhaust ephemeral
    // ports; `proxy_next_upstream` stays at nginx's default (error, timeout).
    format!(
        "daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;

    include {dir}/upstream.conf;

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream_name};
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_reloads_its_own_configuration() {
        let upstream = "upstream backends {\n    server 127.0.0.1:9 weight=1;\n}\n";
        let nginx = Nginx::start("backends", upstream).expect("nginx starts");
        let validate = nginx.validate_argv();
        let out = Command::new(&validate[0])
            .args(&validate[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reload = nginx.reload_argv();
        let out = Command::new(&reload[0])
            .args(&reload[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(nginx.upstream_file(), "upstream backends { bogus; }\n").unwrap();
        let out = Command::new(&validate[0])
            .args(&validate[1..])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "a broken include must fail validation"
        );
    }
}
