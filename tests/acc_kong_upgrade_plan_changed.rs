//! Acceptance: `kong_upgrade` runs the steps the user approved, or nothing.
//!
//! A saved plan (`terraform plan -out`) approves `planned_steps`. Between
//! that plan and `terraform apply PLANFILE` the world moves on without
//! Terraform's state changing (so Terraform's own stale-plan check does not
//! fire): a second operator, holding a copy of the state, runs
//! `migrations up` and starts Y. The upgrade's journal in X's database
//! records it. The saved plan's apply must then run nothing and name what
//! changed; the next plan shows the steps that are left, and they apply to
//! `completed` with nothing done twice.

mod support;

use support::interrupts::{Run, Strategy};
use support::upgrade::{flat, planned_values, step_ids};
use support::TerraformVersion;

const ADDRESS: &str = "kong_upgrade.this";

fn refuses_a_saved_plan_the_world_has_overtaken(version: TerraformVersion) {
    let mut run = Run::new(version, Strategy::BlueGreen);
    run.target("prepared");
    run.acc.apply(&run.config.clone());

    // The operator approves the rest of the upgrade.
    run.target("completed");
    let approved = step_ids(&planned_values(run.acc.ws(), ADDRESS));
    assert!(
        approved.iter().any(|s| s == "migrations_up"),
        "{approved:?}"
    );

    // Meanwhile a colleague, with a copy of the same state, takes the
    // upgrade to `migrated`; our state file does not change.
    let ws = run.acc.ws();
    std::fs::copy(
        ws.dir().join("terraform.tfstate"),
        ws.dir().join("colleague.tfstate"),
    )
    .unwrap();
    let colleague = ws
        .run(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-state=colleague.tfstate",
            "-var=target_phase=migrated",
        ])
        .unwrap();
    assert!(colleague.success(), "{colleague}");
    let pending_after_colleague = run.sb.pending();
    let hooks_after_colleague = run.hook_runs();

    // The saved plan is refused, naming what changed, and runs nothing.
    let refused = ws
        .run(&["apply", "-input=false", "-no-color", "planned.tfplan"])
        .unwrap();
    assert!(!refused.success(), "{refused}");
    // Terraform plans the resource again before applying a saved plan, with
    // the same state and configuration, and insists on the approved values:
    // the provider's new `planned_steps` (read from the journal) stops the
    // apply there, before ApplyResourceChange, naming the approved step and
    // the one the world now calls for. (The provider's own check of the
    // approved steps, `reconcile::steps_changed_since_plan`, guards the
    // remaining window between that plan and the apply.)
    let said = flat(&refused.stderr);
    assert!(
        said.contains("Provider produced inconsistent final plan")
            && said.contains(
                r#".planned_steps[0].id: was cty.StringVal("migrations_up"), but now cty.StringVal("verify_freeze_before_cutover")"#
            ),
        "the refusal names the approved step and the one now due: {refused}"
    );
    assert_eq!(run.sb.pending(), pending_after_colleague, "nothing ran");
    assert_eq!(run.hook_runs(), hooks_after_colleague, "no hook ran");
    assert_eq!(
        run.acc.values(ADDRESS)["phase"],
        "prepared",
        "the state is the one before the refused apply"
    );

    // The next plan shows only what is left, and it applies.
    let left = step_ids(&planned_values(run.acc.ws(), ADDRESS));
    for done in [
        "freeze",
        "backup",
        "migrations_up",
        "start_y",
        "wait_ready_y",
    ] {
        assert!(!left.iter().any(|s| s == done), "{done} again: {left:?}");
    }
    assert!(left.iter().any(|s| s == "complete"), "{left:?}");
    run.acc.apply(&run.config.clone());
    run.assert_completed_once("migrations_up");
    run.assert_no_hook_rerun_unannounced();
    run.assert_journal_compacted();
}

#[test]
fn a_saved_plan_overtaken_by_the_world_is_refused_and_the_next_plan_applies() {
    for version in support::versions() {
        refuses_a_saved_plan_the_world_has_overtaken(version);
    }
}
