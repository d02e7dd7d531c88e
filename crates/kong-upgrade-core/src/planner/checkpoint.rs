//! What has been done so far, as stored in Terraform state, and how a
//! finished step changes it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::input::{Phase, PlanInput, TrafficWeight};
use super::runbook::{Entry, Milestone};
use super::step::{MigrationDatabase, Recurrence, StepId, StepKind};

/// The checkpoint: once-only steps completed, where traffic stands, and
/// where the backup went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub completed: BTreeSet<StepId>,
    pub weight_y: TrafficWeight,
    pub backup_location: Option<String>,
    /// With an observed `external` split: the weight the last apply
    /// published whose gates the next apply judges, once the load balancer
    /// is observed carrying it. Absent in states written before it existed:
    /// nothing pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates_pending_at: Option<TrafficWeight>,
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
                // Going down is never gated: what was pending is moot. Going
                // up, the executor of an observed move sets what is pending.
                if *to_weight < self.weight_y {
                    self.gates_pending_at = None;
                }
                self.weight_y = *to_weight;
                if *to_weight < TrafficWeight::FULL {
                    self.forget(&StepKind::ConfirmCutover.id());
                }
            }
            StepKind::TrafficBackToX => {
                self.weight_y = TrafficWeight::ZERO;
                self.gates_pending_at = None;
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

    /// Cluster X may no longer answer: a step that stops or retires it has
    /// run, or `migrations finish` removed what X's version needs. The
    /// facts recorded at an earlier plan then stand for X's.
    pub fn x_may_be_gone(&self) -> bool {
        [
            StepKind::StopClusterX { hook: None },
            StepKind::DecommissionX { hook: None },
            StepKind::MigrationsFinish {
                database: MigrationDatabase::Shared,
            },
        ]
        .iter()
        .any(|kind| self.is_done(&kind.id()))
    }

    /// Signs only an upgrade in progress leaves: Y on the target version, a
    /// restored new database, `up` run but not finished, traffic on Y. (A
    /// database with nothing new to run is not one: it may just be ahead.)
    /// `kong_upgrade` refuses to start over an upgrade that shows them.
    pub fn shows_upgrade_in_progress(&self) -> bool {
        let done = |kind: StepKind| self.is_done(&kind.id());
        let up_pending_finish = [MigrationDatabase::Shared, MigrationDatabase::New]
            .into_iter()
            .any(|database| {
                done(StepKind::MigrationsUp { database })
                    && !done(StepKind::MigrationsFinish { database })
            });
        done(StepKind::StartClusterY { hook: None })
            || done(StepKind::RestoreIntoNewDatabase)
            || up_pending_finish
            || self.weight_y != TrafficWeight::ZERO
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

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(kinds: &[StepKind], weight_y: i64) -> Checkpoint {
        Checkpoint {
            completed: kinds.iter().map(StepKind::id).collect(),
            weight_y: TrafficWeight::new(weight_y).unwrap(),
            backup_location: None,
            gates_pending_at: None,
        }
    }

    #[test]
    fn only_signs_of_an_upgrade_in_progress_count() {
        let shared = MigrationDatabase::Shared;
        let new = MigrationDatabase::New;
        let up = |database| StepKind::MigrationsUp { database };
        let finish = |database| StepKind::MigrationsFinish { database };
        let y = StepKind::StartClusterY { hook: None };
        let cases: &[(&[StepKind], i64, bool)] = &[
            // Nothing, or a database with nothing new to run (it may be ahead).
            (&[], 0, false),
            (&[up(shared), finish(shared)], 0, false),
            (&[StepKind::StopClusterX { hook: None }], 0, false),
            // `up` ran and awaits finish (either database); Y runs the
            // target; a restored new database; traffic on Y.
            (&[up(shared)], 0, true),
            (&[up(new)], 0, true),
            (&[y], 0, true),
            (&[], 10, true),
            (&[StepKind::RestoreIntoNewDatabase], 0, true),
        ];
        for (done, weight_y, expected) in cases {
            assert_eq!(
                seen(done, *weight_y).shows_upgrade_in_progress(),
                *expected,
                "{done:?} at {weight_y}%"
            );
        }
    }

    #[test]
    fn x_may_be_gone_once_stopped_retired_or_finished() {
        let cases: &[(StepKind, bool)] = &[
            (StepKind::StopClusterX { hook: None }, true),
            (StepKind::DecommissionX { hook: None }, true),
            (
                StepKind::MigrationsFinish {
                    database: MigrationDatabase::Shared,
                },
                true,
            ),
            // The id names the step, whatever its database.
            (
                StepKind::MigrationsFinish {
                    database: MigrationDatabase::New,
                },
                true,
            ),
            (
                StepKind::MigrationsUp {
                    database: MigrationDatabase::Shared,
                },
                false,
            ),
            (StepKind::StartClusterY { hook: None }, false),
            (StepKind::WaitReady, false),
        ];
        for (kind, expected) in cases {
            assert_eq!(
                seen(std::slice::from_ref(kind), 0).x_may_be_gone(),
                *expected,
                "{kind:?}"
            );
        }
        assert!(!seen(&[], 100).x_may_be_gone());
    }
}
