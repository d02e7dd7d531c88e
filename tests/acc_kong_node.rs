//! Acceptance: `data "kong_node"` through real Terraform (1.15.5 and 1.0.3)
//! against the kongsim test double, or against a real Kong node when
//! `KONG_ACC_ADMIN_URL` is set.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use support::Acceptance;
use testbed::kongsim::{KongSim, Role};

fn node_config(admin_url: &str, extra: &str) -> String {
    format!(
        r#"
provider "kong" {{
{extra}
}}

data "kong_node" "this" {{
  admin_url = "{admin_url}"
}}

output "version" {{
  value = data.kong_node.this.version
}}
"#
    )
}

#[test]
fn reads_a_3x_traditional_node_with_its_database() {
    let pg = testbed::Postgres::start().unwrap();
    let kong = KongSim::builder("3.6.1")
        .postgres(&pg)
        .bootstrap()
        .start()
        .unwrap();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(&node_config(&kong.admin_url, ""));
        let v = acc.values("data.kong_node.this");
        assert_eq!(v["version"], "3.6.1", "{version}");
        assert_eq!(v["edition"], "community");
        assert_eq!(v["role"], "traditional");
        assert_eq!(v["database"], "postgres");
        assert_eq!(v["database_reachable"], true);
        assert!(v["configuration_hash"].is_null());
        let plugins = v["plugins_available"].as_array().unwrap();
        assert!(plugins.iter().any(|p| p == "key-auth"), "{plugins:?}");
        assert_eq!(acc.ws().output("version").unwrap(), "3.6.1");
        acc.destroy();
    }
}

#[test]
fn reads_28_era_shapes_and_dbless_data_planes() {
    let old = KongSim::builder("2.8.4").database_off().start().unwrap();
    let dp = KongSim::builder("3.10.0.1")
        .edition("enterprise")
        .role(Role::DataPlane)
        .database_off()
        .start()
        .unwrap();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(&format!(
            r#"
data "kong_node" "old" {{
  admin_url = "{}"
}}

data "kong_node" "dp" {{
  admin_url = "{}"
}}
"#,
            old.admin_url, dp.admin_url
        ));
        let o = acc.values("data.kong_node.old");
        assert_eq!(o["version"], "2.8.4");
        assert_eq!(
            o["edition"], "community",
            "2.8 has no edition field: inferred"
        );
        assert_eq!(o["database"], "off");
        assert!(o["database_reachable"].is_null());
        assert!(
            !o["plugins_available"].as_array().unwrap().is_empty(),
            "2.8's name→true map"
        );
        let d = acc.values("data.kong_node.dp");
        assert_eq!(d["version"], "3.10.0.1");
        assert_eq!(d["edition"], "enterprise");
        assert_eq!(d["role"], "data_plane");
        assert_eq!(d["configuration_hash"].as_str().map(str::len), Some(32));
        acc.destroy();
    }
}

#[test]
fn admin_token_from_provider_block_or_environment() {
    let kong = KongSim::builder("3.6.1")
        .database_off()
        .admin_token("s3cret-token")
        .start()
        .unwrap();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        let out = acc.plan_expect_error(
            &node_config(&kong.admin_url, ""),
            "Kong Admin API refused the credentials",
        );
        assert!(
            out.stderr.contains("admin_url"),
            "diagnostic points at admin_url:\n{out}"
        );

        acc.apply(&node_config(
            &kong.admin_url,
            r#"  admin_token = "s3cret-token""#,
        ));
        assert_eq!(acc.values("data.kong_node.this")["version"], "3.6.1");
        let state = acc.ws().state_json().unwrap().to_string();
        assert!(
            !state.contains("s3cret-token"),
            "the provider's token never reaches the state"
        );

        let mut env_acc = Acceptance::new(version);
        env_acc.ws_mut().set_env("KONG_ADMIN_TOKEN", "s3cret-token");
        env_acc.apply(&node_config(&kong.admin_url, ""));
        assert_eq!(env_acc.values("data.kong_node.this")["version"], "3.6.1");
    }
}

/// A plain HTTP server answering every request with `body`.
fn serve_forever(body: &'static str, content_type: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn failures_are_diagnostics_on_admin_url() {
    let html = serve_forever("<html><body>hello</body></html>", "text/html");
    let other_json = serve_forever(r#"{"status":"ok"}"#, "application/json");
    let kong = KongSim::builder("3.6.1").database_off().start().unwrap();
    let closed = format!("http://127.0.0.1:{}", testbed::free_port());
    let tls_to_plain = kong.admin_url.replace("http://", "https://");
    let cases = [
        (closed.as_str(), "Kong Admin API unreachable"),
        (html.as_str(), "Not a Kong Admin API"),
        (other_json.as_str(), "Not a Kong Admin API"),
        (
            tls_to_plain.as_str(),
            "TLS failure talking to the Kong Admin API",
        ),
        // Refused by the schema's URL check, already at validate.
        ("ftp://example", "Invalid admin_url"),
    ];
    for version in support::versions() {
        for (url, summary) in cases {
            let mut acc = Acceptance::new(version);
            let out = acc.plan_expect_error(&node_config(url, ""), summary);
            assert!(
                out.stderr.contains("admin_url"),
                "diagnostic on admin_url for {url}:\n{out}"
            );
            assert!(!out.stderr.contains("panicked"), "{out}");
        }
    }
}

#[test]
fn reads_a_real_kong_node_when_given_its_url() {
    let Ok(url) = std::env::var("KONG_ACC_ADMIN_URL") else {
        eprintln!("KONG_ACC_ADMIN_URL not set: this check runs only against a real Kong node");
        return;
    };
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(&node_config(&url, ""));
        let v = acc.values("data.kong_node.this");
        assert!(
            v["version"]
                .as_str()
                .is_some_and(|s| s.split('.').count() >= 3),
            "{v}"
        );
        assert!(
            ["traditional", "control_plane", "data_plane"].contains(&v["role"].as_str().unwrap())
        );
    }
}
