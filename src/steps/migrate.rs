//! One `kong migrations bootstrap|up|finish` run, as an upgrade step:
//! plan it against the live `schema_meta`, run it through the runner,
//! re-read `schema_meta` to verify it took effect (Kong's "aborted: another
//! node is performing database changes" exits 0), and retry lock contention
//! until the deadline.
//!
//! A running `kong migrations` is never stopped on cancellation: it is let
//! finish (within the deadline), and the cancellation takes effect after it.

use crate::migrations::SubsystemMigrations;
use crate::migrations::{
    classify, plan_phase, read_schema_state, verify_phase, DatabaseConfig, KnownMigrations,
    MigrationPhase, MigrationsError, PhaseNotApplied, PhasePlan,
};
use crate::runner::{
    list_known_migrations, parse_phase_output, CliOutcome, DiscoveryError, DiscoveryRequest,
    KongInvocation, MigrationCommand, RunOutput, Runner, RunnerError, Stream,
};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Database(#[from] MigrationsError),
    #[error("kong migrations {phase} cannot run: {source}")]
    Refused {
        phase: MigrationPhase,
        source: crate::migrations::PlanError,
    },
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error("kong migrations {phase} failed (exit {exit_code}): {message}\n{command_line}")]
    Failed {
        phase: MigrationPhase,
        exit_code: i32,
        message: String,
        command_line: String,
    },
    #[error("{0}; gave up after the time limit")]
    NotApplied(PhaseNotApplied),
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
    #[error("{0}")]
    Unparseable(String),
    #[error("cancelled: Terraform asked the provider to stop")]
    Cancelled,
}

/// The first wait before running a phase again while another node holds
/// Kong's migration lock; it doubles up to [`MAX_RETRY_DELAY`]. One policy
/// for every phase run (`kong_upgrade`, `kong_migration_phase`).
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// The wait after `delay`.
pub fn next_retry_delay(delay: Duration) -> Duration {
    (delay * 2).min(MAX_RETRY_DELAY)
}

/// The pause before the next try while Kong's migration lock is held:
/// `delay` cut to what remains of the time limit, so the wait uses the whole
/// limit; `None` once the deadline has passed (give up).
pub fn pause_before_retry(delay: Duration, deadline: Instant) -> Option<Duration> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    (!remaining.is_zero()).then(|| delay.min(remaining))
}

/// What a phase run did.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    pub plan: PhasePlan,
    pub attempts: u32,
    pub duration: Duration,
    /// The last lines the runner printed (secrets redacted).
    pub output_tail: Vec<String>,
    /// What Kong records as pending once the phase ran (or found nothing
    /// to do): the truth `finish` and rollback safety are judged from.
    pub pending_after: Vec<SubsystemMigrations>,
}

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

/// Runs `command.phase` against `db` with Kong `known.kong_version` until
/// it took effect, the deadline passes, or the run is cancelled.
pub async fn run_phase(
    runner: &dyn Runner,
    db: &DatabaseConfig,
    known: &KnownMigrations,
    command: &MigrationCommand,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<PhaseReport, MigrateError> {
    let started = Instant::now();
    let mut attempts = 0;
    let mut backoff = FIRST_RETRY_DELAY;
    loop {
        let meta = read_schema_state(db).await?;
        let state = classify(&meta, known);
        let plan = plan_phase(
            &state,
            known,
            command.phase,
            command.force,
            meta.schema_level(),
        )
        .map_err(|source| MigrateError::Refused {
            phase: command.phase,
            source,
        })?;
        if plan.is_noop() {
            return Ok(PhaseReport {
                plan,
                attempts,
                duration: started.elapsed(),
                output_tail: Vec::new(),
                pending_after: state.pending(),
            });
        }
        attempts += 1;
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        let invocation = KongInvocation::migrations(command, db).with_timeout(remaining);
        let mut on_line =
            |stream: Stream, line: &str| tracing::info!(phase = %command.phase, ?stream, "{line}");
        let output = run_to_completion(runner, &invocation, cancel, &mut on_line).await?;
        let outcome = parse_phase_output(command.phase, &output)
            .map_err(|e| MigrateError::Unparseable(e.to_string()))?;
        if let CliOutcome::Failed(f) = &outcome {
            if !outcome.is_lock_contention() {
                return Err(MigrateError::Failed {
                    phase: command.phase,
                    exit_code: f.exit_code,
                    message: f.message.clone(),
                    command_line: output.command_line.clone(),
                });
            }
        }
        let after = read_schema_state(db).await?;
        let after_state = classify(&after, known);
        let verified = verify_phase(&plan, &after_state, after.lock.as_ref());
        if verified.is_err() {
            let unchanged = after_state == state && after.lock.is_none();
            let phase = command.phase;
            if let Some(e) = migrated_elsewhere(phase, &outcome, unchanged, db, &output) {
                return Err(e);
            }
        }
        let tail = output
            .lines
            .iter()
            .rev()
            .take(20)
            .rev()
            .map(|l| l.text.clone())
            .collect();
        match verified {
            Ok(()) => {
                return Ok(PhaseReport {
                    plan,
                    attempts,
                    duration: started.elapsed(),
                    output_tail: tail,
                    pending_after: after_state.pending(),
                })
            }
            Err(not_applied) => {
                let Some(pause) = pause_before_retry(backoff, deadline) else {
                    return Err(MigrateError::NotApplied(not_applied));
                };
                tracing::info!(attempt = attempts, "{not_applied}; retrying in {pause:?}");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = cancel.cancelled() => return Err(MigrateError::Cancelled),
                }
                backoff = next_retry_delay(backoff);
            }
        }
    }
}

/// [`MigrateError::OtherDatabase`] when Kong reports the phase done (or
/// nothing to do) while `db`, read by the provider, shows no change and no
/// lock holder: the `kong` that ran read its database settings from
/// somewhere else. `None` for lock contention and failures, which leave
/// the database unchanged by design.
pub fn migrated_elsewhere(
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
pub async fn run_to_completion(
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
