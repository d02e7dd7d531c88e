//! go-plugin's server side: magic cookie, protocol negotiation, a unix
//! socket (TCP on loopback on Windows), AutoMTLS, the handshake line, signal
//! handling and a clean `Shutdown`. What differs by platform is in
//! `platform.rs`.

use crate::log;
use crate::platform::{self, Endpoint, Listener, Stream};
use crate::plugin;
use crate::provider::{Provider, ProviderName};
use crate::server::ProviderServer;
use crate::tls::AutoMtls;
use base64::Engine;
use magma_protocol::tfplugin6::provider_server::ProviderServer as GrpcProviderServer;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
    #[error("cannot listen on {address}: {source}")]
    /// The plugin socket (or, on Windows, the loopback TCP port) could not be opened.
    Listen {
        /// The socket's path or the TCP address.
        address: String,
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

async fn run<P: Provider>(name: ProviderName, provider: P) -> Result<(), ServeError> {
    check_launched_by_terraform()?;
    platform::stop_inherited_fds_leaking();
    let version = negotiate_protocol(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?;
    let tls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => Some(AutoMtls::new(&pem)?),
        _ => None,
    };
    // Dropping the endpoint removes the socket file.
    let (listener, endpoint) =
        platform::listen().map_err(|(address, source)| ServeError::Listen { address, source })?;

    let stop = CancellationToken::new();
    let shutdown = Arc::new(Notify::new());
    platform::handle_signals(stop.clone(), shutdown.clone());
    platform::exit_when_orphaned(stop.clone(), shutdown.clone());

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
    print_handshake(version, &endpoint, &cert);

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

fn print_handshake(version: u32, endpoint: &Endpoint, cert: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{CORE_PROTOCOL_VERSION}|{version}|{}|{}|grpc|{cert}",
        endpoint.network, endpoint.address
    );
    let _ = out.flush();
}

/// Accepts connections; the TLS handshake of each runs in its own task so a
/// slow or hostile client cannot block the others.
fn incoming_connections(
    listener: Listener,
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
    Plain(Stream),
    /// Under AutoMTLS.
    Tls(Box<tokio_rustls::server::TlsStream<Stream>>),
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
