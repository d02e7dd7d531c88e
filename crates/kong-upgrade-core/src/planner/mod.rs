//! The upgrade planner: all upgrade policy, and nothing else.
//!
//! Input: the strategy, X's and Y's versions, facts read from the cluster,
//! the checkpoint from state, the target phase and the user's options.
//! Output: the ordered steps the next apply runs (each with why it is
//! there), warnings, and the downtime window, or typed errors that each name
//! the attribute at fault.
//!
//! # Invariants
//!
//! - **No I/O.** The planner does not touch the network, files, processes,
//!   the environment or the clock: no tokio, no reqwest, no `std::fs`,
//!   `std::env` or `SystemTime::now`. Everything it knows arrives in
//!   [`PlanInput`]. That makes it deterministic and testable as data.
//! - **Total.** Any input yields a plan or errors; nothing panics.
//! - **Runbook order.** Steps come from Kong's runbooks
//!   (`runbook.rs`), never from ad-hoc ordering: backup before anything
//!   destructive, every traffic shift before `migrations finish`.
//! - **Resumable.** A once-only step in the checkpoint is never planned
//!   again; destructive steps (stop X, restore, finish, decommission) are
//!   once-only. [`Checkpoint::record`] is the only way a checkpoint advances.
//! - **No way back after the point of no return.** After `migrations finish`
//!   on a shared database (in-place, blue-green), or after X is
//!   decommissioned, no plan sends traffic back to X.
//!
//! The rules are listed in docs/guides/planner-rules.md, generated from this
//! module by [`rules_markdown`] (a test fails when the file drifts).

mod checkpoint;
mod doc;
mod evidence;
mod findings;
mod input;
mod path;
mod rules;
mod runbook;
mod sequence;
mod step;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use checkpoint::Checkpoint;
pub use doc::rules_markdown;
pub use evidence::{inferred_steps, migration_progress, Evidence, MigrationProgress};
pub use findings::{ErrorCode, Field, PlanError, RuleDoc, Warning, WarningCode};
pub use input::{
    Database, DeploymentFacts, OnDestroy, Options, Phase, PlanInput, PublishedTraffic, Role,
    Strategy, TargetPhase, TrafficWeight, UnknownName,
};
pub use path::{
    upgrade_path, version_compare, EdgeKind, MigrationFloor, PathAnswer, PathKind, PathRule,
    SeriesRange, MIGRATION_FLOORS, PATH_RULES,
};
pub use sequence::DowntimeWindow;
pub use step::{
    BackupSource, FreezeGate, FreezeScope, MigrationDatabase, PlannedStep, Recurrence, StepId,
    StepKind,
};

use crate::version::KongVersion;
use findings::Findings;
use runbook::Entry;

/// What the next apply will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    pub warnings: Vec<Warning>,
    /// In-place only: where the proxy goes down and comes back.
    pub downtime: Option<DowntimeWindow>,
    /// Where the upgrade stands before this plan runs.
    pub current_phase: Phase,
    /// Where it stands once this plan has run (in-place collapses
    /// `migrated`/`serving`/`finished` into `finished`).
    pub target_phase: Phase,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Plans the next apply of `kong_upgrade` towards `input.target`.
pub fn plan(input: &PlanInput) -> Result<Plan, Vec<PlanError>> {
    let entries = runbook::runbook(input);
    let current = checkpoint::reached_phase(input, &entries);
    if input.from == input.to {
        return Ok(nothing_to_do(input, current));
    }
    let mut findings = rules::check_inputs(input);
    let goal = rules::goal_for(input, input.target, &mut findings);
    let Some(goal) = goal.filter(|_| findings.errors.is_empty()) else {
        return Err(findings.errors);
    };
    converge(input, &entries, current, goal, Field::TargetPhase, findings)
}

