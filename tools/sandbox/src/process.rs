//! Processes the sandbox started and later stops by pid: liveness that
//! treats a zombie as gone, a check that a recorded pid still runs the
//! program we started (pids are reused), SIGTERM-then-wait, pid files, and
//! detached spawning.

use crate::error::SandboxError;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Whether `pid` is a live process. A zombie (exited, not yet reaped by its
/// parent: cluster X after `stop-x`, until `sandbox up` reaps it) is gone.
pub fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses.
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// The file name of the executable `pid` runs (`kongsim`, `sandbox`), with
/// the " (deleted)" suffix Linux adds after a rebuild replaced the file.
pub fn program_of(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    Some(name.trim_end_matches(" (deleted)").to_string())
}

/// Sends SIGTERM to `pid` if it still runs `program`, then waits until it is
/// gone. Returns false when it was already gone.
pub fn terminate(
    what: &'static str,
    pid: u32,
    program: &str,
    timeout: Duration,
) -> Result<bool, SandboxError> {
    if !is_alive(pid) {
        return Ok(false);
    }
    match program_of(pid) {
        Some(found) if found == program => {}
        // Exited between the two checks.
        None if !is_alive(pid) => return Ok(false),
        found => {
            return Err(SandboxError::PidReused {
                what,
                pid,
                found: found.unwrap_or_else(|| "unknown".into()),
            })
        }
    }
    signal(what, pid, libc::SIGTERM)?;
    wait_until_gone(what, pid, timeout)?;
    Ok(true)
}

fn signal(what: &'static str, pid: u32, signal: libc::c_int) -> Result<(), SandboxError> {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return Err(SandboxError::Signal {
            what,
            pid,
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        });
    };
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(raw, signal) } == 0 {
        return Ok(());
    }
    let source = std::io::Error::last_os_error();
    if source.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(SandboxError::Signal { what, pid, source })
}

pub fn wait_until_gone(
    what: &'static str,
    pid: u32,
    timeout: Duration,
) -> Result<(), SandboxError> {
    let deadline = Instant::now() + timeout;
    while is_alive(pid) {
        if Instant::now() > deadline {
            return Err(SandboxError::StopTimeout { what, pid, timeout });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn write_pid(path: &Path, pid: u32) -> Result<(), SandboxError> {
    crate::env::write_atomically(path, &format!("{pid}\n"))
}

/// Spawns `command` in a session of its own, so that it outlives whoever
/// started it: the provider's hook runner kills the hook's whole process
/// group when the hook exits, and a terminal's Ctrl-C goes to the
/// foreground group only.
pub fn spawn_detached(command: &mut Command) -> std::io::Result<Child> {
    // SAFETY: setsid(2) is async-signal-safe, as pre_exec requires; it
    // touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn a_live_process_is_alive_and_a_reaped_or_zombie_one_is_not() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(is_alive(pid));
        assert_eq!(program_of(pid).as_deref(), Some("sleep"));
        signal("sleep", pid, libc::SIGKILL).unwrap();
        // Not reaped yet: a zombie, which counts as gone.
        wait_until_gone("sleep", pid, Duration::from_secs(5)).unwrap();
        assert!(!is_alive(pid));
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn terminate_stops_the_program_and_refuses_a_different_one() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let refused = terminate("cluster X", pid, "kongsim", Duration::from_secs(5)).unwrap_err();
        assert!(
            matches!(refused, SandboxError::PidReused { .. }),
            "{refused}"
        );
        assert!(is_alive(pid));
        assert!(terminate("sleep", pid, "sleep", Duration::from_secs(5)).unwrap());
        assert!(!child.wait().unwrap().success());
        assert!(!terminate("sleep", pid, "sleep", Duration::from_secs(5)).unwrap());
    }

    #[test]
    fn a_detached_child_leads_its_own_session() {
        let mut child =
            spawn_detached(Command::new("sleep").arg("30").stdin(Stdio::null())).unwrap();
        let pid = child.id() as libc::pid_t;
        // SAFETY: getsid has no preconditions.
        let sid = unsafe { libc::getsid(pid) };
        assert_eq!(sid, pid);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn pid_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        assert_eq!(read_pid(&path), None);
        write_pid(&path, 1234).unwrap();
        assert_eq!(read_pid(&path), Some(1234));
    }
}
