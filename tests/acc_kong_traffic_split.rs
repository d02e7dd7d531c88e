//! Acceptance: `kong_traffic_split` through real Terraform, HAProxy, nginx
//! and two kongsim clusters.

mod support;

use support::haproxy::{addr, runtime_api, weight_of};
use support::Acceptance;
use testbed::haproxy::Haproxy;
use testbed::kongsim::KongSim;
use testbed::nginx::Nginx;

struct Clusters {
    x: KongSim,
    y: KongSim,
}

fn clusters() -> Clusters {
    Clusters {
        x: KongSim::builder("3.5.0")
            .database_off()
            .cluster_name("x")
            .start()
            .unwrap(),
        y: KongSim::builder("3.6.1")
            .database_off()
            .cluster_name("y")
            .start()
            .unwrap(),
    }
}

fn haproxy_split(
    h: &Haproxy,
    weight_y: u8,
    progression: &str,
    gate_url: &str,
    on_failure: &str,
) -> String {
    format!(
        r#"
resource "kong_traffic_split" "canary" {{
  weight_y   = {weight_y}
  on_failure = "{on_failure}"

  haproxy {{
    runtime_api = "{socket}"
    backend     = "kong"
    server_x    = "x"
    server_y    = "y"
  }}
{progression}
  gate {{
    name     = "y-proxy-healthy"
    interval = "100ms"
    count    = 2
    http {{
      url             = "{gate_url}/orders"
      expected_status = 200
    }}
  }}
}}
"#,
        socket = h.admin_socket().display()
    )
}

const LINEAR: &str = "  step_weight = 50\n  interval    = \"200ms\"\n";
const UNGATED_THEN_GATED: &str = r#"
  steps {
    weight   = 30
    analysis = false
  }
  steps {
    weight = 60
    pause  = "300ms"
  }
"#;

#[test]
fn shifts_up_in_gated_steps_then_straight_down_and_sees_drift() {
    let c = clusters();
    let h = Haproxy::start(addr(&c.x.proxy_url), addr(&c.y.proxy_url), (100, 0)).unwrap();
    for version in support::versions() {
        runtime_api(&h, "set server kong/y weight 0");
        runtime_api(&h, "set server kong/x weight 100");
        let mut acc = Acceptance::new(version);
        acc.configure(&haproxy_split(&h, 100, LINEAR, &c.y.proxy_url, "rollback"));
        let plan = acc.ws().plan().unwrap();
        assert!(
            plan.stdout.contains("planned_weights"),
            "the plan shows the weights it will walk:\n{plan}"
        );
        acc.apply(&haproxy_split(&h, 100, LINEAR, &c.y.proxy_url, "rollback"));
        let v = acc.values("kong_traffic_split.canary");
        assert_eq!(v["current_weight_y"], 100);
        assert_eq!(v["planned_weights"], serde_json::json!([50, 100]));
        assert_eq!(v["history"].as_array().unwrap().len(), 2, "{v}");
        assert!(
            v["history"][0]["gates"][0]
                .as_str()
                .unwrap()
                .contains("y-proxy-healthy"),
            "{v}"
        );
        assert_eq!(weight_of(&h, "x"), 0);

        // Hand edit on the load balancer: the next plan shows it.
        runtime_api(&h, "set server kong/y weight 30");
        runtime_api(&h, "set server kong/x weight 70");
        assert!(
            !acc.ws().plan_is_empty().unwrap(),
            "drift must show in the plan"
        );

        // Down is a fast path: straight to the target, no gates.
        acc.apply(&haproxy_split(&h, 0, LINEAR, &c.y.proxy_url, "rollback"));
        let v = acc.values("kong_traffic_split.canary");
        assert_eq!(v["current_weight_y"], 0);
        assert_eq!(
            v["history"].as_array().unwrap().len(),
            1,
            "one ungated step down: {v}"
        );
        assert!(v["history"][0]["gates"].as_array().unwrap().is_empty());
        assert_eq!(weight_of(&h, "y"), 0);
        acc.destroy();
    }
}