/// Plans what destroying the resource does. An unfinished upgrade is
/// refused unless `on_destroy` is `rollback`, which sends traffic back to X
/// and leaves the database usable by X — possible only before the point of
/// no return. Input rules (paths, strategy) are not re-checked: a destroy
/// must not be blocked by a configuration mistake elsewhere.
pub fn plan_destroy(input: &PlanInput, on_destroy: OnDestroy) -> Result<Plan, Vec<PlanError>> {
    let entries = runbook::runbook(input);
    let current = checkpoint::reached_phase(input, &entries);
    let empty = |warnings| Plan {
        steps: Vec::new(),
        warnings,
        downtime: None,
        current_phase: current,
        target_phase: current,
    };
    if current == Phase::Completed {
        return Ok(empty(Vec::new()));
    }
    if !checkpoint::beyond_prepared(input, &entries) {
        let freeze_ends = (!input.checkpoint.completed.is_empty()).then(|| {
            Warning::new(
                WarningCode::DestroyEndsFreeze,
                "destroying a prepared upgrade: the configuration freeze ends; X keeps serving and nothing else changes",
            )
        });
        return Ok(empty(freeze_ends.into_iter().collect()));
    }
    match on_destroy {
        OnDestroy::Refuse => Err(vec![PlanError::new(
            ErrorCode::DestroyUnfinished,
            format!(
                "the upgrade stands at {current}: destroying it now would leave X and Y half-way. Advance target_phase to \"completed\" and apply, or set on_destroy = \"rollback\" to send all traffic back to X first"
            ),
        )]),
        OnDestroy::Rollback => {
            let mut findings = Findings::default();
            let goal = rules::goal_for(input, TargetPhase::Prepared, &mut findings);
            let Some(goal) = goal else {
                return Err(findings.errors);
            };
            converge(input, &entries, current, goal, Field::OnDestroy, findings)
        }
    }
}

/// `data "kong_upgrade_path"` with a strategy: Kong's path answer, narrowed
/// by what the strategy allows for a typical (traditional-mode) deployment:
/// blue-green only between patches, and from 2.8.2+ before 3.x.
pub fn upgrade_path_for_strategy(
    from: &KongVersion,
    to: &KongVersion,
    strategy: Strategy,
) -> PathAnswer {
    let mut answer = upgrade_path(from, to);
    let typical = PlanInput {
        strategy,
        from: *from,
        to: *to,
        facts: DeploymentFacts::traditional_postgres(),
        checkpoint: Checkpoint::default(),
        target: TargetPhase::Completed,
        options: Options::default(),
    };
    let findings = rules::check(&typical, rules::STRATEGY_PATH_RULES);
    answer.warnings.extend(findings.warnings);
    answer.supported &= findings.errors.is_empty();
    answer.refusals = findings.errors;
    answer
}

/// The phase the checkpoint has reached (for import and the `phase`
/// attribute).
pub fn current_phase(input: &PlanInput) -> Phase {
    checkpoint::reached_phase(input, &runbook::runbook(input))
}

fn converge(
    input: &PlanInput,
    entries: &[Entry],
    current: Phase,
    goal: sequence::Goal,
    phase_field: Field,
    mut findings: Findings,
) -> Result<Plan, Vec<PlanError>> {
    let sequence::Towards { steps, reached } = sequence::steps_towards(input, entries, goal);
    rules::phase_change_allowed(input, current, goal, &steps, phase_field, &mut findings);
    rules::check_steps(input, &steps, &mut findings);
    if !findings.errors.is_empty() {
        return Err(findings.errors);
    }
    Ok(Plan {
        downtime: sequence::downtime_window(input, &steps),
        steps,
        warnings: findings.warnings,
        current_phase: current,
        target_phase: reached,
    })
}

fn nothing_to_do(input: &PlanInput, current: Phase) -> Plan {
    Plan {
        steps: Vec::new(),
        warnings: vec![Warning::new(
            WarningCode::NothingToDo,
            format!("X already runs {}: there is nothing to upgrade", input.to),
        )],
        downtime: None,
        current_phase: current,
        target_phase: current,
    }
}
