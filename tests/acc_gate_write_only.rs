//! Acceptance: a gate's write-only `bearer_token_wo`, through real
//! Terraform, against a real Prometheus behind a real nginx that answers
//! 401 without `Authorization: Bearer <token>`. Two `kong_traffic_split`s
//! (each its own HAProxy) in one apply on Terraform ≥ 1.11: the one whose
//! gate holds `bearer_token_wo` reaches 50 %, the one without is rolled back
//! to X on the 401; the token is in neither the state, the output nor the
//! TRACE log. Terraform 1.0.3 would store it: `bearer_token_wo` is refused
//! at plan on the attribute, naming `bearer_token`, in `kong_traffic_split`
//! and `kong_upgrade` alike.

mod support;

use std::time::Duration;
use support::haproxy::{driver_block, weight_of};
use support::upgrade::points_at;
use support::{Acceptance, TerraformVersion};
use testbed::haproxy::Haproxy;
use testbed::nginx::Nginx;
use testbed::prometheus::Prometheus;

/// A token no other text contains.
fn token() -> String {
    format!("gate-wo-token-{}-d00d", std::process::id())
}

/// Prometheus behind nginx: its URL answers 401 unless the request carries
/// `Authorization: Bearer <token>`.
fn guarded_prometheus(token: &str) -> (Prometheus, Nginx, String) {
    let prometheus = Prometheus::start(&[], Duration::from_secs(1)).unwrap();
    let port = testbed::free_port();
    let upstream = format!(
        "upstream prometheus {{ server 127.0.0.1:{prom}; }}
map $http_authorization $gate_authorized {{ \"Bearer {token}\" 1; default 0; }}
server {{
    listen 127.0.0.1:{port};
    location / {{
        if ($gate_authorized = 0) {{ return 401; }}
        proxy_pass http://prometheus;
    }}
}}
",
        prom = prometheus.port
    );
    let nginx = Nginx::start("prometheus", &upstream).unwrap();
    (prometheus, nginx, format!("http://127.0.0.1:{port}"))
}

/// A split of `name` through `h` to 50 %, gated on Prometheus at `url`
/// with `auth` inside the `prometheus` block.
fn split(name: &str, h: &Haproxy, url: &str, auth: &str) -> String {
    format!(
        r#"
resource "kong_traffic_split" "{name}" {{
  weight_y = 50
{haproxy}  gate {{
    name     = "error-rate"
    interval = "200ms"
    count    = 1
    prometheus {{
      url   = "{url}"
      query = "vector(0)"
      max   = 0.05
      {auth}
    }}
  }}
}}
"#,
        haproxy = driver_block(h, "  ")
    )
}

/// A `kong_upgrade` whose traffic gate holds `bearer_token_wo` and whose
/// database password is `password_wo`, both from a variable: only its
/// validation is exercised (on 1.0.3, which refuses both before anything
/// runs, while the variable is still unknown to Terraform's first
/// validation).
fn upgrade(h: &Haproxy, url: &str) -> String {
    format!(
        r#"
resource "kong_upgrade" "gateway" {{
  strategy     = "blue_green"
  from_version = "3.5.0"
  to_version   = "3.6.1"
  target_phase = "serving"
  weight_y     = 50
  cluster_x {{
    admin_url = "http://127.0.0.1:9"
  }}
  cluster_y {{
    admin_url = "http://127.0.0.1:9"
  }}
  database {{
    host        = "127.0.0.1"
    user        = "kong"
    password_wo = var.prom_token
  }}
  traffic {{
{haproxy}    gate {{
      name = "error-rate"
      http {{
        url             = "{url}"
        bearer_token_wo = var.prom_token
      }}
    }}
  }}
}}
"#,
        haproxy = driver_block(h, "    ")
    )
}

const VARIABLE: &str = "variable \"prom_token\" {\n  type = string\n}\n";

fn write_only_token(version: TerraformVersion) {
    let token = token();
    let (_prometheus, _nginx, url) = guarded_prometheus(&token);
    let somewhere = "127.0.0.1:9".parse().unwrap();
    let (with, without) = (
        Haproxy::start(somewhere, somewhere, (100, 0)).unwrap(),
        Haproxy::start(somewhere, somewhere, (100, 0)).unwrap(),
    );
    let mut acc = Acceptance::new(version);
    acc.ws_mut().enable_log("TRACE");
    acc.ws()
        .write_file("terraform.tfvars", &format!("prom_token = \"{token}\"\n"))
        .unwrap();
    let config = format!(
        "{VARIABLE}{}{}",
        split("with", &with, &url, "bearer_token_wo = var.prom_token"),
        split("without", &without, &url, "")
    );
    if !version.at_least(1, 11) {
        let summary = "Write-only bearer token needs Terraform 1.11 or later";
        let both = format!("{config}{}", upgrade(&with, &url));
        let refused = acc.plan_expect_error(&both, summary);
        assert!(
            refused.stderr.matches(summary).count() == 2
                && refused
                    .stderr
                    .contains("Use bearer_token (sensitive) instead")
                && points_at(&refused.stderr, "bearer_token_wo"),
            "refused in kong_traffic_split and kong_upgrade alike: {refused}"
        );
        assert!(
            refused
                .stderr
                .contains("Write-only password needs Terraform 1.11 or later")
                && points_at(&refused.stderr, "password_wo"),
            "the upgrade's password_wo is refused in the same first validation: {refused}"
        );
        assert_eq!(weight_of(&with, "y"), 0, "nothing moved");
        return;
    }
    let out = acc.apply_expect_error(&config, "answered 401 Unauthorized");
    assert_eq!(
        acc.values("kong_traffic_split.with")["current_weight_y"],
        50,
        "the gate with the token passed"
    );
    assert_eq!(
        (weight_of(&with, "y"), weight_of(&without, "y")),
        (50, 0),
        "the split without the token was rolled back to X"
    );
    let state = std::fs::read_to_string(acc.ws().dir().join("terraform.tfstate")).unwrap();
    assert!(
        state.contains("bearer_token_wo"),
        "the state has the attribute"
    );
    let log = acc.ws().read_log().unwrap();
    assert!(
        log.contains("ApplyResourceChange"),
        "the TRACE log holds the RPCs"
    );
    for (what, text) in [
        ("the state", state.as_str()),
        ("the apply output", &out.to_string()),
        ("the TRACE log", log.as_str()),
    ] {
        assert!(!text.contains(&token), "the token is in {what}");
    }
}

#[test]
fn a_gate_authenticates_with_a_write_only_token_that_is_never_stored() {
    for version in support::versions() {
        write_only_token(version);
    }
}
