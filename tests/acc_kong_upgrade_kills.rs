//! Acceptance: `kill -9` of the provider process at each step of the
//! blue-green, dual-cluster and in-place runbooks, then a plan and an apply
//! that complete the upgrade.
//!
//! The provider pauses after the step's effect and before recording it
//! (the test fault injection, `src/resources/kong_upgrade/failpoint.rs`),
//! and the test kills it there with SIGKILL — not Terraform, which lives on
//! and saves what it has: for an update the prior state with *no* private
//! state, for a create nothing at all. The checkpoint must come back from
//! the provider's journal in X's database: nothing done twice (the
//! interrupt tests' checks), no hook run twice without
//! `KONG_UPGRADE_RESUMED=1`, and `backup_location` unchanged and still the
//! dump taken before `migrations up`.
//!
//! Sampling, to keep the suite's time: every step on the newest core;
//! on 1.0.3 one step per phase of each strategy (`KONG_ACC_KILL_STEPS`
//! narrows either list while debugging).

mod support;

use support::interrupts::{
    Run, Strategy, BLUE_GREEN_STEPS, CREATE_STEPS, DUAL_CLUSTER_STEPS, IN_PLACE_STEPS,
};
use support::TerraformVersion;

/// The steps sampled on the oldest core.
const OLD_CORE_SAMPLE: &[&str] = &[
    "backup",
    "migrations_up",
    "start_y",
    "shift_traffic_to_50",
    "restore_new_database",
    "stop_x",
    "complete",
];

fn kill_after_then_resume(version: TerraformVersion, strategy: Strategy, step: &str) {
    let mut run = Run::new(version, strategy);
    let mut backup_before = None;
    if !CREATE_STEPS.contains(&step) {
        run.target("prepared");
        run.acc.apply(&run.config.clone());
        backup_before = run.backup_location();
        assert!(backup_before.is_some(), "prepared took a backup");
    }
    run.apply_killed_after(step);
    run.target("completed");
    run.acc.ws().plan().unwrap();
    run.acc.apply(&run.config.clone());
    run.assert_completed_once(step);
    run.assert_no_hook_rerun_unannounced();
    let backup = run.backup_location().expect("backup_location");
    if let Some(before) = backup_before {
        assert_eq!(
            backup, before,
            "backup_location unchanged after a kill at {step}"
        );
    }
    run.assert_pre_migration_dump(&backup);
    run.assert_journal_compacted();
}

fn every_step(strategy: Strategy, steps: &[&str]) {
    let only = std::env::var("KONG_ACC_KILL_STEPS").ok();
    for version in support::versions() {
        let newest = version == TerraformVersion::V1_15_5;
        for step in steps {
            let wanted = match &only {
                Some(list) => list.split(',').any(|s| s == *step),
                None => newest || OLD_CORE_SAMPLE.contains(step),
            };
            if wanted {
                kill_after_then_resume(version, strategy, step);
            }
        }
    }
}

// Each strategy's steps in tests of at most six kills, each well inside
// nextest's 10-minute limit on a loaded machine (a kill and its resumption
// take 15 s on an idle one, up to a minute under load).

#[test]
fn blue_green_survives_a_killed_provider_before_y_starts() {
    every_step(Strategy::BlueGreen, &BLUE_GREEN_STEPS[..4]);
}

#[test]
fn blue_green_survives_a_killed_provider_before_cutover() {
    every_step(Strategy::BlueGreen, &BLUE_GREEN_STEPS[4..9]);
}

#[test]
fn blue_green_survives_a_killed_provider_after_cutover() {
    every_step(Strategy::BlueGreen, &BLUE_GREEN_STEPS[9..]);
}

#[test]
fn dual_cluster_survives_a_killed_provider_before_y_starts() {
    every_step(Strategy::DualCluster, &DUAL_CLUSTER_STEPS[..5]);
}

#[test]
fn dual_cluster_survives_a_killed_provider_before_cutover() {
    every_step(Strategy::DualCluster, &DUAL_CLUSTER_STEPS[5..10]);
}

#[test]
fn dual_cluster_survives_a_killed_provider_after_cutover() {
    every_step(Strategy::DualCluster, &DUAL_CLUSTER_STEPS[10..]);
}

#[test]
fn in_place_survives_a_killed_provider_before_migrations() {
    every_step(Strategy::InPlace, &IN_PLACE_STEPS[..4]);
}

#[test]
fn in_place_survives_a_killed_provider_from_migrations_on() {
    every_step(Strategy::InPlace, &IN_PLACE_STEPS[4..]);
}
