//! Interrupting a `kong_upgrade` apply at the worst moment — after a step's
//! effect, before the provider recorded it (the provider's test fault
//! injection pauses there, see `src/resources/kong_upgrade/failpoint.rs`) —
//! by a Ctrl-C through Terraform or by `kill -9` of the provider process,
//! and checking that the resumed upgrade did nothing twice.
//! Used by acc_kong_upgrade_interrupts.rs, acc_kong_upgrade_kills.rs and
//! acc_kong_upgrade_plan_changed.rs.

use super::runbooks::{
    blue_green_vars, create_orders_service, dual_cluster_vars, in_place_vars,
    recorded_3_6_migrations, FAST, NEW_DATABASE,
};
use super::upgrade::{admin, answers, example_config, flat, history_count, Sandbox, TO};
use super::{Acceptance, TerraformVersion};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every step of a blue-green upgrade applied in one go to `completed`.
pub const BLUE_GREEN_STEPS: &[&str] = &[
    "freeze",
    "backup",
    "migrations_up",
    "start_y",
    "wait_ready_y",
    "verify_freeze_before_cutover",
    "staging_tests",
    "shift_traffic_to_50",
    "shift_traffic_to_100",
    "verify_freeze_before_finish",
    "migrations_finish",
    "decommission_x",
    "complete",
];

/// Every step of a dual-cluster upgrade applied in one go to `completed`.
pub const DUAL_CLUSTER_STEPS: &[&str] = &[
    "freeze",
    "backup",
    "restore_new_database",
    "migrations_up",
    "migrations_finish",
    "start_y",
    "wait_ready_y",
    "verify_freeze_before_cutover",
    "staging_tests",
    "shift_traffic_to_50",
    "shift_traffic_to_100",
    "verify_freeze_before_finish",
    "cutover_confirmed",
    "verify_freeze_before_decommission",
    "decommission_x",
    "complete",
];

/// Every step of an in-place upgrade applied in one go to `completed`.
pub const IN_PLACE_STEPS: &[&str] = &[
    "freeze",
    "backup",
    "verify_freeze_before_stop_x",
    "stop_x",
    "migrations_up",
    "migrations_finish",
    "start_y",
    "wait_ready_y",
    "decommission_x",
    "complete",
];

/// Steps whose effect must happen exactly once, whatever the interrupts.
const ONCE: &[&str] = &[
    "migrations_up",
    "migrations_finish",
    "restore_new_database",
    "start_y",
    "stop_x",
    "decommission_x",
];

/// Steps of the first apply (`prepared`): interrupting them interrupts the
/// resource's create.
pub const CREATE_STEPS: &[&str] = &["freeze", "backup"];

/// The steps a core meets under only one of the two failures. Ctrl-C
/// (acc_kong_upgrade_interrupts.rs) and `kill -9`
/// (acc_kong_upgrade_kills.rs) share the cores between them: the kill
/// matrix takes every step on the newest core and this sample on 1.0.3,
/// the interrupts every step on 1.0.3 and this sample on the newest, so
/// each core meets every step under one failure and the steps where state
/// is hardest to reconcile under both.
pub const SAMPLED_STEPS: &[&str] = &[
    "backup",
    "migrations_up",
    "start_y",
    "shift_traffic_to_50",
    "restore_new_database",
    "stop_x",
    "complete",
];

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Strategy {
    BlueGreen,
    DualCluster,
    InPlace,
}

impl Strategy {
    fn example(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "upgrades/blue_green",
            Strategy::DualCluster => "upgrades/dual_cluster",
            Strategy::InPlace => "upgrades/in_place",
        }
    }

    /// The database Y runs on, where the migrations happen.
    fn y_database(self) -> &'static str {
        match self {
            Strategy::BlueGreen | Strategy::InPlace => "kong",
            Strategy::DualCluster => NEW_DATABASE,
        }
    }
}

/// A rate-limiting plugin with Redis settings: its 3.6 migration copies the
/// flat `redis_*` fields into a `redis` object and its teardown deletes the
/// flat ones, so an `up` run again after `finish` would null the host. The
/// host surviving is proof that the migration ran once.
fn create_redis_rate_limiting(x_admin: &str) {
    let (status, body) = admin(
        x_admin,
        "POST",
        "/plugins",
        r#"{"name":"rate-limiting","config":{"minute":10,"policy":"redis","redis_host":"redis.internal","redis_port":6379}}"#,
    );
    assert_eq!(status, 201, "{body}");
}

