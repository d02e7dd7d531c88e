//! Acceptance: Ctrl-C at each step of the blue-green and dual-cluster
//! runbooks, then a re-apply that completes the upgrade. Every step on
//! 1.0.3; on the newest core, where the kill matrix takes every step,
//! `SAMPLED_STEPS`.
//!
//! Each step is interrupted at the worst moment: after its effect and before
//! the provider recorded it (the provider's test fault injection pauses
//! there, see `src/resources/kong_upgrade/failpoint.rs`; the SIGINT itself
//! goes through Terraform like a user's Ctrl-C). The resumed apply must not
//! redo what happened — no migration runs twice, the restore is not repeated,
//! Y is not started twice, X not stopped twice — and Kong's configuration
//! comes out unchanged. Interrupts *during* `migrations up` and during a
//! traffic shift are covered in acc_kong_upgrade_strategies.rs.

mod support;

use support::interrupts::{
    Run, Strategy, BLUE_GREEN_STEPS, CREATE_STEPS, DUAL_CLUSTER_STEPS, SAMPLED_STEPS,
};
use support::upgrade::flat;
use support::TerraformVersion;

/// Interrupts the upgrade after `step`'s effect, then re-applies. Steps of
/// the first apply interrupt the create: Terraform taints the upgrade and
/// replaces it, which is safe this early (nothing but a freeze and a backup
/// happened). Later steps interrupt an update, which resumes in place.
fn interrupt_after_then_resume(version: TerraformVersion, strategy: Strategy, step: &str) {
    let mut run = Run::new(version, strategy);
    if !CREATE_STEPS.contains(&step) {
        run.target("prepared");
        run.acc.apply(&run.config.clone());
    }
    run.apply_interrupted_after(step);
    run.target("completed");
    run.acc.apply(&run.config.clone());
    run.assert_completed_once(step);
}

/// Every step on 1.0.3 and [`SAMPLED_STEPS`] on the newest core, where
/// the kill matrix takes every step.
/// `KONG_ACC_INTERRUPT_STEPS=migrations_up,start_y` narrows the run to
/// those steps (on every core) while debugging one.
fn every_step(strategy: Strategy, steps: &[&str]) {
    let only = std::env::var("KONG_ACC_INTERRUPT_STEPS").ok();
    for version in support::versions() {
        let newest = version == TerraformVersion::V1_15_5;
        for step in steps {
            let wanted = match &only {
                Some(list) => list.split(',').any(|s| s == *step),
                None => !newest || SAMPLED_STEPS.contains(step),
            };
            if wanted {
                interrupt_after_then_resume(version, strategy, step);
            }
        }
    }
}

// Each runbook is cut in two tests so that neither nears nextest's
// 10-minute limit on a loaded machine (about 10 s a step per core).

#[test]
fn blue_green_resumes_after_an_interrupt_at_each_step_before_the_cutover() {
    every_step(
        Strategy::BlueGreen,
        &BLUE_GREEN_STEPS[..BLUE_GREEN_STEPS.len() / 2],
    );
}

#[test]
fn blue_green_resumes_after_an_interrupt_at_each_step_from_the_cutover() {
    every_step(
        Strategy::BlueGreen,
        &BLUE_GREEN_STEPS[BLUE_GREEN_STEPS.len() / 2..],
    );
}

/// An interrupt after Y started, in the very first apply: Terraform taints
/// the upgrade, and the replacement it plans is refused at plan time (it
/// would start over an upgrade in progress) with the way out, `terraform
/// untaint`, after which the upgrade resumes.
#[test]
fn an_interrupted_first_apply_resumes_after_untaint() {
    for version in support::versions() {
        let mut run = Run::new(version, Strategy::BlueGreen);
        run.apply_interrupted_after("start_y");
        run.target("completed");
        let refused = run.acc.ws().plan_expect_error().unwrap();
        assert!(
            flat(&refused.stderr).contains("Upgrade already under way")
                && flat(&refused.stderr).contains("run `terraform untaint` on it"),
            "{refused}"
        );
        run.acc.ws().run(&["untaint", "kong_upgrade.this"]).unwrap();
        run.acc.apply(&run.config.clone());
        run.assert_completed_once("start_y");
    }
}

#[test]
fn dual_cluster_resumes_after_an_interrupt_at_each_step_before_the_cutover() {
    every_step(
        Strategy::DualCluster,
        &DUAL_CLUSTER_STEPS[..DUAL_CLUSTER_STEPS.len() / 2],
    );
}

#[test]
fn dual_cluster_resumes_after_an_interrupt_at_each_step_from_the_cutover() {
    every_step(
        Strategy::DualCluster,
        &DUAL_CLUSTER_STEPS[DUAL_CLUSTER_STEPS.len() / 2..],
    );
}
