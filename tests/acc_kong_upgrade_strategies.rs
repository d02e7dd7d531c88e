//! Acceptance: each upgrade strategy end to end through real Terraform,
//! applying the configurations in `examples/upgrades/` with the sandbox's
//! addresses as variables, against real PostgreSQL, HAProxy and kongsim.
//! Blue-green is covered phase by phase in acc_kong_upgrade.rs, and under
//! interruption and a freeze violation here.

mod support;

use std::path::Path;
use support::runbooks::{
    blue_green_vars, create_orders_service, dual_cluster_vars, in_place_vars,
    recorded_3_6_migrations, rolling_vars, version_of, write_consumer_credentials, FAST,
    NEW_DATABASE,
};
use support::upgrade::{
    admin, answers, example_config, flat, hcl_string, history_count, kong_cli, points_at, tfvars,
    Sandbox, CONFIG_TABLES, TO,
};
use support::{Acceptance, TerraformVersion};
use testbed::postgres::KONG_PASSWORD;

fn values(acc: &Acceptance) -> serde_json::Value {
    acc.values("kong_upgrade.this")
}

// ---------------------------------------------------------------- in-place

fn in_place_end_to_end(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let rows_before = sb.rows_hash("kong", CONFIG_TABLES);
    let config = example_config("upgrades/in_place");
    let mut acc = Acceptance::new(version);

    // Downtime must be acknowledged, on the attribute that acknowledges it.
    acc.ws()
        .write_file("terraform.tfvars", &in_place_vars(&sb, "prepared", false))
        .unwrap();
    let refused = acc.plan_expect_error(&config, "Upgrade refused");
    assert!(
        flat(&refused.stderr).contains("set allow_downtime = true"),
        "{refused}"
    );
    assert!(points_at(&refused.stderr, "allow_downtime"), "{refused}");

    acc.ws()
        .write_file("terraform.tfvars", &in_place_vars(&sb, "prepared", true))
        .unwrap();
    acc.apply(&config);
    assert_eq!(values(&acc)["phase"], "prepared");
    assert!(Path::new(values(&acc)["backup_location"].as_str().unwrap()).is_file());
    assert!(answers(&sb.x.admin_url), "X keeps serving while prepared");

    // The plan names where the downtime starts and ends, on allow_downtime.
    acc.ws()
        .write_file("terraform.tfvars", &in_place_vars(&sb, "finished", true))
        .unwrap();
    let plan = acc.ws().plan().unwrap();
    let text = flat(&plan.stdout);
    assert!(
        text.contains("downtime starts with step stop_x and ends after step wait_ready_y"),
        "{plan}"
    );
    assert!(
        points_at(&plan.stdout, "allow_downtime"),
        "the downtime warning is on allow_downtime:\n{plan}"
    );

    // One apply: stop X (hook), up, finish, start Y (hook), Y ready.
    acc.apply(&config);
    let v = values(&acc);
    assert_eq!(v["phase"], "finished", "{v}");
    assert!(!answers(&sb.x.admin_url), "the stop_x hook stopped X");
    assert_eq!(
        version_of(&sb.y.admin_url),
        TO,
        "the start_y hook started Y"
    );
    for step in [
        "stop_x",
        "migrations_up",
        "migrations_finish",
        "start_y",
        "wait_ready_y",
    ] {
        assert_eq!(
            history_count(&v["history"], step, "ok"),
            1,
            "{step} ran once: {}",
            v["history"]
        );
    }
    assert_eq!(sb.pending(), "", "migrations finish ran in the same apply");
    assert_eq!(sb.duplicate_migrations("kong"), "");
    assert_eq!(
        sb.rows_hash("kong", CONFIG_TABLES),
        rows_before,
        "no configuration changed"
    );
    assert_eq!(
        admin(&sb.y.admin_url, "GET", "/services/orders", "").0,
        200,
        "Y serves X's configuration"
    );

    acc.ws()
        .write_file("terraform.tfvars", &in_place_vars(&sb, "completed", true))
        .unwrap();
    acc.apply(&config);
    assert_eq!(values(&acc)["phase"], "completed");
    acc.destroy();
}

#[test]
fn in_place_upgrade_with_its_downtime_window() {
    for version in support::versions() {
        in_place_end_to_end(version);
    }
}

