//! What the world proves about an upgrade this resource has no record of
//! (an import, or the guard against starting over one under way): how far
//! Y's migrations got, read against both versions' migration lists, and
//! the once-only steps that evidence proves done. Pure: the provider reads
//! `schema_meta`, Y's version and the load balancer, and passes them in.

use super::input::{Strategy, TrafficWeight};
use super::step::{BackupSource, MigrationDatabase, StepKind};
use crate::migrations::known::KnownMigrations;
use crate::migrations::state::SchemaState;

/// How far Y's migrations got on the database they run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationProgress {
    /// The database lacks some of the target's migrations.
    NotUp,
    /// Nothing separates X's schema from Y's: the database cannot tell
    /// whether the upgrade started, and `up`/`finish` have nothing to do.
    NoneNeeded,
    /// `up` ran; `finish` has not (teardowns are pending), or it would have
    /// nothing to do, so X can still use the database.
    Up,
    /// `up` and `finish` ran: the upgrade's teardowns are executed.
    Finished,
}

impl MigrationProgress {
    /// `kong migrations up` has run on that database.
    pub fn up_ran(self) -> bool {
        matches!(self, MigrationProgress::Up | MigrationProgress::Finished)
    }
}

/// Reads `state` (classified against the target's migrations `to`).
/// `from` is what X's code knows; `None` when unknown, in which case a
/// database without pending migrations counts as finished — the answer
/// that refuses a rollback rather than allowing an impossible one.
pub fn migration_progress(
    state: &SchemaState,
    to: &KnownMigrations,
    from: Option<&KnownMigrations>,
) -> MigrationProgress {
    if state.needs_bootstrap || state.has_new() {
        return MigrationProgress::NotUp;
    }
    let Some(from) = from else {
        return if state.has_pending() {
            MigrationProgress::Up
        } else {
            MigrationProgress::Finished
        };
    };
    let added: Vec<_> = to
        .subsystems
        .iter()
        .flat_map(|s| s.migrations.iter().map(move |m| (s.name.as_str(), m)))
        .filter(|(subsystem, m)| !from.knows(subsystem, &m.name))
        .collect();
    if added.is_empty() {
        MigrationProgress::NoneNeeded
    } else if state.has_pending() {
        MigrationProgress::Up
    } else if added.iter().any(|(_, m)| m.has_teardown != Some(false)) {
        MigrationProgress::Finished
    } else {
        MigrationProgress::Up
    }
}

/// What the world says about an imported upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// `None` without a database (DB-less nodes, data planes).
    pub migrations: Option<MigrationProgress>,
    /// Dual-cluster: the new database holds a Kong schema.
    pub new_database_restored: bool,
    pub y_runs_target: bool,
    pub weight_y: TrafficWeight,
}

