//! Acceptance: a whole blue-green upgrade through real Terraform, one apply
//! per phase, against real PostgreSQL and HAProxy and two kongsim clusters.

mod support;

use std::path::Path;
use support::upgrade::{hcl_list, Sandbox, TO};
use support::{Acceptance, TerraformVersion};
use testbed::kongsim::kongsim_bin;
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;

fn config(sb: &Sandbox, phase: &str, weight: Option<u8>) -> String {
    config_to(sb, TO, phase, weight)
}

/// [`config`] upgrading to `to` (Y and the runner run `to`).
fn config_to(sb: &Sandbox, to: &str, phase: &str, weight: Option<u8>) -> String {
    let weight = weight
        .map(|w| format!("weight_y = {w}"))
        .unwrap_or_default();
    format!(
        r#"
resource "kong_upgrade" "bg" {{
  strategy     = "blue_green"
  to_version   = "{to}"
  target_phase = "{phase}"
  {weight}

  cluster_x {{
    admin_url  = "{x_admin}"
    status_url = "{x_status}"
    proxy_url  = "{x_proxy}"
  }}
  cluster_y {{
    admin_url  = "{y_admin}"
    status_url = "{y_status}"
    proxy_url  = "{y_proxy}"
  }}
  database {{
    host     = "127.0.0.1"
    port     = {pg_port}
    user     = "kong"
    password = "{KONG_PASSWORD}"
    database = "kong"
  }}
  runner {{
    command {{
      argv = ["{kongsim}", "--kong-version", "{to}"]
    }}
  }}
  traffic {{
    haproxy {{
      runtime_api = "{socket}"
      backend     = "kong"
      server_x    = "x"
      server_y    = "y"
    }}
    step_weight = 25
    interval    = "200ms"
  }}
  backup {{
    directory = "{backup}"
  }}
  staging_test {{
    name          = "proxy answers"
    path          = "/orders"
    expect_status = 200
  }}
  hooks = {{
    start_y        = {start_y}
    decommission_x = {decommission_x}
  }}
}}

output "phase" {{
  value = kong_upgrade.bg.phase
}}
"#,
        x_admin = sb.x.admin_url,
        x_status = sb.x.status_url,
        x_proxy = sb.x.proxy_url,
        y_admin = sb.y.admin_url,
        y_status = sb.y.status_url,
        y_proxy = sb.y.proxy_url,
        pg_port = sb.pg().port,
        kongsim = kongsim_bin().display(),
        socket = sb.haproxy.admin_socket().display(),
        backup = sb.backup_dir().display(),
        start_y = hcl_list(&sb.start_y_on_database("kong")),
        decommission_x = hcl_list(&sb.stop_x_hook()),
    )
}

fn phase_of(acc: &Acceptance) -> serde_json::Value {
    acc.values("kong_upgrade.bg")["phase"].clone()
}

fn service_count(pg: &Postgres) -> String {
    pg.psql("SELECT count(*) FROM services")
        .unwrap()
        .trim()
        .to_string()
}

