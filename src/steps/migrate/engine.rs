//! The one migration-phase engine: runs a planned `kong migrations
//! bootstrap|up|finish` through the runner, re-reads `schema_meta` after
//! each run to judge it (Kong exits 0 when it lost the lock race), and
//! runs it again only while Kong's migration lock was the reason nothing
//! happened. `kong_upgrade` and `kong_migration_phase` both run their
//! phases here and keep only the mapping of the end to their diagnostics.
//!
//! The retry rule: only lock contention is retried (Kong's "aborted:
//! another node is performing database changes", its lock timeout, or the
//! run's own time limit falling while the lock is held and nothing
//! changed). Anything else Kong reports, or a run Kong called done that the
//! database does not show, ends the run at once: running a phase again
//! that Kong says it ran would hide the cause until the deadline.

use super::error::MigrateError;
use super::{migrated_elsewhere, run_to_completion};
use crate::migrations::{
    classify, plan_phase, read_schema_state, verify_phase, DatabaseConfig, KnownMigrations,
    MigrationLock, MigrationsError, PhasePlan, SchemaMeta, SubsystemMigrations,
};
use crate::runner::{
    parse_phase_output, CliOutcome, KongInvocation, MigrationCommand, Runner, RunnerError, Stream,
    ERROR_TAIL_LINES,
};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The first wait before running a phase again while another node holds
/// Kong's migration lock; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Reading `schema_meta` after a run must not hang on a database that
/// stopped answering, whatever the configured connect timeout.
const AFTER_RUN_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// One phase to run against one database.
pub struct PhaseRun<'a> {
    pub runner: &'a dyn Runner,
    pub db: &'a DatabaseConfig,
    /// What the target version knows: decides what is new and pending.
    pub known: &'a KnownMigrations,
    pub command: &'a MigrationCommand,
    pub deadline: Instant,
    pub cancel: &'a CancellationToken,
}

/// What a phase run did.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    pub plan: PhasePlan,
    /// Runs of the kong CLI (0 when the plan had nothing to do).
    pub attempts: u32,
    pub duration: Duration,
    /// What Kong records as pending once the phase ran (or found nothing
    /// to do): the truth `finish` and rollback safety are judged from.
    pub pending_after: Vec<SubsystemMigrations>,
    /// The phase was done by the node whose lock this run waited for:
    /// nothing ran here.
    pub ran_by_another_node: bool,
}

impl PhaseReport {
    /// The warning to give when another node ran the phase.
    pub fn another_node_note(&self) -> Option<String> {
        self.ran_by_another_node.then(|| {
            format!(
                "While this apply waited for Kong's migration lock, another node ran {} and the database now shows the phase done.",
                self.plan.phase
            )
        })
    }
}

/// A phase run that did not end with the phase done.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct PhaseFailed {
    pub error: MigrateError,
    /// `schema_meta` differs from before the run (or could not be read
    /// again): part of the phase may have run.
    pub database_changed: bool,
}

impl PhaseFailed {
    fn before_running(error: MigrateError) -> Self {
        PhaseFailed {
            error,
            database_changed: false,
        }
    }
}

/// How one run of the kong CLI ended, judged by the database afterwards.
enum Attempt {
    Verified {
        pending_after: Vec<SubsystemMigrations>,
        by_another_node: bool,
    },
    /// Another node holds (or held) Kong's migration lock; it did not do
    /// the phase either.
    LockHeld(Option<MigrationLock>),
    Failed(MigrateError),
}

