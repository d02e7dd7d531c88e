//! Turns a runbook, a checkpoint and a target into the ordered steps of
//! the next apply.

use serde::{Deserialize, Serialize};

use super::input::{Phase, PlanInput, Strategy, TargetPhase, TrafficWeight};
use super::runbook::{Entry, Milestone};
use super::step::{FreezeGate, PlannedStep, StepId, StepKind};
use crate::traffic::observed::observed_move;
use crate::traffic::progression::{plan_shift, OnFailure};

/// What the next apply must converge on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Goal {
    pub phase: Phase,
    milestone: Milestone,
    weight_y: TrafficWeight,
}

impl Goal {
    /// In-place collapses `migrated`, `serving` (at 100 %) and `finished`:
    /// its downtime window runs up, finish and the start of Y in one apply.
    /// Returns `None` for an in-place target serving less than 100 %.
    pub fn new(strategy: Strategy, target: TargetPhase) -> Option<Goal> {
        let target = match (strategy, target) {
            (Strategy::InPlace, TargetPhase::Serving { weight_y })
                if weight_y != TrafficWeight::FULL =>
            {
                return None
            }
            (
                Strategy::InPlace,
                TargetPhase::Migrated | TargetPhase::Serving { .. } | TargetPhase::Finished,
            ) => TargetPhase::Finished,
            (_, target) => target,
        };
        let (milestone, weight_y) = match target {
            TargetPhase::Prepared => (Milestone::Prepared, TrafficWeight::ZERO),
            TargetPhase::Migrated => (Milestone::Migrated, TrafficWeight::ZERO),
            TargetPhase::Serving { weight_y } => (Milestone::Serving, weight_y),
            TargetPhase::Finished => (Milestone::Finished, TrafficWeight::FULL),
            TargetPhase::Completed => (Milestone::Completed, TrafficWeight::FULL),
        };
        Some(Goal {
            phase: target.into(),
            milestone,
            weight_y,
        })
    }
}

/// The steps of the next apply, and where they leave the upgrade.
pub(crate) struct Towards {
    pub steps: Vec<PlannedStep>,
    /// Where the upgrade stands after `steps`: the goal, unless an
    /// `external` split's move cut the plan short.
    pub reached: Phase,
}

/// The steps, in runbook order, that take the checkpoint to `goal`, or
/// towards it: with the `external` driver, the steps after the traffic
/// (confirm the cutover, `migrations finish`, stop or retire X) never run
/// in the apply that publishes a higher weight for Y. Another resource
/// applies that weight only after this apply ends, so X still carries the
/// traffic those steps take away; they run in a later apply (with
/// `observe`, once the load balancer is observed carrying 100%).
pub(crate) fn steps_towards(input: &PlanInput, entries: &[Entry], goal: Goal) -> Towards {
    let mut kinds = undo_steps(input, goal);
    let mut observed_action = None;
    let mut reached = goal.phase;
    for (index, entry) in entries.iter().enumerate() {
        match entry {
            Entry::Step { milestone, kind } => {
                if step_is_due(input, entries, index, *milestone, kind, goal) {
                    kinds.push(kind.clone());
                }
            }
            Entry::Gate(kind) => {
                if guarded_step_is_due(input, entries, index, goal) {
                    kinds.push(kind.clone());
                }
            }
            Entry::Traffic => {
                let moves = match observed_traffic_move(input, goal.weight_y) {
                    Some(observed) => {
                        observed_action = Some(observed.action);
                        observed.kinds
                    }
                    None => traffic_moves(input, goal.weight_y),
                };
                let published = published_upward(input, &moves);
                kinds.extend(moves);
                if let Some(weight_y) = published {
                    reached = Phase::Serving { weight_y };
                    break;
                }
            }
        }
    }
    let steps = kinds
        .into_iter()
        .map(|kind| {
            let mut step = PlannedStep::new(kind, input);
            if let (StepKind::ShiftTraffic { .. }, Some(action)) = (&step.kind, &observed_action) {
                step.action.clone_from(action);
            }
            step
        })
        .collect();
    Towards { steps, reached }
}

/// The weight an `external` split's moves publish for Y when they go up
/// (the steps after the traffic then wait for a later apply).
fn published_upward(input: &PlanInput, moves: &[StepKind]) -> Option<TrafficWeight> {
    input.options.published_traffic.as_ref()?;
    moves.iter().rev().find_map(|kind| match kind {
        StepKind::ShiftTraffic { to_weight } if *to_weight > input.checkpoint.weight_y => {
            Some(*to_weight)
        }
        _ => None,
    })
}

/// An observed `external` split's one move of this apply, as steps, and
/// what the plan shows for it.
struct ObservedTraffic {
    kinds: Vec<StepKind>,
    action: String,
}

/// With `observe`, each apply makes the one move [`observed_move`] decides:
/// judge the gates the last apply left pending (the step is
/// `shift_traffic_to_<that weight>` when nothing is published after), then
/// publish the next weight. Going down stays the ordinary ungated move.
fn observed_traffic_move(input: &PlanInput, target: TrafficWeight) -> Option<ObservedTraffic> {
    let progression = input
        .options
        .published_traffic
        .as_ref()?
        .observed
        .as_ref()?;
    let current = input.checkpoint.weight_y;
    if target < current {
        return None;
    }
    // The traffic block refuses an invalid progression before any plan.
    let plan = plan_shift(current, target, progression, OnFailure::Rollback).ok()?;
    let mv = observed_move(&plan, progression, input.checkpoint.gates_pending_at);
    let to_weight = match (mv.publish, &mv.judge) {
        (Some(weight), _) => weight,
        (None, Some(judge)) => judge.step.weight,
        (None, None) => {
            return Some(ObservedTraffic {
                kinds: Vec::new(),
                action: String::new(),
            })
        }
    };
    let mut kinds = Vec::new();
    if current == TrafficWeight::ZERO {
        kinds.extend(first_traffic_checks(input));
    }
    kinds.push(StepKind::ShiftTraffic { to_weight });
    Some(ObservedTraffic {
        kinds,
        action: mv.to_string(),
    })
}

