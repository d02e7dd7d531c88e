//! HAProxy driver: weights changed live through the runtime API
//! (`set server <backend>/<server> weight N`), no reload.
//!
//! Percentages map one to one onto HAProxy weights (0..=100 within HAProxy's
//! 0..=256), so a split reads back exactly. Weight 0 takes a server out of
//! load balancing for new requests; in HTTP mode HAProxy balances every
//! request, so a keep-alive client is moved too.

use super::{DriverError, TrafficDriver, Weights};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Where the runtime API listens (`stats socket` in haproxy.cfg).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeApiAddress {
    Unix(PathBuf),
    /// `host:port`
    Tcp(String),
}

impl RuntimeApiAddress {
    /// Parses the `socket` attribute: a path (anything with a `/`, or a
    /// `unix@` prefix) is a unix socket; `host:port` (optionally `ipv4@`) is TCP.
    pub fn parse(text: &str) -> Result<RuntimeApiAddress, DriverError> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix("unix@") {
            return Ok(RuntimeApiAddress::Unix(PathBuf::from(path)));
        }
        if text.contains('/') {
            return Ok(RuntimeApiAddress::Unix(PathBuf::from(text)));
        }
        let tcp = text
            .strip_prefix("ipv4@")
            .or_else(|| text.strip_prefix("ipv6@"))
            .unwrap_or(text);
        match tcp.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(RuntimeApiAddress::Tcp(tcp.to_string()))
            }
            _ => Err(DriverError::InvalidConfig {
                attribute: "runtime_api",
                message: format!("{text:?} is neither a unix socket path nor host:port"),
            }),
        }
    }
}

impl RuntimeApiAddress {
    /// The `runtime_api` setting of a driver block: a path starting with `/`
    /// (or prefixed `unix@`) is a unix socket; anything else is `host:port`.
    pub fn from_setting(text: &str) -> RuntimeApiAddress {
        match text.strip_prefix("unix@") {
            Some(path) => RuntimeApiAddress::Unix(PathBuf::from(path)),
            None if text.starts_with('/') => RuntimeApiAddress::Unix(PathBuf::from(text)),
            None => RuntimeApiAddress::Tcp(text.to_string()),
        }
    }

    /// The inverse of [`RuntimeApiAddress::from_setting`].
    pub fn setting(&self) -> String {
        match self {
            RuntimeApiAddress::Unix(path) if path.is_absolute() => {
                path.to_string_lossy().into_owned()
            }
            RuntimeApiAddress::Unix(path) => format!("unix@{}", path.to_string_lossy()),
            RuntimeApiAddress::Tcp(address) => address.clone(),
        }
    }
}

impl std::fmt::Display for RuntimeApiAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeApiAddress::Unix(path) => write!(f, "HAProxy runtime API {}", path.display()),
            RuntimeApiAddress::Tcp(addr) => write!(f, "HAProxy runtime API {addr}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HaproxyDriver {
    socket: RuntimeApiAddress,
    backend: String,
    server_x: String,
    server_y: String,
    timeout: Duration,
}

