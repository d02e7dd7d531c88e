//! Acceptance: Ctrl-C at each step of the blue-green and dual-cluster
//! runbooks, then a re-apply that completes the upgrade.
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

use std::time::Duration;
use support::runbooks::{
    blue_green_vars, create_orders_service, dual_cluster_vars, recorded_3_6_migrations, FAST,
    NEW_DATABASE,
};
use support::upgrade::{admin, answers, example_config, flat, history_count, Sandbox, TO};
use support::{Acceptance, TerraformVersion};

/// Every step of a blue-green upgrade applied in one go to `completed`.
const BLUE_GREEN_STEPS: &[&str] = &[
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
const DUAL_CLUSTER_STEPS: &[&str] = &[
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

/// Steps whose effect must happen exactly once, whatever the interrupts.
const ONCE: &[&str] = &[
    "migrations_up",
    "migrations_finish",
    "restore_new_database",
    "start_y",
    "decommission_x",
];

#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    BlueGreen,
    DualCluster,
}

impl Strategy {
    fn example(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "upgrades/blue_green",
            Strategy::DualCluster => "upgrades/dual_cluster",
        }
    }

    /// The database Y runs on, where the migrations happen.
    fn y_database(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "kong",
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

/// Steps of the first apply (`prepared`): interrupting them interrupts the
/// resource's create, which Terraform answers by tainting it.
const CREATE_STEPS: &[&str] = &["freeze", "backup"];

/// A sandbox with configuration worth keeping, and the workspace that
/// upgrades it.
struct Run {
    sb: Sandbox,
    acc: Acceptance,
    strategy: Strategy,
    config: String,
    marker: std::path::PathBuf,
    config_before: String,
    x_meta_before: String,
}

impl Run {
    fn new(version: TerraformVersion, strategy: Strategy) -> Run {
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
            sb,
            acc,
            strategy,
            marker,
        }
    }

    fn target(&mut self, phase: &str) {
        let vars = strategy_vars(self.strategy, &self.sb, phase);
        self.acc.ws().write_file("terraform.tfvars", &vars).unwrap();
        self.acc.configure(&self.config);
    }

    /// Applies to `completed`, pausing after `step`'s effect, and sends
    /// Ctrl-C there.
    fn apply_interrupted_after(&mut self, step: &str) {
        self.acc
            .ws_mut()
            .set_env("TF_KONG_TEST_INTERRUPT_AFTER", step);
        self.target("completed");
        let run = self.acc.ws().spawn_apply_in_new_process_group().unwrap();
        let paused = run.wait_until(
            &format!("the pause after {step}"),
            Duration::from_secs(90),
            || self.marker.exists(),
        );
        if let Err(e) = paused {
            panic!("{e}\n--- cluster Y's log ---\n{}", self.sb.y.log());
        }
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
        self.acc
            .ws_mut()
            .set_env("TF_KONG_TEST_INTERRUPT_AFTER", "");
    }

    /// The upgrade completed with every migration run once, nothing done
    /// twice, and Kong's configuration unchanged.
    fn assert_completed_once(&self, step: &str) {
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
        assert_eq!(sb.haproxy_weight("x"), 0, "all traffic on Y");
        assert!(!answers(&sb.x.admin_url), "X was decommissioned");
        let (status, body) = admin(&sb.y.admin_url, "GET", "/", "");
        assert!(status == 200 && body.contains(TO), "{body}");
    }
}

/// Whether a history entry did the step's work: it succeeded without
/// finding the work done already, or it was the run interrupted right after
/// the work.
fn acted(result: &str, detail: &str) -> bool {
    let found_done = detail.starts_with("resumed")
        || detail.contains("already ran")
        || detail.contains("nothing to do");
    (result == "ok" && !found_done) || detail.contains("(test fault injection)")
}

fn strategy_vars(strategy: Strategy, sb: &Sandbox, phase: &str) -> String {
    match strategy {
        Strategy::BlueGreen => blue_green_vars(sb, phase, None, "{}", FAST),
        Strategy::DualCluster => dual_cluster_vars(sb, phase, None),
    }
}

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

/// `KONG_ACC_INTERRUPT_STEPS=migrations_up,start_y` narrows the run to
/// those steps while debugging one.
fn every_step(strategy: Strategy, steps: &[&str]) {
    let only = std::env::var("KONG_ACC_INTERRUPT_STEPS").ok();
    let selected = |step: &&&str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|s| s == **step))
    };
    for version in support::versions() {
        for step in steps.iter().filter(selected) {
            interrupt_after_then_resume(version, strategy, step);
        }
    }
}

#[test]
fn blue_green_resumes_after_an_interrupt_at_each_step() {
    every_step(Strategy::BlueGreen, BLUE_GREEN_STEPS);
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
fn dual_cluster_resumes_after_an_interrupt_at_each_step() {
    every_step(Strategy::DualCluster, DUAL_CLUSTER_STEPS);
}