/// Before Y takes its first traffic: the freeze still holds, and the
/// staging tests pass when configured.
fn first_traffic_checks(input: &PlanInput) -> Vec<StepKind> {
    let mut kinds = vec![StepKind::VerifyFreeze {
        before: FreezeGate::Cutover,
    }];
    if input.options.staging_tests_configured {
        kinds.push(StepKind::StagingTests);
    }
    kinds
}

/// In-place rollback before finish: X starts again on the database it can
/// still use.
fn undo_steps(input: &PlanInput, goal: Goal) -> Vec<StepKind> {
    let x_stopped = input.is_done(&StepKind::StopClusterX { hook: None }.id());
    let finished = input.is_done(&finish_id());
    if input.strategy == Strategy::InPlace
        && goal.milestone < Milestone::Migrated
        && x_stopped
        && !finished
    {
        vec![StepKind::StartClusterX {
            hook: input.hook("start_x"),
        }]
    } else {
        Vec::new()
    }
}

pub(crate) fn finish_id() -> StepId {
    StepKind::MigrationsFinish {
        database: super::step::MigrationDatabase::Shared,
    }
    .id()
}

/// A once-only step is due when the goal reaches its phase and it has not
/// run. A `before_` hook is due only while its step still has to run; an
/// `after_` hook is due like any step (so it runs on resume, too).
fn step_is_due(
    input: &PlanInput,
    entries: &[Entry],
    index: usize,
    milestone: Milestone,
    kind: &StepKind,
    goal: Goal,
) -> bool {
    if milestone > goal.milestone || input.is_done(&kind.id()) {
        return false;
    }
    match kind {
        StepKind::RunHook { name } if name.starts_with("before_") => {
            next_real_step(entries, index).is_some_and(|(_, step)| !input.is_done(&step.id()))
        }
        _ => true,
    }
}

fn guarded_step_is_due(input: &PlanInput, entries: &[Entry], index: usize, goal: Goal) -> bool {
    next_real_step(entries, index)
        .is_some_and(|(milestone, kind)| milestone <= goal.milestone && !input.is_done(&kind.id()))
}

fn next_real_step(entries: &[Entry], index: usize) -> Option<(Milestone, &StepKind)> {
    entries.iter().skip(index + 1).find_map(real_step)
}

fn real_step(entry: &Entry) -> Option<(Milestone, &StepKind)> {
    match entry {
        Entry::Step { milestone, kind } if !entry.is_hook() => Some((*milestone, kind)),
        _ => None,
    }
}

/// Moves the weight from where it stands to `target`: up through the
/// configured traffic steps (checking the freeze and running the staging
/// tests first when Y takes its first traffic), or down in one move.
fn traffic_moves(input: &PlanInput, target: TrafficWeight) -> Vec<StepKind> {
    let current = input.checkpoint.weight_y;
    if target < current {
        return vec![if target == TrafficWeight::ZERO {
            StepKind::TrafficBackToX
        } else {
            StepKind::ShiftTraffic { to_weight: target }
        }];
    }
    if target == current {
        return Vec::new();
    }
    let mut kinds = Vec::new();
    if current == TrafficWeight::ZERO {
        kinds.extend(first_traffic_checks(input));
    }
    let intermediate = input
        .options
        .traffic_steps
        .iter()
        .filter_map(|percent| TrafficWeight::new(*percent).ok())
        .filter(|weight| *weight > current && *weight < target);
    kinds.extend(intermediate.map(|to_weight| StepKind::ShiftTraffic { to_weight }));
    kinds.push(StepKind::ShiftTraffic { to_weight: target });
    kinds
}

/// When an in-place plan takes the proxy down and brings it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowntimeWindow {
    /// The step that starts the downtime; `None` when an earlier apply
    /// already stopped X.
    pub starts_at: Option<StepId>,
    /// The step after which traffic is served again; `None` if this plan
    /// ends with the proxy still down.
    pub ends_after: Option<StepId>,
}

impl DowntimeWindow {
    pub fn describe(&self) -> String {
        let start = match &self.starts_at {
            Some(id) => format!("downtime starts with step {id}"),
            None => "downtime already started (X was stopped by an earlier apply)".to_string(),
        };
        match &self.ends_after {
            Some(id) => format!("{start} and ends after step {id}"),
            None => format!("{start} and does not end in this plan"),
        }
    }
}

pub(crate) fn downtime_window(input: &PlanInput, steps: &[PlannedStep]) -> Option<DowntimeWindow> {
    if input.strategy != Strategy::InPlace {
        return None;
    }
    let stop = steps
        .iter()
        .find(|step| matches!(step.kind, StepKind::StopClusterX { .. }));
    let already_down = input.is_done(&StepKind::StopClusterX { hook: None }.id())
        && !input.is_done(&StepKind::WaitReady.id());
    if stop.is_none() && !already_down {
        return None;
    }
    let ends_after = steps
        .iter()
        .rev()
        .find(|step| {
            matches!(
                step.kind,
                StepKind::WaitReady | StepKind::StartClusterX { .. }
            )
        })
        .map(|step| step.id.clone());
    Some(DowntimeWindow {
        starts_at: stop.map(|step| step.id.clone()),
        ends_after,
    })
}
