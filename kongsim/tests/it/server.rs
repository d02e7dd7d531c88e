use crate::helpers::{http, migrations, node, postgres, sql};
use serde_json::{json, Value};
use std::time::Duration;
use testbed::kongsim::Role;

fn get_json(url: &str) -> (u16, Value) {
    let response = http().get(url).send().expect("request");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn send(method: reqwest::Method, url: &str, body: Value) -> (u16, Value) {
    let response = http()
        .request(method, url)
        .json(&body)
        .send()
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

#[test]
fn root_endpoint_has_the_2_8_and_3_x_shapes() {
    let old = node("2.8.5").start().expect("2.8 starts");
    let response = http()
        .get(format!("{}/", old.admin_url))
        .send()
        .expect("GET /");
    assert_eq!(response.headers()["server"], "kong/2.8.5");
    let body: Value = response.json().expect("json");
    assert_eq!(body["tagline"], "Welcome to kong");
    assert_eq!(body["version"], "2.8.5");
    assert!(body.get("edition").is_none(), "edition arrived in 3.6");
    assert_eq!(body["plugins"]["available_on_server"]["key-auth"], true);
    assert_eq!(body["configuration"]["database"], "off");
    assert_eq!(body["configuration"]["role"], "traditional");

    let new = node("3.6.1").start().expect("3.6 starts");
    let (status, body) = get_json(&format!("{}/", new.admin_url));
    assert_eq!(status, 200);
    assert_eq!(body["edition"], "community");
    assert_eq!(
        body["plugins"]["available_on_server"]["key-auth"],
        json!({ "version": "3.6.1", "priority": 1250 })
    );
    assert!(body["plugins"]["available_on_server"]
        .get("ai-proxy")
        .is_some());
    assert!(uuid_like(body["node_id"].as_str().unwrap_or_default()));
    assert_eq!(body["pids"]["master"].as_u64().map(|p| p > 0), Some(true));

    let enterprise = node("3.4.3.5").start().expect("EE starts");
    let (_, body) = get_json(&format!("{}/", enterprise.admin_url));
    assert_eq!(body["version"], "3.4.3.5");
    assert!(body.get("edition").is_none());
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[test]
fn status_and_readiness_follow_the_version_and_configuration() {
    let v32 = node("3.2.2").start().expect("starts");
    assert_eq!(
        get_json(&format!("{}/status/ready", v32.status_url)).0,
        404,
        "no /status/ready before 3.3"
    );

    let empty = node("3.6.1").empty_config().start().expect("starts");
    let (status, body) = get_json(&format!("{}/status/ready", empty.status_url));
    assert_eq!(
        (status, body),
        (
            503,
            json!({ "message": "no configuration available (empty configuration present)" })
        )
    );
    let (_, body) = get_json(&format!("{}/status", empty.admin_url));
    assert_eq!(
        body["configuration_hash"],
        "00000000000000000000000000000000"
    );
    assert!(body.get("database").is_none());

    let configured = node("3.9.1").start().expect("starts");
    let (status, body) = get_json(&format!("{}/status/ready", configured.status_url));
    assert_eq!((status, body), (200, json!({ "message": "ready" })));
    let (_, body) = get_json(&format!("{}/status", configured.status_url));
    let hash = body["configuration_hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()) && hash != "0".repeat(32),
        "{hash}"
    );

    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{}/status/ready", configured.status_url),
        json!({ "status": "draining" }),
    );
    assert_eq!(status, 204);
    assert_eq!(
        get_json(&format!("{}/status/ready", configured.status_url)),
        (503, json!({ "message": "draining" }))
    );
}

#[test]
fn data_plane_becomes_ready_when_it_receives_a_configuration() {
    let dp = node("3.6.1")
        .role(Role::DataPlane)
        .empty_config()
        .start()
        .expect("starts");
    assert_eq!(get_json(&format!("{}/status/ready", dp.status_url)).0, 503);
    dp.push_config("{\"_format_version\":\"3.0\"}")
        .expect("config pushed");
    assert_eq!(get_json(&format!("{}/status/ready", dp.status_url)).0, 200);
    let (_, body) = get_json(&format!("{}/", dp.admin_url));
    assert_eq!(body["configuration"]["role"], "data_plane");
    let (status, body) = get_json(&format!("{}/clustering/data-planes", dp.admin_url));
    assert_eq!(status, 400);
    assert_eq!(body["message"], "this endpoint is only available when Kong is configured to run as Control Plane for the cluster");
}

#[test]
fn dbless_node_serves_its_declarative_configuration_at_get_config() {
    // testbed starts a DB-less node on this file.
    let loaded = "_format_version: \"3.0\"\nservices: []\n";
    let dbless = node("3.6.1").start().expect("starts");
    let url = format!("{}/config", dbless.admin_url);
    assert_eq!(get_json(&url), (200, json!({ "config": loaded })));

    let pushed =
        "_format_version: \"3.0\"\nservices:\n- name: orders\n  url: http://orders.internal\n";
    let (status, _) = send(reqwest::Method::POST, &url, json!({ "config": pushed }));
    assert_eq!(status, 201);
    assert_eq!(get_json(&url), (200, json!({ "config": pushed })));
    let (_, body) = get_json(&format!("{}/status", dbless.admin_url));
    assert_ne!(body["configuration_hash"], "0".repeat(32));
    assert_eq!(
        send(reqwest::Method::DELETE, &url, json!({})).0,
        405,
        "only GET and POST"
    );

    let empty = node("3.6.1").empty_config().start().expect("starts");
    assert_eq!(
        get_json(&format!("{}/config", empty.admin_url)),
        (
            200,
            json!({ "config": "_format_version: \"3.0\"\n_transform: false\n" })
        ),
        "Kong's export of an empty configuration"
    );
}

#[test]
fn config_endpoint_refuses_a_node_with_a_database() {
    let pg = postgres();
    let traditional = node("3.6.1")
        .postgres(&pg)
        .bootstrap()
        .start()
        .expect("starts");
    let refusal = json!({ "message": "this endpoint is only available when Kong is configured to not use a database" });
    let url = format!("{}/config", traditional.admin_url);
    assert_eq!(get_json(&url), (400, refusal.clone()));
    assert_eq!(
        send(
            reqwest::Method::POST,
            &url,
            json!({ "config": "_format_version: \"3.0\"" })
        ),
        (400, refusal)
    );
}

#[test]
fn vitals_is_an_enterprise_setting_in_the_root_configuration() {
    let vitals = |builder: testbed::kongsim::KongSimBuilder| {
        let kong = builder.start().expect("starts");
        let (_, body) = get_json(&format!("{}/", kong.admin_url));
        body["configuration"].get("vitals").cloned()
    };
    assert_eq!(vitals(node("3.4.3.5").vitals(true)), Some(json!(true)));
    assert_eq!(
        vitals(node("3.4.3.5")),
        Some(json!(false)),
        "off unless configured"
    );
    assert_eq!(
        vitals(node("3.6.1").vitals(true)),
        None,
        "a community node has no such setting"
    );
}

#[test]
fn proxy_via_header_changed_form_in_3_8() {
    let v37 = node("3.7.1").cluster_name("blue").start().expect("starts");
    let response = http()
        .get(format!("{}/anything", v37.proxy_url))
        .send()
        .expect("proxy");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["via"], "kong/3.7.1");
    assert!(
        response.headers().get("server").is_none(),
        "no Server on proxied responses before 3.8"
    );
    assert!(response.headers().contains_key("x-kong-upstream-latency"));
    assert!(response.headers().contains_key("x-kong-proxy-latency"));
    let body: Value = response.json().expect("json");
    assert_eq!(body["cluster"], "blue");

    let v38 = node("3.8.0").start().expect("starts");
    let response = http()
        .get(format!("{}/", v38.proxy_url))
        .send()
        .expect("proxy");
    assert_eq!(response.headers()["via"], "1.1 kong/3.8.0");
    assert_eq!(response.headers()["server"], "kong/3.8.0");
}

#[test]
fn faults_fail_the_configured_share_and_show_in_metrics() {
    let sim = node("3.6.1").start().expect("starts");
    sim.set_faults(0.3, 0).expect("faults set");
    let client = http();
    let failed = (0..100)
        .filter(|_| {
            client
                .get(format!("{}/x", sim.proxy_url))
                .send()
                .expect("proxy")
                .status()
                .as_u16()
                == 500
        })
        .count();
    assert_eq!(failed, 30);
    let metrics = http()
        .get(format!("{}/metrics", sim.status_url))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(metrics.contains("kong_http_requests_total{service=\"echo\",route=\"echo\",code=\"500\",source=\"service\",workspace=\"default\",consumer=\"\"} 30"), "{metrics}");
    assert!(metrics.contains("kong_http_requests_total{service=\"echo\",route=\"echo\",code=\"200\",source=\"service\",workspace=\"default\",consumer=\"\"} 70"), "{metrics}");
    assert!(metrics.contains("kong_request_latency_ms_count{service=\"echo\",route=\"echo\",workspace=\"default\"} 100"), "{metrics}");

    sim.set_faults(0.0, 150).expect("latency set");
    let response = client
        .get(format!("{}/slow", sim.proxy_url))
        .send()
        .expect("proxy");
    assert_eq!(response.status().as_u16(), 200);
    let upstream_ms: u64 = response.headers()["x-kong-upstream-latency"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        upstream_ms >= 150,
        "added latency is reported as upstream latency: {upstream_ms}"
    );
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let mut sim = node("3.6.1").start().expect("starts");
    sim.set_faults(0.0, 700).expect("latency set");
    let url = format!("{}/in-flight", sim.proxy_url);
    let request = std::thread::spawn(move || http().get(url).send().map(|r| r.status().as_u16()));
    std::thread::sleep(Duration::from_millis(200));
    let status = sim.stop().expect("stopped");
    assert!(status.success(), "{status}");
    assert_eq!(request.join().expect("thread").expect("response"), 200);
}

#[test]
fn admin_token_is_required_when_configured() {
    let sim = node("3.6.1").admin_token("s3cret").start().expect("starts");
    let (status, body) = get_json(&format!("{}/", sim.admin_url));
    assert_eq!(
        (status, body["message"].clone()),
        (
            401,
            json!("Invalid credentials. Token or User credentials required")
        )
    );
    let ok = http()
        .get(format!("{}/", sim.admin_url))
        .header("Kong-Admin-Token", "s3cret")
        .send()
        .expect("GET /");
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        get_json(&format!("{}/status", sim.status_url)).0,
        200,
        "the Status API has no token"
    );
}

