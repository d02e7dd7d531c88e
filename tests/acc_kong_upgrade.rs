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
    let weight = weight
        .map(|w| format!("weight_y = {w}"))
        .unwrap_or_default();
    format!(
        r#"
resource "kong_upgrade" "bg" {{
  strategy     = "blue_green"
  to_version   = "{TO}"
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
      argv = ["{kongsim}", "--kong-version", "{TO}"]
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
    assert!(
        pending.contains("acme:003_350_to_360") && pending.contains("rate-limiting:006_350_to_360"),
        "{pending}"
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
    acc.destroy();
}

#[test]
fn blue_green_upgrade_phase_by_phase() {
    for version in support::versions() {
        blue_green_end_to_end(version);
    }
}
