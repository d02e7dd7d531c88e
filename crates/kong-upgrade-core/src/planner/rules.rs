//! The rules a plan must satisfy. Each rule is a small function that adds
//! errors or warnings; [`STATIC_RULES`] lists those that depend on the
//! inputs alone, the others look at the phase change and the steps.

use crate::version::{Edition, KongVersion};

use super::findings::{ErrorCode, Field, Findings, PlanError, WarningCode};
use super::input::{Database, Phase, PlanInput, Role, Strategy, TargetPhase};
use super::path::{upgrade_path, PathAnswer, PathKind, FIRST_ENTERPRISE_ONLY};
use super::runbook::known_hooks;
use super::sequence::{finish_id, Goal};
use super::step::{FreezeGate, PlannedStep, StepKind};

type Rule = fn(&PlanInput, &mut Findings);

/// Rules that look at the inputs only, in the order their findings appear.
pub(crate) const STATIC_RULES: &[Rule] = &[
    upgrade_path_rule,
    enterprise_only_target,
    cassandra_before_3x,
    strategy_fits_deployment,
    data_plane_skew,
    control_plane_leaves_data_planes,
    blue_green_limits,
    in_place_downtime,
    dual_cluster_database,
    backup_taken,
    traffic_steps_valid,
    hooks_known,
];

/// Rules that depend on the versions and the strategy alone.
pub(crate) const STRATEGY_PATH_RULES: &[Rule] = &[blue_green_limits];

pub(crate) fn check(input: &PlanInput, rules: &[Rule]) -> Findings {
    let mut findings = Findings::default();
    for rule in rules {
        rule(input, &mut findings);
    }
    findings
}

pub(crate) fn check_inputs(input: &PlanInput) -> Findings {
    check(input, STATIC_RULES)
}

fn upgrade_path_rule(input: &PlanInput, f: &mut Findings) {
    let answer = upgrade_path(&input.from, &input.to);
    f.warnings.extend(answer.warnings.iter().cloned());
    match answer.kind {
        PathKind::Downgrade => f.error(ErrorCode::Downgrade, answer.summary()),
        PathKind::NoDocumentedPath => f.error(ErrorCode::NoDocumentedPath, answer.summary()),
        PathKind::NeedsStops => needs_stops(input, &answer, f),
        _ => {}
    }
}

fn needs_stops(input: &PlanInput, answer: &PathAnswer, f: &mut Findings) {
    let accepted = input.options.accept_unsupported_path;
    match (accepted, answer.skippable(), answer.migration_floor()) {
        (true, true, _) => f.warn(
            WarningCode::UnsupportedPathAccepted,
            format!(
                "{}; accept_unsupported_path = true skips those stops: migrations may run in an order Kong does not test",
                answer.summary()
            ),
        ),
        (true, false, Some(floor)) => f.error(
            ErrorCode::UnsupportedPath,
            format!(
                "{}. accept_unsupported_path cannot skip them: Kong {}.x migrations only accept databases from {floor} or later",
                answer.summary(),
                input.to.major()
            ),
        ),
        _ => f.error(ErrorCode::UnsupportedPath, answer.summary()),
    }
}

fn enterprise_only_target(input: &PlanInput, f: &mut Findings) {
    if input.facts.edition == Some(Edition::Community) && input.to >= FIRST_ENTERPRISE_ONLY {
        f.error(
            ErrorCode::EnterpriseOnlyTarget,
            format!(
                "X runs Kong Gateway OSS, which stops at 3.9.3: {} is an Enterprise-only release (migrate to Enterprise first)",
                input.to
            ),
        );
    }
}

fn cassandra_before_3x(input: &PlanInput, f: &mut Findings) {
    if input.facts.database == Database::Cassandra && input.to.major() >= 3 {
        f.error(
            ErrorCode::CassandraUnsupported,
            format!(
                "Kong {} does not support Cassandra: move X to PostgreSQL on 2.8 first (export with `kong config db_export`, import into a PostgreSQL-backed 2.8 cluster)",
                input.to
            ),
        );
    }
}