#[test]
fn dbless_admin_api_refuses_writes() {
    let sim = node("3.6.1").start().expect("starts");
    assert_eq!(
        get_json(&format!("{}/services", sim.admin_url)),
        (200, json!({ "data": [], "next": null }))
    );
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{}/services", sim.admin_url),
        json!({ "host": "x" }),
    );
    assert_eq!(status, 405);
    assert_eq!(
        body["message"],
        "cannot create 'services' entities when not using a database"
    );
}

#[test]
fn start_is_refused_like_kong_until_migrations_are_up() {
    let pg = postgres();
    let err = node("3.4.2").postgres(&pg).start().err().expect("refused");
    assert!(
        err.contains("Error: Database needs bootstrapping or is older than Kong 1.0."),
        "{err}"
    );

    assert_eq!(migrations("3.4.2", &pg, &["bootstrap"]).code, 0);
    let err = node("3.6.1").postgres(&pg).start().err().expect("refused");
    assert!(
        err.contains("Error: New migrations available; run 'kong migrations up' to proceed"),
        "{err}"
    );

    assert_eq!(migrations("3.6.1", &pg, &["up"]).code, 0);
    let sim = node("3.6.1")
        .postgres(&pg)
        .start()
        .expect("starts with pending migrations");
    assert!(
        sim.logs().contains("Database has pending migrations:\n"),
        "{}",
        sim.logs()
    );
    let (_, body) = get_json(&format!("{}/status", sim.admin_url));
    assert_eq!(body["database"], json!({ "reachable": true }));
    assert_eq!(get_json(&format!("{}/status/ready", sim.status_url)).0, 200);
    let old = node("3.4.2")
        .postgres(&pg)
        .start()
        .expect("an older node starts on a newer schema");
    drop(old);
}

