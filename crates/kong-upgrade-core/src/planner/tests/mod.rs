//! Planner tests: one table row per rule (`table.rs`), properties over
//! arbitrary inputs (`props.rs`), and the generated rules document.

mod docs;
mod props;
mod published;
mod table;

use std::collections::BTreeSet;

use super::*;
use crate::version::{Edition, KongVersion};

/// The baseline every table row starts from: a blue-green patch upgrade of
/// a traditional PostgreSQL node, with backup, staging tests and traffic
/// steps configured, aiming at `completed`.
pub(super) fn baseline() -> PlanInput {
    PlanInput {
        strategy: Strategy::BlueGreen,
        from: v("3.9.2"),
        to: v("3.9.3"),
        facts: DeploymentFacts::traditional_postgres(),
        checkpoint: Checkpoint::default(),
        target: TargetPhase::Completed,
        options: Options {
            staging_tests_configured: true,
            traffic_configured: true,
            traffic_steps: vec![10, 50, 100],
            ..Options::default()
        },
    }
}

pub(super) fn v(text: &str) -> KongVersion {
    text.parse().unwrap()
}

/// Completed-step lists used by several rows, so rows stay readable.
const ALIASES: &[(&str, &str)] = &[
    ("@prepared", "freeze,backup"),
    ("@bg_migrated", "freeze,backup,migrations_up,start_y,wait_ready_y"),
    ("@bg_finished", "freeze,backup,migrations_up,start_y,wait_ready_y,migrations_finish"),
    ("@bg_completed", "freeze,backup,migrations_up,start_y,wait_ready_y,migrations_finish,decommission_x,complete"),
    ("@dual_migrated", "freeze,backup,restore_new_database,migrations_up,migrations_finish,start_y,wait_ready_y"),
    ("@dual_finished", "freeze,backup,restore_new_database,migrations_up,migrations_finish,start_y,wait_ready_y,cutover_confirmed"),
    ("@dual_completed", "freeze,backup,restore_new_database,migrations_up,migrations_finish,start_y,wait_ready_y,cutover_confirmed,decommission_x,complete"),
];

fn expand(list: &str) -> Vec<String> {
    list.split(',')
        .flat_map(
            |item| match ALIASES.iter().find(|(alias, _)| *alias == item) {
                Some((_, ids)) => ids.split(',').map(str::to_string).collect::<Vec<_>>(),
                None => vec![item.to_string()],
            },
        )
        .filter(|item| !item.is_empty())
        .collect()
}

/// What a row asks of the planner.
pub(super) enum Call {
    Plan,
    Destroy(OnDestroy),
}

/// Applies a row's `given` tokens to the baseline. A `target=` that
/// `TargetPhase::from_parts` rejects comes back as the error.
pub(super) fn given(tokens: &str) -> (Result<PlanInput, PlanError>, Call) {
    let mut input = baseline();
    let mut call = Call::Plan;
    for token in tokens.split_whitespace() {
        let (key, value) = token.split_once('=').unwrap_or((token, ""));
        match key {
            "in_place" | "blue_green" | "dual_cluster" | "rolling" => {
                input.strategy = key.parse().unwrap()
            }
            "from" => input.from = v(value),
            "to" => input.to = v(value),
            "role" => input.facts.role = value.parse().unwrap(),
            "db" => input.facts.database = value.parse().unwrap(),
            "edition" => {
                input.facts.edition = Some(match value {
                    "community" => Edition::Community,
                    "enterprise" => Edition::Enterprise,
                    other => panic!("edition {other}"),
                })
            }
            "cp" => input.facts.control_plane_version = Some(v(value)),
            "dps" => input.facts.data_plane_versions = value.split(',').map(v).collect(),
            "second_db" => input.facts.second_database_configured = true,
            "counters" => {
                input.facts.database_backed_counters =
                    value.split(',').map(str::to_string).collect()
            }
            "vitals" => input.facts.vitals_enabled = true,
            "downtime" => input.options.allow_downtime = true,
            "accept" => input.options.accept_unsupported_path = true,
            "no_backup" => input.options.backup_enabled = false,
            "no_staging" => input.options.staging_tests_configured = false,
            "no_traffic" => input.options.traffic_configured = false,
            // A kong_traffic_split owns the weights: no traffic block, so no
            // intermediate steps either.
            "split" => {
                input.options.traffic_owned_by_split = true;
                input.options.traffic_steps = Vec::new();
            }
            "steps" => {
                input.options.traffic_steps = value.split(',').map(|s| s.parse().unwrap()).collect()
            }
            "hooks" => input.options.hooks = value.split(',').map(str::to_string).collect(),
            "target" => {
                let (name, weight) = match value.split_once(':') {
                    Some((name, weight)) => (name, Some(weight.parse().unwrap())),
                    None => (value, None),
                };
                match TargetPhase::from_parts(name, weight) {
                    Ok(target) => input.target = target,
                    Err(err) => return (Err(err), call),
                }
            }
            "done" => {
                input.checkpoint.completed = expand(value).into_iter().map(StepId::new).collect()
            }
            "weight" => {
                input.checkpoint.weight_y = TrafficWeight::new(value.parse().unwrap()).unwrap()
            }
            "backup_at" => input.checkpoint.backup_location = Some(value.to_string()),
            "destroy" => call = Call::Destroy(value.parse().unwrap()),
            other => panic!("unknown token {other:?}"),
        }
    }
    (Ok(input), call)
}

pub(super) fn run(input: &PlanInput, call: &Call) -> Result<Plan, Vec<PlanError>> {
    match call {
        Call::Plan => plan(input),
        Call::Destroy(on_destroy) => plan_destroy(input, *on_destroy),
    }
}

pub(super) fn ids(steps: &[PlannedStep]) -> Vec<String> {
    steps.iter().map(|step| step.id.to_string()).collect()
}

/// Every step id any strategy can plan, for the property tests.
pub(super) fn all_step_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for strategy in Strategy::ALL {
        let mut input = baseline();
        input.strategy = *strategy;
        input.options.hooks = runbook::known_hooks(&input).into_iter().collect();
        for entry in runbook::runbook(&input) {
            if let runbook::Entry::Step { kind, .. } | runbook::Entry::Gate(kind) = entry {
                ids.insert(kind.id().to_string());
            }
        }
    }
    ids.insert("start_x".into());
    ids.insert("shift_traffic_to_50".into());
    ids
}
