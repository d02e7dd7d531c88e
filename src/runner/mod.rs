//! How the `kong` CLI of the target version is run: a small [`Runner`]
//! trait with two real implementations, [`CommandRunner`] (a local argv
//! prefix such as `kubectl exec deploy/kong-y -- kong`) and [`SshRunner`]
//! (the system OpenSSH client), plus the pure parsing of what
//! `kong migrations` prints ([`cli`]) and read-only discovery of the
//! migrations a version knows ([`list_known_migrations`]).
//!
//! Invariants: secrets (database password, SSH key) are never in an argv,
//! local or remote, never logged, and redacted from kept output and every
//! error; a run that times out or is cancelled leaves no process behind.

pub mod cli;
mod command;
mod discovery;
mod env_stdin;
mod error;
mod invocation;
mod output;
pub(crate) mod process;
mod ssh;

#[cfg(test)]
pub(crate) mod kongsim_tests;
#[cfg(test)]
mod tests;

pub use crate::migrations::Secret;
pub use cli::{
    parse_list_output, parse_phase_output, parse_status_output, CliError, CliFailure, CliOutcome,
    FailureKind, ListReport, MigratedLine, NothingToDo, RecordedAs, StatusReport,
};
pub use command::{CommandRunner, EnvTransport};
pub use discovery::{
    known_from_status, list_known_migrations, Discovered, DiscoveryError, DiscoveryRequest,
};
pub use error::RunnerError;
pub use invocation::{
    display_command_line, shell_quote, KongInvocation, MigrationCommand, MigrationsQuery,
    DEFAULT_LOCK_TIMEOUT,
};
pub use output::{OutputLine, RunOutput, Stream, ERROR_TAIL_LINES, MAX_KEPT_LINES};
pub use ssh::{HostKeyPin, SshRunner, DEFAULT_SSH_CONNECT_TIMEOUT};

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

/// Runs `kong <invocation.args>` somewhere and reports how it ended.
///
/// `on_line` sees every output line as it arrives (secrets redacted). A
/// non-zero exit is an `Ok` result; errors are reserved for "could not run
/// it" or "had to stop it".
pub trait Runner: Send + Sync {
    fn run<'a>(
        &'a self,
        invocation: &'a KongInvocation,
        cancel: &'a CancellationToken,
        on_line: &'a mut (dyn FnMut(Stream, &str) + Send),
    ) -> BoxFuture<'a, Result<RunOutput, RunnerError>>;

    /// One line naming the runner for plans and diagnostics (no secrets).
    fn describe(&self) -> String;
}

/// Environment names both runners accept: portable shell names, so they
/// survive the SSH wrapper's `export`.
fn validate_env_names<'a>(names: impl IntoIterator<Item = &'a String>) -> Result<(), RunnerError> {
    for name in names {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(RunnerError::InvalidRunner(format!(
                "environment variable name {name:?} must match [A-Za-z_][A-Za-z0-9_]*"
            )));
        }
    }
    Ok(())
}