// ------------------------------------------------------------ dual-cluster

fn dual_cluster_end_to_end(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    // A counter kept in the database: X and Y will count apart.
    let (status, body) = admin(
        &sb.x.admin_url,
        "POST",
        "/plugins",
        r#"{"name":"rate-limiting","config":{"minute":10,"policy":"cluster"}}"#,
    );
    assert_eq!(status, 201, "{body}");
    sb.create_database(NEW_DATABASE);
    let x_meta_before = sb.schema_meta("kong");
    let x_rows_before = sb.rows_hash("kong", CONFIG_TABLES);
    let config = example_config("upgrades/dual_cluster");
    let mut acc = Acceptance::new(version);

    // The plan warns that database-backed counters split for the window.
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &dual_cluster_vars(&sb, "prepared", None),
        )
        .unwrap();
    acc.configure(&config);
    let plan = acc.ws().plan().unwrap();
    assert!(
        flat(&plan.stdout).contains("Upgrade warning")
            && flat(&plan.stdout).contains(
                "rate-limiting keep counters in the database: X and Y count separately during the window"
            ),
        "{plan}"
    );

    let mut advance = |phase: &str, weight_y: Option<u8>| {
        acc.ws()
            .write_file("terraform.tfvars", &dual_cluster_vars(&sb, phase, weight_y))
            .unwrap();
        acc.apply(&config);
        let v = values(&acc);
        assert_eq!(v["phase"], phase, "{v}");
        v
    };

    let v = advance("prepared", None);
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("rate-limiting keep counters in the database"),
        "{warnings}"
    );

    let v = advance("migrated", None);
    for step in [
        "restore_new_database",
        "migrations_up",
        "migrations_finish",
        "start_y",
        "wait_ready_y",
    ] {
        assert_eq!(
            history_count(&v["history"], step, "ok"),
            1,
            "{step} ran once: {}",
            v["history"]
        );
    }
    let y_meta = sb.schema_meta(NEW_DATABASE);
    assert!(
        y_meta.contains("003_350_to_360"),
        "Y's migrations ran on the new database:\n{y_meta}"
    );
    assert_eq!(
        sb.pending_in(NEW_DATABASE),
        "",
        "up and finish both ran there"
    );
    assert_eq!(sb.duplicate_migrations(NEW_DATABASE), "");
    assert_eq!(
        sb.schema_meta("kong"),
        x_meta_before,
        "X's database is not migrated"
    );
    assert_eq!(
        sb.rows_hash(NEW_DATABASE, &["services", "routes"]),
        sb.rows_hash("kong", &["services", "routes"]),
        "the backup restored X's configuration into Y's database"
    );
    assert_eq!(admin(&sb.y.admin_url, "GET", "/services/orders", "").0, 200);
    assert_eq!(sb.haproxy_weight("y"), 0, "Y takes no traffic yet");

    let v = advance("serving", Some(50));
    assert_eq!(v["current_weight_y"], 50);
    assert!(
        history_count(&v["history"], "staging_tests", "ok") == 1,
        "{}",
        v["history"]
    );
    let v = advance("finished", None);
    assert_eq!(v["current_weight_y"], 100);
    assert_eq!(sb.haproxy_weight("x"), 0, "all traffic on Y");
    assert!(
        answers(&sb.x.admin_url),
        "X is kept for rollback until decommissioned"
    );

    advance("completed", None);
    assert!(
        !answers(&sb.x.admin_url),
        "the decommission_x hook stopped X"
    );
    assert_eq!(
        sb.schema_meta("kong"),
        x_meta_before,
        "X's database was never migrated"
    );
    assert_eq!(
        sb.rows_hash("kong", CONFIG_TABLES),
        x_rows_before,
        "nor its configuration changed"
    );

    // X's database is intact, but X is gone: traffic cannot go back to it.
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &dual_cluster_vars(&sb, "serving", Some(50)),
        )
        .unwrap();
    let refused = acc.plan_expect_error(&config, "Upgrade refused");
    assert!(
        flat(&refused.stderr)
            .contains("cluster X was decommissioned, so there is nothing to roll back to"),
        "{refused}"
    );
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &dual_cluster_vars(&sb, "completed", None),
        )
        .unwrap();
    acc.destroy();
}

