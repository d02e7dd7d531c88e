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
//! And DB-less `rolling` with backups through `upload_command`, whose
//! journal lives in Terraform's data directory: one kill per core.
//!
//! Sampling, to keep the suite's time: every step on the newest core;
//! on 1.0.3 `SAMPLED_STEPS`, one step per phase of each strategy, where the
//! Ctrl-C tests take every step (`KONG_ACC_KILL_STEPS` narrows either list
//! while debugging).

mod support;

use support::interrupts::{
    kill_paused_provider, log_hooks, spawn_apply_paused_after, Run, Strategy, BLUE_GREEN_STEPS,
    CREATE_STEPS, DUAL_CLUSTER_STEPS, IN_PLACE_STEPS, SAMPLED_STEPS,
};
use support::runbooks::rolling_vars;
use support::upgrade::{example_config, hcl_list, Sandbox};
use support::{Acceptance, TerraformVersion};

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
                None => newest || SAMPLED_STEPS.contains(step),
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

// ------------------------------------------- rolling, backups uploaded

/// DB-less `rolling` with its backup stored through `upload_command`: no
/// database and no backup directory, so the journal lives in Terraform's
/// data directory. One kill (after `start_y`, a hook with an effect) per
/// core keeps the suite's time small.
fn rolling_with_upload_command_resumes_after_a_kill(version: TerraformVersion) {
    let sb = Sandbox::dbless();
    let uploads = sb.dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let config = example_config("upgrades/rolling").replace(
        "    directory               = var.backup_dir\n",
        &format!(
            "    upload_command          = {}\n",
            hcl_list(&[
                "sh".to_string(),
                "-c".into(),
                format!("cat > {}/$KONG_BACKUP_NAME", uploads.display()),
            ])
        ),
    );
    assert!(
        config.contains("upload_command"),
        "the example sets directory"
    );
    let (marker, hook_log) = (
        sb.dir.path().join("interrupted-after"),
        sb.dir.path().join("hooks.log"),
    );
    let mut acc = Acceptance::new(version);
    acc.ws_mut()
        .set_env("TF_KONG_TEST_RESOURCES", "1")
        .set_env("TF_KONG_TEST_INTERRUPT_MARKER", marker.to_str().unwrap());
    let target = |acc: &mut Acceptance, phase: &str| {
        let vars = log_hooks(&rolling_vars(&sb, phase, None), &hook_log);
        acc.ws().write_file("terraform.tfvars", &vars).unwrap();
        acc.configure(&config);
    };
    target(&mut acc, "prepared");
    acc.apply(&config);
    let backup_before = acc.values("kong_upgrade.this")["backup_location"].clone();
    assert!(
        backup_before.as_str().is_some_and(|b| !b.is_empty()),
        "{backup_before}"
    );

    target(&mut acc, "completed");
    let run = spawn_apply_paused_after(&mut acc, &marker, "start_y")
        .unwrap_or_else(|e| panic!("{e}\n--- Y's log ---\n{}", sb.y.log()));
    kill_paused_provider(run, &marker);
    acc.ws().plan().unwrap();
    acc.apply(&config);

    let v = acc.values("kong_upgrade.this");
    assert_eq!(v["phase"], "completed", "{}", v["history"]);
    assert_eq!(
        v["backup_location"], backup_before,
        "backup_location unchanged"
    );
    let log = std::fs::read_to_string(&hook_log).unwrap_or_default();
    let fresh_start_y = log
        .lines()
        .filter(|l| l.starts_with("start_y ") && l.trim_end() != "start_y 1")
        .count();
    assert_eq!(
        fresh_start_y, 1,
        "start_y ran once without KONG_UPGRADE_RESUMED=1:\n{log}"
    );
    for step in ["freeze", "backup"] {
        assert_eq!(
            support::upgrade::history_count(&v["history"], step, "ok"),
            1,
            "{step} once: {}",
            v["history"]
        );
    }
    let uploaded = std::fs::read_dir(&uploads).unwrap().count();
    assert_eq!(uploaded, 1, "one backup uploaded, never a second one");
    let journal: Vec<_> = std::fs::read_dir(acc.ws().dir().join(".terraform"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("terraform-provider-kong-journal-")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(journal.len(), 1, "the journal is in .terraform/");
    assert!(
        journal[0].lines().count() == 1 && journal[0].contains("\"event\":\"completed\""),
        "compacted to one completed row: {}",
        journal[0]
    );
}

#[test]
fn rolling_with_uploaded_backups_survives_a_killed_provider() {
    for version in support::versions() {
        rolling_with_upload_command_resumes_after_a_kill(version);
    }
}
