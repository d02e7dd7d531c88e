//! Acceptance: `kong_traffic_split` with `external { observe { ... } }`.
//! A second `kong_traffic_split` (haproxy driver) applies the published
//! `current_weight_y` to a real HAProxy after the first one's apply, and
//! `observe` reads HAProxy's live weight back through its runtime API, so
//! each step's gates are judged in the next apply against a split HAProxy
//! really carries.

mod support;

use support::haproxy::{addr, runtime_api, weight_of};
use support::upgrade::flat;
use support::Acceptance;
use testbed::haproxy::Haproxy;
use testbed::kongsim::KongSim;

fn kongsim(version: &str, name: &str) -> KongSim {
    KongSim::builder(version)
        .database_off()
        .cluster_name(name)
        .start()
        .unwrap()
}

/// `canary` publishes the weight; `lb` carries it to HAProxy; `observe`
/// asks HAProxy (TCP runtime API) for server y's weight, which is Y's
/// percent because the haproxy driver keeps x + y = 100.
fn config(h: &Haproxy, progression: &str, gate_status: u16, gate_url: &str) -> String {
    let (host, port) = h
        .admin_address()
        .rsplit_once(':')
        .map(|(a, p)| (a.to_string(), p.to_string()))
        .unwrap();
    format!(
        r#"
resource "kong_traffic_split" "canary" {{
  weight_y = 100
{progression}
  external {{
    observe {{
      command  = ["bash", "-c", "exec 3<>/dev/tcp/{host}/{port}; echo 'get weight kong/y' >&3; cat <&3"]
      timeout  = "3s"
      interval = "200ms"
    }}
  }}

  gate {{
    name     = "y-proxy-healthy"
    interval = "100ms"
    count    = 2
    http {{
      url             = "{gate_url}/orders"
      expected_status = {gate_status}
    }}
  }}
}}

resource "kong_traffic_split" "lb" {{
  weight_y = kong_traffic_split.canary.current_weight_y

  haproxy {{
    runtime_api = "{socket}"
    backend     = "kong"
    server_x    = "x"
    server_y    = "y"
  }}
}}
"#,
        socket = h.admin_socket().display()
    )
}

const STEPS: &str = r#"
  steps {
    weight = 10
    pause  = "300ms"
  }
  steps {
    weight   = 50
    analysis = false
  }
"#;

/// X and Y (DB-less kongsim) behind a real HAProxy, all traffic on X.
fn two_clusters_behind_haproxy() -> (KongSim, KongSim, Haproxy) {
    let x = kongsim("3.5.0", "x");
    let y = kongsim("3.6.1", "y");
    let h = Haproxy::start(addr(&x.proxy_url), addr(&y.proxy_url), (100, 0)).unwrap();
    (x, y, h)
}

fn all_on_x(h: &Haproxy) {
    runtime_api(h, "set server kong/y weight 0");
    runtime_api(h, "set server kong/x weight 100");
}

fn pending(acc: &Acceptance) -> serde_json::Value {
    acc.values("kong_traffic_split.canary")["gates_pending_at"].clone()
}

#[test]
fn each_step_is_judged_in_the_next_apply_once_the_load_balancer_carries_it() {
    let (_x, y, h) = two_clusters_behind_haproxy();
    for version in support::versions() {
        all_on_x(&h);
        let mut acc = Acceptance::new(version);
        let good = config(&h, STEPS, 200, &y.proxy_url);
        acc.configure(&good);

        // Apply 1 publishes 10; lb carries it after canary's apply ended.
        let plan = acc.ws().plan().unwrap();
        assert!(
            flat(&plan.stdout).contains(
                "shift to 10%; the gates at 10% are judged in the next apply, once observed"
            ),
            "{plan}"
        );
        acc.ws().apply().unwrap();
        assert_eq!(pending(&acc), 10);
        assert_eq!(weight_of(&h, "y"), 10);

        // HAProxy does not carry 10% (as if the other resource had not run):
        // the apply waits for observe, then fails on it, judging nothing.
        runtime_api(&h, "set server kong/y weight 0");
        let stalled = acc.apply_expect_error(&good, "does not carry the published weight");
        assert!(
            flat(&stalled.stderr).contains("last reading: 0%"),
            "{stalled}"
        );
        assert_eq!(pending(&acc), 10, "the gates stay pending");
        runtime_api(&h, "set server kong/y weight 10");

        // Apply 2: judge 10% (observed), then publish 50 (ungated).
        let plan = acc.ws().plan().unwrap();
        assert!(
            flat(&plan.stdout).contains("judge gates at 10% (observed), then shift to 50%"),
            "{plan}"
        );
        acc.ws().apply().unwrap();
        let v = acc.values("kong_traffic_split.canary");
        assert_eq!(v["current_weight_y"], 50, "{v}");
        assert!(v["gates_pending_at"].is_null(), "{v}");
        let judged = &v["history"][0];
        assert_eq!(judged["weight_y"], 10, "{v}");
        assert!(judged["gates"][0].as_str().unwrap().contains("Pass"), "{v}");
        assert_eq!(weight_of(&h, "y"), 50);

        // Apply 3 publishes 100 (the last step, gated); apply 4 judges it.
        acc.ws().apply().unwrap();
        assert_eq!(pending(&acc), 100);
        assert_eq!(weight_of(&h, "y"), 100);
        let plan = acc.ws().plan().unwrap();
        assert!(
            flat(&plan.stdout).contains("judge gates at 100% (observed)"),
            "{plan}"
        );
        acc.apply(&good);
        assert!(pending(&acc).is_null());
        assert_eq!(
            acc.values("kong_traffic_split.canary")["current_weight_y"],
            100
        );
    }
}

#[test]
fn a_gate_failing_at_the_observed_weight_rolls_back_and_gates_without_observe_are_refused() {
    let (_x, y, h) = two_clusters_behind_haproxy();
    for version in support::versions() {
        all_on_x(&h);
        let mut acc = Acceptance::new(version);
        // The gate expects a status Y never answers: it fails at 100%.
        let failing = config(&h, "", 418, &y.proxy_url);
        acc.configure(&failing);
        acc.ws().apply().unwrap();
        assert_eq!(pending(&acc), 100);
        assert_eq!(weight_of(&h, "y"), 100);
        let failed = acc.apply_expect_error(&failing, "Traffic shift stopped");
        assert!(
            flat(&failed.stderr).contains("all traffic was sent back to cluster X"),
            "{failed}"
        );
        let v = acc.values("kong_traffic_split.canary");
        assert_eq!(v["current_weight_y"], 0, "rolled back: {v}");
        assert!(v["gates_pending_at"].is_null(), "{v}");

        let refused = acc.plan_expect_error(
            r#"
resource "kong_traffic_split" "blind" {
  weight_y = 50
  external {}
  gate {
    name = "errors"
    http {
      url = "http://127.0.0.1:9/health"
    }
  }
}
"#,
            "Gates need observe with the external driver",
        );
        assert!(
            flat(&refused.stderr).contains("Add `observe {"),
            "{refused}"
        );
    }
}
