//! Acceptance: every planner rule, seen the way a user meets it — a
//! `terraform plan` that fails with the rule's message on the attribute at
//! fault (or, for advice, succeeds with the rule's warning). One row per
//! rule; the facts (role, database, versions) are read from real nodes.
//!
//! Rules that need an upgrade under way are covered where one is: "no way
//! back after finish" (acc_kong_upgrade.rs), "X decommissioned" and
//! "destroy of an unfinished upgrade" (acc_kong_upgrade_strategies.rs).
//! Kong 2.8 on Cassandra is a recorded Admin API answer: kongsim models
//! PostgreSQL and DB-less nodes only.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use support::upgrade::{flat, hcl_string, points_at, FROM, TO};
use support::Acceptance;
use testbed::kongsim::{KongSim, Role};
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;

/// Which node plays cluster X for a row.
#[derive(Clone, Copy)]
enum X {
    /// Kong `FROM` in traditional mode on PostgreSQL.
    Traditional,
    /// A DB-less Kong `FROM` data plane; its control plane runs `FROM` too.
    DataPlane,
    /// A DB-less Kong `FROM` node (traditional role, `database = off`).
    Dbless,
    /// A Kong 2.8 node on Cassandra (a recorded Admin API answer).
    Cassandra,
    /// A Kong `FROM` control plane with a data plane still on 2.7.0.
    ControlPlane,
    /// Kong Enterprise `ENTERPRISE_FROM` on PostgreSQL with Vitals on.
    EnterpriseWithVitals,
}

/// The Enterprise release X runs when a row needs Enterprise facts.
const ENTERPRISE_FROM: &str = "3.5.0.0";

