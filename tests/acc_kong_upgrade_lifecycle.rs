//! Acceptance: a `kong_upgrade`'s life outside the happy path of one
//! workspace, through real Terraform on `examples/upgrades/blue_green`
//! against real PostgreSQL, HAProxy and kongsim:
//!
//! - importing an upgrade already under way: the first plan reads how far
//!   it got from the provider's journal in X's database or, without one,
//!   infers it from `schema_meta`, the version Y runs and HAProxy's split,
//!   and plans only what is left;
//! - destroying an unfinished upgrade: refused by default, rolled back to X
//!   with `on_destroy = "rollback"`, refused after `migrations finish`.

mod support;

use support::runbooks::{
    blue_green_vars, create_orders_service, recorded_3_6_migrations, version_of, FAST,
};
use support::upgrade::{
    admin, answers, example_config, flat, haproxy_share_y, hcl_string, history_count,
    planned_values, step_ids, Sandbox, FROM, TO,
};
use support::{Acceptance, TerraformVersion};

const ADDRESS: &str = "kong_upgrade.this";
const EXAMPLE: &str = "upgrades/blue_green";

/// The example's variables, plus `on_destroy` when given.
fn vars(sb: &Sandbox, phase: &str, weight_y: Option<u8>, on_destroy: Option<&str>) -> String {
    let mut vars = blue_green_vars(sb, phase, weight_y, "{}", FAST);
    if let Some(on_destroy) = on_destroy {
        vars.push_str(&format!("on_destroy = {}\n", hcl_string(on_destroy)));
    }
    vars
}

fn import_id(sb: &Sandbox) -> String {
    format!("blue_green,{TO},{},{}", sb.x.admin_url, sb.y.admin_url)
}

/// A fresh workspace (empty state) holding the example with `tfvars`, into
/// which the sandbox's upgrade is imported.
fn import_into_fresh_workspace(
    version: TerraformVersion,
    sb: &Sandbox,
    tfvars: &str,
) -> Acceptance {
    let mut acc = Acceptance::new(version);
    acc.ws().write_file("terraform.tfvars", tfvars).unwrap();
    acc.configure(&example_config(EXAMPLE));
    acc.ws().import(ADDRESS, &import_id(sb)).unwrap();
    acc
}

fn set_vars(acc: &Acceptance, tfvars: &str) {
    acc.ws().write_file("terraform.tfvars", tfvars).unwrap();
}

fn values(acc: &Acceptance) -> serde_json::Value {
    acc.values(ADDRESS)
}

/// How many steps with id `step` the history holds, whatever their result.
fn runs(history: &serde_json::Value, step: &str) -> usize {
    history
        .as_array()
        .map_or(0, |h| h.iter().filter(|e| e["step"] == step).count())
}

// ------------------------------------------------------------------ import

