//! Variables for the strategy examples in `examples/upgrades/`, filled with
//! a [`Sandbox`]'s addresses, and the configuration every upgrade must carry
//! over untouched.

use super::upgrade::{admin, hcl_list, hcl_string, kong_cli, tfvars, Sandbox, TO};
use testbed::postgres::KONG_PASSWORD;

/// Y's database in the dual-cluster runbook.
pub const NEW_DATABASE: &str = "kong_y";

/// Writes a consumer and one entity to each of its credential and ACL
/// collections through X's Admin API, as a user during the freeze window
/// might; returns them as the freeze names them (`collection/id`).
pub fn write_consumer_credentials(x_admin: &str) -> Vec<String> {
    let mut written = Vec::new();
    for (path, body, collection) in [
        ("/consumers", r#"{"username":"alice"}"#, "consumers"),
        ("/consumers/alice/key-auth", "{}", "key-auths"),
        (
            "/consumers/alice/basic-auth",
            r#"{"username":"a","password":"p"}"#,
            "basic-auths",
        ),
        ("/consumers/alice/jwt", "{}", "jwts"),
        (
            "/consumers/alice/hmac-auth",
            r#"{"username":"a"}"#,
            "hmac-auths",
        ),
        ("/consumers/alice/oauth2", r#"{"name":"app"}"#, "oauth2"),
        ("/consumers/alice/acls", r#"{"group":"admins"}"#, "acls"),
    ] {
        let (status, text) = admin(x_admin, "POST", path, body);
        assert_eq!(status, 201, "POST {path}: {text}");
        let created: serde_json::Value = serde_json::from_str(&text).unwrap();
        written.push(format!("{collection}/{}", created["id"].as_str().unwrap()));
    }
    written
}

/// Traffic moves 0 → 100 % in two steps, quickly.
pub const FAST: (u8, &str) = (50, "100ms");

/// A service and its route: configuration that must survive every upgrade
/// untouched.
pub fn create_orders_service(x_admin: &str) {
    let (status, body) = admin(
        x_admin,
        "POST",
        "/services",
        r#"{"name":"orders","url":"http://orders.internal:8080"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = admin(
        x_admin,
        "POST",
        "/services/orders/routes",
        r#"{"name":"orders","paths":["/orders"]}"#,
    );
    assert_eq!(status, 201, "{body}");
}

pub fn phase_vars(phase: &str, weight_y: Option<u8>) -> Vec<(&'static str, String)> {
    vec![
        ("target_phase", hcl_string(phase)),
        (
            "weight_y",
            weight_y.map_or("null".into(), |w| w.to_string()),
        ),
        ("to_version", hcl_string(TO)),
    ]
}

pub fn cluster_vars(sb: &Sandbox) -> Vec<(&'static str, String)> {
    vec![
        ("x_admin_url", hcl_string(&sb.x.admin_url)),
        ("x_proxy_url", hcl_string(&sb.x.proxy_url)),
        ("y_admin_url", hcl_string(&sb.y.admin_url)),
        ("y_status_url", hcl_string(&sb.y.status_url)),
        ("y_proxy_url", hcl_string(&sb.y.proxy_url)),
        ("decommission_x_command", hcl_list(&sb.stop_x_hook())),
    ]
}

pub fn shared_database_vars(sb: &Sandbox, database: &str) -> Vec<(&'static str, String)> {
    vec![
        ("pg_host", hcl_string("127.0.0.1")),
        ("pg_port", sb.pg().port.to_string()),
        ("pg_password", hcl_string(KONG_PASSWORD)),
        ("pg_database", hcl_string(database)),
        ("kong_cli", kong_cli(sb.to)),
        (
            "backup_dir",
            hcl_string(&sb.backup_dir().display().to_string()),
        ),
    ]
}

/// The HAProxy split; traffic moves `step.0` percent per step, pausing
/// `step.1` after each.
pub fn traffic_vars(sb: &Sandbox, step: (u8, &str)) -> Vec<(&'static str, String)> {
    vec![
        (
            "haproxy_runtime_api",
            hcl_string(&sb.haproxy.admin_socket().display().to_string()),
        ),
        ("step_weight", step.0.to_string()),
        ("step_interval", hcl_string(step.1)),
    ]
}

/// `examples/upgrades/blue_green`; `cli_env` is an HCL map of environment
/// for the kong CLI.
pub fn blue_green_vars(
    sb: &Sandbox,
    phase: &str,
    weight_y: Option<u8>,
    cli_env: &str,
    step: (u8, &str),
) -> String {
    let mut vars = phase_vars(phase, weight_y);
    vars.retain(|(name, _)| *name != "to_version");
    vars.push(("to_version", hcl_string(sb.to)));
    vars.extend(cluster_vars(sb));
    vars.extend(shared_database_vars(sb, "kong"));
    vars.extend(traffic_vars(sb, step));
    vars.extend([
        ("start_y_command", hcl_list(&sb.start_y_on_database("kong"))),
        ("kong_cli_env", cli_env.to_string()),
    ]);
    tfvars(&vars)
}

/// `examples/upgrades/dual_cluster`, Y on [`NEW_DATABASE`].
pub fn dual_cluster_vars(sb: &Sandbox, phase: &str, weight_y: Option<u8>) -> String {
    let mut vars = phase_vars(phase, weight_y);
    vars.extend(cluster_vars(sb));
    vars.extend(shared_database_vars(sb, "kong"));
    vars.extend(traffic_vars(sb, FAST));
    vars.extend([
        ("new_pg_host", hcl_string("127.0.0.1")),
        ("new_pg_port", sb.pg().port.to_string()),
        ("new_pg_password", hcl_string(KONG_PASSWORD)),
        ("new_pg_database", hcl_string(NEW_DATABASE)),
        (
            "start_y_command",
            hcl_list(&sb.start_y_on_database(NEW_DATABASE)),
        ),
    ]);
    tfvars(&vars)
}

/// `examples/upgrades/in_place`: Y takes over X's database.
pub fn in_place_vars(sb: &Sandbox, phase: &str, allow_downtime: bool) -> String {
    let mut vars = vec![
        ("target_phase", hcl_string(phase)),
        ("allow_downtime", allow_downtime.to_string()),
        ("to_version", hcl_string(TO)),
        ("x_admin_url", hcl_string(&sb.x.admin_url)),
        ("y_admin_url", hcl_string(&sb.y.admin_url)),
        ("y_status_url", hcl_string(&sb.y.status_url)),
        ("stop_x_command", hcl_list(&sb.stop_x_hook())),
        ("start_y_command", hcl_list(&sb.start_y_on_database("kong"))),
    ];
    vars.extend(shared_database_vars(sb, "kong"));
    tfvars(&vars)
}

/// The version a node's Admin API reports.
pub fn version_of(admin_url: &str) -> String {
    let (status, body) = admin(admin_url, "GET", "/", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The 3.5.0 → 3.6.1 migrations recorded in `database`'s `schema_meta`
/// (executed or pending): 5 once `up` ran, whatever happened after (four
/// `*_350_to_360` and 3.6.1's `opentelemetry/001_331_to_332`).
pub fn recorded_3_6_migrations(sb: &Sandbox, database: &str) -> usize {
    sb.query(
        database,
        "SELECT count(*) FROM schema_meta, unnest(coalesce(executed, '{}') || coalesce(pending, '{}')) AS name WHERE name LIKE '%_350_to_360' OR name = '001_331_to_332'",
    )
    .parse()
    .unwrap()
}

/// `examples/upgrades/rolling` on a DB-less sandbox.
pub fn rolling_vars(sb: &Sandbox, phase: &str, weight_y: Option<u8>) -> String {
    let mut vars = phase_vars(phase, weight_y);
    vars.extend(cluster_vars(sb));
    vars.extend(traffic_vars(sb, FAST));
    vars.extend([
        (
            "declarative_config_path",
            hcl_string(&sb.declarative_config_path().display().to_string()),
        ),
        (
            "backup_dir",
            hcl_string(&sb.backup_dir().display().to_string()),
        ),
        ("start_y_command", hcl_list(&sb.start_y_dbless())),
    ]);
    tfvars(&vars)
}