impl PhaseRun<'_> {
    /// The phase planned against `schema_meta` as it is now, with what the
    /// plan was made from.
    pub async fn plan(&self) -> Result<(SchemaMeta, PhasePlan), MigrateError> {
        let meta = read_schema_state(self.db).await?;
        let state = classify(&meta, self.known);
        let phase = self.command.phase;
        let plan = plan_phase(
            &state,
            self.known,
            phase,
            self.command.force,
            meta.schema_level(),
        )
        .map_err(|source| MigrateError::Refused { phase, source })?;
        Ok((meta, plan))
    }

    /// Plans against the database as it is now, then runs that plan.
    pub async fn plan_and_run(&self) -> Result<PhaseReport, PhaseFailed> {
        let (before, plan) = self.plan().await.map_err(PhaseFailed::before_running)?;
        self.run(&before, plan).await
    }

    /// Runs `plan` (made against `before`) until the database shows it
    /// done, Kong reports a failure, the deadline passes while Kong's lock
    /// stays held, or the run is cancelled while waiting for that lock. A
    /// running kong CLI is let finish on cancellation.
    pub async fn run(
        &self,
        before: &SchemaMeta,
        plan: PhasePlan,
    ) -> Result<PhaseReport, PhaseFailed> {
        let started = Instant::now();
        let report = |attempts, pending_after, ran_by_another_node| PhaseReport {
            attempts,
            duration: started.elapsed(),
            pending_after,
            ran_by_another_node,
            plan: plan.clone(),
        };
        if plan.is_noop() {
            tracing::info!(phase = %plan.phase, "nothing to run");
            return Ok(report(0, classify(before, self.known).pending(), false));
        }
        let mut attempts = 0;
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            attempts += 1;
            let (attempt, database_changed) = self.attempt(before, &plan).await;
            let failed = |error| PhaseFailed {
                error,
                database_changed,
            };
            let lock = match attempt {
                Attempt::Verified {
                    pending_after,
                    by_another_node,
                } => return Ok(report(attempts, pending_after, by_another_node)),
                Attempt::Failed(error) => return Err(failed(error)),
                Attempt::LockHeld(lock) => lock,
            };
            let phase = plan.phase;
            let Some(pause) = pause_before_retry(delay, self.deadline) else {
                return Err(failed(MigrateError::LockStayedHeld { phase, lock }));
            };
            tracing::info!(
                ?lock,
                ?pause,
                attempt = attempts,
                "Kong's migration lock is held by another node; retrying"
            );
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.cancel.cancelled() => return Err(failed(MigrateError::Cancelled)),
            }
            delay = next_retry_delay(delay);
        }
    }

    /// One run of the kong CLI, then `schema_meta` read again; with whether
    /// the database differs from `before`.
    async fn attempt(&self, before: &SchemaMeta, plan: &PhasePlan) -> (Attempt, bool) {
        let phase = self.command.phase;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let invocation = KongInvocation::migrations(self.command, self.db)
            .with_timeout(remaining.max(Duration::from_secs(1)));
        let mut on_line =
            |stream: Stream, line: &str| tracing::info!(%phase, %stream, "kong: {line}");
        tracing::info!(%phase, runner = %self.runner.describe(), "running kong migrations {phase}");
        let result = run_to_completion(self.runner, &invocation, self.cancel, &mut on_line).await;
        let after = self.reread().await;
        let changed = after.as_ref().map_or(true, |a| !same_records(before, a));
        let output = match result {
            Ok(output) => output,
            // The time limit fell while `up` waited for the lock: that is
            // the lock's doing, and nothing ran.
            Err(RunnerError::TimedOut { .. }) if !changed && lock_of(&after).is_some() => {
                return (Attempt::LockHeld(lock_of(&after)), changed)
            }
            Err(e) => return (Attempt::Failed(e.into()), changed),
        };
        let outcome = match parse_phase_output(phase, &output) {
            Ok(outcome) => outcome,
            Err(e) => {
                return (
                    Attempt::Failed(MigrateError::Unparseable(e.to_string())),
                    changed,
                )
            }
        };
        let after = match after {
            Ok(after) => after,
            Err(source) => {
                return (
                    Attempt::Failed(MigrateError::Unverified { phase, source }),
                    changed,
                )
            }
        };
        let after_state = classify(&after, self.known);
        let verified = verify_phase(plan, &after_state, after.lock.as_ref());
        let done = |by_another_node| Attempt::Verified {
            pending_after: after_state.pending(),
            by_another_node,
        };
        let attempt = match (&outcome, verified) {
            // Kong's `up` aborts when the lock holder finishes: that node
            // did the work.
            (outcome, Ok(())) if outcome.is_lock_contention() => done(true),
            (outcome, Err(_)) if outcome.is_lock_contention() => Attempt::LockHeld(after.lock),
            (CliOutcome::Failed(failure), _) => Attempt::Failed(MigrateError::Failed {
                phase,
                failure: failure.clone(),
                command_line: output.command_line.clone(),
                tail: output.last_lines(ERROR_TAIL_LINES).join("\n"),
            }),
            (_, Ok(())) => done(false),
            (outcome, Err(not_applied)) => {
                let unchanged = !changed && after.lock.is_none();
                Attempt::Failed(
                    migrated_elsewhere(phase, outcome, unchanged, self.db, &output).unwrap_or(
                        MigrateError::NotApplied {
                            not_applied,
                            exit_code: output.exit_code,
                        },
                    ),
                )
            }
        };
        (attempt, changed)
    }

    /// `schema_meta` after a run, within [`AFTER_RUN_READ_TIMEOUT`].
    async fn reread(&self) -> Result<SchemaMeta, MigrationsError> {
        let mut db = self.db.clone();
        db.timeout = db.timeout.min(AFTER_RUN_READ_TIMEOUT);
        let after = read_schema_state(&db).await;
        if let Err(e) = &after {
            tracing::warn!(error = %e, "could not re-read schema_meta after running the phase");
        }
        after
    }
}

fn lock_of(after: &Result<SchemaMeta, MigrationsError>) -> Option<MigrationLock> {
    after.as_ref().ok().and_then(|a| a.lock.clone())
}

/// The same migrations recorded (the lock aside).
fn same_records(a: &SchemaMeta, b: &SchemaMeta) -> bool {
    a.needs_bootstrap == b.needs_bootstrap && a.subsystems == b.subsystems
}

/// The wait after `delay`.
fn next_retry_delay(delay: Duration) -> Duration {
    (delay * 2).min(MAX_RETRY_DELAY)
}

/// The pause before the next try while Kong's migration lock is held:
/// `delay` cut to what remains of the time limit, so the wait uses the whole
/// limit; `None` once the deadline has passed (give up).
fn pause_before_retry(delay: Duration, deadline: Instant) -> Option<Duration> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    (!remaining.is_zero()).then(|| delay.min(remaining))
}