fn import_while_serving(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let config = example_config(EXAMPLE);

    // Someone else's workspace took the upgrade to 50 % on Y.
    let mut theirs = Acceptance::new(version);
    set_vars(&theirs, &vars(&sb, "serving", Some(50), None));
    theirs.apply(&config);
    assert_eq!(haproxy_share_y(&sb), 50);
    assert_eq!(
        history_count(&values(&theirs)["history"], "migrations_up", "ok"),
        1
    );
    let pending_after_up = sb.pending();
    assert!(!pending_after_up.is_empty(), "{}", sb.schema_meta("kong"));
    let meta_after_up = sb.schema_meta("kong");

    // As if the upgrade had been run by other means: no journal of this
    // provider's to read, so the import infers the progress from the world.
    sb.query(
        "kong",
        "DROP SCHEMA terraform_provider_kong CASCADE; SELECT 'dropped'",
    );

    // Imported into a fresh state: the plan knows Y is migrated and serving
    // 50 %, so at the same target all that runs is a fresh freeze baseline
    // (writes before the import cannot be known).
    let mut ours = import_into_fresh_workspace(version, &sb, &vars(&sb, "serving", Some(50), None));
    let imported = values(&ours);
    assert_eq!(imported["strategy"], "blue_green", "{imported}");
    assert_eq!(imported["to_version"], TO, "{imported}");
    let planned = planned_values(ours.ws(), ADDRESS);
    assert_eq!(step_ids(&planned), ["freeze"], "{planned}");
    assert_eq!(planned["phase"], "serving", "{planned}");
    assert_eq!(planned["current_weight_y"], 50, "{planned}");
    assert_eq!(planned["from_version"], FROM, "{planned}");
    ours.apply(&config);
    let v = values(&ours);
    assert_eq!(v["phase"], "serving", "{v}");
    assert_eq!(v["current_weight_y"], 50, "{v}");
    assert!(v["config_fingerprint"].is_string(), "{v}");
    assert_eq!(
        sb.schema_meta("kong"),
        meta_after_up,
        "adopting touched no migration"
    );
    assert_eq!(haproxy_share_y(&sb), 50);

    // Towards `finished`: only the rest of the traffic, the freeze check
    // and `migrations finish` — no `up`, no start of Y, no staging tests.
    set_vars(&ours, &vars(&sb, "finished", None, None));
    let planned = planned_values(ours.ws(), ADDRESS);
    assert_eq!(
        step_ids(&planned),
        [
            "shift_traffic_to_100",
            "verify_freeze_before_finish",
            "migrations_finish"
        ],
        "{planned}"
    );
    ours.apply(&config);
    let v = values(&ours);
    assert_eq!(v["phase"], "finished", "{v}");
    assert_eq!(haproxy_share_y(&sb), 100);
    for step in ["migrations_up", "start_y", "wait_ready_y", "staging_tests"] {
        assert_eq!(runs(&v["history"], step), 0, "{step}: {}", v["history"]);
    }
    assert_eq!(
        (
            runs(&v["history"], "migrations_finish"),
            history_count(&v["history"], "migrations_finish", "ok")
        ),
        (1, 1),
        "{}",
        v["history"]
    );
    assert_eq!(sb.pending(), "", "{}", sb.schema_meta("kong"));
    assert_eq!(
        sb.duplicate_migrations("kong"),
        "",
        "{}",
        sb.schema_meta("kong")
    );
    assert_eq!(
        recorded_3_6_migrations(&sb, "kong"),
        5,
        "{}",
        sb.schema_meta("kong")
    );
    assert_eq!(version_of(&sb.y.admin_url), TO);
}

#[test]
fn importing_an_upgrade_serving_on_y_plans_only_what_is_left() {
    for version in support::versions() {
        import_while_serving(version);
    }
}

fn import_at_earlier_points(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let config = example_config(EXAMPLE);

    // Nothing done yet: the whole preparation is planned.
    let mut first = import_into_fresh_workspace(version, &sb, &vars(&sb, "prepared", None, None));
    let planned = planned_values(first.ws(), ADDRESS);
    assert_eq!(step_ids(&planned), ["freeze", "backup"], "{planned}");
    assert_eq!(planned["phase"], "prepared", "{planned}");
    first.apply(&config);
    assert_eq!(values(&first)["phase"], "prepared");

    // After `prepared` only, nothing Kong keeps shows the freeze or the
    // backup, but the provider's journal in X's database does: the import
    // reads it, and neither is taken again. Then the migration and Y.
    let mut second = import_into_fresh_workspace(version, &sb, &vars(&sb, "migrated", None, None));
    let planned = planned_values(second.ws(), ADDRESS);
    assert_eq!(
        step_ids(&planned),
        ["migrations_up", "start_y", "wait_ready_y"],
        "{planned}"
    );
    second.apply(&config);
    let v = values(&second);
    assert_eq!(v["phase"], "migrated", "{v}");
    assert_eq!(history_count(&v["history"], "migrations_up", "ok"), 1);
    assert_eq!(version_of(&sb.y.admin_url), TO);
    assert_eq!(haproxy_share_y(&sb), 0);

    // After `migrated`: the journal holds the freeze baseline too; what is
    // left is the checks before Y takes traffic.
    let mut third =
        import_into_fresh_workspace(version, &sb, &vars(&sb, "serving", Some(50), None));
    let planned = planned_values(third.ws(), ADDRESS);
    assert_eq!(
        step_ids(&planned),
        [
            "verify_freeze_before_cutover",
            "staging_tests",
            "shift_traffic_to_50"
        ],
        "{planned}"
    );
    third.apply(&config);
    let v = values(&third);
    assert_eq!(v["phase"], "serving", "{v}");
    assert_eq!(history_count(&v["history"], "staging_tests", "ok"), 1);
    assert_eq!(haproxy_share_y(&sb), 50);
    assert_eq!(
        recorded_3_6_migrations(&sb, "kong"),
        5,
        "{}",
        sb.schema_meta("kong")
    );
    assert_eq!(sb.duplicate_migrations("kong"), "");
}