fn blue_green_end_to_end(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    // Configuration that must survive the upgrade untouched.
    testbed::kongsim::http_request(
        &sb.x.admin_url,
        "POST",
        "/services",
        r#"{"name":"orders","url":"http://orders.internal:8080"}"#,
    )
    .unwrap();
    let services_before = service_count(sb.pg());
    let mut acc = Acceptance::new(version);
    if std::env::var_os("KONG_ACC_DEBUG_LOG").is_some() {
        acc.ws_mut().enable_log("debug");
    }

    // A pg_dump older than the server is refused at plan, on the attribute
    // that chooses it, naming the fix; nothing is frozen or dumped.
    let old_pg_dump = sb.backup_dir().with_file_name("pg_dump-9.6");
    std::fs::write(
        &old_pg_dump,
        "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &old_pg_dump,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let backup_line = format!("directory = \"{}\"", sb.backup_dir().display());
    let with_old_pg_dump = config(&sb, "prepared", None).replace(
        &backup_line,
        &format!(
            "{backup_line}\n    pg_dump_path = \"{}\"",
            old_pg_dump.display()
        ),
    );
    let refused =
        acc.plan_expect_error(&with_old_pg_dump, "Backup tools cannot serve this database");
    assert!(
        refused.stderr.contains("backup[0].pg_dump_path")
            || refused.stderr.contains("pg_dump_path = "),
        "{refused}"
    );
    assert!(refused.stderr.contains("postgresql-client-"), "{refused}");

    acc.configure(&config(&sb, "prepared", None));
    let plan = acc.ws().plan().unwrap();
    assert!(
        plan.stdout.contains("pg_dump"),
        "the plan lists the backup step:\n{plan}"
    );
    acc.apply(&config(&sb, "prepared", None));
    let v = acc.values("kong_upgrade.bg");
    assert_eq!(v["phase"], "prepared");
    assert!(
        Path::new(v["backup_location"].as_str().unwrap()).is_file(),
        "{v}"
    );
    assert!(v["config_fingerprint"]
        .as_str()
        .is_some_and(|f| f.len() == 32));
    assert_eq!(sb.pending(), "", "nothing migrated yet");

    acc.apply(&config(&sb, "migrated", None));
    assert_eq!(phase_of(&acc), "migrated");
    let pending = sb.pending();
    assert_eq!(
        pending, "opentelemetry:001_331_to_332",
        "Kong 3.6.1 leaves only its opentelemetry migration for finish"
    );
    assert_eq!(
        sb.haproxy_weight("y"),
        0,
        "Y is up but takes no traffic yet"
    );

    acc.apply(&config(&sb, "serving", Some(50)));
    assert_eq!(acc.values("kong_upgrade.bg")["current_weight_y"], 50);
    assert!(
        sb.haproxy_weight("y") > 0 && sb.haproxy_weight("y") < 256,
        "haproxy weight of y: {}",
        sb.haproxy_weight("y")
    );

    acc.apply(&config(&sb, "serving", Some(100)));
    assert_eq!(acc.values("kong_upgrade.bg")["current_weight_y"], 100);
    assert!(!sb.pending().is_empty(), "finish has not run yet");

    acc.apply(&config(&sb, "finished", None));
    assert_eq!(phase_of(&acc), "finished");
    assert_eq!(sb.pending(), "", "migrations finish ran the teardowns");

    acc.plan_expect_error(&config(&sb, "serving", Some(50)), "Upgrade refused");

    acc.apply(&config(&sb, "completed", None));
    assert_eq!(phase_of(&acc), "completed");
    assert_eq!(
        service_count(sb.pg()),
        services_before,
        "no configuration lost"
    );
    let history = acc.values("kong_upgrade.bg")["history"].clone();
    let ran = |id: &str| {
        history
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["step"] == id)
            .count()
    };
    assert_eq!(ran("migrations_up"), 1, "{history}");
    assert_eq!(ran("migrations_finish"), 1, "{history}");
    // History says what Kong recorded: 3.6.1's opentelemetry migration was
    // pending after `up`, and `finish` tore it down.
    assert!(
        detail(&history, "migrations_up")
            .ends_with("Kong records pending: opentelemetry: 001_331_to_332"),
        "{history}"
    );
    assert!(
        detail(&history, "migrations_finish").starts_with("kong migrations finish: 1 migration(s)")
            && detail(&history, "migrations_finish").ends_with("Kong records pending: nothing"),
        "{history}"
    );
    acc.destroy();
}

