//! The sandbox's use of HAProxy's runtime API: turning health checks on for
//! servers `x` and `y`, and reading their weights and states for `status`.
//!
//! testbed's HAProxy declares its servers without `check`, so a server that
//! is down still counts as up. The sandbox needs checks: Y's address is in
//! the backend before Y runs, and X is stopped at the end of the upgrade. A
//! server's `check` flag cannot be switched on at runtime, so each server is
//! replaced by an identical dynamic server that has it (HAProxy ≥ 2.5), while
//! nothing is connected yet.

use crate::error::SandboxError;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// Fast enough that Y takes traffic within a second of starting.
const CHECK_OPTIONS: &str = "check inter 300ms fall 2 rise 2";
const API_TIMEOUT: Duration = Duration::from_secs(5);

pub struct RuntimeApi {
    socket: PathBuf,
}

/// One server of the backend as `show servers state` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    pub name: String,
    pub weight: u32,
    /// `srv_op_state`: 0 stopped (down), 1 starting, 2 running, 3 stopping.
    pub operational: u32,
    /// `srv_admin_state`: non-zero means maintenance or drain.
    pub admin: u32,
}

impl ServerState {
    pub fn describe(&self) -> String {
        let state = match (self.admin, self.operational) {
            (a, _) if a != 0 => "maint",
            (_, 2) => "UP",
            (_, 0) => "DOWN",
            _ => "changing",
        };
        format!("{}={} ({state})", self.name, self.weight)
    }
}

impl RuntimeApi {
    pub fn new(socket: impl Into<PathBuf>) -> RuntimeApi {
        RuntimeApi {
            socket: socket.into(),
        }
    }

    /// One command; returns HAProxy's answer.
    pub fn command(&self, command: &str) -> Result<String, SandboxError> {
        let io = |e| SandboxError::io("talk to the HAProxy runtime API at", &self.socket, e);
        let mut stream = UnixStream::connect(&self.socket).map_err(io)?;
        stream.set_read_timeout(Some(API_TIMEOUT)).map_err(io)?;
        stream
            .write_all(format!("{command}\n").as_bytes())
            .map_err(io)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(io)?;
        Ok(answer)
    }

    /// A command whose success is an empty answer or one of `accepted`.
    fn expect(&self, command: &str, accepted: &[&str]) -> Result<(), SandboxError> {
        let answer = self.command(command)?;
        let answer = answer.trim();
        if answer.is_empty() || accepted.iter().any(|ok| answer.contains(ok)) {
            Ok(())
        } else {
            Err(SandboxError::HaproxyCommand {
                socket: self.socket.clone(),
                command: command.to_string(),
                answer: answer.to_string(),
            })
        }
    }

    /// Replaces `backend/server` by the same server with health checks.
    /// Only safe before traffic flows: `del server` needs a server without
    /// connections.
    pub fn replace_with_checked_server(
        &self,
        backend: &str,
        server: &str,
        address: SocketAddr,
        weight: u32,
    ) -> Result<(), SandboxError> {
        let target = format!("{backend}/{server}");
        self.expect(&format!("set server {target} state maint"), &[])?;
        self.expect(&format!("del server {target}"), &["Server deleted"])?;
        self.expect(
            &format!("add server {target} {address} weight {weight} {CHECK_OPTIONS}"),
            &["New server registered"],
        )?;
        // Dynamic servers start in maintenance with their checks stopped.
        self.expect(&format!("enable health {target}"), &[])?;
        self.expect(&format!("enable server {target}"), &[])
    }

    pub fn servers(&self, backend: &str) -> Result<Vec<ServerState>, SandboxError> {
        let command = format!("show servers state {backend}");
        let answer = self.command(&command)?;
        parse_servers_state(&answer).ok_or_else(|| SandboxError::HaproxyCommand {
            socket: self.socket.clone(),
            command,
            answer: answer.trim().to_string(),
        })
    }
}

/// Parses `show servers state` (format version 1): a version line, a `#`
/// header naming the columns, then one row per server.
pub fn parse_servers_state(text: &str) -> Option<Vec<ServerState>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if lines.next()?.trim() != "1" {
        return None;
    }
    let header: Vec<&str> = lines
        .next()?
        .trim_start_matches('#')
        .split_whitespace()
        .collect();
    let column = |name: &str| header.iter().position(|c| *c == name);
    let (name, op, admin, weight) = (
        column("srv_name")?,
        column("srv_op_state")?,
        column("srv_admin_state")?,
        column("srv_uweight")?,
    );
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some(ServerState {
                name: fields.get(name)?.to_string(),
                weight: fields.get(weight)?.parse().ok()?,
                operational: fields.get(op)?.parse().ok()?,
                admin: fields.get(admin)?.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use testbed::haproxy::{Haproxy, BACKEND, SERVER_X, SERVER_Y};

    #[test]
    fn parses_servers_state() {
        let text = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight\n3 kong 3 x 127.0.0.1 2 0 100 100\n3 kong 4 y 127.0.0.1 0 0 0 0\n\n";
        let servers = parse_servers_state(text).unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].describe(), "x=100 (UP)");
        assert_eq!(servers[1].describe(), "y=0 (DOWN)");
        assert_eq!(parse_servers_state("Unknown command\n"), None);
    }

    #[test]
    fn checked_servers_go_down_when_nothing_listens_and_keep_their_weights() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let up: SocketAddr = listener.local_addr().unwrap();
        let down: SocketAddr = ([127, 0, 0, 1], testbed::free_port()).into();
        let haproxy = Haproxy::start(up, down, (100, 0)).unwrap();
        let api = RuntimeApi::new(haproxy.admin_socket());
        api.replace_with_checked_server(BACKEND, SERVER_X, up, 100)
            .unwrap();
        api.replace_with_checked_server(BACKEND, SERVER_Y, down, 0)
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let servers = loop {
            let servers = api.servers(BACKEND).unwrap();
            if servers
                .iter()
                .any(|s| s.name == SERVER_Y && s.operational == 0)
            {
                break servers;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "y never went DOWN: {servers:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let described: Vec<String> = servers.iter().map(ServerState::describe).collect();
        assert_eq!(described, ["x=100 (UP)", "y=0 (DOWN)"]);
        let refused = api
            .replace_with_checked_server(BACKEND, "nosuch", down, 0)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("nosuch"), "{refused}");
    }
}
