//! Acceptance: `kong_upgrade` with `traffic { external { observe { ... } } }`.
//! A `kong_traffic_split` (haproxy driver) in the same configuration applies
//! the upgrade's published `current_weight_y` to a real HAProxy after the
//! upgrade's apply, and `observe` reads HAProxy's live weight back through
//! its runtime API. Each apply makes one move: the gates of a weight are
//! judged in the next apply, once HAProxy carries it, and `migrations
//! finish` runs only after 100% was observed and judged.

mod support;

use support::runbooks::{blue_green_vars, create_orders_service, FAST};
use support::upgrade::{example_config, flat, history_count, planned_values, step_ids, Sandbox};
use support::Acceptance;

/// The blue-green example with its haproxy traffic block replaced by an
/// `external` one that `observe`s HAProxy, gated by Y's proxy answering
/// `gate_status`, and `lb` carrying the published weight to HAProxy.
fn config(sb: &Sandbox, observed: bool, gate_status: u16) -> String {
    let (host, port) = sb
        .haproxy
        .admin_address()
        .rsplit_once(':')
        .map(|(a, p)| (a.to_string(), p.to_string()))
        .unwrap();
    let observe = if observed {
        format!(
            r#"observe {{
        command  = ["bash", "-c", "exec 3<>/dev/tcp/{host}/{port}; echo 'get weight kong/y' >&3; cat <&3"]
        timeout  = "3s"
        interval = "200ms"
      }}"#
        )
    } else {
        String::new()
    };
    let traffic = format!(
        r#"traffic {{
    external {{
      {observe}
    }}
    steps {{
      weight = 10
      pause  = "300ms"
    }}
    steps {{
      weight = 50
    }}
    gate {{
      name     = "y-orders-answer"
      interval = "100ms"
      count    = 2
      http {{
        url             = "${{var.y_proxy_url}}/orders"
        expected_status = {gate_status}
      }}
    }}
  }}"#
    );
    let example = example_config("upgrades/blue_green");
    let start = example.find("  traffic {").unwrap();
    let end = start + example[start..].find("\n  }\n").unwrap() + "\n  }".len();
    format!(
        r#"{before}  {traffic}{after}
resource "kong_traffic_split" "lb" {{
  weight_y = kong_upgrade.this.current_weight_y

  haproxy {{
    runtime_api = var.haproxy_runtime_api
    backend     = "kong"
    server_x    = "x"
    server_y    = "y"
  }}
}}
"#,
        before = &example[..start],
        after = &example[end..],
    )
}

/// A blue-green upgrade taken to `migrated` (Y started, no traffic on it).
fn migrated(acc: &mut Acceptance, sb: &Sandbox, config: &str) {
    create_orders_service(&sb.x.admin_url);
    vars(acc, sb, "migrated");
    acc.apply(config);
    assert_eq!(upgrade(acc)["phase"], "migrated");
}

fn vars(acc: &Acceptance, sb: &Sandbox, phase: &str) {
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &blue_green_vars(sb, phase, None, "{}", FAST),
        )
        .unwrap();
}

fn upgrade(acc: &Acceptance) -> serde_json::Value {
    acc.values("kong_upgrade.this")
}

