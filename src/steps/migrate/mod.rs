//! Migration phases as upgrade steps. [`PhaseRun`] (in `engine.rs`) is
//! the one engine that runs `kong migrations bootstrap|up|finish`, for
//! `kong_upgrade` and `kong_migration_phase` alike: it runs a phase planned
//! against the live `schema_meta`, re-reads `schema_meta` to verify it
//! took effect (Kong's "aborted: another node is performing database
//! changes" exits 0), and retries only while Kong's migration lock is
//! held, until the deadline. [`MigrateError`] says why a run failed and
//! what is at fault ([`Culprit`]); each resource maps that to its own
//! attribute.
//!
//! A running `kong migrations` is never stopped on cancellation: it is let
//! finish (within the deadline), and the cancellation takes effect after it.

use crate::migrations::{
    classify, read_schema_state, DatabaseConfig, KnownMigrations, MigrationPhase,
};
use crate::runner::{
    list_known_migrations, CliOutcome, DiscoveryError, DiscoveryRequest, KongInvocation, RunOutput,
    Runner, RunnerError, Stream,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

mod engine;
mod error;
#[cfg(test)]
mod kongsim_tests;

pub use engine::{PhaseFailed, PhaseReport, PhaseRun};
pub use error::{lock_text, Culprit, MigrateError};

/// The migrations the target version knows, for running its phases.
pub struct TargetMigrations {
    pub known: KnownMigrations,
    /// How the catalog's preview differs from what the target reported;
    /// empty when they agree or the catalog was the source.
    pub preview_differences: Vec<String>,
}

/// Asks the target version itself (`kong migrations status`, read-only,
/// through the runner that will run its phases): Kong's own list decides,
/// the embedded catalog is only the preview. Falls back to the catalog when
/// the version predates `status` or the runner cannot answer, and needs
/// neither for a version the catalog does not know.
pub async fn target_migrations(
    runner: &dyn Runner,
    db: &DatabaseConfig,
    version: &str,
    conf_path: Option<&str>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<TargetMigrations, DiscoveryError> {
    let request = DiscoveryRequest {
        kong_version: version,
        database: db,
        ask_runner: true,
        conf_path,
        db_timeout: None,
        timeout,
    };
    let discovered = list_known_migrations(runner, &request, cancel).await?;
    if let Some(reason) = &discovered.runner_fallback_reason {
        tracing::warn!(%reason, "the target's `kong migrations status` did not answer; the embedded catalog decides");
    }
    let preview_differences = match KnownMigrations::from_catalog(version) {
        Ok(catalog) if discovered.runner_fallback_reason.is_none() => {
            discovered.known.differences_from(&catalog)
        }
        _ => Vec::new(),
    };
    for difference in &preview_differences {
        tracing::warn!(%difference, "the catalog's preview differs from Kong");
    }
    Ok(TargetMigrations {
        known: discovered.known,
        preview_differences,
    })
}

/// [`MigrateError::OtherDatabase`] when Kong reports the phase done (or
/// nothing to do) while `db`, read by the provider, shows no change and no
/// lock holder: the `kong` that ran read its database settings from
/// somewhere else. `None` for lock contention and failures, which leave
/// the database unchanged by design.
fn migrated_elsewhere(
    phase: MigrationPhase,
    outcome: &CliOutcome,
    database_unchanged: bool,
    db: &DatabaseConfig,
    output: &RunOutput,
) -> Option<MigrateError> {
    let reported = match outcome {
        CliOutcome::Completed { migrated, .. } => {
            format!("{} migration(s) processed", migrated.len())
        }
        CliOutcome::NothingToDo(nothing) => nothing.kong_message().to_owned(),
        CliOutcome::LockNotAcquired | CliOutcome::Failed(_) => return None,
    };
    database_unchanged.then(|| MigrateError::OtherDatabase {
        phase,
        reported,
        database: format!("{}@{}:{}/{}", db.user, db.host, db.port, db.database),
        command_line: output.command_line.clone(),
    })
}

/// How many migrations await `finish` when `up` has already run for the
/// target (nothing new, some pending); `None` when `up` still has work.
///
/// An upgrade resumed after `up` completed but before the step was recorded
/// lands here. Kong's own `up` would refuse ("Database has pending
/// migrations"), so the step is done rather than failed.
pub async fn up_already_ran(
    db: &DatabaseConfig,
    known: &KnownMigrations,
) -> Result<Option<usize>, MigrateError> {
    let meta = read_schema_state(db).await?;
    let state = classify(&meta, known);
    if state.needs_bootstrap || !state.new_migrations().is_empty() {
        return Ok(None);
    }
    let pending: usize = state.pending().iter().map(|s| s.migrations.len()).sum();
    Ok((pending > 0).then_some(pending))
}

/// Runs the kong CLI without passing Terraform's cancellation on to it.
///
/// Killing `kong migrations` halfway is what Kong warns against: a step
/// whose transaction committed but whose `schema_meta` record was not yet
/// written runs a second time on the next `up` (Kong/kong#12978), and the
/// killed run's migration lock stays held until its TTL (`--lock-timeout`)
/// expires, stalling the resumed upgrade. So a Ctrl-C waits for the CLI to
/// finish (each migration is short; the deadline still bounds the run) and
/// the upgrade stops at the next step boundary, with this one recorded.
async fn run_to_completion(
    runner: &dyn Runner,
    invocation: &KongInvocation,
    cancel: &CancellationToken,
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
) -> Result<crate::runner::RunOutput, RunnerError> {
    let never_cancelled = CancellationToken::new();
    let run = runner.run(invocation, &never_cancelled, on_line);
    tokio::pin!(run);
    tokio::select! {
        output = &mut run => output,
        _ = cancel.cancelled() => {
            tracing::warn!(
                "Terraform asked the provider to stop while `kong migrations` runs: \
                 letting it finish, since stopping it halfway can leave a migration applied but unrecorded"
            );
            run.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::CommandRunner;

    /// Ctrl-C while the CLI runs: the run still ends on its own, with its
    /// full output, as `kong migrations` must.
    #[tokio::test]
    async fn a_cancelled_run_is_let_finish() {
        let runner = CommandRunner::new(vec!["sh".into(), "-c".into()]);
        let invocation = KongInvocation::new(vec!["sleep 0.3; echo migrated up".into()]);
        let cancel = CancellationToken::new();
        let cancel_soon = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cancel_soon.cancel();
        });
        let mut lines = Vec::new();
        let mut on_line = |_: Stream, line: &str| lines.push(line.to_string());
        let output = run_to_completion(&runner, &invocation, &cancel, &mut on_line)
            .await
            .unwrap();
        assert!(cancel.is_cancelled());
        assert_eq!(output.exit_code, 0);
        assert_eq!(lines, ["migrated up"]);
    }
}
