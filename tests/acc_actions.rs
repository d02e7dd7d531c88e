//! Acceptance: actions `kong_promote` and `kong_abort`, invoked with
//! `terraform apply -invoke=…` (Terraform ≥ 1.14, so 1.15.5 only).

mod support;

use std::io::{Read, Write};
use support::{Acceptance, TerraformVersion};
use testbed::haproxy::Haproxy;
use testbed::kongsim::KongSim;

fn haproxy_weight_y(h: &Haproxy) -> u32 {
    let mut sock = std::os::unix::net::UnixStream::connect(h.admin_socket()).unwrap();
    sock.write_all(b"get weight kong/y\n").unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap()
}

fn traffic_block(h: &Haproxy) -> String {
    format!(
        r#"
    traffic {{
      haproxy {{
        runtime_api = "{}"
        backend     = "kong"
        server_x    = "x"
        server_y    = "y"
      }}
      step_weight = 25
      interval    = "100ms"
    }}"#,
        h.admin_socket().display()
    )
}

#[test]
fn promote_moves_one_step_and_abort_sends_everything_back_to_x() {
    let x = KongSim::builder("3.6.1").database_off().start().unwrap();
    let y = KongSim::builder("3.6.1").database_off().start().unwrap();
    let addr = |u: &str| u.trim_start_matches("http://").parse().unwrap();
    let h = Haproxy::start(addr(&x.proxy_url), addr(&y.proxy_url), (100, 0)).unwrap();
    for version in support::versions()
        .into_iter()
        .filter(|v| *v != TerraformVersion::V1_0_3)
    {
        let mut acc = Acceptance::new(version);
        acc.configure(&format!(
            r#"
action "kong_promote" "next" {{
  config {{{traffic}
  }}
}}

action "kong_abort" "now" {{
  config {{{traffic}
  }}
}}
"#,
            traffic = traffic_block(&h)
        ));
        let out = acc.invoke("action.kong_promote.next");
        assert!(out.success(), "{out}");
        let after_promote = haproxy_weight_y(&h);
        assert!(
            after_promote > 0,
            "Y takes traffic after a promotion: weight {after_promote}\n{out}"
        );
        let out = acc.invoke("action.kong_abort.now");
        assert!(out.success(), "{out}");
        assert_eq!(
            haproxy_weight_y(&h),
            0,
            "abort leaves Y without traffic\n{out}"
        );
    }
}

/// `action "kong_abort" "now"` checking `pg`'s default database for an
/// upgrade to `to_version`, moving `h`'s traffic.
fn abort_with_database(to_version: &str, pg: &testbed::Postgres, h: &Haproxy) -> String {
    support::upgrade::abort_action(to_version, pg.port, &h.admin_socket())
}

#[test]
fn abort_is_refused_once_migrations_finish_has_run() {
    let pg = testbed::Postgres::start().unwrap();
    // A database bootstrapped by 3.6.1 looks exactly like one whose 3.6.1
    // upgrade has been finished: nothing new, nothing pending.
    let x = KongSim::builder("3.6.1")
        .postgres(&pg)
        .bootstrap()
        .start()
        .unwrap();
    let addr = |u: &str| u.trim_start_matches("http://").parse().unwrap();
    let h = Haproxy::start(addr(&x.proxy_url), addr(&x.proxy_url), (0, 100)).unwrap();
    for version in support::versions()
        .into_iter()
        .filter(|v| *v != TerraformVersion::V1_0_3)
    {
        let mut acc = Acceptance::new(version);
        acc.configure(&abort_with_database("3.6.1", &pg, &h));
        let out = acc.invoke("action.kong_abort.now");
        assert!(!out.success(), "{out}");
        assert!(out.stderr.contains("Abort refused"), "{out}");
        assert!(haproxy_weight_y(&h) > 0, "nothing moved");
    }
}

/// Sets HAProxy's weight of server y.
fn set_haproxy_weight_y(h: &Haproxy, weight: u32) {
    let mut sock = std::os::unix::net::UnixStream::connect(h.admin_socket()).unwrap();
    sock.write_all(format!("set weight kong/y {weight}\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
}

/// kongsim's 3.6.0 knows a core migration with a teardown the catalog
/// does not list. After `up` Kong records it as pending, so X can still
/// take traffic and abort is allowed; once `finish` tore it down, abort is
/// refused. The catalog alone would say "nothing pending" both times.
#[test]
fn abort_follows_what_kong_records_as_pending() {
    let Some(version) = support::versions()
        .into_iter()
        .find(|v| *v != TerraformVersion::V1_0_3)
    else {
        return;
    };
    let pg = testbed::Postgres::start().unwrap();
    let x = KongSim::builder("3.5.0")
        .postgres(&pg)
        .bootstrap()
        .start()
        .unwrap();
    let kong_3_6_0 = |phase: &str| {
        let out = testbed::kongsim::kongsim_cli("3.6.0", &pg)
            .env("KONGSIM_TEST_EXTRA_MIGRATIONS", "core/999_records_extra+")
            .args(["migrations", phase])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    kong_3_6_0("up");
    let addr = |u: &str| u.trim_start_matches("http://").parse().unwrap();
    let h = Haproxy::start(addr(&x.proxy_url), addr(&x.proxy_url), (0, 100)).unwrap();
    let mut acc = Acceptance::new(version);
    acc.configure(&abort_with_database("3.6.0", &pg, &h));
    let allowed = acc.invoke("action.kong_abort.now");
    assert!(allowed.success(), "{allowed}");
    assert!(
        allowed
            .stdout
            .contains("Abort judged from schema_meta alone")
            || allowed
                .stderr
                .contains("Abort judged from schema_meta alone"),
        "`up` ran by hand left no record: the judgement says so\n{allowed}"
    );
    assert_eq!(haproxy_weight_y(&h), 0, "all traffic back on X\n{allowed}");

    kong_3_6_0("finish");
    set_haproxy_weight_y(&h, 100);
    let refused = acc.invoke("action.kong_abort.now");
    assert!(!refused.success(), "{refused}");
    assert!(refused.stderr.contains("Abort refused"), "{refused}");
    assert!(haproxy_weight_y(&h) > 0, "nothing moved");
}