/// The plan is what the user approved: a saved plan whose walk no longer
/// matches the load balancer (moved by hand since) is refused, nothing
/// moves, and the next plan shows the walk from where the split is now.
#[test]
fn an_apply_whose_walk_changed_since_plan_is_refused_and_the_next_plan_shows_the_new_walk() {
    let c = clusters();
    let h = Haproxy::start(addr(&c.x.proxy_url), addr(&c.y.proxy_url), (100, 0)).unwrap();
    for version in support::versions() {
        runtime_api(&h, "set server kong/y weight 0");
        runtime_api(&h, "set server kong/x weight 100");
        let mut acc = Acceptance::new(version);
        // An existing split: its plan walks from the weight in state, which
        // the refresh before the plan brought up to date. (A new split's
        // plan reads the load balancer, so Terraform's own final-plan check
        // already refuses a create whose walk changed.)
        acc.apply(&haproxy_split(&h, 0, LINEAR, &c.y.proxy_url, "rollback"));
        let config = haproxy_split(&h, 100, LINEAR, &c.y.proxy_url, "rollback");
        acc.configure(&config);
        let plan = acc
            .ws()
            .run(&["plan", "-input=false", "-no-color", "-out=split.tfplan"])
            .unwrap();
        assert!(plan.success(), "{plan}");

        // Someone gives Y half the traffic between plan and apply.
        runtime_api(&h, "set server kong/y weight 50");
        runtime_api(&h, "set server kong/x weight 50");
        let refused = acc
            .ws()
            .run(&["apply", "-input=false", "-no-color", "split.tfplan"])
            .unwrap();
        assert!(!refused.success(), "{refused}");
        let said = refused
            .stderr
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for part in [
            "Traffic split changed since plan",
            "gives Y 50% now",
            "would set 100%",
            "the plan showed 50% → 100%",
        ] {
            assert!(said.contains(part), "missing {part:?}:\n{refused}");
        }
        assert_eq!(
            (weight_of(&h, "x"), weight_of(&h, "y")),
            (50, 50),
            "nothing moved"
        );

        // The next plan starts from the live split and goes through.
        assert_eq!(
            acc.values("kong_traffic_split.canary")["current_weight_y"],
            0,
            "the refused apply recorded nothing"
        );
        acc.apply(&config);
        let v = acc.values("kong_traffic_split.canary");
        assert_eq!(v["planned_weights"], serde_json::json!([100]), "{v}");
        assert_eq!(v["current_weight_y"], 100);
        assert_eq!(weight_of(&h, "y"), 100);
        acc.destroy();
    }
}

#[test]
fn a_failing_gate_rolls_back_or_halts_and_names_the_gate() {
    let c = clusters();
    c.y.set_faults(1.0, 0).unwrap();
    let h = Haproxy::start(addr(&c.x.proxy_url), addr(&c.y.proxy_url), (100, 0)).unwrap();
    for version in support::versions() {
        for (mode, expect_y) in [("rollback", 0), ("halt", 30)] {
            runtime_api(&h, "set server kong/y weight 0");
            runtime_api(&h, "set server kong/x weight 100");
            let mut acc = Acceptance::new(version);
            let out = acc.apply_expect_error(
                &haproxy_split(&h, 60, UNGATED_THEN_GATED, &c.y.proxy_url, mode),
                "Traffic shift stopped",
            );
            assert!(
                out.stderr.contains("y-proxy-healthy"),
                "the error names the gate:\n{out}"
            );
            assert!(out.stderr.contains("500"), "and its measured value:\n{out}");
            let v = acc.values("kong_traffic_split.canary");
            assert_eq!(v["current_weight_y"], expect_y, "{mode}: {v}");
            let live_y = weight_of(&h, "y");
            assert_eq!(
                live_y == 0,
                expect_y == 0,
                "{mode}: haproxy y weight {live_y}"
            );
        }
    }
}

#[test]
fn nginx_validation_failure_keeps_the_old_config_live() {
    let c = clusters();
    let initial = format!(
        "upstream kong {{\n    server {} weight=100;\n    server {} down;\n}}\n",
        addr(&c.x.proxy_url),
        addr(&c.y.proxy_url)
    );
    let nginx = Nginx::start("kong", &initial).unwrap();
    let config = |validate: &[String]| {
        format!(
            r#"
resource "kong_traffic_split" "n" {{
  weight_y = 50
  nginx {{
    upstream_file    = "{file}"
    upstream         = "kong"
    server_x         = "{x}"
    server_y         = "{y}"
    reload_command   = {reload}
    validate_command = {validate}
  }}
}}
"#,
            file = nginx.upstream_file().display(),
            x = addr(&c.x.proxy_url),
            y = addr(&c.y.proxy_url),
            reload = serde_json::to_string(&nginx.reload_argv()).unwrap(),
            validate = serde_json::to_string(validate).unwrap(),
        )
    };
    for version in support::versions() {
        std::fs::write(nginx.upstream_file(), &initial).unwrap();
        let mut acc = Acceptance::new(version);
        let failing = vec![
            "sh".to_string(),
            "-c".to_string(),
            "echo 'emerg: invalid upstream' >&2; exit 1".to_string(),
        ];
        let out = acc.apply_expect_error(&config(&failing), "Traffic shift stopped");
        assert!(
            out.stderr.contains("invalid upstream"),
            "nginx's message is shown:\n{out}"
        );
        assert_eq!(
            std::fs::read_to_string(nginx.upstream_file()).unwrap(),
            initial,
            "the old file is restored"
        );

        let mut ok = Acceptance::new(version);
        ok.apply(&config(&nginx.validate_argv()));
        assert_eq!(ok.values("kong_traffic_split.n")["current_weight_y"], 50);
        let file = std::fs::read_to_string(nginx.upstream_file()).unwrap();
        assert!(file.contains("weight=50"), "{file}");
    }
}

