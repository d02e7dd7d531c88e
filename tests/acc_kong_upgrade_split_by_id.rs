//! Acceptance: a blue-green `kong_upgrade` whose traffic a separate
//! `kong_traffic_split` moves, referred to by id (`traffic_split_id`), as in
//! `examples/upgrades/traffic_split_by_id`, through real Terraform against
//! PostgreSQL, HAProxy and kongsim.
//!
//! The split owns the weights; the upgrade only verifies them: a phase that
//! needs a share the split does not give fails on `traffic_split_id` before
//! anything irreversible, and one apply may move the split and finish the
//! upgrade, because Terraform applies the referenced split first.

mod support;

use support::upgrade::{
    admin, example_config, flat, hcl_list, hcl_string, history_count, kong_cli, points_at, tfvars,
    Sandbox, TO,
};
use support::{Acceptance, TerraformVersion};
use testbed::postgres::KONG_PASSWORD;

const EXAMPLE: &str = "upgrades/traffic_split_by_id";
const UPGRADE: &str = "kong_upgrade.this";
const SPLIT: &str = "kong_traffic_split.main";

/// Configuration the staging test finds on both X and Y.
fn create_orders_route(x_admin: &str) {
    for (path, body) in [
        (
            "/services",
            r#"{"name":"orders","url":"http://orders.internal:8080"}"#,
        ),
        (
            "/services/orders/routes",
            r#"{"name":"orders","paths":["/orders"]}"#,
        ),
    ] {
        let (status, answer) = admin(x_admin, "POST", path, body);
        assert_eq!(status, 201, "{answer}");
    }
}

fn vars(sb: &Sandbox, phase: &str, weight_y: Option<u8>) -> String {
    tfvars(&[
        ("target_phase", hcl_string(phase)),
        (
            "weight_y",
            weight_y.map_or("null".into(), |w| w.to_string()),
        ),
        ("to_version", hcl_string(TO)),
        ("x_admin_url", hcl_string(&sb.x.admin_url)),
        ("x_proxy_url", hcl_string(&sb.x.proxy_url)),
        ("y_admin_url", hcl_string(&sb.y.admin_url)),
        ("y_status_url", hcl_string(&sb.y.status_url)),
        ("y_proxy_url", hcl_string(&sb.y.proxy_url)),
        ("pg_host", hcl_string("127.0.0.1")),
        ("pg_port", sb.pg().port.to_string()),
        ("pg_password", hcl_string(KONG_PASSWORD)),
        ("kong_cli", kong_cli(TO)),
        (
            "backup_dir",
            hcl_string(&sb.backup_dir().display().to_string()),
        ),
        (
            "haproxy_runtime_api",
            hcl_string(&sb.haproxy.admin_socket().display().to_string()),
        ),
        ("step_weight", "25".into()),
        ("step_interval", hcl_string("100ms")),
        ("start_y_command", hcl_list(&sb.start_y_on_database("kong"))),
        ("decommission_x_command", hcl_list(&sb.stop_x_hook())),
    ])
}

fn set_phase(acc: &Acceptance, sb: &Sandbox, phase: &str, weight_y: Option<u8>) {
    acc.ws()
        .write_file("terraform.tfvars", &vars(sb, phase, weight_y))
        .unwrap();
}

/// An `*_override.tf` file: Terraform merges it into the example's blocks.
const OVERRIDE: &str = "test_override.tf";

fn remove_override(acc: &Acceptance) {
    std::fs::remove_file(acc.ws().dir().join(OVERRIDE)).unwrap();
}

/// Sets HAProxy's weights by hand, as an operator bypassing Terraform would.
fn set_haproxy_weights(sb: &Sandbox, x: u8, y: u8) {
    use std::io::{Read, Write};
    for (server, weight) in [("x", x), ("y", y)] {
        let mut sock = std::os::unix::net::UnixStream::connect(sb.haproxy.admin_socket()).unwrap();
        sock.write_all(format!("set weight kong/{server} {weight}\n").as_bytes())
            .unwrap();
        let mut answer = String::new();
        sock.read_to_string(&mut answer).unwrap();
        assert!(answer.trim().is_empty(), "haproxy: {answer}");
    }
}