/// The detail of the one history entry of step `id`.
fn detail(history: &serde_json::Value, id: &str) -> String {
    history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["step"] == id)
        .and_then(|h| h["detail"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// kongsim (the Kong under test) knows a core migration with a teardown
/// the catalog does not list, and lacks one the catalog lists: the upgrade
/// follows Kong's own `kong migrations status` and `schema_meta`, warns
/// naming both differences, runs `finish` for everything Kong has pending,
/// and completes with nothing pending.
fn follows_kong_when_it_disagrees_with_the_catalog(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    let mut acc = Acceptance::new(version);
    // Inherited by the kong CLI the runner starts and by Y's start hook.
    acc.ws_mut()
        .set_env("KONGSIM_TEST_EXTRA_MIGRATIONS", "core/999_records_extra+")
        .set_env(
            "KONGSIM_TEST_DROP_MIGRATIONS",
            "response-ratelimiting/001_350_to_360",
        );
    let out = acc.apply(&config(&sb, "finished", None));
    // Terraform wraps diagnostics in a `│` frame; read them as one line.
    let text = format!("{}\n{}", out.stdout, out.stderr)
        .split_whitespace()
        .filter(|word| *word != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("Kong's migrations differ from the preview")
            && text.contains("core/999_records_extra: Kong 3.6.1 knows it, the preview did not list it")
            && text.contains("response-ratelimiting/001_350_to_360: the preview listed it, Kong 3.6.1 does not know it"),
        "{out}"
    );
    assert_eq!(phase_of(&acc), "finished");
    assert_eq!(
        sb.pending(),
        "",
        "finish tore down everything Kong had pending"
    );
    let history = acc.values("kong_upgrade.bg")["history"].clone();
    assert!(
        detail(&history, "migrations_up").ends_with(
            "Kong records pending: core: 999_records_extra; opentelemetry: 001_331_to_332"
        ),
        "{history}"
    );
    assert!(
        detail(&history, "migrations_finish").starts_with("kong migrations finish: 2 migration(s)"),
        "{history}"
    );
    assert!(
        sb.schema_meta("kong").contains("999_records_extra"),
        "{}",
        sb.schema_meta("kong")
    );
    acc.apply(&config(&sb, "completed", None));
    assert_eq!(phase_of(&acc), "completed");
    assert_eq!(sb.pending(), "");
    acc.destroy();
}

#[test]
fn blue_green_follows_kongs_records_over_the_catalog() {
    for version in support::versions() {
        follows_kong_when_it_disagrees_with_the_catalog(version);
    }
}

#[test]
fn blue_green_upgrade_phase_by_phase() {
    for version in support::versions() {
        blue_green_end_to_end(version);
    }
}

/// A version the catalog does not know (Enterprise 3.10.0.1, adjacent to
/// 3.9.1.1; Kong OSS has no 3.10) is no error: the plan is made, and apply
/// asks the target's own `kong migrations status` through the runner and
/// follows what Kong records (kongsim serves 3.10 with 3.9.1's migrations
/// plus `extra`, as a test asks, see kongsim's README). `finish` runs exactly when Kong has something pending
/// after `up`: with a teardown (`+`) it tears it down; without one it has
/// nothing to do and runs nothing.
fn upgrades_to_a_version_the_catalog_does_not_know(version: TerraformVersion, teardown: bool) {
    const FUTURE: &str = "3.10.0.1";
    let extra = if teardown {
        "core/400_391_to_3100+"
    } else {
        "core/400_391_to_3100"
    };
    let sb = Sandbox::traditional_between("3.9.1.1", FUTURE);
    let mut acc = Acceptance::new(version);
    // Inherited by the kong CLI the runner starts and by Y's start hook.
    acc.ws_mut()
        .set_env("KONGSIM_TEST_UNKNOWN_VERSION_AS", "3.9.1")
        .set_env("KONGSIM_TEST_EXTRA_MIGRATIONS", extra);
    let finished = config_to(&sb, FUTURE, "finished", None);
    acc.configure(&finished);
    // `kong_upgrade` previews no migration names (for any version): its
    // plan is the steps, and whether `finish` has work is Kong's to say.
    let plan = acc.ws().plan().unwrap();
    assert!(
        plan.stdout.contains("\"migrations_up\"") && plan.stdout.contains("\"migrations_finish\""),
        "a plan, not an error, for a version only the runner knows:\n{plan}"
    );
    acc.apply(&finished);
    assert_eq!(phase_of(&acc), "finished");
    assert_eq!(sb.pending(), "", "nothing left pending");
    assert!(
        sb.schema_meta("kong").contains("400_391_to_3100"),
        "{}",
        sb.schema_meta("kong")
    );
    let history = acc.values("kong_upgrade.bg")["history"].clone();
    let (after_up, finish) = if teardown {
        (
            "Kong records pending: core: 400_391_to_3100",
            "kong migrations finish: 1 migration(s)",
        )
    } else {
        (
            "Kong records pending: nothing",
            "kong migrations finish: nothing to do",
        )
    };
    assert!(
        detail(&history, "migrations_up").ends_with(after_up),
        "{history}"
    );
    assert!(
        detail(&history, "migrations_finish").starts_with(finish),
        "{history}"
    );
    acc.apply(&config_to(&sb, FUTURE, "completed", None));
    assert_eq!(phase_of(&acc), "completed");
    assert_eq!(sb.pending(), "");
    acc.destroy();
}

#[test]
fn blue_green_to_a_version_the_catalog_does_not_know() {
    for version in support::versions() {
        upgrades_to_a_version_the_catalog_does_not_know(version, true);
        upgrades_to_a_version_the_catalog_does_not_know(version, false);
    }
}

/// `completed` is never reached while Kong still has something pending: a
/// `finish` whose teardown fails (kongsim's `KONGSIM_TEST_FAIL_MIGRATION`,
/// set for that apply only) stops the apply at `migrations_finish`, short
/// of `finished`, with 3.6.1's opentelemetry migration still pending. Once
/// the teardown can run, the next apply completes.
fn completed_waits_for_what_kong_has_pending(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    let mut acc = Acceptance::new(version);
    acc.apply(&config(&sb, "migrated", None));
    assert_eq!(sb.pending(), "opentelemetry:001_331_to_332");

    acc.ws_mut().set_env(
        "KONGSIM_TEST_FAIL_MIGRATION",
        "opentelemetry/001_331_to_332",
    );
    let failed = acc.apply_expect_error(
        &config(&sb, "completed", None),
        "Migration 001_331_to_332 failed",
    );
    assert!(
        failed.stderr.contains("migrations_finish"),
        "the failing step is named:\n{failed}"
    );
    let phase = phase_of(&acc);
    assert!(
        phase != "completed" && phase != "finished",
        "phase {phase} while Kong has pending: {}",
        sb.pending()
    );
    assert_eq!(sb.pending(), "opentelemetry:001_331_to_332");

    acc.ws_mut().set_env("KONGSIM_TEST_FAIL_MIGRATION", "");
    acc.apply(&config(&sb, "completed", None));
    assert_eq!(phase_of(&acc), "completed");
    assert_eq!(sb.pending(), "");
    acc.destroy();
}

#[test]
fn completed_is_never_reached_while_kong_has_pending_migrations() {
    for version in support::versions() {
        completed_waits_for_what_kong_has_pending(version);
    }
}
