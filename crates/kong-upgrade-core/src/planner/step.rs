//! Upgrade steps: what the next apply will do, each with a stable id that
//! the provider uses as its checkpoint key in state.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::{PlanInput, Strategy, TrafficWeight};

/// Stable name of a step, e.g. `migrations_finish` or `shift_traffic_to_50`.
/// Stored in Terraform state: never rename an existing id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(String);

impl StepId {
    pub fn new(id: impl Into<String>) -> Self {
        StepId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the freeze fingerprint covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreezeScope {
    /// Every core entity collection of X's Admin API.
    AdminApi,
    /// The declarative configuration of DB-less nodes / data planes.
    DeclarativeConfig,
}

/// The moment a freeze verification guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreezeGate {
    /// Before Y first takes traffic (weight leaves 0).
    Cutover,
    /// Before X is stopped (in-place: the last moment an Admin API is up).
    StopX,
    /// Before the upgrade is finished.
    Finish,
    /// Before X is decommissioned.
    Decommission,
}

impl FreezeGate {
    fn as_str(self) -> &'static str {
        match self {
            FreezeGate::Cutover => "cutover",
            FreezeGate::StopX => "stop_x",
            FreezeGate::Finish => "finish",
            FreezeGate::Decommission => "decommission",
        }
    }
}

/// What the backup copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupSource {
    /// `pg_dump` (custom format) of the Kong database.
    Database,
    /// The declarative `kong.yml`.
    DeclarativeConfig,
}

/// Which database a migration step runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationDatabase {
    /// X's own database (in-place, blue-green).
    Shared,
    /// The new database restored from the backup (dual-cluster).
    New,
}

/// One kind of upgrade step.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    RecordFreeze { scope: FreezeScope },
    VerifyFreeze { before: FreezeGate },
    Backup { source: BackupSource },
    RestoreIntoNewDatabase,
    RunHook { name: String },
    StopClusterX { hook: Option<String> },
    StartClusterX { hook: Option<String> },
    MigrationsUp { database: MigrationDatabase },
    MigrationsFinish { database: MigrationDatabase },
    StartClusterY { hook: Option<String> },
    WaitReady,
    StagingTests,
    ShiftTraffic { to_weight: TrafficWeight },
    TrafficBackToX,
    ConfirmCutover,
    DecommissionX { hook: Option<String> },
    Complete,
}

/// How the checkpoint treats a step once it has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurrence {
    /// Recorded as done and never planned again.
    Once,
    /// A check re-run whenever the step it guards is planned.
    Gate,
    /// Moves the traffic weight; planned whenever the weight must change.
    Traffic,
    /// Undoes an earlier once-only step (rollback).
    Undo,
}

impl StepKind {
    pub fn id(&self) -> StepId {
        StepId(match self {
            StepKind::RecordFreeze { .. } => "freeze".into(),
            StepKind::VerifyFreeze { before } => {
                format!("verify_freeze_before_{}", before.as_str())
            }
            StepKind::Backup { .. } => "backup".into(),
            StepKind::RestoreIntoNewDatabase => "restore_new_database".into(),
            StepKind::RunHook { name } => format!("hook_{name}"),
            StepKind::StopClusterX { .. } => "stop_x".into(),
            StepKind::StartClusterX { .. } => "start_x".into(),
            StepKind::MigrationsUp { .. } => "migrations_up".into(),
            StepKind::MigrationsFinish { .. } => "migrations_finish".into(),
            StepKind::StartClusterY { .. } => "start_y".into(),
            StepKind::WaitReady => "wait_ready_y".into(),
            StepKind::StagingTests => "staging_tests".into(),
            StepKind::ShiftTraffic { to_weight } => {
                format!("shift_traffic_to_{}", to_weight.percent())
            }
            StepKind::TrafficBackToX => "traffic_back_to_x".into(),
            StepKind::ConfirmCutover => "cutover_confirmed".into(),
            StepKind::DecommissionX { .. } => "decommission_x".into(),
            StepKind::Complete => "complete".into(),
        })
    }

    pub fn recurrence(&self) -> Recurrence {
        match self {
            StepKind::VerifyFreeze { .. } | StepKind::StagingTests => Recurrence::Gate,
            StepKind::ShiftTraffic { .. } | StepKind::TrafficBackToX => Recurrence::Traffic,
            StepKind::StartClusterX { .. } => Recurrence::Undo,
            _ => Recurrence::Once,
        }
    }

    /// Destroys something that cannot be rebuilt by re-running the step:
    /// such steps are never repeated.
    pub fn destructive(&self) -> bool {
        matches!(
            self,
            StepKind::StopClusterX { .. }
                | StepKind::MigrationsFinish { .. }
                | StepKind::RestoreIntoNewDatabase
                | StepKind::DecommissionX { .. }
        )
    }