enum Expect {
    /// The plan fails with `message` on the attribute `at` (shown by
    /// Terraform as the source line `at = ...`; `None` when the attribute is
    /// absent and Terraform points at the resource).
    Error {
        message: &'static str,
        at: Option<&'static str>,
        summary: &'static str,
    },
    /// The plan succeeds and shows this warning.
    Warning(&'static str),
}

struct Row {
    rule: &'static str,
    x: X,
    strategy: &'static str,
    from: Option<&'static str>,
    to: &'static str,
    target: &'static str,
    /// Extra arguments of the resource.
    extra: &'static str,
    expect: Expect,
}

const REFUSED: &str = "Upgrade refused";

const fn error(message: &'static str, at: &'static str) -> Expect {
    Expect::Error {
        message,
        at: Some(at),
        summary: REFUSED,
    }
}

/// An error on an attribute the configuration does not set: Terraform
/// points at the resource.
const fn error_on_resource(message: &'static str) -> Expect {
    Expect::Error {
        message,
        at: None,
        summary: REFUSED,
    }
}

fn rows() -> Vec<Row> {
    use X::*;
    vec![
        Row {
            rule: "unsupported path: the hops to take are named",
            x: Traditional,
            strategy: "in_place",
            from: Some("2.6.0"),
            to: "3.4.2",
            target: "prepared",
            extra: "allow_downtime = true",
            expect: error("2.6.0 → 3.4.2 is not a supported upgrade path: go through 2.8.x first", "to_version"),
        },
        Row {
            rule: "downgrade",
            x: Traditional,
            strategy: "in_place",
            from: None,
            to: "3.4.2",
            target: "prepared",
            extra: "allow_downtime = true",
            expect: error("is a downgrade: Kong migrations cannot be reversed", "to_version"),
        },
        Row {
            rule: "blue-green across a minor: allowed, with Kong's advice",
            x: Traditional,
            strategy: "blue_green",
            from: None,
            to: TO,
            target: "prepared",
            extra: "",
            expect: Expect::Warning("advises it only between patch versions"),
        },
        Row {
            rule: "blue-green across an LTS jump: refused",
            x: Traditional,
            strategy: "blue_green",
            from: Some("2.8.4"),
            to: "3.4.2",
            target: "prepared",
            extra: "",
            expect: error("offers none for major or LTS jumps", "strategy"),
        },
        Row {
            rule: "blue-green across a major: refused",
            x: Traditional,
            strategy: "blue_green",
            from: Some("2.8.4"),
            to: "3.0.1",
            target: "prepared",
            extra: "",
            expect: error("2.8.4 → 3.0.1 is refused", "strategy"),
        },
        Row {
            rule: "blue-green across an LTS jump with accept_unsupported_path: a warning",
            x: Traditional,
            strategy: "blue_green",
            from: Some("2.8.4"),
            to: "3.4.2",
            target: "prepared",
            extra: "accept_unsupported_path = true",
            expect: Expect::Warning("accepted because accept_unsupported_path = true"),
        },
        Row {
            rule: "blue-green to 3.x needs X on 2.8.2+",
            x: Traditional,
            strategy: "blue_green",
            from: Some("2.8.1"),
            to: "3.0.1",
            target: "prepared",
            extra: "accept_unsupported_path = true",
            expect: error("needs X on 2.8.2 or later", "strategy"),
        },
        Row {
            rule: "rolling is refused for a traditional node with a database",
            x: Traditional,
            strategy: "rolling",
            from: None,
            to: TO,
            target: "prepared",
            extra: "",
            expect: error("rolling upgrades are for DB-less nodes and hybrid data planes; X is a traditional node on postgres", "strategy"),
        },
        Row {
            // Without a database block the configuration is refused at
            // validate, before the planner learns from X that it is DB-less
            // (its own refusal is unit-tested in the planner).
            rule: "blue-green needs X's database: a DB-less node has none",
            x: Dbless,
            strategy: "blue_green",
            from: None,
            to: TO,
            target: "prepared",
            extra: "",
            expect: Expect::Error {
                message: "strategy = \"blue_green\" needs a database { ... } block",
                at: None,
                summary: "Missing database block",
            },
        },
        Row {
            rule: "a data plane may not pass its control plane's minor",
            x: DataPlane,
            strategy: "rolling",
            from: None,
            to: TO,
            target: "prepared",
            extra: "",
            expect: error(
                "data plane version 3.6.1 is incompatible with older control plane version 3.5.0",
                "to_version",
            ),
        },
        Row {
            rule: "in-place needs the downtime acknowledged",
            x: Traditional,
            strategy: "in_place",
            from: None,
            to: TO,
            target: "prepared",
            extra: "",
            expect: error_on_resource("set allow_downtime = true"),
        },
        Row {
            rule: "in-place with allow_downtime = false is refused on that attribute",
            x: Traditional,
            strategy: "in_place",
            from: None,
            to: TO,
            target: "prepared",
            extra: "allow_downtime = false",
            expect: error("set allow_downtime = true", "allow_downtime"),
        },
        Row {
            rule: "dual-cluster needs a second database",
            x: Traditional,
            strategy: "dual_cluster",
            from: None,
            to: TO,
            target: "prepared",
            extra: "",
            // Refused at validate, before the planner reads any fact.
            expect: Expect::Error {
                message: "strategy = \"dual_cluster\" needs a new_database { ... } block",
                at: None,
                summary: "Missing new_database block",
            },
        },
        Row {
            rule: "Cassandra is refused for 3.x",
            x: Cassandra,
            strategy: "in_place",
            from: None,
            to: "3.0.1",
            target: "prepared",
            extra: "allow_downtime = true",
            expect: error("does not support Cassandra: move X to PostgreSQL on 2.8 first", "to_version"),
        },
        Row {
            rule: "a community deployment cannot go to an Enterprise-only release",
            x: Traditional,
            strategy: "in_place",
            from: None,
            to: "3.10.0.0",
            target: "prepared",
            extra: "allow_downtime = true",
            expect: error("3.10.0.0 is an Enterprise-only release", "to_version"),
        },
        Row {
            rule: "no documented path",
            x: Traditional,
            strategy: "in_place",
            from: None,
            to: "4.0.0",
            target: "prepared",
            extra: "allow_downtime = true",
            expect: error("no documented upgrade path leads there", "to_version"),
        },
        Row {
            rule: "a control plane moves to 3.x only when its data planes are on 2.8",
            x: ControlPlane,
            strategy: "in_place",
            from: Some("2.8.4"),
            to: "3.0.1",
            target: "prepared",
            extra: "allow_downtime = true",
            expect: error(
                "every data plane must be on 2.8.x before the control plane moves to 3.0.1; found 2.7.0",
                "to_version",
            ),
        },
        Row {
            rule: "moving traffic needs a traffic block",
            x: Traditional,
            strategy: "blue_green",
            from: None,
            to: TO,
            target: "serving",
            extra: "weight_y = 10",
            expect: error_on_resource("no traffic block"),
        },
        Row {
            rule: "in-place has no traffic split",
            x: Traditional,
            strategy: "in_place",
            from: None,
            to: TO,
            target: "serving",
            extra: "allow_downtime = true\n  weight_y = 50",
            expect: error("an in-place upgrade has no traffic split", "weight_y"),
        },
        Row {
            rule: "a hook must name a step of the strategy",
            x: Traditional,
            strategy: "blue_green",
            from: None,
            to: TO,
            target: "prepared",
            extra: "hooks = { stop_x = [\"true\"] }",
            expect: error("hook \"stop_x\" names no step of a blue_green upgrade", "hooks"),
        },
        Row {
            rule: "serving needs weight_y",
            x: Traditional,
            strategy: "blue_green",
            from: None,
            to: TO,
            target: "serving",
            extra: "",
            expect: Expect::Error {
                message: "target_phase = \"serving\" needs weight_y",
                at: None,
                summary: "Invalid target phase",
            },
        },
        Row {
            rule: "dual-cluster warns that Vitals' metrics split between the two databases",
            x: EnterpriseWithVitals,
            strategy: "dual_cluster",
            from: None,
            to: "3.6.1.0",
            target: "prepared",
            extra: "new_database {\n    host     = \"127.0.0.1\"\n    port     = {pg_port}\n    password = \"{pg_password}\"\n    database = \"kong_y\"\n  }",
            // On `new_database`, a block: Terraform places block diagnostics
            // on the resource (it shows source lines for arguments only).
            expect: Expect::Warning(
                "Vitals keep counters in the database: X and Y count separately during the window",
            ),
        },
        Row {
            rule: "traffic steps are percentages of traffic to Y",
            x: Traditional,
            strategy: "blue_green",
            from: None,
            to: TO,
            target: "serving",
            extra: "weight_y = 50\n  traffic {\n    external {}\n    steps {\n      weight = 0\n    }\n    steps {\n      weight = 100\n    }\n  }",
            expect: error_on_resource(
                "traffic steps must be percentages of traffic to Y between 1 and 100, strictly increasing (e.g. [10, 50, 100]); got [0, 100]",
            ),
        },
        Row {
            rule: "weight_y is a percentage",
            x: Traditional,
            strategy: "blue_green",
            from: None,
            to: TO,
            target: "serving",
            extra: "weight_y = 150",
            // The schema's check, at validate.
            expect: Expect::Error {
                message: "Must be from 0 to 100; got 150",
                at: Some("weight_y"),
                summary: "Invalid weight_y",
            },
        },
    ]
}

struct Nodes {
    pg: Postgres,
    traditional: KongSim,
    dbless: KongSim,
    data_plane: KongSim,
    control_plane: KongSim,
    enterprise: KongSim,
    cassandra: CassandraNode,
}

impl Nodes {
    fn start() -> Nodes {
        let pg = Postgres::start().unwrap();
        let traditional = KongSim::builder(FROM)
            .postgres(&pg)
            .bootstrap()
            .start()
            .unwrap();
        let control_plane = KongSim::builder(FROM)
            .postgres(&pg)
            .role(Role::ControlPlane)
            .start()
            .unwrap();
        control_plane
            .register_data_plane(r#"{"hostname":"dp-old","ip":"10.0.0.7","version":"2.7.0"}"#)
            .unwrap();
        let data_plane = KongSim::builder(FROM)
            .role(Role::DataPlane)
            .database_off()
            .start()
            .unwrap();
        let dbless = KongSim::builder(FROM).database_off().start().unwrap();
        // Same OSS migrations as FROM: the database `traditional`
        // bootstrapped lets it start.
        let enterprise = KongSim::builder(ENTERPRISE_FROM)
            .postgres(&pg)
            .vitals(true)
            .start()
            .unwrap();
        Nodes {
            pg,
            traditional,
            dbless,
            data_plane,
            control_plane,
            enterprise,
            cassandra: CassandraNode::start(),
        }
    }

    fn admin_url(&self, x: X) -> &str {
        match x {
            X::Traditional => &self.traditional.admin_url,
            X::DataPlane => &self.data_plane.admin_url,
            X::Dbless => &self.dbless.admin_url,
            X::Cassandra => &self.cassandra.url,
            X::ControlPlane => &self.control_plane.admin_url,
            X::EnterpriseWithVitals => &self.enterprise.admin_url,
        }
    }

    fn config(&self, row: &Row) -> String {
        let from = row
            .from
            .map(|f| format!("from_version = {}", hcl_string(f)))
            .unwrap_or_default();
        let control_plane = match row.x {
            X::DataPlane => format!(
                "control_plane_admin_url = {}",
                hcl_string(&self.control_plane.admin_url)
            ),
            _ => String::new(),
        };
        let database = match row.x {
            X::Traditional | X::Cassandra | X::ControlPlane | X::EnterpriseWithVitals => format!(
                "database {{\n    host     = \"127.0.0.1\"\n    port     = {}\n    password = \"{KONG_PASSWORD}\"\n  }}",
                self.pg.port
            ),
            X::DataPlane | X::Dbless => String::new(),
        };
        // Every strategy but rolling runs migrations, so it needs a runner
        // (never run here: these plans stop at the rule under test).
        let runner = if row.strategy == "rolling" {
            ""
        } else {
            "runner {\n    command {\n      argv = [\"true\"]\n    }\n  }"
        };
        format!(
            r#"
resource "kong_upgrade" "rule" {{
  strategy     = "{strategy}"
  to_version   = "{to}"
  target_phase = "{target}"
  {from}
  {extra}
  {control_plane}

  cluster_x {{
    admin_url = "{x}"
  }}
  cluster_y {{
    admin_url = "http://127.0.0.1:9"
  }}
  {database}
  {runner}
  backup {{
    directory = "/tmp/kong-upgrade-rules-backups"
  }}
}}
"#,
            strategy = row.strategy,
            to = row.to,
            target = row.target,
            extra = row
                .extra
                .replace("{pg_port}", &self.pg.port.to_string())
                .replace("{pg_password}", KONG_PASSWORD),
            x = self.admin_url(row.x),
        )
    }
}

#[test]
fn every_planner_rule_shows_at_plan_time() {
    let nodes = Nodes::start();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        for row in rows() {
            acc.configure(&nodes.config(&row));
            // `plan -detailed-exitcode`: 2 means a plan with changes, 1 an error.
            let (planned, out) = match acc.ws().plan() {
                Ok(out) => (true, out),
                Err(support::TerraformError::Failed { output, .. }) => (false, output),
                Err(other) => panic!("{other}"),
            };
            let all = format!("{}\n{}", out.stdout, out.stderr);
            match row.expect {
                Expect::Error {
                    message,
                    at,
                    summary,
                } => {
                    assert!(
                        !planned,
                        "[{version}] {}: the plan must fail\n{out}",
                        row.rule
                    );
                    assert!(
                        flat(&out.stderr).contains(message),
                        "[{version}] {}: expected {message:?}\n{out}",
                        row.rule
                    );
                    assert!(
                        out.stderr.contains(summary),
                        "[{version}] {}\n{out}",
                        row.rule
                    );
                    if let Some(attribute) = at {
                        assert!(
                            points_at(&out.stderr, attribute),
                            "[{version}] {}: the error must point at {attribute}\n{out}",
                            row.rule
                        );
                    }
                }
                Expect::Warning(message) => {
                    assert!(
                        planned,
                        "[{version}] {}: the plan must succeed\n{out}",
                        row.rule
                    );
                    assert!(
                        flat(&all).contains(message),
                        "[{version}] {}: expected the warning {message:?}\n{out}",
                        row.rule
                    );
                    assert!(
                        all.contains("Upgrade warning"),
                        "[{version}] {}\n{out}",
                        row.rule
                    );
                }
            }
        }
    }
}

/// Kong 2.8 on Cassandra, as its Admin API answers (kongsim models
/// PostgreSQL and DB-less only): `GET /`, `GET /status` and `GET /plugins`
/// with 2.8's shapes. Nothing else is served.
struct CassandraNode {
    url: String,
}

impl CassandraNode {
    fn start() -> CassandraNode {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer_as_kong_2_8_on_cassandra(stream);
            }
        });
        CassandraNode { url }
    }
}

fn answer_as_kong_2_8_on_cassandra(mut stream: std::net::TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path.split('?').next().unwrap_or("/") {
        "/" => (
            "200 OK",
            r#"{"version":"2.8.4","tagline":"Welcome to kong","hostname":"kong-cassandra","node_id":"5b0c2c4e-3a0b-4a7f-9d3e-2f1d0c9b8a71","lua_version":"LuaJIT 2.1.0-beta3","plugins":{"available_on_server":{"rate-limiting":true,"key-auth":true},"enabled_in_cluster":[]},"configuration":{"database":"cassandra","role":"traditional","cassandra_contact_points":["127.0.0.1"],"cassandra_keyspace":"kong"}}"#,
        ),
        "/status" => (
            "200 OK",
            r#"{"database":{"reachable":true},"server":{"connections_accepted":1,"connections_active":1,"connections_handled":1,"connections_reading":0,"connections_waiting":0,"connections_writing":1,"total_requests":1}}"#,
        ),
        "/plugins" => ("200 OK", r#"{"data":[],"next":null}"#),
        _ => ("404 Not Found", r#"{"message":"Not found"}"#),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nServer: kong/2.8.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