impl HaproxyDriver {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Names are checked here because they end up inside runtime API
    /// commands, where a space or `;` would start another command.
    pub fn new(
        socket: RuntimeApiAddress,
        backend: &str,
        server_x: &str,
        server_y: &str,
    ) -> Result<HaproxyDriver, DriverError> {
        check_name("backend", backend)?;
        check_name("server_x", server_x)?;
        check_name("server_y", server_y)?;
        if server_x == server_y {
            return Err(DriverError::InvalidConfig {
                attribute: "server_y",
                message: format!(
                    "server_x and server_y are both {server_x:?}; they must be two servers"
                ),
            });
        }
        Ok(HaproxyDriver {
            socket,
            backend: backend.to_string(),
            server_x: server_x.to_string(),
            server_y: server_y.to_string(),
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// Where this split lives, without anything secret (see [`super::SplitLocator`]).
    pub fn locator(&self) -> super::SplitLocator {
        super::SplitLocator::Haproxy {
            runtime_api: self.socket.clone(),
            backend: self.backend.clone(),
            server_x: self.server_x.clone(),
            server_y: self.server_y.clone(),
        }
    }

    /// Bound on one runtime API exchange (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn set_server_weight(&self, server: &str, weight: u8) -> Result<(), DriverError> {
        let command = format!("set server {}/{server} weight {weight}", self.backend);
        let response = self.exchange(&command).await?;
        // Success is an empty answer; anything else is HAProxy saying why not.
        if response.trim().is_empty() {
            Ok(())
        } else {
            Err(self.classify(&command, server, response.trim()))
        }
    }

    fn classify(&self, command: &str, server: &str, response: &str) -> DriverError {
        let endpoint = self.socket.to_string();
        let (request, response) = (command.to_string(), response.to_string());
        if response.contains("Permission denied") {
            return DriverError::PermissionDenied {
                attribute: "runtime_api",
                endpoint,
                request,
                response,
            };
        }
        if response.contains("No such backend") || response.contains("Can't find backend") {
            let what = format!("backend {:?}", self.backend);
            return DriverError::NotFound {
                attribute: "backend",
                what,
                endpoint,
                response,
            };
        }
        if response.contains("No such server") {
            let attribute = if server == self.server_x {
                "server_x"
            } else {
                "server_y"
            };
            let what = format!("server {:?} in backend {:?}", server, self.backend);
            return DriverError::NotFound {
                attribute,
                what,
                endpoint,
                response,
            };
        }
        DriverError::Rejected {
            attribute: "backend",
            endpoint,
            request,
            response,
        }
    }

    /// Sends one command and returns HAProxy's whole answer.
    async fn exchange(&self, command: &str) -> Result<String, DriverError> {
        let timeout = self.timeout;
        let result = tokio::time::timeout(timeout, async {
            match &self.socket {
                RuntimeApiAddress::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| self.unreachable(e))?;
                    send_and_read(stream, command)
                        .await
                        .map_err(|e| self.unreachable(e))
                }
                RuntimeApiAddress::Tcp(address) => {
                    let stream = tokio::net::TcpStream::connect(address)
                        .await
                        .map_err(|e| self.unreachable(e))?;
                    send_and_read(stream, command)
                        .await
                        .map_err(|e| self.unreachable(e))
                }
            }
        })
        .await;
        result.unwrap_or_else(|_| {
            Err(DriverError::Timeout {
                attribute: "runtime_api",
                endpoint: self.socket.to_string(),
                after: timeout,
            })
        })
    }

    fn unreachable(&self, e: std::io::Error) -> DriverError {
        let detail = match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                format!("{e} (the provider's user may not open this socket)")
            }
            _ => e.to_string(),
        };
        DriverError::Unreachable {
            attribute: "runtime_api",
            endpoint: self.socket.to_string(),
            detail,
        }
    }

    /// Effective weight of each server from `show servers state`: a server in
    /// maintenance or drain (any admin state flag) receives no new traffic,
    /// whatever its weight says.
    fn weights_from_state(&self, command: &str, state: &str) -> Result<Weights, DriverError> {
        let table =
            ServersState::parse(state).ok_or_else(|| self.classify(command, "", state.trim()))?;
        let effective = |server: &str| -> Result<u64, DriverError> {
            let row = table.row(server).ok_or_else(|| DriverError::NotFound {
                attribute: if server == self.server_x {
                    "server_x"
                } else {
                    "server_y"
                },
                what: format!("server {:?} in backend {:?}", server, self.backend),
                endpoint: self.socket.to_string(),
                response: format!("`{command}` lists no such server"),
            })?;
            Ok(if row.admin_state != 0 {
                0
            } else {
                row.user_weight
            })
        };
        Ok(Weights::from_native(
            effective(&self.server_x)?,
            effective(&self.server_y)?,
        ))
    }
}

impl TrafficDriver for HaproxyDriver {
    fn kind(&self) -> &'static str {
        "haproxy"
    }

    async fn read_weights(&self) -> Result<Weights, DriverError> {
        let command = format!("show servers state {}", self.backend);
        let state = self.exchange(&command).await?;
        self.weights_from_state(&command, &state)
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), DriverError> {
        // The larger weight goes first: it is at least 50, so the backend is
        // never left with both servers at 0 between the two commands.
        let x = (self.server_x.as_str(), weights.x.percent());
        let y = (self.server_y.as_str(), weights.y.percent());
        let (first, second) = if x.1 >= y.1 { (x, y) } else { (y, x) };
        self.set_server_weight(first.0, first.1).await?;
        self.set_server_weight(second.0, second.1).await?;
        tracing::info!(backend = %self.backend, %weights, "haproxy weights set");
        Ok(())
    }
}

