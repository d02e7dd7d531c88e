//! go-plugin's server side: magic cookie, protocol negotiation, a unix
//! socket, AutoMTLS, the handshake line, signal handling and a clean
//! `Shutdown`.

use crate::log;
use crate::plugin;
use crate::provider::{Provider, ProviderName};
use crate::server::ProviderServer;
use crate::tls::AutoMtls;
use base64::Engine;
use magma_protocol::tfplugin6::provider_server::ProviderServer as GrpcProviderServer;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const CORE_PROTOCOL_VERSION: u32 = 1;
const APP_PROTOCOL_VERSION: u32 = 6;

#[derive(Debug, thiserror::Error)]
/// Why `serve` could not serve.
pub enum ServeError {
    #[error(
        "This binary is a plugin. These are not meant to be executed directly.\n\
         Please execute the program that consumes these plugins, which will\n\
         load any plugins automatically"
    )]
    /// Started by hand rather than by Terraform.
    NotLaunchedByTerraform,
    #[error("this provider speaks plugin protocol 6 only; Terraform offered {0:?} (Terraform 1.0 or later is required)")]
    /// Terraform offered no protocol version this framework speaks.
    ProtocolMismatch(String),
    #[error("cannot listen on {path}: {source}")]
    /// The plugin socket could not be opened.
    Listen {
        /// The socket's path.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    #[error(transparent)]
    /// The AutoMTLS certificate could not be made.
    Tls(#[from] crate::tls::TlsError),
    #[error("gRPC server failed: {0}")]
    /// The gRPC server failed.
    Grpc(#[from] tonic::transport::Error),
}

/// Serves `provider` until Terraform shuts it down. Call from `main` inside a
/// tokio runtime; returns the process exit code. `name` says how logs and
/// internal-error diagnostics name the provider.
pub async fn serve<P: Provider>(name: ProviderName, provider: P) -> std::process::ExitCode {
    log::init(name);
    match run(name, provider).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Before the handshake Terraform shows stderr to the user.
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn check_launched_by_terraform() -> Result<(), ServeError> {
    match std::env::var(MAGIC_COOKIE_KEY) {
        Ok(v) if v == MAGIC_COOKIE_VALUE => Ok(()),
        _ => Err(ServeError::NotLaunchedByTerraform),
    }
}

/// go-plugin offers a comma-separated list; we speak 6 only.
pub fn negotiate_protocol(offered: Option<&str>) -> Result<u32, ServeError> {
    let Some(offered) = offered.filter(|s| !s.is_empty()) else {
        // Very old clients send nothing and expect the plugin's default.
        return Ok(APP_PROTOCOL_VERSION);
    };
    if offered
        .split(',')
        .any(|v| v.trim() == APP_PROTOCOL_VERSION.to_string())
    {
        Ok(APP_PROTOCOL_VERSION)
    } else {
        Err(ServeError::ProtocolMismatch(offered.to_string()))
    }
}

fn socket_path() -> PathBuf {
    let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .or_else(|| std::env::var_os("TMPDIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let nonce: u64 = rand_nonce();
    dir.join(format!("plugin{nonce:016x}"))
}

/// A per-process nonce without a RNG dependency: time and pid hashed.
fn rand_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

async fn run<P: Provider>(name: ProviderName, provider: P) -> Result<(), ServeError> {
    check_launched_by_terraform()?;
    stop_inherited_fds_leaking();
    let version = negotiate_protocol(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?;
    let tls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => Some(AutoMtls::new(&pem)?),
        _ => None,
    };
    let path = socket_path();
    let listener = UnixListener::bind(&path).map_err(|source| ServeError::Listen {
        path: path.clone(),
        source,
    })?;
    let _cleanup = RemoveOnDrop(path.clone());

    let stop = CancellationToken::new();
    let shutdown = Arc::new(Notify::new());
    handle_signals(stop.clone(), shutdown.clone());
    exit_when_orphaned(stop.clone(), shutdown.clone());

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let provider_service =
        GrpcProviderServer::new(ProviderServer::new(provider, name.display, stop.clone()))
            .max_decoding_message_size(256 * 1024 * 1024)
            .max_encoding_message_size(256 * 1024 * 1024);
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(plugin::controller(shutdown.clone()))
        .add_service(plugin::stdio(stop.clone()))
        .add_service(plugin::broker(stop.clone()))
        .add_service(provider_service);

    let cert = tls
        .as_ref()
        .map(|t| base64::engine::general_purpose::STANDARD_NO_PAD.encode(&t.server_cert_der))
        .unwrap_or_default();
    print_handshake(version, &path, &cert);

    let incoming = incoming_connections(
        listener,
        tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config)),
    );
    let stop_on_exit = stop.clone();
    router
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.notified().await;
            tracing::debug!("shutting down");
            // Ends the stdio and broker streams, which would otherwise hold
            // their connection open.
            stop.cancel();
            // Graceful shutdown waits for in-flight calls; they were
            // cancelled, but do not wait forever on one that ignores it.
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                tracing::warn!("in-flight calls did not finish within 10s of shutdown; exiting");
                std::process::exit(1);
            });
        })
        .await?;
    stop_on_exit.cancel();
    Ok(())
}

