//! Why a migration phase run ended without the phase done, with the one
//! wording of each cause and the part of the configuration at fault; each
//! resource turns that into a diagnostic on its own attribute.

use crate::migrations::{MigrationLock, MigrationPhase, MigrationsError, PhaseNotApplied};
use crate::runner::{CliFailure, FailureKind, RunnerError};

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// `schema_meta` could not be read before the run.
    #[error(transparent)]
    Database(#[from] MigrationsError),
    #[error("kong migrations {phase} cannot run: {source}")]
    Refused {
        phase: MigrationPhase,
        source: crate::migrations::PlanError,
    },
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// Kong reported a failure (other than lock contention).
    #[error("`{command_line}` exited {}: {}\n\nLast output:\n{tail}", failure.exit_code, failure.message)]
    Failed {
        phase: MigrationPhase,
        failure: CliFailure,
        command_line: String,
        tail: String,
    },
    #[error("{0}")]
    Unparseable(String),
    #[error("`kong migrations {phase}` ended, but schema_meta could not be read again to verify it: {source}")]
    Unverified {
        phase: MigrationPhase,
        source: MigrationsError,
    },
    /// Kong did not report a failure, yet the database is not where the
    /// plan said it would be.
    #[error("{not_applied}. The kong CLI exited {exit_code}.")]
    NotApplied {
        not_applied: PhaseNotApplied,
        exit_code: i32,
    },
    #[error(
        "kong migrations {phase} reported success (\"{reported}\") but the database the provider reads \
         (postgres://{database}) shows no change: the runner probably migrated another database, or runs another \
         Kong version than the target. A runner that crosses a boundary (kubectl exec, docker exec, ssh) does not \
         pass the local KONG_PG_* environment on, and the far side's kong uses its own settings: set \
         runner.command.env_transport = \"stdin\" (or use runner.ssh).\n{command_line}"
    )]
    OtherDatabase {
        phase: MigrationPhase,
        reported: String,
        database: String,
        command_line: String,
    },
    #[error(
        "kong migrations {phase} could not take Kong's migration lock (the `locks` row with key \"migrations\") \
         before the timeout: {}. Nothing was run. Wait for the other node or, if it is gone, for the lock to \
         expire, then apply again.",
        lock.as_ref().map(lock_text).unwrap_or_else(|| "the lock is free now".to_owned())
    )]
    LockStayedHeld {
        phase: MigrationPhase,
        lock: Option<MigrationLock>,
    },
    #[error("Terraform asked the provider to stop while it waited for Kong's migration lock. Nothing was run.")]
    Cancelled,
}

/// The part of the configuration a [`MigrateError`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Culprit {
    /// The database settings (address, credentials).
    Database,
    /// The phase asked for, given the database's state: Kong refuses it.
    Phase,
    /// The runner as a whole (it reached another database).
    Runner,
    /// The program the runner starts: the command's `argv`, or this
    /// attribute of an `ssh` runner (`host` when `None`).
    RunnerProgram { ssh_attribute: Option<&'static str> },
    /// Nothing the configuration can fix (a migration failed, the lock
    /// stayed held, the run was interrupted).
    Nothing,
}

impl MigrateError {
    /// The diagnostic's summary.
    pub fn summary(&self) -> String {
        match self {
            MigrateError::Database(_) => "Cannot read schema_meta".to_owned(),
            MigrateError::Refused { phase, .. } => format!("kong migrations {phase} cannot run"),
            MigrateError::Runner(e) => e.summary().to_owned(),
            MigrateError::Failed { phase, failure, .. } => match &failure.kind {
                FailureKind::AuthenticationFailed | FailureKind::DatabaseUnreachable => {
                    "The kong CLI could not use the database".to_owned()
                }
                FailureKind::NeedsBootstrap | FailureKind::PendingMigrations => {
                    format!("Kong refused to run migrations {phase}")
                }
                FailureKind::MigrationFailed { migration } => format!(
                    "Migration {} failed",
                    migration.as_deref().unwrap_or("(unnamed)")
                ),
                FailureKind::LockTimeout | FailureKind::NoSuchCommand | FailureKind::Other => {
                    format!("kong migrations {phase} failed")
                }
            },
            MigrateError::Unparseable(_) => "Unexpected output from the kong CLI".to_owned(),
            MigrateError::Unverified { .. } => "Cannot verify the migration phase".to_owned(),
            MigrateError::NotApplied { .. } => "The migration phase did not take effect".to_owned(),
            MigrateError::OtherDatabase { .. } => "The runner migrated another database".to_owned(),
            MigrateError::LockStayedHeld { .. } => "Kong's migration lock stayed held".to_owned(),
            MigrateError::Cancelled => "Interrupted".to_owned(),
        }
    }

    /// What the user should look at.
    pub fn culprit(&self) -> Culprit {
        let runner_argv = Culprit::RunnerProgram {
            ssh_attribute: Some("argv"),
        };
        match self {
            MigrateError::Database(_) | MigrateError::Unverified { .. } => Culprit::Database,
            MigrateError::Refused { .. } => Culprit::Phase,
            MigrateError::Runner(e) => Culprit::RunnerProgram {
                ssh_attribute: e.ssh_attribute(),
            },
            MigrateError::Failed { failure, .. } => match failure.kind {
                FailureKind::AuthenticationFailed | FailureKind::DatabaseUnreachable => {
                    Culprit::Database
                }
                FailureKind::NeedsBootstrap | FailureKind::PendingMigrations => Culprit::Phase,
                FailureKind::MigrationFailed { .. } => Culprit::Nothing,
                FailureKind::LockTimeout | FailureKind::NoSuchCommand | FailureKind::Other => {
                    runner_argv
                }
            },
            MigrateError::Unparseable(_) => runner_argv,
            MigrateError::OtherDatabase { .. } => Culprit::Runner,
            MigrateError::NotApplied { .. }
            | MigrateError::LockStayedHeld { .. }
            | MigrateError::Cancelled => Culprit::Nothing,
        }
    }
}

/// Who holds Kong's migration lock, and until when.
pub fn lock_text(lock: &MigrationLock) -> String {
    format!(
        "node {} holds Kong's migration lock until {} ({}s from now)",
        lock.owner,
        lock.expires_at,
        lock.expires_in.as_secs()
    )
}