    /// Whether all traffic can still go back to X after this step.
    pub fn reversible(&self) -> bool {
        !matches!(
            self,
            StepKind::MigrationsFinish {
                database: MigrationDatabase::Shared
            } | StepKind::DecommissionX { .. }
                | StepKind::Complete
        )
    }

    /// One human line for the plan output.
    pub fn describe(&self) -> String {
        match self {
            StepKind::RecordFreeze {
                scope: FreezeScope::AdminApi,
            } => "freeze configuration writes: record a fingerprint of X's Admin API configuration"
                .into(),
            StepKind::RecordFreeze {
                scope: FreezeScope::DeclarativeConfig,
            } => "stop configuration updates: record the hash of the declarative configuration"
                .into(),
            StepKind::VerifyFreeze { before } => format!(
                "verify the configuration is unchanged since the freeze (before {})",
                gate_phrase(*before)
            ),
            StepKind::Backup {
                source: BackupSource::Database,
            } => "back up the Kong database (pg_dump, custom format)".into(),
            StepKind::Backup {
                source: BackupSource::DeclarativeConfig,
            } => "back up the declarative configuration (kong.yml)".into(),
            StepKind::RestoreIntoNewDatabase => "restore the backup into the new database".into(),
            StepKind::RunHook { name } => format!("run hook {name:?}"),
            StepKind::StopClusterX { hook } => format!(
                "{} (downtime starts)",
                by_hook_or_wait(hook, "stop cluster X", "wait until cluster X is stopped")
            ),
            StepKind::StartClusterX { hook } => format!(
                "{} (rollback)",
                by_hook_or_wait(
                    hook,
                    "start cluster X again",
                    "wait until cluster X runs again"
                )
            ),
            StepKind::MigrationsUp { database } => format!(
                "run `kong migrations up` on the {}",
                database_phrase(*database)
            ),
            StepKind::MigrationsFinish { database } => format!(
                "run `kong migrations finish` on the {}",
                database_phrase(*database)
            ),
            StepKind::StartClusterY { hook } => {
                by_hook_or_wait(hook, "start cluster Y", "wait until cluster Y is started")
            }
            StepKind::WaitReady => {
                "wait until every node of Y is ready and reports the target version".into()
            }
            StepKind::StagingTests => {
                "run the staging tests against X and Y and compare the responses".into()
            }
            StepKind::ShiftTraffic { to_weight } => format!("send {to_weight} of traffic to Y"),
            StepKind::TrafficBackToX => "send all traffic back to X (rollback)".into(),
            StepKind::ConfirmCutover => {
                "confirm the cutover: all traffic on Y, X kept for rollback until decommissioned"
                    .into()
            }
            StepKind::DecommissionX { hook } => by_hook_or_wait(
                hook,
                "decommission cluster X",
                "wait until cluster X is decommissioned",
            ),
            StepKind::Complete => {
                "mark the upgrade complete: configuration writes may resume".into()
            }
        }
    }
}

fn gate_phrase(gate: FreezeGate) -> &'static str {
    match gate {
        FreezeGate::Cutover => "Y takes traffic",
        FreezeGate::StopX => "X is stopped",
        FreezeGate::Finish => "finishing",
        FreezeGate::Decommission => "X is decommissioned",
    }
}

fn database_phrase(database: MigrationDatabase) -> &'static str {
    match database {
        MigrationDatabase::Shared => "shared database",
        MigrationDatabase::New => "new database",
    }
}

fn by_hook_or_wait(hook: &Option<String>, action: &str, wait: &str) -> String {
    match hook {
        Some(name) => format!("{action} (hook {name:?})"),
        None => format!("{wait} (no hook: done outside the provider)"),
    }
}

/// A step in a plan, with what it does and the reason it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub id: StepId,
    pub kind: StepKind,
    /// One human line for the plan output: [`StepKind::describe`], unless
    /// the input changes what the step does (a traffic step verifies a
    /// `kong_traffic_split` it does not own).
    pub action: String,
    pub why: String,
    pub destructive: bool,
    pub reversible: bool,
}

impl PlannedStep {
    pub(crate) fn new(kind: StepKind, input: &PlanInput) -> Self {
        let (action, why) = match (
            input.options.traffic_owned_by_split,
            verified_split_weight(&kind),
        ) {
            (true, Some(weight)) => split_verification(weight),
            (true, None) if guards_first_traffic(&kind) => {
                (kind.describe(), split_first_traffic_why(&kind))
            }
            _ => (kind.describe(), why(&kind, input.strategy)),
        };
        PlannedStep {
            id: kind.id(),
            action,
            why,
            destructive: kind.destructive(),
            reversible: kind.reversible(),
            kind,
        }
    }

    pub fn describe(&self) -> String {
        self.action.clone()
    }
}