/// Marks every descriptor inherited from Terraform (beyond stdio) close-on-
/// exec. Some Terraform versions start providers with extra pipe ends open;
/// a process the provider starts (a hook that launches a server, say) would
/// otherwise inherit them, and Terraform waits for those pipes to close
/// before it exits — forever, if that process keeps running.
fn stop_inherited_fds_leaking() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: fcntl on a descriptor number only changes its flags; an fd
        // that closed since the listing makes the call fail harmlessly.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

fn print_handshake(version: u32, path: &Path, cert: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{CORE_PROTOCOL_VERSION}|{version}|unix|{}|grpc|{cert}",
        path.display()
    );
    let _ = out.flush();
}

/// go-plugin servers ignore SIGINT: a terminal's Ctrl-C reaches the whole
/// process group, and Terraform asks the provider to stop with
/// `StopProvider` instead, so in-flight work can return what it reached.
/// SIGTERM cancels in-flight operations (so they return what they reached)
/// and then shuts the server down.
fn handle_signals(stop: CancellationToken, shutdown: Arc<Notify>) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot install signal handlers");
            return;
        };
        let mut count = 0u64;
        loop {
            tokio::select! {
                _ = int.recv() => {
                    count += 1;
                    tracing::trace!(count, "plugin received interrupt signal, ignoring");
                }
                _ = term.recv() => {
                    tracing::info!("SIGTERM received: cancelling in-flight operations and exiting");
                    stop.cancel();
                    shutdown.notify_one();
                }
            }
        }
    });
}

/// If Terraform dies without calling `Shutdown` (killed, or its output pipe
/// closed), the provider is re-parented; nobody will ever call it again.
fn exit_when_orphaned(stop: CancellationToken, shutdown: Arc<Notify>) {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("Terraform went away without shutting the provider down; exiting");
                stop.cancel();
                shutdown.notify_one();
                return;
            }
        }
    });
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Accepts connections; the TLS handshake of each runs in its own task so a
/// slow or hostile client cannot block the others.
fn incoming_connections(
    listener: UnixListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> impl futures::Stream<Item = Result<Conn, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let tx = tx.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let conn = match tls {
                    None => Conn::Plain(stream),
                    Some(acceptor) => {
                        match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(s)) => Conn::Tls(Box::new(s)),
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "TLS handshake with the client failed");
                                return;
                            }
                            Err(_) => {
                                tracing::warn!("TLS handshake timed out");
                                return;
                            }
                        }
                    }
                };
                let _ = tx.send(Ok(conn)).await;
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A connection from Terraform: plain or TLS (AutoMTLS).
pub enum Conn {
    /// Without TLS (`PLUGIN_CLIENT_CERT` unset).
    Plain(UnixStream),
    /// Under AutoMTLS.
    Tls(Box<tokio_rustls::server::TlsStream<UnixStream>>),
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_protocol_six_from_goplugins_list() {
        assert_eq!(negotiate_protocol(Some("5,6")).unwrap(), 6);
        assert_eq!(negotiate_protocol(Some("6")).unwrap(), 6);
        assert_eq!(negotiate_protocol(None).unwrap(), 6);
        assert!(matches!(
            negotiate_protocol(Some("4,5")),
            Err(ServeError::ProtocolMismatch(_))
        ));
    }
}
