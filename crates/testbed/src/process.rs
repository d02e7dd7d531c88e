//! Process and port helpers shared by every component.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A loopback TCP port that was free a moment ago.
///
/// The OS picks it, so parallel tests do not collide; the small race between
/// closing the probe listener and the component binding it is accepted.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS always has a free loopback port")
}

/// A loopback port for a server that will bind it later, outside the test's
/// control (e.g. a cluster a hook starts during an apply).
///
/// [`free_port`]'s ports come from the kernel's ephemeral range, where every
/// outgoing connection and every other `bind(0)` also draws: over the
/// seconds until the late server binds, one of them may take the port. This
/// one is picked below that range (from a per-process random start, each
/// candidate checked free), where neither ever lands.
pub fn reserved_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    let high = ephemeral_range_start().max(LOW + 1_000);
    let span = high - LOW;
    let seed = std::process::id().wrapping_mul(7_919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for _ in 0..span {
        let offset = seed.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let Ok(port) = u16::try_from(LOW + offset) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    free_port()
}

/// The first port of the kernel's ephemeral range (Linux default 32768).
fn ephemeral_range_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub fn wait_for_tcp(port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "nothing listened on 127.0.0.1:{port} within {timeout:?}"
    ))
}

/// Finds a program on `PATH` or in one of `extra_dirs` (Debian puts some
/// server binaries, such as PostgreSQL's, outside `PATH`).
pub fn find_program(name: &str, extra_dirs: &[&str]) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .into_iter()
        .chain(extra_dirs.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_lie_below_the_ephemeral_range_and_are_free() {
        let a = reserved_port();
        let b = reserved_port();
        assert_ne!(a, b);
        for port in [a, b] {
            assert!(u32::from(port) < ephemeral_range_start(), "{port}");
            TcpListener::bind(("127.0.0.1", port)).unwrap();
        }
    }
}