#[test]
fn dual_cluster_upgrade_migrates_a_restored_copy() {
    for version in support::versions() {
        dual_cluster_end_to_end(version);
    }
}

// ----------------------------------------------------------------- rolling

/// Where a rolling upgrade's backup of the declarative configuration comes
/// from.
#[derive(Clone, Copy, Debug)]
enum DeclarativeBackup {
    /// `backup.declarative_config_path`, as the example sets it.
    File,
    /// No path: what X serves at `GET /config` on its Admin API.
    AdminApi,
}

/// The rolling example, without `declarative_config_path` for
/// [`DeclarativeBackup::AdminApi`].
fn rolling_config(backup: DeclarativeBackup) -> String {
    let example = example_config("upgrades/rolling");
    match backup {
        DeclarativeBackup::File => example,
        DeclarativeBackup::AdminApi => {
            let line = "    declarative_config_path = var.declarative_config_path\n";
            assert!(example.contains(line), "the example sets the path");
            example.replace(line, "")
        }
    }
}

/// The configuration X serves, as its Admin API exports it.
fn served_config(admin_url: &str) -> String {
    let (status, body) = admin(admin_url, "GET", "/config", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["config"]
        .as_str()
        .unwrap()
        .to_string()
}

fn rolling_end_to_end(version: TerraformVersion, backup: DeclarativeBackup) {
    let sb = Sandbox::dbless();
    let config = rolling_config(backup);
    let mut acc = Acceptance::new(version);
    let mut advance = |phase: &str, weight_y: Option<u8>| {
        acc.ws()
            .write_file("terraform.tfvars", &rolling_vars(&sb, phase, weight_y))
            .unwrap();
        acc.apply(&config);
        let v = values(&acc);
        assert_eq!(v["phase"], phase, "{v}");
        v
    };

    let v = advance("prepared", None);
    let backed_up = std::fs::read_to_string(v["backup_location"].as_str().unwrap()).unwrap();
    match backup {
        DeclarativeBackup::File => assert_eq!(
            backed_up,
            std::fs::read_to_string(sb.declarative_config_path()).unwrap(),
            "the declarative configuration file is backed up"
        ),
        DeclarativeBackup::AdminApi => {
            assert_eq!(
                backed_up,
                served_config(&sb.x.admin_url),
                "the configuration X serves is backed up"
            );
            assert!(backed_up.contains("orders"), "{backed_up}");
        }
    }
    assert!(
        v["config_fingerprint"]
            .as_str()
            .is_some_and(|f| !f.is_empty()),
        "{v}"
    );

    let v = advance("migrated", None);
    assert_eq!(
        version_of(&sb.y.admin_url),
        TO,
        "the start_y hook started a new node"
    );
    assert_eq!(
        history_count(&v["history"], "wait_ready_y", "ok"),
        1,
        "{}",
        v["history"]
    );
    assert_eq!(sb.haproxy_weight("y"), 0);

    let v = advance("serving", Some(50));
    assert_eq!(v["current_weight_y"], 50);
    let v = advance("finished", None);
    assert_eq!(v["current_weight_y"], 100);
    assert_eq!(sb.haproxy_weight("x"), 0, "all traffic on the new node");

    let v = advance("completed", None);
    assert!(!answers(&sb.x.admin_url), "the old node was decommissioned");
    for step in [
        "freeze",
        "backup",
        "start_y",
        "verify_freeze_before_cutover",
        "cutover_confirmed",
        "decommission_x",
        "complete",
    ] {
        assert_eq!(
            history_count(&v["history"], step, "ok"),
            1,
            "{step} ran once: {}",
            v["history"]
        );
    }
    acc.destroy();
}

/// Rolling is refused for a traditional node with a database: see the
/// `rolling is refused ...` row of acc_kong_upgrade_rules.rs.
#[test]
fn rolling_upgrade_of_dbless_nodes() {
    for version in support::versions() {
        rolling_end_to_end(version, DeclarativeBackup::File);
    }
}

/// Without `declarative_config_path`, the backup is what X's Admin API
/// serves at `GET /config`.
#[test]
fn rolling_upgrade_backs_up_the_configuration_x_serves() {
    for version in support::versions() {
        rolling_end_to_end(version, DeclarativeBackup::AdminApi);
    }
}

// ------------------------------------------- blue-green: interrupt, freeze

/// Each of the four 3.5 → 3.6 migrations sleeps this long in its
/// transaction: long enough to interrupt `up` between two of them.
const SLOW_MIGRATIONS: &str = r#"{ KONGSIM_TEST_MIGRATION_DELAY_MS = "700" }"#;

fn interrupted_and_resumed(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let rows_before = sb.rows_hash("kong", &["services", "routes"]);
    let config = example_config("upgrades/blue_green");
    let mut acc = Acceptance::new(version);
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &blue_green_vars(&sb, "prepared", None, SLOW_MIGRATIONS, FAST),
        )
        .unwrap();
    acc.apply(&config);

    // Ctrl-C while `kong migrations up` is between two migrations.
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &blue_green_vars(&sb, "migrated", None, SLOW_MIGRATIONS, FAST),
        )
        .unwrap();
    let run = acc.ws().spawn_apply_in_new_process_group().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while recorded_3_6_migrations(&sb, "kong") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "migrations up never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let recorded_at_interrupt = recorded_3_6_migrations(&sb, "kong");
    run.send_sigint_to_group().unwrap();
    assert!(
        recorded_at_interrupt < 5,
        "the interrupt must land while `up` runs"
    );
    let interrupted = run
        .wait_with_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(
        !interrupted.success(),
        "an interrupted apply fails:\n{interrupted}"
    );
    // The provider let the running `kong migrations up` finish (killing it
    // could leave a migration applied but unrecorded, and Kong's lock held),
    // recorded the step, and stopped before the next one.
    assert!(
        flat(&interrupted.stderr).contains(r#"Upgrade step "start_y" failed: interrupted"#),
        "{interrupted}"
    );
    assert_eq!(
        recorded_3_6_migrations(&sb, "kong"),
        5,
        "{}",
        sb.schema_meta("kong")
    );
    let v = values(&acc);
    assert_eq!(v["phase"], "prepared", "{v}");
    assert_eq!(
        history_count(&v["history"], "migrations_up", "ok"),
        1,
        "{}",
        v["history"]
    );
    assert!(!answers(&sb.y.admin_url), "Y was not started");
    assert_eq!(
        sb.query("kong", "SELECT count(*) FROM locks WHERE ttl > now()"),
        "0",
        "Kong's migration lock was released, so the resume does not wait for it"
    );

    // Ctrl-C again while traffic moves 0 → 50 % in steps of 25 %: the
    // split reached so far is what the state says.
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &blue_green_vars(&sb, "serving", Some(50), "{}", (25, "3s")),
        )
        .unwrap();
    let run = acc.ws().spawn_apply_in_new_process_group().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sb.haproxy_weight("y") == 0 {
        assert!(std::time::Instant::now() < deadline, "traffic never moved");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    run.send_sigint_to_group().unwrap();
    let interrupted = run
        .wait_with_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(!interrupted.success(), "{interrupted}");
    let v = values(&acc);
    assert_eq!(
        v["current_weight_y"], 25,
        "the state holds the weight reached: {v}"
    );
    let y_share = sb.haproxy_weight("y") * 100 / (sb.haproxy_weight("x") + sb.haproxy_weight("y"));
    assert_eq!(y_share, 25, "and so does HAProxy");
    acc.ws().expect_empty_plan().unwrap_err();

    // The re-apply resumes and completes the upgrade.
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &blue_green_vars(&sb, "finished", None, "{}", FAST),
        )
        .unwrap();
    acc.apply(&config);
    let v = values(&acc);
    assert_eq!(v["phase"], "finished", "{v}");
    assert_eq!(
        sb.duplicate_migrations("kong"),
        "",
        "no migration ran twice:\n{}",
        sb.schema_meta("kong")
    );
    assert_eq!(
        recorded_3_6_migrations(&sb, "kong"),
        5,
        "{}",
        sb.schema_meta("kong")
    );
    assert_eq!(sb.pending(), "", "{}", sb.schema_meta("kong"));
    let runs = |step: &str| {
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["step"] == step)
            .count()
    };
    assert_eq!(
        (
            runs("migrations_up"),
            history_count(&v["history"], "migrations_up", "ok")
        ),
        (1, 1),
        "{}",
        v["history"]
    );
    assert_eq!(
        (
            runs("migrations_finish"),
            history_count(&v["history"], "migrations_finish", "ok")
        ),
        (1, 1),
        "{}",
        v["history"]
    );
    assert_eq!(runs("freeze"), 1, "{}", v["history"]);
    assert_eq!(
        sb.rows_hash("kong", &["services", "routes"]),
        rows_before,
        "Kong's tables are unchanged"
    );
}