/// The once-only steps the evidence proves done.
pub fn inferred_steps(
    strategy: Strategy,
    has_database: bool,
    evidence: &Evidence,
) -> Vec<StepKind> {
    let which = match strategy {
        Strategy::DualCluster => MigrationDatabase::New,
        _ => MigrationDatabase::Shared,
    };
    let migrations = evidence.migrations;
    let began = migrations.is_some_and(MigrationProgress::up_ran)
        || evidence.new_database_restored
        || evidence.weight_y != TrafficWeight::ZERO;
    let mut steps = Vec::new();
    if began {
        // The backup cannot be found again, but it was due before anything
        // above happened; the freeze is re-recorded (see the module docs).
        steps.push(StepKind::Backup {
            source: if has_database {
                BackupSource::Database
            } else {
                BackupSource::DeclarativeConfig
            },
        });
    }
    if evidence.new_database_restored {
        steps.push(StepKind::RestoreIntoNewDatabase);
    }
    if migrations.is_some_and(|m| m.up_ran() || m == MigrationProgress::NoneNeeded) {
        steps.push(StepKind::MigrationsUp { database: which });
    }
    if migrations == Some(MigrationProgress::Finished) {
        steps.push(StepKind::MigrationsFinish { database: which });
    }
    if evidence.y_runs_target {
        steps.push(StepKind::StartClusterY { hook: None });
        steps.push(StepKind::WaitReady);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::fixtures::known;
    use crate::migrations::state::SubsystemState;

    fn state(needs_bootstrap: bool, pending: &[&str], new: &[&str]) -> SchemaState {
        SchemaState {
            kong_version: "3.6.1".into(),
            needs_bootstrap,
            subsystems: vec![SubsystemState {
                subsystem: "core".into(),
                pending: pending.iter().map(|s| s.to_string()).collect(),
                new: new.iter().map(|s| s.to_string()).collect(),
                ..SubsystemState::default()
            }],
            unknown_subsystems: Vec::new(),
            unlisted_pending: Vec::new(),
        }
    }

    #[test]
    fn migration_progress_reads_schema_meta_against_both_versions() {
        use MigrationProgress::*;
        let from = known("3.5.0", &[("core", "000_base 021")]);
        let with_teardown = known("3.6.1", &[("core", "000_base 021 022*")]);
        let without_teardown = known("3.6.1", &[("core", "000_base 021 022")]);
        let patch = known("3.5.1", &[("core", "000_base 021")]);
        let rows: &[(
            &str,
            SchemaState,
            &KnownMigrations,
            Option<&KnownMigrations>,
            MigrationProgress,
        )] = &[
            (
                "fresh database",
                state(true, &[], &[]),
                &with_teardown,
                Some(&from),
                NotUp,
            ),
            (
                "before up",
                state(false, &[], &["022"]),
                &with_teardown,
                Some(&from),
                NotUp,
            ),
            (
                "after up",
                state(false, &["022"], &[]),
                &with_teardown,
                Some(&from),
                Up,
            ),
            (
                "after finish",
                state(false, &[], &[]),
                &with_teardown,
                Some(&from),
                Finished,
            ),
            (
                "finish had nothing to do",
                state(false, &[], &[]),
                &without_teardown,
                Some(&from),
                Up,
            ),
            (
                "patch without migrations",
                state(false, &[], &[]),
                &patch,
                Some(&from),
                NoneNeeded,
            ),
            (
                "X unknown, pending",
                state(false, &["022"], &[]),
                &with_teardown,
                None,
                Up,
            ),
            (
                "X unknown, nothing pending",
                state(false, &[], &[]),
                &with_teardown,
                None,
                Finished,
            ),
        ];
        for (name, state, to, from, expected) in rows {
            assert_eq!(migration_progress(state, to, *from), *expected, "{name}");
        }
    }

    fn ids(steps: Vec<StepKind>) -> Vec<String> {
        steps.iter().map(|s| s.id().to_string()).collect()
    }

    #[test]
    fn only_what_the_world_proves_is_inferred_done() {
        use MigrationProgress::*;
        let evidence = |migrations, restored, y, weight: i64| Evidence {
            migrations,
            new_database_restored: restored,
            y_runs_target: y,
            weight_y: TrafficWeight::new(weight).unwrap(),
        };
        let rows: &[(&str, Strategy, bool, Evidence, &[&str])] = &[
            (
                "nothing done",
                Strategy::BlueGreen,
                true,
                evidence(Some(NotUp), false, false, 0),
                &[],
            ),
            (
                "migrated, Y ready",
                Strategy::BlueGreen,
                true,
                evidence(Some(Up), false, true, 0),
                &["backup", "migrations_up", "start_y", "wait_ready_y"],
            ),
            (
                "finished",
                Strategy::BlueGreen,
                true,
                evidence(Some(Finished), false, true, 100),
                &[
                    "backup",
                    "migrations_up",
                    "migrations_finish",
                    "start_y",
                    "wait_ready_y",
                ],
            ),
            (
                "a patch: Y running proves nothing about the preparation",
                Strategy::BlueGreen,
                true,
                evidence(Some(NoneNeeded), false, true, 0),
                &["migrations_up", "start_y", "wait_ready_y"],
            ),
            (
                "a patch serving on Y",
                Strategy::BlueGreen,
                true,
                evidence(Some(NoneNeeded), false, true, 30),
                &["backup", "migrations_up", "start_y", "wait_ready_y"],
            ),
            (
                "dual-cluster restored, not migrated",
                Strategy::DualCluster,
                true,
                evidence(Some(NotUp), true, false, 0),
                &["backup", "restore_new_database"],
            ),
            (
                "dual-cluster migrated and finished on the new database",
                Strategy::DualCluster,
                true,
                evidence(Some(Finished), true, true, 0),
                &[
                    "backup",
                    "restore_new_database",
                    "migrations_up",
                    "migrations_finish",
                    "start_y",
                    "wait_ready_y",
                ],
            ),
            (
                "rolling, Y started only",
                Strategy::Rolling,
                false,
                evidence(None, false, true, 0),
                &["start_y", "wait_ready_y"],
            ),
            (
                "rolling with traffic on Y",
                Strategy::Rolling,
                false,
                evidence(None, false, true, 20),
                &["backup", "start_y", "wait_ready_y"],
            ),
        ];
        for (name, strategy, has_database, evidence, expected) in rows {
            assert_eq!(
                ids(inferred_steps(*strategy, *has_database, evidence)),
                *expected,
                "{name}"
            );
        }
    }

    #[test]
    fn the_freeze_is_never_inferred() {
        let everything = Evidence {
            migrations: Some(MigrationProgress::Finished),
            new_database_restored: false,
            y_runs_target: true,
            weight_y: TrafficWeight::FULL,
        };
        let steps = ids(inferred_steps(Strategy::BlueGreen, true, &everything));
        assert!(!steps.contains(&"freeze".to_string()), "{steps:?}");
    }
}