/// Keeps the split at 50 % whatever the phase, as if its owner had not
/// applied it. The upgrade's update timeout bounds its wait for the split
/// (30 s otherwise), so the refusal comes at once.
fn hold_split_at_50(acc: &Acceptance) {
    acc.ws()
        .write_file(
            OVERRIDE,
            "resource \"kong_traffic_split\" \"main\" {\n  weight_y = 50\n}\n\n\
             resource \"kong_upgrade\" \"this\" {\n  timeouts {\n    update = \"1s\"\n  }\n}\n",
        )
        .unwrap();
}

fn refresh_only(acc: &Acceptance) {
    acc.ws()
        .run(&["apply", "-refresh-only", "-auto-approve", "-input=false"])
        .unwrap();
}

/// Misconfigurations refused at plan time, on `traffic_split_id`, before
/// anything is read or changed.
fn refused_references(acc: &mut Acceptance, config: &str) {
    acc.ws()
        .write_file(
            OVERRIDE,
            "resource \"kong_upgrade\" \"this\" {\n  traffic {\n    external {}\n  }\n}\n",
        )
        .unwrap();
    let both = acc.plan_expect_error(config, "Conflicting traffic settings");
    assert!(points_at(&both.stderr, "traffic_split_id"), "{both}");

    acc.ws()
        .write_file(
            OVERRIDE,
            "resource \"kong_upgrade\" \"this\" {\n  traffic_split_id = \"external\"\n}\n",
        )
        .unwrap();
    let external = acc.plan_expect_error(config, "Traffic split cannot be verified");
    assert!(
        points_at(&external.stderr, "traffic_split_id"),
        "{external}"
    );
    assert!(
        flat(&external.stderr).contains("there is no load balancer to read them from"),
        "{external}"
    );
    remove_override(acc);
}