/// What the next plan's upgrade does: its step ids, and the text of its
/// traffic step.
fn next_move(acc: &Acceptance) -> (Vec<String>, String) {
    let planned = planned_values(acc.ws(), "kong_upgrade.this");
    let text = planned["planned_steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str().unwrap().starts_with("shift_traffic_to_"))
        .map(|s| s["action"].as_str().unwrap().to_string())
        .unwrap_or_default();
    (step_ids(&planned), text)
}

/// The upgrade stands at `serving` with `weight_y` published.
fn serving_at(acc: &Acceptance, weight_y: i64) {
    let v = upgrade(acc);
    assert_eq!(
        (v["phase"].as_str(), v["current_weight_y"].as_i64()),
        (Some("serving"), Some(weight_y)),
        "{v}"
    );
}

/// One apply of the configuration written last; the next plan is not
/// empty while moves remain, so it is not checked here.
fn apply_move(acc: &Acceptance) {
    acc.ws().apply().unwrap();
}

#[test]
fn each_weight_is_judged_in_the_next_apply_and_finish_waits_for_an_observed_100() {
    for version in support::versions() {
        let sb = Sandbox::traditional();
        let mut acc = Acceptance::new(version);
        let good = config(&sb, true, 200);
        migrated(&mut acc, &sb, &good);
        vars(&acc, &sb, "completed");

        // Apply 1 publishes 10 and stops: its gates are the next apply's.
        let (steps, text) = next_move(&acc);
        assert_eq!(
            steps,
            [
                "verify_freeze_before_cutover",
                "staging_tests",
                "shift_traffic_to_10"
            ]
        );
        assert_eq!(
            text,
            "shift to 10%; the gates at 10% are judged in the next apply, once observed"
        );
        apply_move(&acc);
        serving_at(&acc, 10);
        assert_eq!(
            sb.haproxy_weight("y"),
            10,
            "lb carried the published weight"
        );

        // HAProxy does not carry 10% (as if lb had not run): the apply waits
        // for observe, then fails on it; nothing is judged, published or run.
        sb.set_haproxy_weight("y", 0);
        let stalled = acc.apply_expect_error(&good, "does not carry the published weight");
        assert!(
            flat(&stalled.stderr).contains("last reading: 0%"),
            "{stalled}"
        );
        assert!(
            flat(&stalled.stderr).contains("the gates at 10% stay pending"),
            "{stalled}"
        );
        let v = upgrade(&acc);
        assert_eq!(v["current_weight_y"], 10, "{v}");
        assert_eq!(
            sb.haproxy_weight("y"),
            0,
            "lb did not run after the failed upgrade"
        );
        assert_eq!(
            history_count(&v["history"], "shift_traffic_to_50", "failed"),
            1,
            "{v}"
        );
        sb.set_haproxy_weight("y", 10);

        // Apply 2: 10% observed, its gates pass, 50% published.
        let (steps, text) = next_move(&acc);
        assert_eq!(steps, ["shift_traffic_to_50"]);
        assert_eq!(
            text,
            "judge gates at 10% (observed), then shift to 50%; the gates at 50% are judged in the next apply, once observed"
        );
        apply_move(&acc);
        assert_eq!(upgrade(&acc)["current_weight_y"], 50);
        assert_eq!(sb.haproxy_weight("y"), 50);

        // Apply 3 publishes 100; migrations finish waits for it to be observed.
        let (steps, _) = next_move(&acc);
        assert_eq!(steps, ["shift_traffic_to_100"]);
        apply_move(&acc);
        serving_at(&acc, 100);
        assert_eq!(sb.haproxy_weight("y"), 100);
        assert!(
            !sb.pending().is_empty(),
            "finish has not run: {}",
            sb.pending()
        );

        // Apply 4: 100% observed and judged, then the rest of the runbook.
        let (steps, text) = next_move(&acc);
        assert_eq!(steps[0], "shift_traffic_to_100");
        assert!(
            steps.contains(&"migrations_finish".to_string()),
            "{steps:?}"
        );
        assert_eq!(text, "judge gates at 100% (observed)");
        acc.apply(&good);
        let v = upgrade(&acc);
        assert_eq!(v["phase"], "completed", "{v}");
        assert_eq!(sb.pending(), "", "migrations finish ran");
    }
}

#[test]
fn a_gate_failing_at_the_observed_weight_publishes_all_traffic_back_to_x() {
    for version in support::versions() {
        let sb = Sandbox::traditional();
        let mut acc = Acceptance::new(version);

        // Gates with external and no observe: refused at plan, naming the fix.
        vars(&acc, &sb, "migrated");
        let refused = acc.plan_expect_error(
            &config(&sb, false, 200),
            "Gates need observe with the external driver",
        );
        assert!(
            flat(&refused.stderr).contains("observe { command = [...] }"),
            "{refused}"
        );

        let failing = config(&sb, true, 418);
        migrated(&mut acc, &sb, &failing);
        vars(&acc, &sb, "completed");
        apply_move(&acc);
        assert_eq!(sb.haproxy_weight("y"), 10);

        // The gate fails at the observed 10%: the upgrade publishes 0 and
        // stops before anything else.
        let failed = acc.apply_expect_error(&failing, "Traffic shift stopped");
        assert!(flat(&failed.stderr).contains("y-orders-answer"), "{failed}");
        let v = upgrade(&acc);
        assert_eq!(v["current_weight_y"], 0, "{v}");
        assert_eq!(v["phase"], "migrated", "{v}");
        assert!(!sb.pending().is_empty(), "nothing past the traffic ran");

        // Terraform does not apply what depends on a failed resource: the
        // next apply that holds the upgrade carries 0 to HAProxy.
        vars(&acc, &sb, "migrated");
        acc.apply(&failing);
        assert_eq!(sb.haproxy_weight("y"), 0, "all traffic back on X");
        assert_eq!(upgrade(&acc)["phase"], "migrated");
    }
}