fn strategy_fits_deployment(input: &PlanInput, f: &mut Findings) {
    let dbless = input.facts.is_dbless();
    match (dbless, input.strategy) {
        (true, Strategy::Rolling) | (false, Strategy::InPlace | Strategy::BlueGreen | Strategy::DualCluster) => {}
        (true, strategy) => f.error(
            ErrorCode::RollingOnly,
            format!(
                "X is {} with no database of its own: {strategy} has nothing to migrate; use strategy = \"rolling\"",
                deployment_phrase(input)
            ),
        ),
        (false, _) => f.error(
            ErrorCode::RollingNeedsDbless,
            format!(
                "rolling upgrades are for DB-less nodes and hybrid data planes; X is {} on {}: use \"dual_cluster\" (recommended), \"blue_green\" or \"in_place\"",
                deployment_phrase(input),
                input.facts.database
            ),
        ),
    }
}

fn deployment_phrase(input: &PlanInput) -> &'static str {
    match (input.facts.role, input.facts.database) {
        (Role::DataPlane, _) => "a hybrid data plane",
        (Role::ControlPlane, _) => "a hybrid control plane",
        (Role::Traditional, Database::Off) => "a DB-less node",
        (Role::Traditional, _) => "a traditional node",
    }
}

/// Kong's `check_kong_version_compatibility`, applied to Y against the
/// control plane it will join.
fn data_plane_skew(input: &PlanInput, f: &mut Findings) {
    if input.facts.role != Role::DataPlane {
        return;
    }
    let Some(cp) = input.facts.control_plane_version else {
        f.warn(
            WarningCode::ControlPlaneVersionUnknown,
            "the control plane's version is unknown, so version skew is not checked: upgrade the control plane first",
        );
        return;
    };
    let dp = input.to;
    if dp.major() != cp.major() {
        f.error(
            ErrorCode::DataPlaneMajorMismatch,
            format!(
                "data plane version {dp} is incompatible with control plane version {cp} ({}.x.y are accepted): upgrade the control plane first",
                cp.major()
            ),
        );
    } else if dp.minor() > cp.minor() {
        f.error(
            ErrorCode::DataPlaneAheadOfControlPlane,
            format!(
                "data plane version {dp} is incompatible with older control plane version {cp}: upgrade the control plane to {}.{} or later first",
                dp.major(),
                dp.minor()
            ),
        );
    }
}

/// What a control-plane upgrade means for the data planes it serves.
fn control_plane_leaves_data_planes(input: &PlanInput, f: &mut Findings) {
    if input.facts.role != Role::ControlPlane {
        return;
    }
    let to = input.to;
    let dps = &input.facts.data_plane_versions;
    let below_28: Vec<_> = dps
        .iter()
        .filter(|dp| to.major() >= 3 && dp.major() < 3 && **dp < KongVersion::new(2, 8, 0))
        .collect();
    if !below_28.is_empty() {
        f.error(
            ErrorCode::DataPlanesBelow28,
            format!(
                "every data plane must be on 2.8.x before the control plane moves to {to}; found {}",
                join(&below_28)
            ),
        );
        return;
    }
    let old_major: Vec<_> = dps.iter().filter(|dp| dp.major() < to.major()).collect();
    if !old_major.is_empty() {
        f.warn(
            WarningCode::DataPlanesDisconnect,
            format!(
                "data planes on {} will be rejected by control plane {to} (the major must match): they keep serving their last configuration until upgraded",
                join(&old_major)
            ),
        );
    }
    let older_minor: Vec<_> = dps
        .iter()
        .filter(|dp| dp.major() == to.major() && dp.minor() < to.minor())
        .collect();
    if !older_minor.is_empty() {
        f.warn(
            WarningCode::DataPlanesOlderMinor,
            format!(
                "data planes on {} stay compatible with control plane {to}, but mixing minors is meant to be temporary: upgrade them next (strategy = \"rolling\")",
                join(&older_minor)
            ),
        );
    }
}