fn upgrade_through_a_split_referred_to_by_id(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_route(&sb.x.admin_url);
    let config = example_config(EXAMPLE);
    let mut acc = Acceptance::new(version);

    set_phase(&acc, &sb, "migrated", None);
    refused_references(&mut acc, &config);

    // migrated: Y runs, the split (created at 0) keeps all traffic on X.
    acc.apply(&config);
    let upgrade = acc.values(UPGRADE);
    assert_eq!(upgrade["phase"], "migrated", "{upgrade}");
    assert_eq!(sb.haproxy_weight("y"), 0);
    let split_id = acc.values(SPLIT)["id"].as_str().unwrap().to_string();
    assert!(
        split_id.starts_with("haproxy?runtime_api=%2F"),
        "{split_id}"
    );
    assert_eq!(upgrade["traffic_split_id"], split_id.as_str());

    // serving 50: the plan says the upgrade verifies the split, it does not
    // move traffic; the split goes first, then the upgrade sees 50 %.
    set_phase(&acc, &sb, "serving", Some(50));
    let plan = acc.ws().plan().unwrap();
    let text = flat(&plan.stdout);
    assert!(
        text.contains(
            "verify that the kong_traffic_split (traffic_split_id) gives Y 50% of traffic"
        ),
        "{plan}"
    );
    assert!(!text.contains("send 50% of traffic to Y"), "{plan}");
    assert!(
        text.contains(
            "the kong_traffic_split (applied first) has already sent Y its first traffic"
        ),
        "the staging tests say when they run:\n{plan}"
    );
    acc.apply(&config);
    let upgrade = acc.values(UPGRADE);
    assert_eq!(upgrade["phase"], "serving", "{upgrade}");
    assert_eq!(upgrade["current_weight_y"], 50);
    assert_eq!(sb.haproxy_weight("y"), 50);
    assert_eq!(sb.haproxy_weight("x"), 50);
    assert_eq!(
        history_count(&upgrade["history"], "shift_traffic_to_50", "ok"),
        1
    );
    assert!(
        upgrade["history"]
            .to_string()
            .contains("the upgrade moved no traffic"),
        "{upgrade}"
    );

    // A hand edit on the load balancer is drift the upgrade reads through
    // the split's id, like the split itself.
    set_haproxy_weights(&sb, 70, 30);
    refresh_only(&acc);
    assert_eq!(acc.values(UPGRADE)["current_weight_y"], 30);
    assert_eq!(acc.values(SPLIT)["current_weight_y"], 30);
    set_haproxy_weights(&sb, 50, 50);
    refresh_only(&acc);
    assert_eq!(acc.values(UPGRADE)["current_weight_y"], 50);

    // A rollback while the split stays at 50 %: the upgrade does not write
    // the split's weights, it says to set them to 0.
    hold_split_at_50(&acc);
    set_phase(&acc, &sb, "migrated", None);
    let refused = acc.apply_expect_error(&config, "the traffic split still sends traffic to Y");
    assert!(
        flat(&refused.stderr).contains("set that split's weight_y = 0 and apply"),
        "{refused}"
    );
    assert!(points_at(&refused.stderr, "traffic_split_id"), "{refused}");
    assert_eq!(sb.haproxy_weight("y"), 50);
    assert_eq!(acc.values(UPGRADE)["phase"], "serving");
    remove_override(&acc);

    // The same rollback in one apply: the split goes down first (at once),
    // then the upgrade sees all traffic on X. Then forward again.
    acc.apply(&config);
    assert_eq!(acc.values(UPGRADE)["phase"], "migrated");
    assert_eq!(sb.haproxy_weight("y"), 0);
    set_phase(&acc, &sb, "serving", Some(50));
    acc.apply(&config);
    assert_eq!(acc.values(UPGRADE)["phase"], "serving");

    // finished while the split stays at 50 %: refused on traffic_split_id
    // before `migrations finish`.
    hold_split_at_50(&acc);
    set_phase(&acc, &sb, "finished", None);
    let refused =
        acc.apply_expect_error(&config, "the traffic split is not at this phase's weight");
    let detail = flat(&refused.stderr);
    assert!(detail.contains("is at X 50% / Y 50%"), "{refused}");
    assert!(detail.contains("this phase needs 100% on Y"), "{refused}");
    assert!(points_at(&refused.stderr, "traffic_split_id"), "{refused}");
    assert!(
        !sb.pending().is_empty(),
        "nothing finished: {}",
        sb.pending()
    );
    assert_eq!(sb.haproxy_weight("y"), 50, "the upgrade moved no traffic");
    assert_eq!(acc.values(UPGRADE)["phase"], "serving");
    remove_override(&acc);

    // One apply: the split goes to 100 %, then the upgrade, which planned
    // from 50 %, verifies 100 % and runs `migrations finish`.
    acc.apply(&config);
    let upgrade = acc.values(UPGRADE);
    assert_eq!(upgrade["phase"], "finished", "{upgrade}");
    assert_eq!(upgrade["current_weight_y"], 100);
    assert_eq!(sb.haproxy_weight("x"), 0, "all traffic on Y");
    assert_eq!(sb.pending(), "", "`finish` ran once the split was at 100 %");
    assert_eq!(
        history_count(&upgrade["history"], "shift_traffic_to_100", "ok"),
        1
    );
    assert_eq!(
        history_count(&upgrade["history"], "shift_traffic_to_100", "failed"),
        1
    );

    set_phase(&acc, &sb, "completed", None);
    acc.apply(&config);
    assert_eq!(acc.values(UPGRADE)["phase"], "completed");
    assert_eq!(sb.duplicate_migrations("kong"), "");
    acc.destroy();
}

#[test]
fn blue_green_upgrade_verifies_a_traffic_split_it_refers_to_by_id() {
    for version in support::versions() {
        upgrade_through_a_split_referred_to_by_id(version);
    }
}
