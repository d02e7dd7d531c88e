//! nginx driver: owns one include file holding an `upstream` block, writes
//! it atomically, validates, then reloads nginx gracefully (new workers take
//! new connections, old ones finish the requests they hold).
//!
//! nginx weights must be at least 1, so a 0 % share is written as `down`.
//! If validation or the reload fails, the previous file is put back, so the
//! file on disk always matches what nginx runs.
//!
//! With [`NginxDriver::with_pid_file`], `set_weights` returns only once the
//! reload is in effect for new connections, so gates measure the new split.
//!
//! One limit of OSS nginx that no driver can lift: when an old worker shuts
//! down it closes its idle keep-alive client connections, and a request a
//! client sends on one at that instant is lost unless the client resends it
//! (browsers and most HTTP libraries do for idempotent requests; `wrk` does
//! not). HAProxy changes weights without touching any connection.

use super::{DriverError, TrafficDriver, Weights};
use crate::platform::run_briefly;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Most output kept from a reload or validation command (`nginx -t` says
/// two lines).
const COMMAND_OUTPUT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct NginxDriver {
    file: PathBuf,
    upstream: String,
    server_x: String,
    server_y: String,
    reload_argv: Vec<String>,
    validate_argv: Vec<String>,
    pid_file: Option<PathBuf>,
    command_timeout: Duration,
}

impl NginxDriver {
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

    /// A driver for `upstream` in `file`, with servers `server_x` and
    /// `server_y` (`host:port`, as written in nginx), reloading with
    /// `nginx -s reload` after validating with `nginx -t`.
    pub fn new(
        file: PathBuf,
        upstream: &str,
        server_x: &str,
        server_y: &str,
    ) -> Result<NginxDriver, DriverError> {
        check_token("upstream", upstream)?;
        check_token("server_x", server_x)?;
        check_token("server_y", server_y)?;
        if server_x == server_y {
            return Err(DriverError::InvalidConfig {
                attribute: "server_y",
                message: format!(
                    "server_x and server_y are both {server_x:?}; they must be two servers"
                ),
            });
        }
        Ok(NginxDriver {
            file,
            upstream: upstream.to_string(),
            server_x: server_x.to_string(),
            server_y: server_y.to_string(),
            reload_argv: vec!["nginx".into(), "-s".into(), "reload".into()],
            validate_argv: vec!["nginx".into(), "-t".into()],
            pid_file: None,
            command_timeout: Self::DEFAULT_COMMAND_TIMEOUT,
        })
    }

    /// The reload command, e.g. `["nginx", "-c", "/etc/nginx/nginx.conf", "-s", "reload"]`.
    pub fn with_reload_argv(mut self, argv: Vec<String>) -> Result<NginxDriver, DriverError> {
        check_argv("reload_command", &argv)?;
        self.reload_argv = argv;
        Ok(self)
    }

    /// The validation command, e.g. `["nginx", "-t", "-c", "/etc/nginx/nginx.conf"]`.
    pub fn with_validate_argv(mut self, argv: Vec<String>) -> Result<NginxDriver, DriverError> {
        check_argv("validate_command", &argv)?;
        self.validate_argv = argv;
        Ok(self)
    }

    /// nginx's `pid` file. With it, `set_weights` returns only once the
    /// master has started workers with the new configuration (a reload
    /// command only signals the master), and a reload the master refuses
    /// (e.g. a port it cannot bind) is reported and the file restored.
    /// Linux only (reads `/proc`).
    pub fn with_pid_file(mut self, pid_file: PathBuf) -> NginxDriver {
        self.pid_file = Some(pid_file);
        self
    }

    /// Where this split lives: what reading it needs, not the commands that
    /// change it (see [`super::SplitLocator`]).
    pub fn locator(&self) -> super::SplitLocator {
        super::SplitLocator::Nginx {
            upstream_file: self.file.clone(),
            upstream: self.upstream.clone(),
            server_x: self.server_x.clone(),
            server_y: self.server_y.clone(),
        }
    }

    /// Bound on each validate/reload command (default 30 s).
    pub fn with_command_timeout(mut self, timeout: Duration) -> NginxDriver {
        self.command_timeout = timeout;
        self
    }

    /// The include file's content for `weights`.
    pub fn render(&self, weights: Weights) -> String {
        let server = |address: &str, percent: u8| match percent {
            0 => format!("    server {address} down;\n"),
            weight => format!("    server {address} weight={weight};\n"),
        };
        format!(
            "# Managed by terraform-provider-kong (kong_traffic_split): hand edits show up as drift.\nupstream {} {{\n{}{}}}\n",
            self.upstream,
            server(&self.server_x, weights.x.percent()),
            server(&self.server_y, weights.y.percent()),
        )
    }

    /// Parses the split back out of an include file's text.
    pub fn parse(&self, text: &str) -> Result<Weights, DriverError> {
        let unreadable = |detail: String| DriverError::File {
            attribute: "upstream_file",
            path: self.file.clone(),
            detail,
        };
        let servers = upstream_servers(text, &self.upstream)
            .ok_or_else(|| unreadable(format!("no `upstream {} {{ … }}` block", self.upstream)))?;
        let weight_of = |attribute: &'static str, address: &str| -> Result<u64, DriverError> {
            let server = servers
                .iter()
                .find(|s| s.address == address)
                .ok_or_else(|| DriverError::NotFound {
                    attribute,
                    what: format!("server {address}"),
                    endpoint: self.file.display().to_string(),
                    response: format!("upstream {} has no such server", self.upstream),
                })?;
            Ok(if server.down { 0 } else { server.weight })
        };
        Ok(Weights::from_native(
            weight_of("server_x", &self.server_x)?,
            weight_of("server_y", &self.server_y)?,
        ))
    }

    async fn read_file(&self) -> Result<Option<Vec<u8>>, DriverError> {
        match tokio::fs::read(&self.file).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.file_error(e)),
        }
    }

    fn file_error(&self, e: std::io::Error) -> DriverError {
        DriverError::File {
            attribute: "upstream_file",
            path: self.file.clone(),
            detail: e.to_string(),
        }
    }

    /// Puts the previous content back (or removes a file that did not exist).
    async fn restore(&self, previous: Option<&[u8]>) {
        let restored = match previous {
            Some(bytes) => write_atomically(&self.file, bytes).await,
            None => tokio::fs::remove_file(&self.file).await,
        };
        if let Err(e) = restored {
            tracing::error!(file = %self.file.display(), error = %e, "could not restore the previous nginx upstream file");
        }
    }

    /// The master's pid (from the pid file) and its current children, once
    /// it has at least one worker accepting connections: a reload sent to a
    /// master still starting its first workers could not be told apart from
    /// that start.
    async fn master_and_workers(&self, pid_file: &Path) -> Result<(u32, Vec<u32>), DriverError> {
        let unreadable = |detail: String| DriverError::File {
            attribute: "pid_file",
            path: pid_file.to_path_buf(),
            detail,
        };
        let text = tokio::fs::read_to_string(pid_file)
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        let pid: u32 = text
            .trim()
            .parse()
            .map_err(|_| unreadable(format!("{:?} is not a process id", text.trim())))?;
        let deadline = tokio::time::Instant::now() + self.command_timeout;
        loop {
            let workers = children(pid).await.ok_or_else(|| {
                unreadable(format!(
                    "process {pid} from the pid file is not running (or /proc is unavailable)"
                ))
            })?;
            if !stopped_accepting(&workers).await {
                return Ok((pid, workers));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(unreadable(format!(
                    "the nginx master (pid {pid}) has no worker accepting connections"
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until the reload is in effect for new connections: the master
    /// has a worker it did not have before, and every previous worker has
    /// stopped accepting (it is gone, or has retitled itself "shutting down",
    /// which nginx does right before closing its listening sockets). Old
    /// workers still finish the requests they hold; that is the graceful part.
    async fn wait_for_new_workers(&self, master: u32, before: &[u32]) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.command_timeout;
        loop {
            match children(master).await {
                Some(now) if now.iter().any(|pid| !before.contains(pid)) => {
                    if stopped_accepting(before).await {
                        return Ok(());
                    }
                }
                Some(_) => {}
                None => {
                    return Err(format!(
                        "the nginx master (pid {master}) exited during the reload"
                    ))
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "the nginx master (pid {master}) started no new workers within {:?}: it refused the new configuration and keeps running the previous one (see nginx's error log)",
                    self.command_timeout
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Runs `argv`; `Err(output)` when it fails, times out or cannot start.
    async fn run(&self, argv: &[String]) -> Result<(), String> {
        let output = run_briefly(argv, self.command_timeout, COMMAND_OUTPUT_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "exit status {}: {}",
                output.status.code().unwrap_or(-1),
                text.trim()
            ))
        }
    }
}

impl TrafficDriver for NginxDriver {
    fn kind(&self) -> &'static str {
        "nginx"
    }

    async fn read_weights(&self) -> Result<Weights, DriverError> {
        let bytes = self.read_file().await?.ok_or_else(|| DriverError::File {
            attribute: "upstream_file",
            path: self.file.clone(),
            detail: "does not exist (it is created on the first apply)".into(),
        })?;
        self.parse(&String::from_utf8_lossy(&bytes))
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), DriverError> {
        let previous = self.read_file().await?;
        write_atomically(&self.file, self.render(weights).as_bytes())
            .await
            .map_err(|e| self.file_error(e))?;
        if let Err(output) = self.run(&self.validate_argv).await {
            self.restore(previous.as_deref()).await;
            return Err(DriverError::ValidationFailed {
                file: self.file.clone(),
                argv: self.validate_argv.join(" "),
                output,
            });
        }
        let master = match &self.pid_file {
            Some(pid_file) => match self.master_and_workers(pid_file).await {
                Ok(found) => Some(found),
                Err(e) => {
                    self.restore(previous.as_deref()).await;
                    return Err(e);
                }
            },
            None => None,
        };
        let reloaded = match self.run(&self.reload_argv).await {
            Ok(()) => match master {
                Some((pid, before)) => self.wait_for_new_workers(pid, &before).await,
                None => Ok(()),
            },
            Err(output) => Err(output),
        };
        if let Err(output) = reloaded {
            self.restore(previous.as_deref()).await;
            return Err(DriverError::CommandFailed {
                attribute: "reload_command",
                file: self.file.clone(),
                argv: self.reload_argv.join(" "),
                output,
            });
        }
        tracing::info!(file = %self.file.display(), upstream = %self.upstream, %weights, "nginx upstream written and reloaded");
        Ok(())
    }
}

/// Child process ids of `pid` (its main thread's), or `None` if it is gone.
async fn children(pid: u32) -> Option<Vec<u32>> {
    let text = tokio::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .await
        .ok()?;
    Some(
        text.split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
    )
}

/// True when none of `workers` accepts new connections any more.
async fn stopped_accepting(workers: &[u32]) -> bool {
    for pid in workers {
        if let Ok(cmdline) = tokio::fs::read(format!("/proc/{pid}/cmdline")).await {
            if !String::from_utf8_lossy(&cmdline).contains("shutting down") {
                return false;
            }
        }
    }
    true
}

/// Writes `bytes` to a temporary file beside `path`, flushes it, and renames
/// it over `path`: nginx (or a crash) sees the old file or the new one, never
/// half of one.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let written = async {
        let mut file = tokio::fs::File::create(&temp).await?;
        tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await?;
        file.sync_all().await?;
        tokio::fs::rename(&temp, path).await
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    written
}

/// Tokens that end up verbatim in nginx configuration: no whitespace and none
/// of the characters that would end or open a directive.
fn check_token(attribute: &'static str, value: &str) -> Result<(), DriverError> {
    let valid = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || ";{}#'\"\\$".contains(c));
    if valid {
        Ok(())
    } else {
        Err(DriverError::InvalidConfig {
            attribute,
            message: format!("{value:?} cannot be written into nginx configuration"),
        })
    }
}

fn check_argv(attribute: &'static str, argv: &[String]) -> Result<(), DriverError> {
    match argv.first() {
        Some(program) if !program.is_empty() => Ok(()),
        _ => Err(DriverError::InvalidConfig {
            attribute,
            message: "needs at least the program to run".into(),
        }),
    }
}

/// A `server` line of an upstream block.
#[derive(Debug, PartialEq, Eq)]
struct UpstreamServer {
    address: String,
    weight: u64,
    down: bool,
}

/// The servers of `upstream <name> { … }` in `text`, or `None` if there is no
/// such block. Understands comments and any layout of whitespace.
fn upstream_servers(text: &str, name: &str) -> Option<Vec<UpstreamServer>> {
    let tokens = tokenize(text);
    let start = tokens
        .windows(3)
        .position(|w| w[0] == "upstream" && w[1] == name && w[2] == "{")?;
    let mut servers = Vec::new();
    let mut statement: Vec<&str> = Vec::new();
    for token in &tokens[start + 3..] {
        match token.as_str() {
            "}" => return Some(servers),
            ";" => {
                if let Some(server) = server_statement(&statement) {
                    servers.push(server);
                }
                statement.clear();
            }
            other => statement.push(other),
        }
    }
    None
}

fn server_statement(statement: &[&str]) -> Option<UpstreamServer> {
    let (directive, rest) = statement.split_first()?;
    if *directive != "server" {
        return None;
    }
    let (address, params) = rest.split_first()?;
    let weight = params
        .iter()
        .find_map(|p| p.strip_prefix("weight="))
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let down = params.contains(&"down");
    Some(UpstreamServer {
        address: address.to_string(),
        weight,
        down,
    })
}

/// Splits nginx configuration into words and the punctuation `{`, `}`, `;`,
/// dropping `#` comments.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or("");
        let spaced = code
            .replace('{', " { ")
            .replace('}', " } ")
            .replace(';', " ; ");
        tokens.extend(spaced.split_whitespace().map(str::to_string));
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::test_support::{count_answers, named_backends};
    use crate::traffic::TrafficWeight;
    use testbed::nginx::Nginx;

    fn percent(v: i64) -> TrafficWeight {
        TrafficWeight::new(v).unwrap()
    }

    fn driver(file: PathBuf) -> NginxDriver {
        NginxDriver::new(file, "kong_split", "127.0.0.1:8001", "127.0.0.1:8002").unwrap()
    }

    #[test]
    fn renders_zero_as_down_and_reads_its_own_output_back() {
        let d = driver("/unused".into());
        let all_y = d.render(Weights::with_y(TrafficWeight::FULL));
        assert!(all_y.contains("server 127.0.0.1:8001 down;"), "{all_y}");
        assert!(
            all_y.contains("server 127.0.0.1:8002 weight=100;"),
            "{all_y}"
        );
        for y in [0, 1, 30, 50, 99, 100] {
            let w = Weights::with_y(percent(y));
            assert_eq!(d.parse(&d.render(w)).unwrap(), w);
        }
    }

    #[test]
    fn parses_hand_written_upstreams() {
        let d = driver("/unused".into());
        let text = "upstream other { server 127.0.0.1:8001 weight=9; }\n\
                    upstream kong_split{ # hand edited\n  server 127.0.0.1:8001 max_fails=3;\n  server 127.0.0.1:8002   weight=3 ; keepalive 8;}";
        assert_eq!(d.parse(text).unwrap(), Weights::from_native(1, 3));
        let e = d
            .parse("upstream kong_split { server 127.0.0.1:8001; }")
            .unwrap_err();
        assert_eq!(e.attribute(), "server_y");
        assert_eq!(
            d.parse("upstream elsewhere { }").unwrap_err().attribute(),
            "upstream_file"
        );
    }

    #[test]
    fn refuses_values_that_would_break_the_configuration() {
        assert_eq!(
            NginxDriver::new("/f".into(), "a b", "x:1", "y:1")
                .unwrap_err()
                .attribute(),
            "upstream"
        );
        assert_eq!(
            NginxDriver::new("/f".into(), "u", "x:1;", "y:1")
                .unwrap_err()
                .attribute(),
            "server_x"
        );
        assert_eq!(
            driver("/f".into())
                .with_reload_argv(vec![])
                .unwrap_err()
                .attribute(),
            "reload_command"
        );
    }

    /// nginx in front of two named backends, all traffic on X, and a driver
    /// owning its upstream file.
    async fn nginx_with_driver() -> (Nginx, NginxDriver) {
        let (x, y) = named_backends().await;
        let initial = NginxDriver::new(
            "/unused".into(),
            "kong_split",
            &x.to_string(),
            &y.to_string(),
        )
        .unwrap()
        .render(Weights::all_on_x());
        let nginx = Nginx::start("kong_split", &initial).unwrap();
        let d = NginxDriver::new(
            nginx.upstream_file(),
            "kong_split",
            &x.to_string(),
            &y.to_string(),
        )
        .unwrap()
        .with_reload_argv(nginx.reload_argv())
        .unwrap()
        .with_validate_argv(nginx.validate_argv())
        .unwrap()
        .with_pid_file(nginx.pid_file());
        (nginx, d)
    }

    /// With a pid file, `set_weights` returns once the reload is in effect,
    /// so the very next requests already follow the new split.
    async fn assert_split(nginx: &Nginx, expected: (usize, usize)) {
        let seen = count_answers(&nginx.frontend_url(), expected.0 + expected.1).await;
        assert_eq!(
            seen,
            expected,
            "answers from (X, Y); nginx error log:\n{}",
            nginx.error_log()
        );
    }

    #[tokio::test]
    async fn writes_validates_reloads_and_reads_back() {
        let (nginx, d) = nginx_with_driver().await;
        assert_eq!(d.read_weights().await.unwrap(), Weights::all_on_x());
        d.set_weights(Weights::with_y(percent(50))).await.unwrap();
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::with_y(percent(50))
        );
        assert_split(&nginx, (10, 10)).await;
        // 100 % Y: X is `down` and receives nothing.
        d.set_weights(Weights::with_y(TrafficWeight::FULL))
            .await
            .unwrap();
        assert_split(&nginx, (0, 30)).await;
        let leftovers: Vec<_> = std::fs::read_dir(nginx.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files left behind: {leftovers:?}"
        );
    }

    #[tokio::test]
    async fn a_hand_edit_reads_as_drift() {
        let (_nginx, d) = nginx_with_driver().await;
        let edited = std::fs::read_to_string(&d.file)
            .unwrap()
            .replace("down;", "weight=100;");
        std::fs::write(&d.file, edited).unwrap();
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::with_y(percent(50))
        );
    }

    #[tokio::test]
    async fn a_configuration_nginx_rejects_leaves_the_old_one_live() {
        let (nginx, d) = nginx_with_driver().await;
        d.set_weights(Weights::with_y(percent(50))).await.unwrap();
        let before = std::fs::read_to_string(&d.file).unwrap();
        // Same file, but Y's address does not resolve: `nginx -t` refuses it.
        let broken = NginxDriver {
            server_y: "no-such-host.invalid:80".into(),
            ..d.clone()
        };
        let e = broken
            .set_weights(Weights::with_y(TrafficWeight::FULL))
            .await
            .unwrap_err();
        match &e {
            DriverError::ValidationFailed { output, .. } => {
                assert!(output.contains("no-such-host.invalid"), "{output}")
            }
            other => panic!("expected a validation failure, got {other}"),
        }
        assert_eq!(e.attribute(), "validate_command");
        assert_eq!(
            std::fs::read_to_string(&d.file).unwrap(),
            before,
            "the previous file is restored"
        );
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::with_y(percent(50))
        );
        assert_split(&nginx, (10, 10)).await;
    }

    #[tokio::test]
    async fn a_failing_reload_restores_the_previous_file() {
        let (_nginx, d) = nginx_with_driver().await;
        let before = std::fs::read_to_string(&d.file).unwrap();
        let no_reload = d
            .clone()
            .with_reload_argv(vec!["/bin/false".into()])
            .unwrap();
        let e = no_reload
            .set_weights(Weights::with_y(percent(10)))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::CommandFailed {
                    attribute: "reload_command",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&d.file).unwrap(), before);
    }
}
