//! Kong's four runbooks (https://developer.konghq.com/gateway/upgrade/: in-place, blue-green, dual-cluster, rolling) as ordered entries.
//! The planner walks these: it never invents an order of its own.

use super::input::{PlanInput, Strategy};
use super::step::{BackupSource, FreezeGate, FreezeScope, MigrationDatabase, StepKind};

/// The phase a once-only step belongs to: `target_phase` at or beyond it
/// means the step must have run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Milestone {
    Prepared,
    Migrated,
    Serving,
    Finished,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A once-only step.
    Step {
        milestone: Milestone,
        kind: StepKind,
    },
    /// A check that runs right before the next (non-hook) step, whenever
    /// that step is planned.
    Gate(StepKind),
    /// Where traffic moves: the weight converges on what the target asks.
    Traffic,
}

impl Entry {
    fn step(milestone: Milestone, kind: StepKind) -> Entry {
        Entry::Step { milestone, kind }
    }

    pub(crate) fn is_hook(&self) -> bool {
        matches!(
            self,
            Entry::Step {
                kind: StepKind::RunHook { .. },
                ..
            }
        )
    }
}

/// The strategy's entries in runbook order, with the configured hooks.
pub(crate) fn runbook(input: &PlanInput) -> Vec<Entry> {
    with_around_hooks(base_runbook(input), input)
}

fn base_runbook(input: &PlanInput) -> Vec<Entry> {
    use Milestone::*;
    let hook = |name: &str| input.hook(name);
    let freeze_admin = StepKind::RecordFreeze {
        scope: FreezeScope::AdminApi,
    };
    let backup_db = StepKind::Backup {
        source: BackupSource::Database,
    };
    let mut entries = match input.strategy {
        Strategy::InPlace => vec![
            Entry::step(Prepared, freeze_admin),
            Entry::step(Prepared, backup_db),
            Entry::Gate(StepKind::VerifyFreeze {
                before: FreezeGate::StopX,
            }),
            Entry::step(
                Migrated,
                StepKind::StopClusterX {
                    hook: hook("stop_x"),
                },
            ),
            Entry::step(Migrated, up(MigrationDatabase::Shared)),
            Entry::step(Migrated, finish(MigrationDatabase::Shared)),
            Entry::step(
                Migrated,
                StepKind::StartClusterY {
                    hook: hook("start_y"),
                },
            ),
            Entry::step(Migrated, StepKind::WaitReady),
            Entry::step(Completed, decommission(input)),
            Entry::step(Completed, StepKind::Complete),
        ],
        Strategy::BlueGreen => vec![
            Entry::step(Prepared, freeze_admin),
            Entry::step(Prepared, backup_db),
            Entry::step(Migrated, up(MigrationDatabase::Shared)),
            Entry::step(
                Migrated,
                StepKind::StartClusterY {
                    hook: hook("start_y"),
                },
            ),
            Entry::step(Migrated, StepKind::WaitReady),
            Entry::Traffic,
            Entry::Gate(verify_before(FreezeGate::Finish)),
            Entry::step(Finished, finish(MigrationDatabase::Shared)),
            Entry::step(Completed, decommission(input)),
            Entry::step(Completed, StepKind::Complete),
        ],
        Strategy::DualCluster => vec![
            Entry::step(Prepared, freeze_admin),
            Entry::step(Prepared, backup_db),
            Entry::step(Migrated, StepKind::RestoreIntoNewDatabase),
            Entry::step(Migrated, up(MigrationDatabase::New)),
            Entry::step(Migrated, finish(MigrationDatabase::New)),
            Entry::step(
                Migrated,
                StepKind::StartClusterY {
                    hook: hook("start_y"),
                },
            ),
            Entry::step(Migrated, StepKind::WaitReady),
            Entry::Traffic,
            Entry::Gate(verify_before(FreezeGate::Finish)),
            Entry::step(Finished, StepKind::ConfirmCutover),
            Entry::Gate(verify_before(FreezeGate::Decommission)),
            Entry::step(Completed, decommission(input)),
            Entry::step(Completed, StepKind::Complete),
        ],
        Strategy::Rolling => vec![
            Entry::step(
                Prepared,
                StepKind::RecordFreeze {
                    scope: FreezeScope::DeclarativeConfig,
                },
            ),
            Entry::step(
                Prepared,
                StepKind::Backup {
                    source: BackupSource::DeclarativeConfig,
                },
            ),
            Entry::step(
                Migrated,
                StepKind::StartClusterY {
                    hook: hook("start_y"),
                },
            ),
            Entry::step(Migrated, StepKind::WaitReady),
            Entry::Traffic,
            Entry::Gate(verify_before(FreezeGate::Finish)),
            Entry::step(Finished, StepKind::ConfirmCutover),
            Entry::Gate(verify_before(FreezeGate::Decommission)),
            Entry::step(Completed, decommission(input)),
            Entry::step(Completed, StepKind::Complete),
        ],
    };
    if !input.options.backup_enabled {
        entries.retain(|entry| {
            !matches!(
                entry,
                Entry::Step {
                    kind: StepKind::Backup { .. },
                    ..
                }
            )
        });
    }
    entries
}

fn up(database: MigrationDatabase) -> StepKind {
    StepKind::MigrationsUp { database }
}

fn finish(database: MigrationDatabase) -> StepKind {
    StepKind::MigrationsFinish { database }
}

fn verify_before(before: FreezeGate) -> StepKind {
    StepKind::VerifyFreeze { before }
}

fn decommission(input: &PlanInput) -> StepKind {
    StepKind::DecommissionX {
        hook: input.hook("decommission_x"),
    }
}

/// Inserts `before_<id>` / `after_<id>` hooks around the steps they name.
fn with_around_hooks(entries: Vec<Entry>, input: &PlanInput) -> Vec<Entry> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let Entry::Step { milestone, kind } = &entry else {
            out.push(entry);
            continue;
        };
        let (milestone, id) = (*milestone, kind.id());
        let around = |when: &str| {
            let name = format!("{when}_{id}");
            if input.options.hooks.contains(&name) {
                Some(Entry::Step {
                    milestone,
                    kind: StepKind::RunHook { name },
                })
            } else {
                None
            }
        };
        let (before, after) = (around("before"), around("after"));
        out.extend(before);
        out.push(entry);
        out.extend(after);
    }
    out
}

/// Hook names this strategy accepts, for the `unknown_hook` rule.
pub(crate) fn known_hooks(input: &PlanInput) -> Vec<String> {
    let mut names: Vec<String> = match input.strategy {
        Strategy::InPlace => vec!["stop_x".into(), "start_x".into(), "start_y".into()],
        _ => vec!["start_y".into()],
    };
    names.push("decommission_x".into());
    for entry in base_runbook(input) {
        if let Entry::Step { kind, .. } = entry {
            names.push(format!("before_{}", kind.id()));
            names.push(format!("after_{}", kind.id()));
        }
    }
    names
}
