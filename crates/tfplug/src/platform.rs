//! What differs between the platforms Terraform runs providers on, kept in
//! one place so `serve.rs` reads the same everywhere.
//!
//! | | Linux | macOS | Windows |
//! |---|---|---|---|
//! | transport (as go-plugin) | unix socket | unix socket | TCP on 127.0.0.1 (`PLUGIN_MIN_PORT`..`PLUGIN_MAX_PORT`) |
//! | inherited descriptors marked close-on-exec | listed in `/proc/self/fd` | listed in `/dev/fd` | nothing to do: handles are created non-inheritable, Terraform passes only stdio |
//! | Ctrl-C | SIGINT ignored | SIGINT ignored | console Ctrl-C ignored |
//! | stop request from outside | SIGTERM cancels, then shuts down | same | none: Terraform calls `Shutdown`, else kills the process |
//! | Terraform gone without `Shutdown` | re-parented: exit | re-parented: exit | not detected (go-plugin's client kills its plugins on exit) |

use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
pub use windows::*;

/// Where the listener is bound, as the handshake line names it.
pub struct Endpoint {
    /// go-plugin's network: `unix` or `tcp`.
    pub network: &'static str,
    pub address: String,
    /// A socket file to remove on exit.
    socket_file: Option<PathBuf>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(path) = &self.socket_file {
            let _ = std::fs::remove_file(path);
        }
    }
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

#[cfg(unix)]
mod unix {
    use super::*;
    use std::time::Duration;
    pub use tokio::net::{UnixListener as Listener, UnixStream as Stream};

    /// A unix socket in `PLUGIN_UNIX_SOCKET_DIR`, `TMPDIR` or `/tmp`, as
    /// go-plugin's own servers do.
    pub fn listen() -> Result<(Listener, Endpoint), (String, std::io::Error)> {
        let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
            .or_else(|| std::env::var_os("TMPDIR"))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let path = dir.join(format!("plugin{:016x}", rand_nonce()));
        let listener = Listener::bind(&path).map_err(|e| (path.display().to_string(), e))?;
        let endpoint = Endpoint {
            network: "unix",
            address: path.display().to_string(),
            socket_file: Some(path),
        };
        Ok((listener, endpoint))
    }

    /// Marks every descriptor inherited from Terraform (beyond stdio)
    /// close-on-exec. Some Terraform versions start providers with extra
    /// pipe ends open; a process the provider starts (a hook that launches
    /// a server, say) would otherwise inherit them, and Terraform waits for
    /// those pipes to close before it exits — forever, if that process keeps
    /// running.
    pub fn stop_inherited_fds_leaking() {
        #[cfg(target_os = "linux")]
        const OPEN_FDS: &str = "/proc/self/fd";
        #[cfg(not(target_os = "linux"))]
        const OPEN_FDS: &str = "/dev/fd";
        let Ok(entries) = std::fs::read_dir(OPEN_FDS) else {
            return;
        };
        let fds: Vec<i32> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .filter(|fd| *fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: fcntl on a descriptor number only changes its flags; an
            // fd that closed since the listing (the directory's own, say)
            // makes the call fail harmlessly.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
        }
    }

    /// go-plugin servers ignore SIGINT: a terminal's Ctrl-C reaches the
    /// whole process group, and Terraform asks the provider to stop with
    /// `StopProvider` instead, so in-flight work can return what it reached.
    /// SIGTERM cancels in-flight operations (so they return what they
    /// reached) and then shuts the server down.
    pub fn handle_signals(stop: CancellationToken, shutdown: Arc<Notify>) {
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

    /// If Terraform dies without calling `Shutdown` (killed, or its output
    /// pipe closed), the provider is re-parented; nobody will ever call it
    /// again.
    pub fn exit_when_orphaned(stop: CancellationToken, shutdown: Arc<Notify>) {
        let parent = std::os::unix::process::parent_id();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if std::os::unix::process::parent_id() != parent {
                    tracing::warn!(
                        "Terraform went away without shutting the provider down; exiting"
                    );
                    stop.cancel();
                    shutdown.notify_one();
                    return;
                }
            }
        });
    }
}

#[cfg(windows)]
mod windows {
    use super::*;
    pub use tokio::net::{TcpListener as Listener, TcpStream as Stream};

    /// go-plugin's default port range when Terraform sets none.
    const DEFAULT_PORTS: (u16, u16) = (10_000, 25_000);

    /// A TCP port on 127.0.0.1 within `PLUGIN_MIN_PORT`..=`PLUGIN_MAX_PORT`,
    /// as go-plugin's servers listen on Windows (no unix sockets there).
    pub fn listen() -> Result<(Listener, Endpoint), (String, std::io::Error)> {
        let port = |key, default| {
            std::env::var(key)
                .ok()
                .and_then(|v| v.parse::<u16>().ok())
                .unwrap_or(default)
        };
        let (min, max) = (
            port("PLUGIN_MIN_PORT", DEFAULT_PORTS.0),
            port("PLUGIN_MAX_PORT", DEFAULT_PORTS.1),
        );
        let span = u64::from(max.saturating_sub(min)) + 1;
        let start = rand_nonce() % span;
        let mut last = None;
        for offset in 0..span {
            let candidate = min + ((start + offset) % span) as u16;
            let bound = std::net::TcpListener::bind(("127.0.0.1", candidate))
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(Listener::from_std);
            match bound {
                Ok(listener) => {
                    let endpoint = Endpoint {
                        network: "tcp",
                        address: format!("127.0.0.1:{candidate}"),
                        socket_file: None,
                    };
                    return Ok((listener, endpoint));
                }
                Err(e) => last = Some(e),
            }
        }
        Err((
            format!("127.0.0.1:{min}-{max}"),
            last.unwrap_or_else(|| std::io::Error::other("empty port range")),
        ))
    }

    /// Nothing to do: Rust and Terraform create handles non-inheritable,
    /// and a child gets only the stdio handles it is given.
    pub fn stop_inherited_fds_leaking() {}

    /// A console Ctrl-C reaches every process attached to the console;
    /// ignored, as on unix, because Terraform sends `StopProvider`. Windows
    /// has no SIGTERM: Terraform calls `Shutdown`, or kills the process.
    pub fn handle_signals(_stop: CancellationToken, _shutdown: Arc<Notify>) {
        tokio::spawn(async move {
            let Ok(mut ctrl_c) = tokio::signal::windows::ctrl_c() else {
                tracing::warn!("cannot install the Ctrl-C handler");
                return;
            };
            while ctrl_c.recv().await.is_some() {
                tracing::trace!("plugin received Ctrl-C, ignoring");
            }
        });
    }

    /// Windows does not re-parent orphans, so there is nothing to watch;
    /// go-plugin's client kills its plugins when Terraform exits.
    pub fn exit_when_orphaned(_stop: CancellationToken, _shutdown: Arc<Notify>) {}
}
