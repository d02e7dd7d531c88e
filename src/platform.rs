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
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

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

/// What a program run by [`run_briefly`] left behind.
#[derive(Debug)]
pub struct BriefOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a program run by [`run_briefly`] gave no [`BriefOutput`]. Whatever
/// the cause, its whole process group has been killed.
#[derive(Debug, thiserror::Error)]
pub enum BriefRunError {
    #[error("argv is empty")]
    EmptyArgv,
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} timed out after {after:?} and was killed")]
    TimedOut { program: String, after: Duration },
    #[error("{program} printed more than {limit} bytes on {stream} and was killed")]
    TooMuchOutput {
        program: String,
        stream: &'static str,
        limit: usize,
    },
    #[error("reading {program}'s output: {source}")]
    Output {
        program: String,
        source: std::io::Error,
    },
}

/// Runs `argv` (no shell) with no stdin, in its own process group, for at
/// most `timeout`, keeping at most `output_limit` bytes of stdout and of
/// stderr: the one way a gate or an `observe` reading runs a program.
/// The whole group (background children included) is killed when the run
/// ends, times out, prints past the limit, or is dropped (cancelled).
pub async fn run_briefly<S: AsRef<std::ffi::OsStr>>(
    argv: &[S],
    timeout: Duration,
    output_limit: usize,
) -> Result<BriefOutput, BriefRunError> {
    let (program_os, args) = argv.split_first().ok_or(BriefRunError::EmptyArgv)?;
    let program = &Path::new(program_os).display().to_string();
    let mut command = tokio::process::Command::new(program_os);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    own_process_group(&mut command);
    let mut child = command.spawn().map_err(|source| BriefRunError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    // Left armed on every way out: a child's background processes may
    // outlive it, and they belong to this run.
    let _group = GroupGuard::new(child.id());
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let run = async {
        let (stdout, stderr) = tokio::try_join!(
            read_capped(stdout, program, "stdout", output_limit),
            read_capped(stderr, program, "stderr", output_limit),
        )?;
        let status = child.wait().await.map_err(|source| BriefRunError::Output {
            program: program.to_owned(),
            source,
        })?;
        Ok(BriefOutput {
            status,
            stdout,
            stderr,
        })
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| BriefRunError::TimedOut {
            program: program.to_owned(),
            after: timeout,
        })?
}

/// A pipe read to its end, or an error once it passes `limit` bytes.
async fn read_capped(
    pipe: Option<impl tokio::io::AsyncRead + Unpin>,
    program: &str,
    stream: &'static str,
    limit: usize,
) -> Result<Vec<u8>, BriefRunError> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    if let Some(pipe) = pipe {
        pipe.take(limit as u64 + 1)
            .read_to_end(&mut out)
            .await
            .map_err(|source| BriefRunError::Output {
                program: program.to_owned(),
                source,
            })?;
    }
    if out.len() > limit {
        return Err(BriefRunError::TooMuchOutput {
            program: program.to_owned(),
            stream,
            limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    /// Whether any process's argv holds `word` (Linux: /proc).
    pub(crate) fn still_running(word: &str) -> bool {
        std::thread::sleep(Duration::from_millis(200));
        std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
            std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(word))
        })
    }

    #[tokio::test]
    async fn a_program_runs_with_both_outputs_kept_up_to_the_limit() {
        let out = run_briefly(
            &sh("echo out; echo err >&2; exit 4"),
            Duration::from_secs(5),
            64,
        )
        .await
        .unwrap();
        assert_eq!(
            (out.status.code(), &out.stdout[..], &out.stderr[..]),
            (Some(4), &b"out\n"[..], &b"err\n"[..])
        );
        for (script, stream) in [("yes", "stdout"), ("yes >&2", "stderr")] {
            let e = run_briefly(&sh(script), Duration::from_secs(5), 1024)
                .await
                .unwrap_err();
            assert!(
                matches!(e, BriefRunError::TooMuchOutput { stream: s, limit: 1024, .. } if s == stream),
                "{script}: {e}"
            );
        }
        let missing = run_briefly(&["/nonexistent/probe"], Duration::from_secs(1), 64)
            .await
            .unwrap_err();
        assert!(matches!(missing, BriefRunError::Spawn { .. }), "{missing}");
        assert!(matches!(
            run_briefly::<String>(&[], Duration::from_secs(1), 64).await,
            Err(BriefRunError::EmptyArgv)
        ));
    }

    #[tokio::test]
    async fn the_whole_group_is_gone_after_a_timeout_or_a_drop() {
        let started = std::time::Instant::now();
        let hung = sh("sleep 30.7301 & sleep 30.7301");
        let e = run_briefly(&hung, Duration::from_millis(300), 64)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "sh timed out after 300ms and was killed");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(!still_running("30.7301"), "the background sleep went too");
        let dropped = sh("sleep 30.7302 & sleep 30.7302");
        let run = run_briefly(&dropped, Duration::from_secs(60), 64);
        assert!(tokio::time::timeout(Duration::from_millis(300), run)
            .await
            .is_err());
        assert!(!still_running("30.7302"), "a dropped run leaves nothing");
        let exited = sh("sleep 30.7303 >/dev/null 2>&1 & exit 0");
        let out = run_briefly(&exited, Duration::from_secs(5), 64)
            .await
            .unwrap();
        assert!(out.status.success());
        assert!(!still_running("30.7303"), "nor does a finished one");
    }
}