/// HAProxy names: letters, digits, `-`, `_`, `.`, `:`.
fn check_name(attribute: &'static str, name: &str) -> Result<(), DriverError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if valid {
        Ok(())
    } else {
        Err(DriverError::InvalidConfig {
            attribute,
            message: format!(
                "{name:?} is not an HAProxy name (letters, digits, '-', '_', '.', ':')"
            ),
        })
    }
}

async fn send_and_read<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    command: &str,
) -> std::io::Result<String> {
    // Non-interactive mode: one line in, the answer out, then HAProxy closes.
    stream.write_all(format!("{command}\n").as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// The table `show servers state <backend>` prints (format version 1).
struct ServersState {
    rows: Vec<ServerStateRow>,
}

struct ServerStateRow {
    name: String,
    admin_state: u64,
    user_weight: u64,
}

impl ServersState {
    /// `None` when the text is not the table (HAProxy answered an error).
    fn parse(text: &str) -> Option<ServersState> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next()? != "1" {
            return None;
        }
        let header: Vec<&str> = lines
            .next()?
            .strip_prefix('#')?
            .split_whitespace()
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (name_at, admin_at, weight_at) = (
            column("srv_name")?,
            column("srv_admin_state")?,
            column("srv_uweight")?,
        );
        let rows = lines
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                Some(ServerStateRow {
                    name: fields.get(name_at)?.to_string(),
                    admin_state: fields.get(admin_at)?.parse().ok()?,
                    user_weight: fields.get(weight_at)?.parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(ServersState { rows })
    }

    fn row(&self, server: &str) -> Option<&ServerStateRow> {
        self.rows.iter().find(|r| r.name == server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::test_support::{count_answers, named_backends};
    use crate::traffic::TrafficWeight;
    use testbed::haproxy::{Haproxy, BACKEND, SERVER_X, SERVER_Y};

    const STATE: &str = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n3 kong 1 x 127.0.0.1 0 1 100 100 0 1 0 0 0 0 0 0 - 9 - 0 0 - - 0\n3 kong 2 y 127.0.0.1 2 0 30 0 1 1 0 2 0 0 0 0 - 10 - 0 0 - - 0\n\n";

    fn driver(socket: RuntimeApiAddress) -> HaproxyDriver {
        HaproxyDriver::new(socket, BACKEND, SERVER_X, SERVER_Y).unwrap()
    }

    fn percent(v: i64) -> TrafficWeight {
        TrafficWeight::new(v).unwrap()
    }

    #[test]
    fn a_server_in_maintenance_reads_as_weight_zero() {
        let d = driver(RuntimeApiAddress::Tcp("127.0.0.1:1".into()));
        let w = d
            .weights_from_state("show servers state kong", STATE)
            .unwrap();
        assert_eq!(w, Weights::with_y(TrafficWeight::FULL));
    }

    #[test]
    fn parses_socket_addresses_and_refuses_injectable_names() {
        assert_eq!(
            RuntimeApiAddress::parse("/run/haproxy/admin.sock").unwrap(),
            RuntimeApiAddress::Unix("/run/haproxy/admin.sock".into())
        );
        assert_eq!(
            RuntimeApiAddress::parse("ipv4@127.0.0.1:9999").unwrap(),
            RuntimeApiAddress::Tcp("127.0.0.1:9999".into())
        );
        assert!(RuntimeApiAddress::parse("localhost").is_err());
        let e = HaproxyDriver::new(
            RuntimeApiAddress::Tcp("h:1".into()),
            "kong; shutdown",
            "x",
            "y",
        )
        .unwrap_err();
        assert_eq!(e.attribute(), "backend");
    }

    #[tokio::test]
    async fn sets_and_reads_live_weights_and_zero_really_drains() {
        let (x_addr, y_addr) = named_backends().await;
        let haproxy = Haproxy::start(x_addr, y_addr, (100, 0)).unwrap();
        let d = driver(RuntimeApiAddress::Unix(haproxy.admin_socket()));
        assert_eq!(d.read_weights().await.unwrap(), Weights::all_on_x());

        d.set_weights(Weights::with_y(percent(50))).await.unwrap();
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::with_y(percent(50))
        );
        let (x, y) = count_answers(&haproxy.frontend_url(), 40).await;
        assert_eq!((x, y), (20, 20), "round robin at 50/50");

        // 100 % Y: X at weight 0 gets nothing, even over one keep-alive client.
        d.set_weights(Weights::with_y(TrafficWeight::FULL))
            .await
            .unwrap();
        assert_eq!(count_answers(&haproxy.frontend_url(), 30).await, (0, 30));
        // And back, over the TCP runtime API this time.
        let tcp = driver(RuntimeApiAddress::parse(&haproxy.admin_address()).unwrap());
        tcp.set_weights(Weights::all_on_x()).await.unwrap();
        assert_eq!(count_answers(&haproxy.frontend_url(), 30).await, (30, 0));
        assert_eq!(tcp.read_weights().await.unwrap(), Weights::all_on_x());
    }

    #[tokio::test]
    async fn reports_a_hand_edit_as_it_is() {
        let (x_addr, y_addr) = named_backends().await;
        let haproxy = Haproxy::start(x_addr, y_addr, (100, 0)).unwrap();
        let d = driver(RuntimeApiAddress::Unix(haproxy.admin_socket()));
        d.set_weights(Weights::with_y(percent(20))).await.unwrap();
        // An operator bypasses Terraform.
        send_and_read(
            tokio::net::UnixStream::connect(haproxy.admin_socket())
                .await
                .unwrap(),
            "set server kong/y weight 80",
        )
        .await
        .unwrap();
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::from_native(80, 80)
        );
        send_and_read(
            tokio::net::UnixStream::connect(haproxy.admin_socket())
                .await
                .unwrap(),
            "disable server kong/x",
        )
        .await
        .unwrap();
        assert_eq!(
            d.read_weights().await.unwrap(),
            Weights::with_y(TrafficWeight::FULL)
        );
    }

    #[tokio::test]
    async fn errors_name_the_attribute_and_quote_haproxy() {
        let (x_addr, y_addr) = named_backends().await;
        let haproxy = Haproxy::start(x_addr, y_addr, (100, 0)).unwrap();
        let socket = RuntimeApiAddress::Unix(haproxy.admin_socket());
        let target = Weights::with_y(percent(10));

        let e = HaproxyDriver::new(socket.clone(), "nope", "x", "y")
            .unwrap()
            .set_weights(target)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, DriverError::NotFound { attribute: "backend", response, .. } if response == "No such backend."),
            "{e}"
        );
        let e = HaproxyDriver::new(socket.clone(), "nope", "x", "y")
            .unwrap()
            .read_weights()
            .await
            .unwrap_err();
        assert_eq!(e.attribute(), "backend", "{e}");

        let e = HaproxyDriver::new(socket.clone(), BACKEND, "x", "ghost")
            .unwrap()
            .set_weights(target)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, DriverError::NotFound { attribute: "server_y", response, .. } if response == "No such server."),
            "{e}"
        );
        let e = HaproxyDriver::new(socket.clone(), BACKEND, "x", "ghost")
            .unwrap()
            .read_weights()
            .await
            .unwrap_err();
        assert_eq!(e.attribute(), "server_y", "{e}");

        let e = driver(RuntimeApiAddress::Unix(haproxy.user_socket()))
            .set_weights(target)
            .await
            .unwrap_err();
        assert!(matches!(e, DriverError::PermissionDenied { .. }), "{e}");

        let e = driver(RuntimeApiAddress::Unix(haproxy.dir().join("missing.sock")))
            .read_weights()
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::Unreachable {
                    attribute: "runtime_api",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("missing.sock"), "{e}");
        // Nothing above moved any traffic.
        assert_eq!(
            driver(socket).read_weights().await.unwrap(),
            Weights::all_on_x()
        );
    }
}
