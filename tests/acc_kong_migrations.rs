//! Acceptance: `data "kong_migrations"` through real Terraform (1.15.5 and
//! 1.0.3) against a real PostgreSQL whose migrations kongsim (the project's
//! Kong stand-in) ran.

mod support;

use serde_json::json;
use support::{Acceptance, TerraformVersion};
use testbed::kongsim::kongsim_cli;
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;

fn create_database(pg: &Postgres, name: &str) {
    pg.psql_db("postgres", &format!("CREATE DATABASE {name} OWNER kong"))
        .unwrap();
}

/// `kong migrations ...` of Kong `version` against database `db`.
fn kong(pg: &Postgres, db: &str, version: &str, args: &[&str]) {
    let out = kongsim_cli(version, pg)
        .env("KONG_PG_DATABASE", db)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kong {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn data_source(name: &str, pg: &Postgres, db: &str, password: &str, extra: &str) -> String {
    format!(
        r#"
data "kong_migrations" "{name}" {{
{extra}
  database {{
    host     = "127.0.0.1"
    port     = {port}
    database = "{db}"
    password = "{password}"
  }}
}}
"#,
        port = pg.port
    )
}

fn suffix(core: TerraformVersion) -> String {
    core.as_str().replace('.', "")
}

#[test]
fn reads_a_database_mid_upgrade_a_fresh_one_and_the_lock() {
    let pg = Postgres::start().unwrap();
    for core in support::versions() {
        let mid = format!("mid_tf{}", suffix(core));
        let fresh = format!("fresh_tf{}", suffix(core));
        create_database(&pg, &mid);
        create_database(&pg, &fresh);
        kong(&pg, &mid, "3.4.2", &["migrations", "bootstrap"]);
        kong(&pg, &mid, "3.6.1", &["migrations", "up"]);
        pg.psql_db(&mid, "INSERT INTO locks (key, owner, ttl) VALUES ('migrations', 'node-17', now() + interval '5 minutes')")
            .unwrap();

        let mut acc = Acceptance::new(core);
        let config = [
            data_source(
                "mid",
                &pg,
                &mid,
                KONG_PASSWORD,
                r#"  target_version = "3.7.1""#,
            ),
            data_source("fresh", &pg, &fresh, KONG_PASSWORD, ""),
        ]
        .join("\n");
        acc.apply(&config);

        let v = acc.values("data.kong_migrations.mid");
        assert_eq!(v["needs_bootstrap"], false);
        assert_eq!(v["schema_level"], "3.6");
        assert_eq!(v["last_executed"]["core"], "022_350_to_360");
        assert_eq!(v["pending"], json!({ "opentelemetry": ["001_331_to_332"] }));
        let core_executed = v["executed"]["core"].as_array().unwrap();
        assert_eq!(core_executed.first().unwrap(), "000_base");
        assert_eq!(core_executed.last().unwrap(), "022_350_to_360");
        assert_eq!(v["new"]["core"], json!(["023_360_to_370"]), "{v}");
        assert_eq!(v["new"]["ai-proxy"], json!(["001_360_to_370"]), "{v}");
        assert_eq!(v["known_migrations_source"], "catalog");
        assert_eq!(v["lock_held_by"], "node-17");
        let expires = pg
            .psql_db(&mid, "SELECT to_char(ttl AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM locks")
            .unwrap();
        assert_eq!(v["lock_expires"], expires.trim());
        assert_eq!(v["id"], format!("127.0.0.1:{}/{mid}", pg.port));

        let f = acc.values("data.kong_migrations.fresh");
        assert_eq!(f["needs_bootstrap"], true);
        assert_eq!(f["executed"], json!({}));
        assert!(
            f["schema_level"].is_null() && f["lock_held_by"].is_null() && f["new"].is_null(),
            "{f}"
        );

        let out = acc.plan_expect_error(
            &data_source("wrong", &pg, &mid, "not-the-password", ""),
            "The Kong database rejected the login",
        );
        assert!(out.stderr.contains("password"), "{out}");
        acc.plan_expect_error(
            &data_source(
                "unknown",
                &pg,
                &mid,
                KONG_PASSWORD,
                r#"  target_version = "3.99.0""#,
            ),
            "Cannot tell which migrations Kong 3.99.0 knows",
        );
    }
}