#[test]
fn entities_live_in_postgres_with_kong_pagination() {
    let pg = postgres();
    let sim = node("3.6.1")
        .postgres(&pg)
        .bootstrap()
        .start()
        .expect("starts");
    let admin = &sim.admin_url;
    for name in ["a", "b", "c"] {
        let (status, body) = send(
            reqwest::Method::POST,
            &format!("{admin}/services"),
            json!({ "name": name, "url": "http://backend:8080/v1" }),
        );
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            (
                body["host"].clone(),
                body["port"].clone(),
                body["retries"].clone()
            ),
            (json!("backend"), json!(8080), json!(5))
        );
    }
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{admin}/services"),
        json!({ "name": "a", "host": "x" }),
    );
    assert_eq!(
        (status, body["name"].clone(), body["code"].clone()),
        (409, json!("unique constraint violation"), json!(5))
    );

    let (_, first) = get_json(&format!("{admin}/services?size=2"));
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
    let next = first["next"].as_str().expect("next link").to_string();
    assert!(next.starts_with("/services?offset="), "{next}");
    let (_, second) = get_json(&format!("{admin}{next}"));
    assert_eq!(second["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["next"], Value::Null);
    assert_eq!(
        get_json(&format!("{admin}/services?size=0")).1["name"],
        "invalid size"
    );

    let (status, upstream) = send(
        reqwest::Method::POST,
        &format!("{admin}/upstreams"),
        json!({ "name": "edge" }),
    );
    assert_eq!(status, 201, "{upstream}");
    assert_eq!(upstream["slots"], 10000);
    for target in ["10.0.0.1:8000", "10.0.0.2"] {
        let (status, body) = send(
            reqwest::Method::POST,
            &format!("{admin}/upstreams/edge/targets"),
            json!({ "target": target, "weight": 100 }),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, patched) = send(
        reqwest::Method::PATCH,
        &format!("{admin}/upstreams/edge/targets/10.0.0.2:8000"),
        json!({ "weight": 25 }),
    );
    assert_eq!(
        (status, patched["weight"].clone()),
        (200, json!(25)),
        "{patched}"
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT string_agg(target || '=' || weight, ' ' ORDER BY target) FROM targets"
        ),
        "10.0.0.1:8000=100 10.0.0.2:8000=25"
    );

    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{admin}/services/a/routes"),
        json!({ "name": "r", "paths": ["/a"] }),
    );
    assert_eq!(status, 201);
    let response = http()
        .delete(format!("{admin}/services/a"))
        .send()
        .expect("delete");
    assert_eq!(
        response.status().as_u16(),
        400,
        "a service with routes cannot be deleted"
    );
    let (_, plugin) = send(
        reqwest::Method::POST,
        &format!("{admin}/plugins"),
        json!({ "name": "rate-limiting", "config": { "minute": 5 } }),
    );
    assert_eq!(plugin["name"], "rate-limiting", "{plugin}");
    let (_, root) = get_json(&format!("{admin}/"));
    assert_eq!(
        root["plugins"]["enabled_in_cluster"],
        json!(["rate-limiting"])
    );
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{admin}/plugins"),
        json!({ "name": "no-such-plugin" }),
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn control_plane_lists_the_data_planes_that_registered() {
    let pg = postgres();
    let cp = node("3.6.1")
        .role(Role::ControlPlane)
        .postgres(&pg)
        .bootstrap()
        .start()
        .expect("starts");
    cp.register_data_plane(r#"{"id":"33333333-3333-4333-8333-333333333333","hostname":"dp-old","ip":"10.1.0.1","version":"3.5.0","labels":{"zone":"a"}}"#)
        .expect("registered");
    cp.register_data_plane(r#"{"hostname":"dp-new","ip":"10.1.0.2","version":"3.7.0"}"#)
        .expect("registered");
    let (status, body) = get_json(&format!("{}/clustering/data-planes", cp.admin_url));
    assert_eq!(status, 200, "{body}");
    let rows = body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2);
    let old = rows
        .iter()
        .find(|r| r["hostname"] == "dp-old")
        .expect("dp-old");
    assert_eq!(old["sync_status"], "normal");
    assert_eq!(old["labels"], json!({ "zone": "a" }));
    assert!(old["updated_at"].is_u64() && old["last_seen"].is_u64());
    assert!(
        old.get("rpc_capabilities").is_none(),
        "rpc_capabilities arrived in 3.9"
    );
    let new = rows
        .iter()
        .find(|r| r["hostname"] == "dp-new")
        .expect("dp-new");
    assert_eq!(new["sync_status"], "kong_version_incompatible");
    assert_eq!(sql(&pg, "SELECT count(*) FROM clustering_data_planes"), "2");
}