#[test]
fn the_external_driver_feeds_other_resources() {
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(
            r#"
resource "kong_traffic_split" "dns" {
  weight_y = 20
  external {}
}

output "weights" {
  value = "x=${kong_traffic_split.dns.weight_x} y=${kong_traffic_split.dns.current_weight_y}"
}
"#,
        );
        assert_eq!(acc.ws().output("weights").unwrap(), "x=80 y=20");
        acc.plan_expect_error(
            "resource \"kong_traffic_split\" \"bad\" {\n  weight_y = 101\n  external {}\n}\n",
            "Must be from 0 to 100; got 101",
        );
    }
}

/// A gate that fails while any edge node serves a target weight other than
/// the one written (`data.nodeWeight` against `weight` in Kong's
/// `/upstreams/{u}/health`).
const SERVED_IS_WRITTEN: &str = r#"
import json, sys, urllib.request
for node in sys.argv[1:]:
    health = json.load(urllib.request.urlopen(node + "/upstreams/clusters/health?size=1000"))
    for t in health["data"]:
        served = (t.get("data") or {}).get("nodeWeight")
        if served != t["weight"]:
            sys.exit("%s serves %s at %s, written %s" % (node, t["target"], served, t["weight"]))
print("served = written")
"#;

/// Two traditional edge nodes on one database: a target change reaches
/// their balancers 2 s after the write (`db_update_propagation`). The
/// `kong_upstream` driver returns from each step only once every node in
/// `serving_admin_urls` serves it, so a gate measuring right away (100 ms)
/// already sees the new weights on both nodes; were the driver not to
/// wait, it would see the old ones and roll back.
#[test]
fn the_kong_upstream_driver_gates_only_what_every_edge_node_serves() {
    let pg = testbed::Postgres::start().unwrap();
    let edge = |bootstrap: bool| {
        let mut node = KongSim::builder("3.6.1").postgres(&pg);
        if bootstrap {
            node = node.bootstrap();
        }
        node.env("KONG_DB_UPDATE_FREQUENCY", "0.5")
            .env("KONG_DB_UPDATE_PROPAGATION", "2")
            .start()
            .unwrap()
    };
    let (a, b) = (edge(true), edge(false));
    for (path, body) in [
        ("/upstreams", r#"{"name":"clusters"}"#),
        (
            "/upstreams/clusters/targets",
            r#"{"target":"10.0.0.1:8000","weight":100}"#,
        ),
        (
            "/upstreams/clusters/targets",
            r#"{"target":"10.0.0.2:8000","weight":0}"#,
        ),
    ] {
        let created = testbed::kongsim::http_request(&a.admin_url, "POST", path, body);
        assert!(created.is_ok(), "{path}: {created:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("served_is_written.py");
    std::fs::write(&script, SERVED_IS_WRITTEN).unwrap();
    let config = format!(
        r#"
resource "kong_traffic_split" "edge" {{
  weight_y    = 100
  step_weight = 50
  interval    = "200ms"

  kong_upstream {{
    admin_url          = "{a}"
    upstream           = "clusters"
    target_x           = "10.0.0.1:8000"
    target_y           = "10.0.0.2:8000"
    serving_admin_urls = ["{a}", "{b}"]
  }}
  gate {{
    name     = "served-is-written"
    interval = "100ms"
    count    = 1
    command {{
      argv = ["python3", "{script}", "{a}", "{b}"]
    }}
  }}
}}
"#,
        a = a.admin_url,
        b = b.admin_url,
        script = script.display(),
    );
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(&config);
        let v = acc.values("kong_traffic_split.edge");
        assert_eq!(v["current_weight_y"], 100, "{v}");
        let history = v["history"].as_array().unwrap();
        assert_eq!(history.len(), 2, "{v}");
        assert!(
            history.iter().all(|step| step["gates"][0]
                .as_str()
                .unwrap()
                .contains("Passed, 0 failed")),
            "every step's gate saw the weights served: {v}"
        );
        acc.apply(&config.replace("weight_y    = 100", "weight_y    = 0"));
        assert_eq!(acc.values("kong_traffic_split.edge")["current_weight_y"], 0);
        acc.destroy();
    }
}
