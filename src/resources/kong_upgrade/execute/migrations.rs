//! The `migrations_up` and `migrations_finish` steps: the target's own list
//! of migrations, then the phase run by the one engine
//! (`steps::migrate::PhaseRun`); this file keeps only the mapping of its
//! end to the step's result, warnings and attribute.

use super::{database_attribute, Executor, StepFailure, StepResult};
use crate::migrations::{describe, MigrationPhase, SubsystemMigrations};
use crate::planner::MigrationDatabase;
use crate::runner::MigrationCommand;
use crate::steps::migrate::{self, Culprit, MigrateError, PhaseRun};
use std::time::Duration;

impl Executor<'_> {
    pub(super) async fn migrations(
        &self,
        phase: MigrationPhase,
        which: MigrationDatabase,
    ) -> StepResult {
        let db = self.database(which)?;
        let Some(runner) = &self.settings.runner else {
            return Err(StepFailure::new(Some("runner"), "no runner configured", "Migrations run through the kong CLI of the target version: set runner { command { argv = [...] } }."));
        };
        let target = migrate::target_migrations(
            runner.runner(),
            db,
            &self.intent.to_version.to_string(),
            runner.conf_path.as_deref(),
            self.remaining()
                .min(crate::blocks::runner::DISCOVERY_TIMEOUT),
            self.cancel,
        )
        .await
        .map_err(|e| StepFailure::new(Some("to_version"), "unknown migrations", e.to_string()))?;
        let known = target.known;
        if phase == MigrationPhase::Up && !target.preview_differences.is_empty() {
            self.warn(format!(
                "Kong {} differs from the embedded catalog's preview; the upgrade follows Kong: {}",
                self.intent.to_version,
                target.preview_differences.join("; ")
            ));
        }
        if phase == MigrationPhase::Up {
            let already = migrate::up_already_ran(db, &known)
                .await
                .map_err(|e| migrate_failure(&e, which))?;
            if let Some(pending) = already {
                return Ok(format!(
                    "kong migrations up already ran: {pending} migration(s) await finish"
                ));
            }
        }
        let command = MigrationCommand {
            phase,
            force: false,
            db_timeout: None,
            lock_timeout: Duration::from_secs(60),
            conf_path: runner.conf_path.clone(),
        };
        let engine = PhaseRun {
            runner: runner.runner(),
            db,
            known: &known,
            command: &command,
            deadline: self.deadline,
            cancel: self.cancel,
        };
        let report = engine
            .plan_and_run()
            .await
            .map_err(|failed| migrate_failure(&failed.error, which))?;
        if let Some(note) = report.another_node_note() {
            self.warn(note);
        }
        let kong_pending = describe_pending(&report.pending_after);
        if report.plan.is_noop() {
            return Ok(format!(
                "kong migrations {phase}: nothing to do; Kong records pending: {kong_pending}"
            ));
        }
        if phase == MigrationPhase::Up && report.plan.leaves_pending() != report.pending_after {
            self.warn(format!(
                "after `kong migrations up`, Kong records pending: {kong_pending}; the plan expected: {}. The finish step follows Kong's record.",
                describe_pending(&report.plan.leaves_pending())
            ));
        }
        let ran = if report.ran_by_another_node {
            "run by the node whose migration lock this apply waited for".to_owned()
        } else {
            format!(
                "{} migration(s) in {:.1}s ({} attempt(s))",
                report.plan.migration_count(),
                report.duration.as_secs_f64(),
                report.attempts
            )
        };
        Ok(format!(
            "kong migrations {phase}: {ran}; Kong records pending: {kong_pending}"
        ))
    }

    /// A warning for the apply's diagnostics (and the log).
    fn warn(&self, text: String) {
        tracing::warn!("{text}");
        if let Ok(mut warnings) = self.warnings.lock() {
            warnings.push(text);
        }
    }
}

/// The step failure for a phase run that failed: on the runner block when
/// the runner is at fault, else on the database the phase ran against.
fn migrate_failure(e: &MigrateError, which: MigrationDatabase) -> StepFailure {
    let attribute = match e.culprit() {
        Culprit::Runner | Culprit::RunnerProgram { .. } => "runner",
        Culprit::Database | Culprit::Phase | Culprit::Nothing => database_attribute(which),
    };
    StepFailure::new(Some(attribute), &e.summary(), e.to_string())
}

/// `core: a; acme: b`, or `nothing`.
fn describe_pending(pending: &[SubsystemMigrations]) -> String {
    if pending.is_empty() {
        "nothing".to_owned()
    } else {
        describe(pending)
    }
}
