//! Servers a hook starts detached during an apply, as a deployment tool
//! would (e.g. a `start_y` hook that launches cluster Y).
//!
//! Such a server must outlive the hook (the provider kills the hook's
//! process group when it ends), so it runs in a session of its own, outside
//! the test's process tree: nothing the test drops would stop it. Two
//! things do:
//! - every start appends the server's pid to a file, and [`Detached`] stops
//!   every pid in it when dropped (a hook that runs twice, as after a killed
//!   apply, leaves two servers, the first of which would otherwise leak);
//! - a watchdog started with each server stops it once the test process is
//!   gone, for the cases where no `Drop` runs (the test process killed by a
//!   timeout or a signal).

use std::path::{Path, PathBuf};
use std::process::Command;

/// How often the watchdog checks that the test process is still there.
const WATCH_INTERVAL_SECONDS: u32 = 1;

/// The servers started by hooks through [`Detached::start_script`].
pub struct Detached {
    pid_file: PathBuf,
    watched_pid: u32,
}

impl Detached {
    /// Servers recorded in `dir/<name>.pids`, stopped when this test
    /// process is gone.
    pub fn new(dir: &Path, name: &str) -> Detached {
        Detached::watching(dir, name, std::process::id())
    }

    /// [`Detached::new`], stopped when process `watched_pid` is gone.
    pub fn watching(dir: &Path, name: &str, watched_pid: u32) -> Detached {
        Detached {
            pid_file: dir.join(format!("{name}.pids")),
            watched_pid,
        }
    }

    /// A `sh -c` script that starts `command` (a shell command line with no
    /// single quote) detached, its output to `log`, and returns at once.
    pub fn start_script(&self, command: &str, log: &Path) -> String {
        assert!(
            !command.contains('\'') && !log.display().to_string().contains('\''),
            "the command is quoted in single quotes: {command}"
        );
        let server = format!(
            "{command} > {log} 2>&1 < /dev/null & s=$!; echo $s >> {pids}; \
             while kill -0 {watched} 2>/dev/null && kill -0 $s 2>/dev/null; do sleep {WATCH_INTERVAL_SECONDS}; done; \
             kill $s 2>/dev/null",
            log = log.display(),
            pids = self.pid_file.display(),
            watched = self.watched_pid,
        );
        format!("setsid sh -c '{server}' > /dev/null 2>&1 < /dev/null &")
    }

    /// The pids of every server started so far.
    pub fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(&self.pid_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// SIGTERM to every server started so far.
    pub fn stop_all(&self) {
        for pid in self.pids() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn alive(pid: u32) -> bool {
        // A zombie still answers kill -0; its state in /proc says it is gone.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                let state = s.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
                !matches!(state, Some(Some('Z' | 'X')))
            })
            .unwrap_or(false)
    }

    fn run_hook(script: &str) {
        let status = Command::new("sh").args(["-c", script]).status().unwrap();
        assert!(status.success());
    }

    /// Waits until the `n`th server has written its pid.
    fn pids_when(servers: &Detached, n: usize) -> Vec<u32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = servers.pids();
            if pids.len() >= n {
                return pids;
            }
            assert!(Instant::now() < deadline, "only {pids:?} started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn gone_within(pid: u32, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if !alive(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A hook run twice leaves two servers; dropping the handle stops both.
    #[test]
    fn every_server_a_hook_started_is_stopped_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let servers = Detached::new(dir.path(), "y");
        let log = dir.path().join("y.log");
        run_hook(&servers.start_script("sleep 300", &log));
        run_hook(&servers.start_script("sleep 300", &log));
        let pids = pids_when(&servers, 2);
        assert!(pids.iter().all(|p| alive(*p)), "{pids:?}");
        drop(servers);
        for pid in pids {
            assert!(gone_within(pid, Duration::from_secs(5)), "{pid} outlived");
        }
    }

    /// The test process killed (no `Drop` runs): its servers stop anyway.
    #[test]
    fn a_server_stops_once_the_test_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut test_process = Command::new("sleep").arg("300").spawn().unwrap();
        let servers = Detached::watching(dir.path(), "y", test_process.id());
        run_hook(&servers.start_script("sleep 300", &dir.path().join("y.log")));
        let pid = pids_when(&servers, 1)[0];
        std::thread::sleep(Duration::from_millis(1500));
        assert!(alive(pid), "the server runs while the test process does");
        test_process.kill().unwrap();
        test_process.wait().unwrap();
        assert!(
            gone_within(pid, Duration::from_secs(10)),
            "the server outlived the test process"
        );
        std::mem::forget(servers);
    }
}