#[test]
fn blue_green_interrupted_mid_migration_resumes() {
    for version in support::versions() {
        interrupted_and_resumed(version);
    }
}

/// Kong Enterprise 3.5.0.0 → 3.6.1.0: a write inside workspace `team-a`
/// (`/team-a/services`), a new consumer group and, once those are undone,
/// a member added to a group that existed before the window are seen too.
const ENTERPRISE: (&str, &str) = ("3.5.0.0", "3.6.1.0");

fn freeze_violation_stops_the_cutover(version: TerraformVersion, enterprise: bool) {
    let sb = match enterprise {
        true => Sandbox::traditional_between(ENTERPRISE.0, ENTERPRISE.1),
        false => Sandbox::traditional(),
    };
    create_orders_service(&sb.x.admin_url);
    let create = |path: &str, body: &str| {
        let (status, body) = admin(&sb.x.admin_url, "POST", path, body);
        assert_eq!(status, 201, "{body}");
        let created: serde_json::Value = serde_json::from_str(&body).unwrap();
        created["id"].as_str().unwrap().to_string()
    };
    // On Enterprise, a group and a consumer that exist before the freeze.
    let silver_and_dana = enterprise.then(|| {
        create("/workspaces", r#"{"name":"team-a"}"#);
        (
            create("/consumer_groups", r#"{"name":"silver"}"#),
            create("/consumers", r#"{"username":"dana"}"#),
        )
    });
    let config = example_config("upgrades/blue_green");
    let mut acc = Acceptance::new(version);
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &blue_green_vars(&sb, "prepared", None, "{}", FAST),
        )
        .unwrap();
    acc.apply(&config);

    // Someone writes to X's Admin API during the freeze window.
    let payments_id = create(
        "/services",
        r#"{"name":"payments","url":"http://payments.internal"}"#,
    );
    // ... and to a consumer's credentials and ACLs (and on Enterprise,
    // inside a workspace, and to a consumer group).
    let mut credentials = write_consumer_credentials(&sb.x.admin_url);
    if enterprise {
        let billing = create(
            "/team-a/services",
            r#"{"name":"billing","url":"http://billing.internal"}"#,
        );
        credentials.push(format!("team-a/services/{billing}"));
        let gold = create("/consumer_groups", r#"{"name":"gold"}"#);
        credentials.push(format!("consumer_groups/{gold}"));
    }

    acc.ws()
        .write_file(
            "terraform.tfvars",
            &blue_green_vars(&sb, "serving", Some(50), "{}", FAST),
        )
        .unwrap();
    let failed = acc.apply_expect_error(&config, "configuration changed during the freeze");
    let text = flat(&failed.stderr);
    assert!(
        text.contains(r#"Upgrade step "verify_freeze_before_cutover" failed"#),
        "{failed}"
    );
    assert!(
        text.contains(&format!("services/{payments_id}")),
        "the error names what changed:\n{failed}"
    );
    for written in &credentials {
        assert!(
            text.contains(written.as_str()),
            "{written} named:\n{failed}"
        );
    }
    assert_eq!(sb.haproxy_weight("y"), 0, "Y got no traffic");
    let v = values(&acc);
    assert_eq!(
        v["phase"], "migrated",
        "the steps before the check are kept: {v}"
    );
    assert_eq!(v["current_weight_y"], 0);

    // Destroying the upgrade now would leave X and Y half-way: refused.
    let refused = acc.ws().destroy().unwrap_err().to_string();
    assert!(
        flat(&refused).contains("destroying it now would leave X and Y half-way"),
        "{refused}"
    );
    assert!(refused.contains("Upgrade refused"), "{refused}");

    // Undoing the write lets the upgrade resume where it stopped.
    for path in [
        "/services/payments",
        "/consumers/alice",
        "/team-a/services/billing",
        "/consumer_groups/gold",
    ]
    .iter()
    .take(if enterprise { 4 } else { 2 })
    {
        assert_eq!(admin(&sb.x.admin_url, "DELETE", path, "").0, 204, "{path}");
    }
    if let Some((silver, dana)) = &silver_and_dana {
        // A member added to a group that existed before the window, the
        // one write left (the diagnostic names at most ten): named alone.
        let member = r#"{"consumer":"dana"}"#;
        let added = admin(
            &sb.x.admin_url,
            "POST",
            "/consumer_groups/silver/consumers",
            member,
        );
        assert_eq!(added.0, 201, "{}", added.1);
        let failed = acc.apply_expect_error(&config, "configuration changed during the freeze");
        let named = format!("(added: consumer_groups/{silver}/consumers/{dana})");
        assert!(flat(&failed.stderr).contains(&named), "{named}:\n{failed}");
        let path = "/consumer_groups/silver/consumers/dana";
        assert_eq!(admin(&sb.x.admin_url, "DELETE", path, "").0, 204);
    }
    acc.apply(&config);
    let v = values(&acc);
    assert_eq!(v["phase"], "serving", "{v}");
    assert_eq!(v["current_weight_y"], 50);
    assert_eq!(
        history_count(&v["history"], "migrations_up", "ok"),
        1,
        "{}",
        v["history"]
    );
    assert!(sb.haproxy_weight("y") > 0);
}

#[test]
fn blue_green_admin_write_during_freeze_stops_before_cutover() {
    for version in support::versions() {
        freeze_violation_stops_the_cutover(version, false);
        freeze_violation_stops_the_cutover(version, true);
    }
}

// ------------------------------------------------------ module composition

fn composition_vars(sb: &Sandbox, stage: &str, weight_y: u8) -> String {
    tfvars(&[
        ("stage", hcl_string(stage)),
        ("weight_y", weight_y.to_string()),
        ("to_version", hcl_string(TO)),
        ("y_admin_url", hcl_string(&sb.y.admin_url)),
        ("pg_host", hcl_string("127.0.0.1")),
        ("pg_port", sb.pg().port.to_string()),
        ("pg_password", hcl_string(KONG_PASSWORD)),
        ("kong_cli", kong_cli(TO)),
        (
            "haproxy_runtime_api",
            hcl_string(&sb.haproxy.admin_socket().display().to_string()),
        ),
        ("step_weight", "25".into()),
        ("step_interval", hcl_string("100ms")),
    ])
}

/// The user's own deployment of Y, between two applies (what `helm
/// upgrade` would do in their pipeline).
fn deploy_y(sb: &Sandbox) {
    let argv = sb.start_y_on_database("kong");
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !answers(&sb.y.admin_url) {
        assert!(
            std::time::Instant::now() < deadline,
            "Y did not start:\n{}",
            sb.y.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn composed_upgrade(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let rows_before = sb.rows_hash("kong", &["services", "routes"]);
    let config = example_config("upgrades/module_composition");
    let mut acc = Acceptance::new(version);
    let apply = |acc: &mut Acceptance, stage: &str, weight_y: u8| {
        acc.ws()
            .write_file("terraform.tfvars", &composition_vars(&sb, stage, weight_y))
            .unwrap();
        acc.apply(&config);
    };

    apply(&mut acc, "migrate", 0);
    let pending = sb.pending();
    assert_eq!(
        pending, "opentelemetry:001_331_to_332",
        "`up` ran and left 3.6.1's one teardown pending"
    );
    assert_eq!(sb.haproxy_weight("y"), 0);

    deploy_y(&sb);
    apply(&mut acc, "shift", 50);
    assert_eq!(acc.ws().output("weight_y").unwrap(), 50);
    assert!(sb.haproxy_weight("y") > 0);
    assert!(!sb.pending().is_empty(), "finish waits for the last stage");

    apply(&mut acc, "finish", 0);
    assert_eq!(acc.ws().output("weight_y").unwrap(), 100);
    assert_eq!(sb.haproxy_weight("x"), 0, "all traffic on Y");
    assert_eq!(sb.pending(), "", "`finish` ran after the traffic moved");
    assert_eq!(sb.duplicate_migrations("kong"), "");
    assert_eq!(sb.rows_hash("kong", &["services", "routes"]), rows_before);
    acc.destroy();
}

#[test]
fn module_composition_of_migration_phases_and_traffic_split() {
    for version in support::versions() {
        composed_upgrade(version);
    }
}