/// The weight a traffic step checks when a `kong_traffic_split` owns the
/// weights.
fn verified_split_weight(kind: &StepKind) -> Option<TrafficWeight> {
    match kind {
        StepKind::ShiftTraffic { to_weight } => Some(*to_weight),
        StepKind::TrafficBackToX => Some(TrafficWeight::ZERO),
        _ => None,
    }
}

fn guards_first_traffic(kind: &StepKind) -> bool {
    matches!(
        kind,
        StepKind::StagingTests
            | StepKind::VerifyFreeze {
                before: FreezeGate::Cutover
            }
    )
}

/// Terraform applies a referenced `kong_traffic_split` before the upgrade,
/// so the checks that guard Y's first traffic run once the split sent it.
fn split_first_traffic_why(kind: &StepKind) -> String {
    let check = match kind {
        StepKind::StagingTests => "the staging tests run",
        _ => "the freeze is verified",
    };
    format!(
        "{check} before the upgrade goes on, but the kong_traffic_split (applied first) has already sent Y its first traffic: \
         a failure stops the upgrade before finish, and only setting the split's weight_y = 0 moves traffic back to X"
    )
}

fn split_verification(weight: TrafficWeight) -> (String, String) {
    if weight == TrafficWeight::ZERO {
        return (
            "verify that the kong_traffic_split (traffic_split_id) sends all traffic back to X (rollback)".into(),
            "rollback: X takes all traffic again; the upgrade does not write weights it does not own, so set the split's weight_y = 0".into(),
        );
    }
    (
        format!("verify that the kong_traffic_split (traffic_split_id) gives Y {weight} of traffic"),
        format!(
            "the kong_traffic_split owns the weights and Terraform applies it first: the upgrade moves no traffic and goes on only once Y has {weight}"
        ),
    )
}

impl fmt::Display for PlannedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Why a step is in the plan: the runbook reason, in one sentence.
fn why(kind: &StepKind, strategy: Strategy) -> String {
    let text = match kind {
        StepKind::RecordFreeze { .. } => {
            "X and Y must see the same configuration: writes made during the upgrade would be lost or diverge"
        }
        StepKind::VerifyFreeze { before: FreezeGate::StopX } => {
            "the backup must hold the final configuration, and no Admin API runs once X is stopped"
        }
        StepKind::VerifyFreeze { before: FreezeGate::Cutover } => {
            "Y must serve the configuration that was frozen and backed up"
        }
        StepKind::VerifyFreeze { before: FreezeGate::Finish } => match strategy {
            Strategy::BlueGreen => {
                "after finish there is no way back to X: a write made during the window must stop the upgrade first"
            }
            _ => "a write made during the window would be missing on Y",
        },
        StepKind::VerifyFreeze { before: FreezeGate::Decommission } => {
            "once X is gone, a write that only X's side saw is lost"
        }
        StepKind::Backup { .. } => {
            "kong migrations cannot be reversed: restoring the backup is the only way back"
        }
        StepKind::RestoreIntoNewDatabase => {
            "dual-cluster gives Y its own copy of X's data; X's database is never touched"
        }
        StepKind::RunHook { .. } => "a hook is configured for this point",
        StepKind::StopClusterX { .. } => {
            "in-place reuses the database: X must stop before Y's migrations finish"
        }
        StepKind::StartClusterX { .. } => {
            "rollback before finish: the database is still usable by X"
        }
        StepKind::MigrationsUp { database: MigrationDatabase::Shared } => {
            "Y needs its schema; `up` keeps the database usable by X"
        }
        StepKind::MigrationsUp { database: MigrationDatabase::New } => {
            "Y runs its migrations on its own database"
        }
        StepKind::MigrationsFinish { database: MigrationDatabase::Shared } => match strategy {
            Strategy::InPlace => "completes the schema while no node runs",
            _ => "completes the schema once Y is verified; X can no longer use the database afterwards",
        },
        StepKind::MigrationsFinish { database: MigrationDatabase::New } => {
            "completes Y's schema on the new database; X's database is unaffected"
        }
        StepKind::StartClusterY { .. } => "Y must run before it can be checked and take traffic",
        StepKind::WaitReady => "Y takes traffic only when every node is ready on the target version",
        StepKind::StagingTests => "exercise Y with the same requests as X before it takes traffic",
        StepKind::ShiftTraffic { .. } => "move traffic gradually so a problem hits few requests",
        StepKind::TrafficBackToX => "rollback: X takes all traffic again",
        StepKind::ConfirmCutover => {
            "records that all traffic is on Y and the freeze held; X stays for rollback"
        }
        StepKind::DecommissionX { .. } => "X is no longer needed once Y serves everything",
        StepKind::Complete => "the upgrade window closes",
    };
    text.to_string()
}
