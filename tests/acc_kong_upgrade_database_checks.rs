//! Acceptance: a `prepared` plan checks the database it will back up.
//!
//! Seven broken databases and a missing `pg_restore`, one `kong_upgrade`
//! each, in one Terraform configuration and so one plan per core: every
//! one is refused at plan time (no `pg_dump` planned) with the diagnostic
//! on the `database` (or `backup`) attribute at fault.

mod support;

use std::net::TcpListener;
use support::upgrade::{flat, Sandbox, TO};
use support::Acceptance;
use testbed::postgres::KONG_PASSWORD;

struct Broken {
    /// The resource name.
    name: &'static str,
    port: u16,
    password: &'static str,
    database: &'static str,
    /// The attribute Terraform must point at, and a phrase of the message.
    at: &'static str,
    says: &'static str,
    /// Extra lines of the `backup` block.
    backup: &'static str,
}

fn resource(sb: &Sandbox, b: &Broken) -> String {
    format!(
        r#"
resource "kong_upgrade" "{name}" {{
  strategy     = "blue_green"
  to_version   = "{TO}"
  target_phase = "prepared"

  cluster_x {{
    admin_url = "{x}"
  }}
  cluster_y {{
    admin_url = "http://127.0.0.1:9"
  }}
  database {{
    host            = "127.0.0.1"
    port            = {port}
    user            = "kong"
    password        = "{password}"
    database        = "{database}"
    connect_timeout = {timeout}
  }}
  # Never run: a prepared plan runs no migration.
  runner {{
    command {{
      argv = ["true"]
    }}
  }}
  backup {{
    directory = "{dir}"
    {backup}
  }}
}}
"#,
        name = b.name,
        backup = b.backup,
        // Short only where the wait is the point: a loaded machine may take
        // seconds to open a real session.
        timeout = if b.name == "silent_port" { 2 } else { 10 },
        x = sb.x.admin_url,
        port = b.port,
        password = b.password,
        database = b.database,
        dir = sb.backup_dir().display(),
    )
}

/// The diagnostic about `resource` in Terraform's output (from its
/// `Error:` line to the next one).
fn diagnostic_of<'a>(stderr: &'a str, resource: &str) -> Option<&'a str> {
    stderr
        .split("Error: ")
        .find(|d| d.contains(&format!("with kong_upgrade.{resource},")))
}

#[test]
fn a_prepared_plan_refuses_each_broken_database_on_its_attribute() {
    let sb = Sandbox::traditional();
    let pg = sb.pg();
    pg.psql_db("postgres", "CREATE DATABASE not_kong OWNER kong")
        .unwrap();
    pg.psql_db("postgres", "CREATE DATABASE malformed OWNER kong")
        .unwrap();
    pg.psql_db("postgres", "CREATE DATABASE no_core OWNER kong")
        .unwrap();
    pg.psql_db("not_kong", "CREATE TABLE orders (id int)")
        .unwrap();
    // schema_meta with text where Kong keeps text[]: unreadable as Kong's.
    pg.psql_db(
        "malformed",
        "SET ROLE kong; CREATE TABLE schema_meta (key text, subsystem text, last_executed text, executed text, pending text); \
         INSERT INTO schema_meta VALUES ('schema_meta', 'core', '000_base', 'garbage', NULL)",
    )
    .unwrap();
    // Kong's shape, but no core subsystem recorded.
    pg.psql_db(
        "no_core",
        "SET ROLE kong; CREATE TABLE schema_meta (key text, subsystem text, last_executed text, executed text[], pending text[], PRIMARY KEY (key, subsystem))",
    )
    .unwrap();
    // Accepts connections and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // Nothing listens here once the listener is dropped.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port = pg.port;
    let broken = [
        Broken {
            name: "wrong_password",
            port,
            password: "not-the-password",
            database: "kong",
            at: "password",
            says: "rejected the login",
            backup: "",
        },
        Broken {
            name: "silent_port",
            port: silent_port,
            password: KONG_PASSWORD,
            database: "kong",
            at: "port",
            says: "did not answer within 2s",
            backup: "",
        },
        Broken {
            name: "closed_port",
            port: closed_port,
            password: KONG_PASSWORD,
            database: "kong",
            at: "port",
            says: "cannot reach PostgreSQL",
            backup: "",
        },
        Broken {
            name: "missing_database",
            port,
            password: KONG_PASSWORD,
            database: "no_such_database",
            at: "database",
            says: "does not exist",
            backup: "",
        },
        Broken {
            name: "not_kongs",
            port,
            password: KONG_PASSWORD,
            database: "not_kong",
            at: "database",
            says: "it has no schema_meta table",
            backup: "",
        },
        Broken {
            name: "malformed_schema_meta",
            port,
            password: KONG_PASSWORD,
            database: "malformed",
            at: "database",
            says: "schema_meta cannot be read",
            backup: "",
        },
        Broken {
            name: "no_core_row",
            port,
            password: KONG_PASSWORD,
            database: "no_core",
            at: "database",
            says: "no row for Kong's core subsystem",
            backup: "",
        },
        // A sound database, and no pg_restore where the backup block says.
        Broken {
            name: "missing_pg_restore",
            port,
            password: KONG_PASSWORD,
            database: "kong",
            at: "pg_restore_path",
            says: "backup.pg_restore_path",
            backup: "pg_restore_path = \"/nonexistent/pg_restore\"",
        },
    ];
    let config: String = broken.iter().map(|b| resource(&sb, b)).collect();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.configure(&config);
        let refused = acc.ws().plan_expect_error().unwrap();
        for b in &broken {
            let d = diagnostic_of(&refused.stderr, b.name)
                .unwrap_or_else(|| panic!("no diagnostic for {}:\n{refused}", b.name));
            assert!(flat(d).contains(b.says), "{}: {d}", b.name);
            assert!(
                support::upgrade::points_at(d, b.at),
                "{} points at database.{}: {d}",
                b.name,
                b.at
            );
            // Terraform quotes the configuration line it points at; the
            // provider's own words never contain a password.
            let words: String = d
                .lines()
                .filter(|l| {
                    !l.trim_start()
                        .split(':')
                        .next()
                        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                })
                .collect();
            assert!(
                !words.contains(KONG_PASSWORD) && !words.contains("not-the-password"),
                "{}: {d}",
                b.name
            );
        }
        assert!(!refused.stdout.contains("pg_dump"), "{refused}");
    }
    drop(silent);
}