fn join(versions: &[&KongVersion]) -> String {
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn blue_green_limits(input: &PlanInput, f: &mut Findings) {
    if input.strategy != Strategy::BlueGreen {
        return;
    }
    let (from, to) = (input.from, input.to);
    let min_for_3x = KongVersion::new(2, 8, 2);
    if input.facts.role == Role::Traditional
        && from.major() == 2
        && to.major() >= 3
        && from < min_for_3x
    {
        f.error(
            ErrorCode::BlueGreenNeeds282,
            format!(
                "blue-green in traditional mode needs X on 2.8.2 or later before moving to 3.x (2.8.0 and 2.8.1 misread the regex paths 3.x's `migrations up` rewrites); X runs {from}: upgrade X to 2.8.2+ first, or use \"dual_cluster\""
            ),
        );
    }
    let kind = upgrade_path(&from, &to).kind;
    if from.same_minor(&to) || from >= to {
        return;
    }
    if from.major() == to.major() && kind == PathKind::AdjacentMinor {
        f.warn(
            WarningCode::BlueGreenMinorJump,
            format!(
                "Kong supports blue-green only to a limited extent and advises it only between patch versions; {from} → {to} is a minor jump: consider \"dual_cluster\""
            ),
        );
    } else if input.options.accept_unsupported_path {
        f.warn(
            WarningCode::BlueGreenJumpAccepted,
            format!(
                "blue-green across {from} → {to} (a major, LTS or multi-minor jump) is not supported by Kong; accepted because accept_unsupported_path = true"
            ),
        );
    } else {
        f.error(
            ErrorCode::BlueGreenMajorJump,
            format!(
                "Kong advises blue-green only between patch versions, and offers none for major or LTS jumps; {from} → {to} is refused: use \"dual_cluster\" or \"in_place\", or set accept_unsupported_path = true"
            ),
        );
    }
}

fn in_place_downtime(input: &PlanInput, f: &mut Findings) {
    if input.strategy != Strategy::InPlace {
        return;
    }
    if !input.options.allow_downtime {
        f.error(
            ErrorCode::DowntimeNotAcknowledged,
            "an in-place upgrade stops X before Y starts on the same database, so the proxy is down in between: set allow_downtime = true to accept it, or use \"dual_cluster\"",
        );
    }
    if input.options.staging_tests_configured {
        f.warn(
            WarningCode::StagingTestsSkippedInPlace,
            "staging tests compare X and Y, but X is stopped before Y starts in an in-place upgrade: they will not run",
        );
    }
}

fn dual_cluster_database(input: &PlanInput, f: &mut Findings) {
    if input.strategy != Strategy::DualCluster {
        return;
    }
    if !input.facts.second_database_configured {
        f.error(
            ErrorCode::SecondDatabaseMissing,
            "dual-cluster restores X's backup into a second database for Y: configure new_database",
        );
    }
    let mut split: Vec<String> = input.facts.database_backed_counters.clone();
    if input.facts.vitals_enabled {
        split.push("Vitals".into());
    }
    if !split.is_empty() {
        f.warn(
            WarningCode::CountersSplit,
            format!(
                "{} keep counters in the database: X and Y count separately during the window, so limits are inaccurate for up to the plugins' window size",
                split.join(", ")
            ),
        );
    }
}

fn backup_taken(input: &PlanInput, f: &mut Findings) {
    if !input.options.backup_enabled {
        f.warn(
            WarningCode::NoBackup,
            "backup is disabled: Kong migrations cannot be reversed, so after `migrations finish` the only way back is a backup of your own",
        );
    }
}

fn traffic_steps_valid(input: &PlanInput, f: &mut Findings) {
    let steps = &input.options.traffic_steps;
    let in_range = steps.iter().all(|percent| (1..=100).contains(percent));
    let increasing = steps.windows(2).all(|pair| pair[0] < pair[1]);
    if !in_range || !increasing {
        f.error(
            ErrorCode::InvalidTrafficSteps,
            format!(
                "traffic steps must be percentages of traffic to Y between 1 and 100, strictly increasing (e.g. [10, 50, 100]); got {steps:?}"
            ),
        );
    }
}

fn hooks_known(input: &PlanInput, f: &mut Findings) {
    let known = known_hooks(input);
    for name in &input.options.hooks {
        if !known.contains(name) {
            f.error(
                ErrorCode::UnknownHook,
                format!(
                    "hook {name:?} names no step of a {} upgrade; known hooks: {}",
                    input.strategy,
                    known.join(", ")
                ),
            );
        }
    }
}

/// The target itself, per strategy.
pub(crate) fn goal_for(input: &PlanInput, target: TargetPhase, f: &mut Findings) -> Option<Goal> {
    let goal = Goal::new(input.strategy, target);
    if goal.is_none() {
        f.errors.push(
            PlanError::new(
                ErrorCode::InPlaceNoTrafficSplit,
                "an in-place upgrade has no traffic split: Y takes all traffic once it starts, so target_phase = \"serving\" needs weight_y = 100",
            )
            .on(Field::WeightY),
        );
    }
    goal
}

/// Refuses phase changes past the point of no return.
pub(crate) fn phase_change_allowed(
    input: &PlanInput,
    current: Phase,
    goal: Goal,
    steps: &[PlannedStep],
    field: Field,
    f: &mut Findings,
) {
    let backward = goal.phase.rank() < current.rank();
    let sends_traffic_back = steps.iter().any(|step| is_rollback(input, &step.kind));
    if !backward && !sends_traffic_back {
        return;
    }
    let change = if sends_traffic_back {
        "sending traffic back to X".to_string()
    } else {
        format!("moving target_phase back from {current} to {}", goal.phase)
    };
    let field = match (field, goal.phase) {
        (Field::TargetPhase, Phase::Serving { .. }) if current.rank().0 == goal.phase.rank().0 => {
            Field::WeightY
        }
        (field, _) => field,
    };
    if input.strategy.shares_database() && input.is_done(&finish_id()) {
        f.errors.push(
            PlanError::new(
                ErrorCode::NoWayBackAfterFinish,
                format!(
                    "`kong migrations finish` already ran on the shared database, so X cannot use it any more: {change} is refused. The way back is restoring the backup ({}) into a database for X",
                    backup_phrase(input)
                ),
            )
            .on(field),
        );
    } else if input.is_done(&StepKind::DecommissionX { hook: None }.id()) {
        f.errors.push(
            PlanError::new(
                ErrorCode::XDecommissioned,
                format!(
                    "cluster X was decommissioned, so there is nothing to roll back to: {change} is refused (backup: {})",
                    backup_phrase(input)
                ),
            )
            .on(field),
        );
    }
}

fn backup_phrase(input: &PlanInput) -> String {
    match (
        &input.checkpoint.backup_location,
        input.options.backup_enabled,
    ) {
        (Some(location), _) => format!("taken at {location}"),
        (None, true) => "location not recorded".to_string(),
        (None, false) => "none was taken by the provider: backup is disabled".to_string(),
    }
}

fn is_rollback(input: &PlanInput, kind: &StepKind) -> bool {
    match kind {
        StepKind::TrafficBackToX | StepKind::StartClusterX { .. } => true,
        StepKind::ShiftTraffic { to_weight } => *to_weight < input.checkpoint.weight_y,
        _ => false,
    }
}

/// Findings that depend on the steps planned.
pub(crate) fn check_steps(input: &PlanInput, steps: &[PlannedStep], f: &mut Findings) {
    let moves_traffic = steps.iter().any(|step| {
        matches!(
            step.kind,
            StepKind::ShiftTraffic { .. } | StepKind::TrafficBackToX
        )
    });
    if moves_traffic && !input.options.traffic_configured {
        f.error(
            ErrorCode::TrafficNotConfigured,
            "this plan moves traffic between X and Y, but no traffic block (or traffic_split_id) is configured",
        );
    }
    let cutover = steps.iter().any(|step| {
        step.kind
            == StepKind::VerifyFreeze {
                before: FreezeGate::Cutover,
            }
    });
    if cutover && !input.options.staging_tests_configured {
        f.warn(
            WarningCode::NoStagingTests,
            "Y takes its first traffic without staging tests: configure staging_tests to compare X's and Y's responses first",
        );
    }
    warn_manual_steps_in_downtime(input, steps, f);
    warn_rollback_keeps_migrations(input, steps, f);
}

fn warn_manual_steps_in_downtime(input: &PlanInput, steps: &[PlannedStep], f: &mut Findings) {
    if input.strategy != Strategy::InPlace {
        return;
    }
    let manual: Vec<&str> = steps
        .iter()
        .filter_map(|step| match &step.kind {
            StepKind::StopClusterX { hook: None } => Some("stop_x"),
            StepKind::StartClusterY { hook: None } => Some("start_y"),
            StepKind::StartClusterX { hook: None } => Some("start_x"),
            _ => None,
        })
        .collect();
    if !manual.is_empty() {
        f.warn(
            WarningCode::ManualStepInDowntime,
            format!(
                "no hook for {}: inside the downtime window the apply waits for you to do these steps; configure hooks to keep the downtime short",
                manual.join(", ")
            ),
        );
    }
}

fn warn_rollback_keeps_migrations(input: &PlanInput, steps: &[PlannedStep], f: &mut Findings) {
    let up_ran = input.is_done(
        &StepKind::MigrationsUp {
            database: super::step::MigrationDatabase::Shared,
        }
        .id(),
    );
    let rolls_back = steps.iter().any(|step| is_rollback(input, &step.kind));
    if input.strategy.shares_database() && up_ran && rolls_back {
        f.warn(
            WarningCode::RollbackKeepsMigrations,
            "rolling back before finish: X takes traffic again on the shared database, which keeps Y's `migrations up` changes (X tolerates them; `migrations finish` has not run)",
        );
    }
}
