//! Everything that can go wrong in a sandbox command, each with what to do
//! about it where there is something to do.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}\n\n{usage}", usage = crate::cli::USAGE)]
    Usage(String),

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{} is not a sandbox environment file: {source}", path.display())]
    BadEnvFile {
        path: PathBuf,
        source: serde_json::Error,
    },

    #[error("no sandbox environment in {}: start one with `sandbox up --dir {}`", dir.display(), dir.display())]
    NoEnvironment { dir: PathBuf },

    #[error("{component} did not start: {message}")]
    Start {
        component: &'static str,
        message: String,
    },

    #[error("a sandbox is already running in {} (pid {pid}); stop it with `sandbox down --dir {}`", dir.display(), dir.display())]
    AlreadyRunning { dir: PathBuf, pid: u32 },

    #[error("kongsim binary not found at {}: build it with `cargo build -p kongsim`, or pass --kongsim PATH", path.display())]
    KongsimMissing { path: PathBuf },

    #[error("cluster Y did not come up: {reason}\n--- last lines of {} ---\n{tail}", log.display())]
    ClusterYFailed {
        reason: String,
        log: PathBuf,
        tail: String,
    },

    #[error("HAProxy runtime API {}: `{command}` answered {answer:?}", socket.display())]
    HaproxyCommand {
        socket: PathBuf,
        command: String,
        answer: String,
    },

    #[error("{what} (pid {pid}) did not stop within {timeout:?}")]
    StopTimeout {
        what: &'static str,
        pid: u32,
        timeout: Duration,
    },

    #[error("pid {pid} recorded for {what} is now another program ({found}); not signalling it")]
    PidReused {
        what: &'static str,
        pid: u32,
        found: String,
    },

    #[error("cannot signal {what} (pid {pid}): {source}")]
    Signal {
        what: &'static str,
        pid: u32,
        source: std::io::Error,
    },

    #[error("HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),

    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),

    #[error("the sandbox environment is inconsistent: {0}")]
    Inconsistent(String),

    #[error("{key:?} is not in the sandbox environment (try `sandbox env` for every key)")]
    UnknownKey { key: String },
}

impl SandboxError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SandboxError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