#[test]
fn importing_an_upgrade_before_or_after_its_migration_plans_the_remaining_steps() {
    for version in support::versions() {
        import_at_earlier_points(version);
    }
}

fn malformed_import_ids(version: TerraformVersion) {
    let mut acc = Acceptance::new(version);
    acc.configure(
        r#"
resource "kong_upgrade" "this" {
  strategy     = "blue_green"
  to_version   = "3.6.1"
  target_phase = "prepared"
  cluster_x {
    admin_url = "http://127.0.0.1:9"
  }
  cluster_y {
    admin_url = "http://127.0.0.1:10"
  }
  database {
    host     = "127.0.0.1"
    password = "unused"
  }
  runner {
    command {
      argv = ["true"]
    }
  }
}
"#,
    );
    let cases = [
        ("blue_green,3.6.1", "has 2 comma-separated part(s), not 4"),
        (
            "teal,3.6.1,http://kong-x:8001,http://kong-y:8001",
            r#"STRATEGY: unknown strategy "teal": expected one of "in_place", "blue_green""#,
        ),
        (
            "blue_green,three.six,http://kong-x:8001,http://kong-y:8001",
            r#"TO_VERSION: not a Kong version: "three.six""#,
        ),
        (
            "blue_green,3.6.1,kong-x:8001,http://kong-y:8001",
            r#"X_ADMIN_URL: "kong-x:8001" is not an http(s) URL"#,
        ),
        (
            "blue_green,3.6.1,http://kong-x:8001,",
            r#"Y_ADMIN_URL: "" is not an http(s) URL"#,
        ),
    ];
    for (id, expected) in cases {
        let failed = acc.ws().import_expect_error(ADDRESS, id).unwrap();
        let text = flat(&failed.stderr);
        assert!(text.contains("Invalid import id"), "{id}: {failed}");
        assert!(text.contains(expected), "{id}: {failed}");
        assert!(
            text.contains("STRATEGY,TO_VERSION,X_ADMIN_URL,Y_ADMIN_URL"),
            "the diagnostic shows the expected form: {failed}"
        );
    }
    assert_eq!(acc.ws().state_list().unwrap(), Vec::<String>::new());
}

#[test]
fn a_malformed_import_id_says_what_is_wrong() {
    for version in support::versions() {
        malformed_import_ids(version);
    }
}

// ----------------------------------------------------------------- destroy

