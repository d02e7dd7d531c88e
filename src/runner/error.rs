//! Why a runner could not run the `kong` CLI, or could not finish it. A
//! non-zero exit is not an error here: it is a result for the CLI parser.
//! Every variant carries the command line with secrets redacted.

use super::output::format_tail;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    #[error("invalid runner settings: {0}")]
    InvalidRunner(String),

    #[error("runner program {program:?} was not found (searched PATH): {command_line}")]
    ProgramNotFound {
        program: String,
        command_line: String,
    },

    #[error(
        "runner program {program:?} is not executable{}: {command_line}",
        detail_suffix(detail)
    )]
    NotExecutable {
        program: String,
        detail: String,
        command_line: String,
    },

    #[error("could not start {command_line}: {detail}")]
    Spawn {
        command_line: String,
        detail: String,
    },

    #[error("{command_line} did not finish within {}s and was stopped (with its whole process group){}", after.as_secs_f64(), format_tail(last_output))]
    TimedOut {
        command_line: String,
        after: Duration,
        last_output: Vec<String>,
    },

    #[error(
        "{command_line} was cancelled and stopped (with its whole process group){}",
        format_tail(last_output)
    )]
    Cancelled {
        command_line: String,
        last_output: Vec<String>,
    },

    #[error(
        "{command_line} was killed by signal {signal}{}",
        format_tail(last_output)
    )]
    KilledBySignal {
        command_line: String,
        signal: i32,
        last_output: Vec<String>,
    },

    #[error("reading the output of {command_line} failed: {detail}")]
    Io {
        command_line: String,
        detail: String,
    },

    #[error("the SSH host key of {host}:{port} does not match the pinned key {expected_fingerprint}{}; refusing to connect (update the pinned key only if the server's key really changed)", presented_suffix(presented_fingerprint))]
    SshHostKeyMismatch {
        host: String,
        port: u16,
        expected_fingerprint: String,
        presented_fingerprint: Option<String>,
    },

    #[error("SSH login as {user:?} on {host}:{port} was refused: {detail}")]
    SshAuthenticationFailed {
        user: String,
        host: String,
        port: u16,
        detail: String,
    },

    #[error("cannot reach the SSH server {host}:{port}: {detail}")]
    SshUnreachable {
        host: String,
        port: u16,
        detail: String,
    },
}

impl RunnerError {
    /// One line saying what went wrong, for a diagnostic's summary.
    pub fn summary(&self) -> &'static str {
        match self {
            RunnerError::InvalidRunner(_) => "Invalid runner settings",
            RunnerError::ProgramNotFound { .. } => "Runner program not found",
            RunnerError::NotExecutable { .. } => "Runner program is not executable",
            RunnerError::Spawn { .. } | RunnerError::Io { .. } => {
                "The runner could not run the kong CLI"
            }
            RunnerError::TimedOut { .. } => "The kong CLI timed out",
            RunnerError::Cancelled { .. } => "The kong CLI was interrupted",
            RunnerError::KilledBySignal { .. } => "The kong CLI was killed",
            RunnerError::SshHostKeyMismatch { .. } => "SSH host key mismatch",
            RunnerError::SshAuthenticationFailed { .. } => "SSH login refused",
            RunnerError::SshUnreachable { .. } => "SSH server unreachable",
        }
    }

    /// The attribute of an `ssh` runner at fault, when it is not `host`.
    pub fn ssh_attribute(&self) -> Option<&'static str> {
        match self {
            RunnerError::SshHostKeyMismatch { .. } => Some("host_key"),
            RunnerError::SshAuthenticationFailed { .. } => Some("private_key"),
            _ => None,
        }
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

fn presented_suffix(presented: &Option<String>) -> String {
    presented
        .as_ref()
        .map(|fp| format!(", the server presented {fp}"))
        .unwrap_or_default()
}
