//! What the provider does differently by operating system, in one place
//! (the plugin transport and signals are tfplug's `platform.rs`).
//!
//! | | Linux, macOS | Windows |
//! |---|---|---|
//! | a runner command's children | its own process group: SIGTERM, SIGKILL after a grace period, to the whole group | its own process group (`CREATE_NEW_PROCESS_GROUP`); stopping it ends the whole tree (`taskkill /T /F`) at once, Windows has no SIGTERM |
//! | "is executable" | any `x` bit | a file (Windows decides by extension when it starts it) |
//! | key files for ssh | created `0600` | created in the user's temp dir, whose ACL admits the user only |
//! | a process killed by a signal | the signal number is reported | never happens: 0 |
//! | the null device (ssh's `-F`) | `/dev/null` | `NUL` |
//!
//! Command gates and hooks run their script with `sh -c`, as the remote
//! side of the ssh runner does: on Windows, `sh` must be on `PATH` (Git for
//! Windows provides one).
//!
//! The nginx driver confirms a graceful reload by watching the master's
//! workers in `/proc`: it works where `/proc` exists (Linux), and elsewhere
//! fails with a diagnostic naming `pid_file`.

use std::path::Path;
use std::process::ExitStatus;

/// How a process group is asked to stop.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// Let it clean up (SIGTERM on unix).
    Gracefully,
    /// Now (SIGKILL on unix).
    Immediately,
}

#[cfg(unix)]
mod imp {
    use super::*;

    pub const NULL_DEVICE: &str = "/dev/null";
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;

    pub fn own_process_group(command: &mut tokio::process::Command) {
        command.process_group(0);
    }

    pub fn stop_process_group(leader: u32, how: Stop) {
        let Ok(pgid) = i32::try_from(leader) else {
            return;
        };
        let signal = match how {
            Stop::Gracefully => libc::SIGTERM,
            Stop::Immediately => libc::SIGKILL,
        };
        // SAFETY: killpg has no memory-safety preconditions; the group id is
        // a child's that leads its own group (own_process_group).
        unsafe {
            libc::killpg(pgid, signal);
        }
    }

    pub fn is_executable(path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }

    pub fn killed_by_signal(status: &ExitStatus) -> i32 {
        status.signal().unwrap_or_default()
    }

    pub fn is_not_executable_format(e: &std::io::Error) -> bool {
        e.raw_os_error() == Some(libc::ENOEXEC)
    }

    /// Creates `path` readable by its owner only.
    pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    }
}

#[cfg(windows)]
mod imp {
    use super::*;

    pub const NULL_DEVICE: &str = "NUL";

    /// `CREATE_NEW_PROCESS_GROUP`: the child does not get the console's
    /// Ctrl-C meant for Terraform.
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    /// `ERROR_BAD_EXE_FORMAT`.
    const BAD_EXE_FORMAT: i32 = 193;

    pub fn own_process_group(command: &mut tokio::process::Command) {
        command.creation_flags(CREATE_NEW_PROCESS_GROUP);
    }

    /// Windows has no polite stop for a console process tree: both ways end
    /// the tree at once.
    pub fn stop_process_group(leader: u32, _how: Stop) {
        let _ = std::process::Command::new("taskkill")
            .args(["/T", "/F", "/PID", &leader.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }

    pub fn is_executable(path: &Path) -> bool {
        path.is_file()
    }

    pub fn killed_by_signal(_status: &ExitStatus) -> i32 {
        0
    }

    pub fn is_not_executable_format(e: &std::io::Error) -> bool {
        e.raw_os_error() == Some(BAD_EXE_FORMAT)
    }

    pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
    }
}

pub use imp::*;

/// Signals a child's process group (a child started with
/// [`own_process_group`]); kills it on drop unless disarmed, so a dropped
/// future (Terraform gave up, a timeout) leaves nothing running.
pub struct GroupGuard {
    pgid: Option<u32>,
}

impl GroupGuard {
    pub fn new(pid: Option<u32>) -> Self {
        GroupGuard {
            pgid: pid.filter(|p| *p > 0),
        }
    }

    pub fn signal(&self, how: Stop) {
        if let Some(pgid) = self.pgid {
            stop_process_group(pgid, how);
        }
    }

    pub fn kill(&self) {
        self.signal(Stop::Immediately);
    }

    /// The child exited and was reaped: its group id may be reused.
    pub fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
