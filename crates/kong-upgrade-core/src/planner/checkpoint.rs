//! What has been done so far, as stored in Terraform state, and how a
//! finished step changes it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::input::{Phase, PlanInput, TrafficWeight};
use super::runbook::{Entry, Milestone};
use super::step::{Recurrence, StepId, StepKind};

/// The checkpoint: once-only steps completed, where traffic stands, and
/// where the backup went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub completed: BTreeSet<StepId>,
    pub weight_y: TrafficWeight,
    pub backup_location: Option<String>,
}

impl Checkpoint {
    pub fn is_done(&self, id: &StepId) -> bool {
        self.completed.contains(id)
    }

    /// Records that a step of this kind ran to completion. The executor
    /// calls this after every step and persists the result before running
    /// the next one.
    pub fn record(&mut self, kind: &StepKind) {
        match kind {
            StepKind::ShiftTraffic { to_weight } => {
                self.weight_y = *to_weight;
                if *to_weight < TrafficWeight::FULL {
                    self.forget(&StepKind::ConfirmCutover.id());
                }
            }
            StepKind::TrafficBackToX => {
                self.weight_y = TrafficWeight::ZERO;
                self.forget(&StepKind::ConfirmCutover.id());
            }
            StepKind::StartClusterX { .. } => {
                self.forget(&StepKind::StopClusterX { hook: None }.id());
            }
            kind if kind.recurrence() == Recurrence::Gate => {}
            _ => {
                self.completed.insert(kind.id());
            }
        }
    }

    /// Forgets an undone step together with the hooks that ran around it,
    /// so that going forward again runs them all again.
    fn forget(&mut self, id: &StepId) {
        self.completed.remove(id);
        for when in ["before", "after"] {
            self.completed.remove(
                &StepKind::RunHook {
                    name: format!("{when}_{id}"),
                }
                .id(),
            );
        }
    }
}

/// The phase the checkpoint has reached, for the provider's `phase`.
pub(crate) fn reached_phase(input: &PlanInput, entries: &[Entry]) -> Phase {
    let done_through = |milestone: Milestone| {
        entries.iter().all(|entry| match entry {
            Entry::Step { milestone: m, kind } if *m == milestone && !entry.is_hook() => {
                input.is_done(&kind.id())
            }
            _ => true,
        })
    };
    if !done_through(Milestone::Prepared) {
        return Phase::NotStarted;
    }
    if !done_through(Milestone::Migrated) {
        return Phase::Prepared;
    }
    // In-place has no step of its own in `finished`: it finishes inside its
    // downtime window, so once Y runs the upgrade is finished.
    if done_through(Milestone::Finished) {
        return if done_through(Milestone::Completed) {
            Phase::Completed
        } else {
            Phase::Finished
        };
    }
    match input.checkpoint.weight_y {
        TrafficWeight::ZERO => Phase::Migrated,
        weight_y => Phase::Serving { weight_y },
    }
}

/// Whether anything beyond preparation happened: a step past `prepared`,
/// or traffic on Y.
pub(crate) fn beyond_prepared(input: &PlanInput, entries: &[Entry]) -> bool {
    let prepared: BTreeSet<StepId> = entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Step {
                milestone: Milestone::Prepared,
                kind,
            } => Some(kind.id()),
            _ => None,
        })
        .collect();
    input.checkpoint.weight_y != TrafficWeight::ZERO
        || input
            .checkpoint
            .completed
            .iter()
            .any(|id| !prepared.contains(id))
}