fn redis_host(sb: &Sandbox, database: &str) -> String {
    sb.query(
        database,
        "SELECT coalesce(config->'redis'->>'host', 'null') FROM plugins WHERE name = 'rate-limiting'",
    )
}

fn history_entries(v: &serde_json::Value, step: &str) -> Vec<serde_json::Value> {
    v["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["step"] == step)
        .cloned()
        .collect()
}

/// A sandbox with configuration worth keeping, and the workspace that
/// upgrades it.
pub struct Run {
    pub sb: Sandbox,
    pub acc: Acceptance,
    strategy: Strategy,
    pub config: String,
    marker: PathBuf,
    /// Every hook run appends `STEP RESUMED` here (RESUMED: 1 or 0).
    hook_log: PathBuf,
    config_before: String,
    x_meta_before: String,
}

impl Run {
    pub fn new(version: TerraformVersion, strategy: Strategy) -> Run {
        let sb = Sandbox::traditional();
        create_orders_service(&sb.x.admin_url);
        create_redis_rate_limiting(&sb.x.admin_url);
        if strategy == Strategy::DualCluster {
            sb.create_database(NEW_DATABASE);
        }
        let marker = sb.dir.path().join("interrupted-after");
        let mut acc = Acceptance::new(version);
        acc.ws_mut()
            .set_env("TF_KONG_TEST_RESOURCES", "1")
            .set_env("TF_KONG_TEST_INTERRUPT_MARKER", marker.to_str().unwrap());
        Run {
            config_before: sb.rows_hash("kong", &["services", "routes"]),
            x_meta_before: sb.schema_meta("kong"),
            config: example_config(strategy.example()),
            hook_log: sb.dir.path().join("hooks.log"),
            sb,
            acc,
            strategy,
            marker,
        }
    }

    pub fn target(&mut self, phase: &str) {
        let vars = log_hooks(
            &strategy_vars(self.strategy, &self.sb, phase),
            &self.hook_log,
        );
        self.acc.ws().write_file("terraform.tfvars", &vars).unwrap();
        self.acc.configure(&self.config);
    }

    /// Applies to `completed` in the background, pausing after `step`'s
    /// effect; returns once the pause is reached.
    fn apply_paused_after(&mut self, step: &str) -> super::BackgroundRun {
        self.target("completed");
        spawn_apply_paused_after(&mut self.acc, &self.marker, step)
            .unwrap_or_else(|e| panic!("{e}\n--- cluster Y's log ---\n{}", self.sb.y.log()))
    }

    /// Applies to `completed`, pausing after `step`'s effect, and sends
    /// Ctrl-C there.
    pub fn apply_interrupted_after(&mut self, step: &str) {
        let run = self.apply_paused_after(step);
        run.send_sigint_to_group().unwrap();
        let interrupted = run.wait_with_timeout(Duration::from_secs(60)).unwrap();
        assert!(!interrupted.success(), "{interrupted}");
        assert!(
            flat(&interrupted.stderr)
                .contains(&format!(r#"Upgrade step "{step}" failed: interrupted"#)),
            "{interrupted}"
        );
        let v = self.acc.values("kong_upgrade.this");
        assert_eq!(
            history_count(&v["history"], step, "failed"),
            1,
            "the interrupted step is in the saved history: {}",
            v["history"]
        );
    }

    /// Applies to `completed`, pausing after `step`'s effect, and kills the
    /// provider process there with SIGKILL (Terraform itself lives on and
    /// reports the dead plugin), as an OOM kill or a cancelled CI job would.
    pub fn apply_killed_after(&mut self, step: &str) {
        let run = self.apply_paused_after(step);
        kill_paused_provider(run, &self.marker);
    }

    /// The `backup_location` in state, if the upgrade is in state.
    pub fn backup_location(&self) -> Option<String> {
        let state = self.acc.ws().state_json().ok()?;
        let found = state["values"]["root_module"]["resources"]
            .as_array()?
            .iter()
            .find(|r| r["address"] == "kong_upgrade.this")?["values"]["backup_location"]
            .as_str()
            .map(str::to_string);
        found
    }

    /// The upgrade completed with every migration run once, nothing done
    /// twice, and Kong's configuration unchanged.
    pub fn assert_completed_once(&self, step: &str) {
        let sb = &self.sb;
        let v = self.acc.values("kong_upgrade.this");
        let context = format!("interrupted after {step}: {}", v["history"]);
        assert_eq!(v["phase"], "completed", "{context}");
        // A traffic step interrupted after its effect is not re-run: the
        // weight it reached is in the state.
        assert!(history_count(&v["history"], step, "ok") <= 1, "{context}");
        for once in ONCE {
            if history_entries(&v, once).is_empty() {
                continue; // not a step of this strategy
            }
            let acted = history_entries(&v, once)
                .iter()
                .filter(|h| acted(h["result"].as_str().unwrap(), h["detail"].as_str().unwrap()))
                .count();
            assert_eq!(acted, 1, "{once} acted exactly once; {context}");
        }
        let y_db = self.strategy.y_database();
        assert_eq!(
            sb.duplicate_migrations(y_db),
            "",
            "{}",
            sb.schema_meta(y_db)
        );
        assert_eq!(sb.pending_in(y_db), "", "{}", sb.schema_meta(y_db));
        assert_eq!(
            recorded_3_6_migrations(sb, y_db),
            5,
            "{}",
            sb.schema_meta(y_db)
        );
        assert_eq!(
            redis_host(sb, y_db),
            "redis.internal",
            "the 3.6 rate-limiting migration ran once ({context})"
        );
        assert_eq!(
            sb.rows_hash(y_db, &["services", "routes"]),
            self.config_before,
            "Kong's configuration came through unchanged ({context})"
        );
        if self.strategy == Strategy::DualCluster {
            assert_eq!(
                sb.schema_meta("kong"),
                self.x_meta_before,
                "X's database untouched"
            );
            assert_eq!(
                sb.rows_hash("kong", &["services", "routes"]),
                self.config_before
            );
        }
        if self.strategy != Strategy::InPlace {
            assert_eq!(sb.haproxy_weight("x"), 0, "all traffic on Y");
        }
        assert!(!answers(&sb.x.admin_url), "X was decommissioned");
        let (status, body) = admin(&sb.y.admin_url, "GET", "/", "");
        assert!(status == 200 && body.contains(TO), "{body}");
    }

    /// Every hook run so far, one `STEP RESUMED` line each.
    pub fn hook_runs(&self) -> String {
        std::fs::read_to_string(&self.hook_log).unwrap_or_default()
    }

    /// No hook ran twice unless told it was resumed
    /// (`KONG_UPGRADE_RESUMED=1`).
    pub fn assert_no_hook_rerun_unannounced(&self) {
        let log = self.hook_runs();
        let mut fresh: std::collections::BTreeMap<&str, usize> = Default::default();
        for line in log.lines() {
            let (step, resumed) = line.split_once(' ').unwrap_or((line, ""));
            if resumed.trim() != "1" {
                *fresh.entry(step).or_default() += 1;
            }
        }
        for (step, runs) in fresh {
            assert_eq!(
                runs, 1,
                "the {step} hook ran {runs} times without KONG_UPGRADE_RESUMED=1:\n{log}"
            );
        }
    }

    /// `location` is a dump taken before `migrations up`: its schema_meta
    /// knows none of the target's migrations.
    pub fn assert_pre_migration_dump(&self, location: &str) {
        let out = std::process::Command::new(self.sb.pg().bin_dir().join("pg_restore"))
            .args(["--data-only", "--table=schema_meta", "--file=-", location])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_restore --list {location}: {out:?}"
        );
        let data = String::from_utf8_lossy(&out.stdout);
        assert!(data.contains("COPY"), "the dump holds schema_meta: {data}");
        assert!(
            !data.contains("_350_to_360"),
            "the backup was taken before migrations up: {data}"
        );
    }

    /// The journal in X's database: compacted to one `completed` row, and
    /// never carried into a restored database.
    pub fn assert_journal_compacted(&self) {
        let events = self.sb.query(
            "kong",
            "SELECT string_agg(event, ',' ORDER BY seq) FROM terraform_provider_kong.upgrade_journal",
        );
        assert_eq!(events, "completed");
        if self.strategy == Strategy::DualCluster {
            let copied = self.sb.query(
                NEW_DATABASE,
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'terraform_provider_kong'",
            );
            assert_eq!(copied, "0", "the journal is not in the backup");
        }
    }
}

/// Starts `terraform apply` in the background (the workspace needs
/// `TF_KONG_TEST_RESOURCES=1` and `TF_KONG_TEST_INTERRUPT_MARKER=marker`)
/// with the provider pausing after `step`'s effect, before recording it;
/// returns once the pause is reached.
pub fn spawn_apply_paused_after(
    acc: &mut Acceptance,
    marker: &Path,
    step: &str,
) -> Result<super::BackgroundRun, String> {
    let _ = std::fs::remove_file(marker);
    acc.ws_mut().set_env("TF_KONG_TEST_INTERRUPT_AFTER", step);
    let run = acc.ws().spawn_apply_in_new_process_group().unwrap();
    let paused = run.wait_until(
        &format!("the pause after {step}"),
        Duration::from_secs(90),
        || marker.exists(),
    );
    acc.ws_mut().set_env("TF_KONG_TEST_INTERRUPT_AFTER", "");
    paused.map_err(|e| e.to_string())?;
    Ok(run)
}

/// Kills the provider paused by [`spawn_apply_paused_after`] with SIGKILL
/// (Terraform itself lives on and reports the dead plugin), as an OOM kill
/// or a cancelled CI job would.
pub fn kill_paused_provider(run: super::BackgroundRun, marker: &Path) {
    let pid_file = format!("{}.pid", marker.display());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("terraform-provider-kong"),
        "pid {pid} is the provider: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    assert_ne!(pid as u32, run.pid(), "the provider, not Terraform");
    // SAFETY: kill(2) with a pid read from the provider's own pid file.
    assert_eq!(
        unsafe { libc::kill(pid, libc::SIGKILL) },
        0,
        "kill -9 {pid}"
    );
    let killed = run.wait_with_timeout(Duration::from_secs(60)).unwrap();
    assert!(!killed.success(), "{killed}");
}

/// Whether a history entry did the step's work: it succeeded without
/// finding the work done already, or it was the run interrupted right after
/// the work (cooperatively, or by a kill the journal recorded).
fn acted(result: &str, detail: &str) -> bool {
    let found_done = detail.starts_with("resumed")
        || detail.contains("already ran")
        || detail.contains("nothing to do");
    (result == "ok" && !found_done)
        || detail.contains("(test fault injection)")
        || detail.starts_with("interrupted: the provider stopped")
}

fn strategy_vars(strategy: Strategy, sb: &Sandbox, phase: &str) -> String {
    match strategy {
        Strategy::BlueGreen => blue_green_vars(sb, phase, None, "{}", FAST),
        Strategy::DualCluster => dual_cluster_vars(sb, phase, None),
        Strategy::InPlace => in_place_vars(sb, phase, true),
    }
}

/// Every `*_command` hook variable wrapped so that each run appends
/// `KONG_UPGRADE_STEP KONG_UPGRADE_RESUMED` to `log` before doing its work
/// (no `${...}` in the script: tfvars would take it for an interpolation).
pub fn log_hooks(vars: &str, log: &std::path::Path) -> String {
    vars.lines()
        .map(|line| match line.split_once(" = ") {
            Some((name, list)) if name.trim().ends_with("_command") => {
                let argv: Vec<String> = serde_json::from_str(list).unwrap();
                let mut wrapped = vec![
                    "sh".to_string(),
                    "-c".into(),
                    format!(
                        "echo \"$KONG_UPGRADE_STEP $KONG_UPGRADE_RESUMED\" >> {}; exec \"$@\"",
                        log.display()
                    ),
                    "hook".into(),
                ];
                wrapped.extend(argv);
                format!("{name} = {}", super::upgrade::hcl_list(&wrapped))
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
