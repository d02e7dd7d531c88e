//! Process and port helpers shared by every component.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A loopback TCP port that was free a moment ago, claimed for this process.
///
/// The OS picks it, and a [`claim`] keeps every other test process (nextest
/// runs two acceptance tests side by side, other worktrees run their own
/// suites) from being handed the same port before the component binds it.
/// Outgoing connections, which draw from the same range, are not kept off:
/// for a server that binds only seconds later, use [`reserved_port`].
pub fn free_port() -> u16 {
    (0..CLAIM_ATTEMPTS)
        .map(|_| os_picked_port())
        .find(|&port| claim(port))
        .unwrap_or_else(os_picked_port)
}

/// How many ports [`free_port`] tries before settling for an unclaimed one
/// (only when the claim directory is unusable, or thousands of claims are live).
const CLAIM_ATTEMPTS: usize = 200;

/// A port the kernel's `bind(0)` finds free (and may hand out again).
fn os_picked_port() -> u16 {
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
/// candidate checked free and [`claim`]ed), where neither ever lands.
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
        if claim(port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    free_port()
}

/// Claims `port` for this process until it exits; false when another
/// process (or an earlier call in this one) holds it.
///
/// A claim is an exclusive `flock` on `$TMPDIR/testbed-ports/<port>`, which
/// also holds the claimer's pid for whoever looks. The kernel drops the lock
/// when the claimer exits, however it dies (a test killed by nextest's
/// timeout included), so a dead process's claim is free again without
/// anyone cleaning up, and a recycled pid never keeps a port. Should the
/// directory be unusable the port counts as claimed by nobody: the test
/// runs as it did before claims existed.
fn claim(port: u16) -> bool {
    try_claim(&claims_dir(), port).unwrap_or(true)
}

/// Where every test process on the machine looks for claims.
fn claims_dir() -> PathBuf {
    std::env::temp_dir().join("testbed-ports")
}

/// The locks this process holds; they live as long as the process does.
static HELD_CLAIMS: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());

fn try_claim(dir: &Path, port: u16) -> std::io::Result<bool> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    // Never truncate on open: the file may be another process's live claim.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(port.to_string()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    HELD_CLAIMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(file);
    Ok(true)
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
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    /// Set in the child process `claims_hold_across_processes_until_the_holder_dies`
    /// starts: the port it claims.
    const HOLD_PORT: &str = "TESTBED_TEST_HOLD_PORT";

    /// The other claimer: claims the port, says so, and waits to be killed.
    /// Does nothing when run on its own.
    #[test]
    #[ignore = "run as a child process by claims_hold_across_processes_until_the_holder_dies"]
    fn claim_holder() {
        let Some(port) = std::env::var(HOLD_PORT).ok().and_then(|p| p.parse().ok()) else {
            return;
        };
        println!("claimed={}", claim(port));
        std::thread::sleep(Duration::from_secs(120));
    }

    #[test]
    fn claims_hold_across_processes_until_the_holder_dies() {
        let port = os_picked_port();
        let mut holder = Command::new(std::env::current_exe().unwrap())
            .args([
                "process::tests::claim_holder",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(HOLD_PORT, port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let said = BufReader::new(holder.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains("claimed="))
            .unwrap_or_default();
        let claimed_here = claim(port);
        // A real death, as when nextest ends a hung test: nobody releases.
        holder.kill().unwrap();
        holder.wait().unwrap();
        assert!(said.contains("claimed=true"), "the holder said {said:?}");
        assert!(!claimed_here, "port {port} was claimed twice");
        let holder_pid = std::fs::read_to_string(claims_dir().join(port.to_string())).unwrap();
        assert_eq!(holder_pid.trim(), holder.id().to_string());
        assert!(
            claim(port),
            "the dead holder's claim on {port} was not reclaimed"
        );
        assert!(!claim(port), "this process claimed {port} twice");
    }

    #[test]
    fn concurrent_claimers_never_get_the_same_port() {
        let claimers: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..50).map(|_| free_port()).collect::<Vec<_>>()))
            .collect();
        let ports: Vec<u16> = claimers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    }

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