fn destroy_before_and_after_rollback(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let config = example_config(EXAMPLE);
    let mut acc = Acceptance::new(version);
    set_vars(&acc, &vars(&sb, "serving", Some(50), None));
    acc.apply(&config);
    assert_eq!(haproxy_share_y(&sb), 50);
    let pending_after_up = sb.pending();
    assert!(!pending_after_up.is_empty(), "{}", sb.schema_meta("kong"));

    // By default an unfinished upgrade is not destroyed: it would leave X
    // and Y half-way.
    let refused = acc.ws().destroy().unwrap_err().to_string();
    let text = flat(&refused);
    assert!(text.contains("Upgrade refused"), "{refused}");
    assert!(
        text.contains(
            "the upgrade stands at serving (50% on Y): destroying it now would leave X and Y half-way"
        ),
        "{refused}"
    );
    assert!(
        text.contains(r#"set on_destroy = "rollback" to send all traffic back to X first"#),
        "the refusal says the way out: {refused}"
    );
    assert_eq!(acc.ws().state_list().unwrap(), [ADDRESS], "kept in state");
    assert_eq!(haproxy_share_y(&sb), 50, "nothing moved");

    // With on_destroy = "rollback", destroy sends all traffic back to X and
    // leaves the database as `up` left it, which X still runs on.
    set_vars(&acc, &vars(&sb, "serving", Some(50), Some("rollback")));
    acc.apply(&config);
    assert_eq!(
        haproxy_share_y(&sb),
        50,
        "changing on_destroy moves nothing"
    );
    let destroyed = acc.ws().destroy().unwrap();
    if version != TerraformVersion::V1_0_3 {
        // Cores from 1.3 on plan destroys through the provider, which shows
        // the rollback before it runs.
        let shown = flat(&destroyed.stdout);
        assert!(
            shown.contains("Warning: Destroy runs a rollback step")
                && shown.contains("send all traffic back to X (rollback)"),
            "{destroyed}"
        );
    }
    assert_eq!(acc.ws().state_list().unwrap(), Vec::<String>::new());
    assert_eq!(
        (sb.haproxy_weight("y"), haproxy_share_y(&sb)),
        (0, 0),
        "all traffic is back on X:\n{destroyed}"
    );
    assert!(sb.haproxy_weight("x") > 0, "{destroyed}");
    assert_eq!(
        sb.pending(),
        pending_after_up,
        "`migrations finish` did not run: {}",
        sb.schema_meta("kong")
    );
    assert_eq!(sb.duplicate_migrations("kong"), "");
    assert_eq!(version_of(&sb.x.admin_url), FROM, "X still answers");
    assert_eq!(
        admin(&sb.x.admin_url, "GET", "/services/orders", "").0,
        200,
        "X reads its configuration from the database"
    );
    let (status, body) = admin(
        &sb.x.admin_url,
        "POST",
        "/services",
        r#"{"name":"after-rollback","url":"http://after.internal"}"#,
    );
    assert_eq!(status, 201, "and writes to it: {body}");
    assert!(answers(&sb.x.proxy_url));
}

#[test]
fn destroying_an_unfinished_upgrade_is_refused_unless_it_rolls_back() {
    for version in support::versions() {
        destroy_before_and_after_rollback(version);
    }
}

fn rollback_refused_after_finish(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let config = example_config(EXAMPLE);
    let mut acc = Acceptance::new(version);
    set_vars(&acc, &vars(&sb, "finished", None, Some("rollback")));
    acc.apply(&config);
    let v = values(&acc);
    assert_eq!(v["phase"], "finished", "{v}");
    let backup = v["backup_location"].as_str().unwrap().to_string();
    assert_eq!(sb.pending(), "");

    let refused = acc.ws().destroy().unwrap_err().to_string();
    let text = flat(&refused);
    assert!(text.contains("Upgrade refused"), "{refused}");
    assert!(
        text.contains(
            "`kong migrations finish` already ran on the shared database, so X cannot use it any more: sending traffic back to X is refused"
        ),
        "{refused}"
    );
    assert!(
        text.contains(&format!("restoring the backup (taken at {backup})")),
        "the refusal points at the backup: {refused}"
    );
    assert_eq!(acc.ws().state_list().unwrap(), [ADDRESS], "kept in state");
    assert_eq!(haproxy_share_y(&sb), 100, "Y keeps all traffic");
}

#[test]
fn rolling_back_after_migrations_finish_is_refused() {
    for version in support::versions() {
        rollback_refused_after_finish(version);
    }
}
