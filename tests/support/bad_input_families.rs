//! The families of `acc_bad_inputs`: a valid base per configuration object
//! and the attributes mutated in it (see `bad_inputs`).

use super::bad_inputs::*;

/// (line to replace, attribute, bad values).
type Mutation = (&'static str, &'static str, &'static [&'static str]);

/// `own` mutations, then those of the shared blocks.
fn joined(own: Vec<Mutation>, shared: &[Vec<Mutation>]) -> Vec<Mutation> {
    own.into_iter()
        .chain(shared.iter().flatten().copied())
        .collect()
}

const GATE: &str = r#"
    gate {
      name                      = "g"
      interval                  = "10s"
      count                     = 3
      failure_limit             = 0
      consecutive_success_limit = 2
      inconclusive              = "fail"
      timeout                   = "5s"
      http {
        url             = "http://127.0.0.1:8/"
        expected_status = 200
        headers         = { "X-Key" = "v" }
      }
    }"#;

const DATABASE: &str = r#"
  database {
    host            = "127.0.0.1"
    port            = 5432
    password        = "pw"
    sslmode         = "prefer"
    connect_timeout = 10
    ssl_root_cert   = null
  }"#;

const RUNNER: &str = r#"
  runner {
    command {
      argv          = ["kong"]
      env_transport = "process"
    }
  }"#;

fn traffic(indent: &str) -> String {
    format!(
        r#"
{indent}traffic {{
{indent}  haproxy {{
{indent}    runtime_api = "/run/haproxy/admin.sock"
{indent}    backend     = "kong"
{indent}    server_x    = "x"
{indent}    server_y    = "y"
{indent}  }}
{indent}  step_weight = 25
{indent}  interval    = "30s"
{indent}  on_failure  = "rollback"{GATE}
{indent}}}"#
    )
}

/// The mutations every traffic block gets.
fn traffic_mutations() -> Vec<Mutation> {
    vec![
        (
            "step_weight = 25",
            "step_weight",
            &["0", "0.5", "101", "-25", "1e300"][..],
        ),
        ("interval    = \"30s\"", "interval", DURATIONS),
        ("on_failure  = \"rollback\"", "on_failure", ENUM_NOISE),
        ("interval                  = \"10s\"", "interval", DURATIONS),
        ("count                     = 3", "count", COUNTS),
        (
            "failure_limit             = 0",
            "failure_limit",
            &["-1", "0.5", "1e300"][..],
        ),
        (
            "consecutive_success_limit = 2",
            "consecutive_success_limit",
            COUNTS,
        ),
        (
            "inconclusive              = \"fail\"",
            "inconclusive",
            ENUM_NOISE,
        ),
        ("timeout                   = \"5s\"", "timeout", DURATIONS),
        ("url             = \"http://127.0.0.1:8/\"", "url", URLS),
        ("expected_status = 200", "expected_status", STATUSES),
        (
            "headers         = { \"X-Key\" = \"v\" }",
            "headers",
            HEADERS,
        ),
    ]
}

fn database_mutations() -> Vec<Mutation> {
    vec![
        ("port            = 5432", "port", PORTS),
        ("sslmode         = \"prefer\"", "sslmode", ENUM_NOISE),
        ("connect_timeout = 10", "connect_timeout", SECONDS),
        ("ssl_root_cert   = null", "ssl_root_cert", PEMS),
    ]
}

fn upgrade_base() -> String {
    format!(
        r#"
resource "kong_upgrade" "NAME" {{
  strategy                = "blue_green"
  to_version              = "3.6.1"
  target_phase            = "serving"
  weight_y                = 50
  on_destroy              = "refuse"
  control_plane_admin_url = "http://127.0.0.1:9/"
  cluster_x {{
    admin_url       = "http://127.0.0.1:1/"
    status_url      = "http://127.0.0.1:3/"
    proxy_url       = "http://127.0.0.1:5/"
    node_admin_urls = ["http://127.0.0.1:1/", "http://127.0.0.1:7/"]
    headers         = {{ "X-Team" = "edge" }}
  }}
  cluster_y {{
    admin_url = "http://127.0.0.1:2/"
    proxy_url = "http://127.0.0.1:6/"
  }}{DATABASE}{RUNNER}
  backup {{
    directory = "/tmp"
  }}{traffic}
  staging_test {{
    name          = "s"
    path          = "/"
    method        = "GET"
    expect_status = 200
    headers       = {{ "apikey" = "k" }}
  }}
  timeouts {{
    create = "30m"
    update = "20m"
    delete = "10m"
  }}
}}
"#,
        traffic = traffic("  ")
    )
}

fn upgrade() -> Family {
    let header = r#"resource "kong_upgrade" "NAME" {"#;
    let mut mutations = vec![
        (
            "strategy                = \"blue_green\"",
            "strategy",
            &[r#""""#, r#""blue-green""#, r#""canary""#][..],
        ),
        (
            "to_version              = \"3.6.1\"",
            "to_version",
            VERSIONS,
        ),
        (
            "target_phase            = \"serving\"",
            "target_phase",
            ENUM_NOISE,
        ),
        ("weight_y                = 50", "weight_y", WHOLE_PERCENT),
        (
            "on_destroy              = \"refuse\"",
            "on_destroy",
            ENUM_NOISE,
        ),
        (
            "control_plane_admin_url = \"http://127.0.0.1:9/\"",
            "control_plane_admin_url",
            URLS,
        ),
        (
            "admin_url       = \"http://127.0.0.1:1/\"",
            "admin_url",
            URLS,
        ),
        (
            "status_url      = \"http://127.0.0.1:3/\"",
            "status_url",
            URLS,
        ),
        (
            "proxy_url       = \"http://127.0.0.1:5/\"",
            "proxy_url",
            URLS,
        ),
        ("admin_url = \"http://127.0.0.1:2/\"", "admin_url", URLS),
        (
            "headers         = { \"X-Team\" = \"edge\" }",
            "headers",
            HEADERS,
        ),
        (
            "method        = \"GET\"",
            "method",
            &[r#""G ET""#, r#""""#][..],
        ),
        ("expect_status = 200", "expect_status", STATUSES),
        ("headers       = { \"apikey\" = \"k\" }", "headers", HEADERS),
        ("create = \"30m\"", "create", DURATIONS),
        ("update = \"20m\"", "update", DURATIONS),
        ("delete = \"10m\"", "delete", DURATIONS),
    ];
    mutations.extend(traffic_mutations());
    mutations.extend(database_mutations());
    let node_urls =
        |bad_url: &str| format!("    node_admin_urls = [\"http://127.0.0.1:1/\", {bad_url}]");
    let strategy = |s: &str| format!("  strategy                = \"{s}\"");
    Family {
        name: "kong_upgrade",
        base: upgrade_base(),
        needs: Needs::AnyCore,
        mutations,
        edits: vec![
            edit("node_admin_urls element", vec![("node_admin_urls = [\"http://127.0.0.1:1/\", \"http://127.0.0.1:7/\"]", bad(&node_urls("\"ftp://x/\"")))]),
            edit("node_admin_urls userinfo", vec![("node_admin_urls = [\"http://127.0.0.1:1/\", \"http://127.0.0.1:7/\"]", bad(&node_urls("\"http://u:hunter2@h/\"")))]),
            edit("cluster_y equal to cluster_x", vec![("admin_url = \"http://127.0.0.1:2/\"", bad("    admin_url = \"http://127.0.0.1:1/\""))]),
            edit("cluster_y equal to cluster_x, no slash", vec![("admin_url = \"http://127.0.0.1:2/\"", bad("    admin_url = \"http://127.0.0.1:1\""))]),
            // An absent attribute or a block: Terraform points at the enclosing block.
            edit("serving without weight_y", vec![("weight_y                = 50", String::new()), (header, bad(header))]),
            edit("blue_green without database", vec![("database {", String::new()), (header, bad(header))]),
            edit("blue_green without runner", vec![("runner {", String::new()), (header, bad(header))]),
            edit("in_place without database", vec![("database {", String::new()), ("strategy                = \"blue_green\"", strategy("in_place")), (header, bad(header))]),
            edit("dual_cluster without new_database", vec![("strategy                = \"blue_green\"", strategy("dual_cluster")), (header, bad(header))]),
            edit("blue_green with new_database", vec![("backup {", "  new_database {\n    host     = \"h\"\n    password = \"pw\"\n  }\n  backup {".to_string()), (header, bad(header))]),
            edit("database without a password", vec![("password        = \"pw\"", String::new()), ("database {", bad("  database {"))]),
            Edit {
                label: "password and password_wo",
                changes: vec![("password        = \"pw\"", format!("    password = \"pw\"\n{}", bad("    password_wo = \"pw\"")))],
                needs: Needs::ModernCore,
            },
            edit("password_wo_version without password_wo", vec![("password        = \"pw\"", format!("    password = \"pw\"\n{}", bad("    password_wo_version = 1")))]),
            edit("steps and step_weight", vec![("step_weight = 25", bad("    step_weight = 25")), ("on_failure  = \"rollback\"", "    on_failure = \"rollback\"\n    steps {\n      weight = 50\n    }".to_string())]),
            edit("step weight fractional", vec![("step_weight = 25", format!("    steps {{\n{}\n    }}", bad("      weight = 0.5")))]),
            edit("step weight above 100", vec![("step_weight = 25", format!("    steps {{\n{}\n    }}", bad("      weight = 150")))]),
            edit("step pause negative", vec![("step_weight = 25", format!("    steps {{\n      weight = 50\n{}\n    }}", bad("      pause = \"-1s\"")))]),
            edit("empty hook", vec![("on_destroy              = \"refuse\"", bad("  hooks = { start_y = [] }"))]),
            edit("backup with both destinations", vec![("directory = \"/tmp\"", format!("    directory = \"/tmp\"\n{}", bad("    upload_command = [\"cat\"]")))]),
        ],
    }
}

/// `mutations`, `edits` and `base` for the other objects.
pub fn families() -> Vec<Family> {
    let split_traffic = traffic("")
        .replace("traffic {\n", "")
        .trim_end()
        .trim_end_matches('}')
        .to_string();
    let mut families = vec![upgrade()];
    families.push(Family {
        name: "kong_traffic_split",
        base: format!(
            "\nresource \"kong_traffic_split\" \"NAME\" {{\n  weight_y = 50\n{split_traffic}\n}}\n"
        ),
        needs: Needs::AnyCore,
        mutations: joined(
            vec![("weight_y = 50", "weight_y", WHOLE_PERCENT)],
            &[traffic_mutations()],
        ),
        edits: vec![],
    });
    families.push(Family {
        name: "kong_traffic_split_upstream",
        base: "\nresource \"kong_traffic_split\" \"NAME\" {\n  weight_y = 50\n  kong_upstream {\n    admin_url          = \"http://127.0.0.1:1/\"\n    upstream           = \"u\"\n    target_x           = \"127.0.0.1:2\"\n    target_y           = \"127.0.0.1:3\"\n    serving_admin_urls = [\"http://127.0.0.1:1/\"]\n  }\n}\n".to_string(),
        needs: Needs::AnyCore,
        mutations: vec![
            ("admin_url          = \"http://127.0.0.1:1/\"", "admin_url", URLS),
            ("serving_admin_urls = [\"http://127.0.0.1:1/\"]", "serving_admin_urls", &[r#"["ftp://x/"]"#, r#"["http://u:p@h/"]"#, r#"[""]"#][..]),
        ],
        edits: vec![],
    });
    families.push(Family {
        name: "kong_migration_phase",
        base: format!("\nresource \"kong_migration_phase\" \"NAME\" {{\n  phase          = \"up\"\n  target_version = \"3.6.1\"\n  db_timeout     = 60\n  lock_timeout   = 60{DATABASE}{RUNNER}\n  timeouts {{\n    create = \"30m\"\n    update = \"20m\"\n  }}\n}}\n"),
        needs: Needs::AnyCore,
        mutations: joined(vec![
                ("phase          = \"up\"", "phase", &[r#""""#, r#""down""#, r#""UP""#][..]),
                ("target_version = \"3.6.1\"", "target_version", VERSIONS),
                ("db_timeout     = 60", "db_timeout", SECONDS),
                ("lock_timeout   = 60", "lock_timeout", SECONDS),
                ("create = \"30m\"", "create", DURATIONS),
                ("update = \"20m\"", "update", DURATIONS),
                ("env_transport = \"process\"", "env_transport", ENUM_NOISE),
            ], &[database_mutations()]),
        edits: vec![
            edit("database without a password", vec![("password        = \"pw\"", String::new()), ("database {", bad("  database {"))]),
            edit("ssh port and timeout", vec![("command {", format!("    ssh {{\n      host = \"h\"\n      user = \"u\"\n      private_key = \"k\"\n      host_key = \"ssh-ed25519 AAAA\"\n{}\n    }}\n    command {{", bad("      port = 70000")))]),
        ],
    });
    // The data sources that read one Admin API.
    for name in ["kong_node", "kong_data_planes"] {
        families.push(Family {
            name,
            base: format!(
                "\ndata \"{name}\" \"NAME\" {{\n  admin_url = \"http://127.0.0.1:1/\"\n}}\n"
            ),
            needs: Needs::AnyCore,
            mutations: vec![("admin_url = \"http://127.0.0.1:1/\"", "admin_url", URLS)],
            edits: vec![],
        });
    }
    families.push(Family {
        name: "kong_migrations",
        base: format!(
            "\ndata \"kong_migrations\" \"NAME\" {{\n  target_version = \"3.6.1\"{DATABASE}\n}}\n"
        ),
        needs: Needs::AnyCore,
        mutations: joined(
            vec![("target_version = \"3.6.1\"", "target_version", VERSIONS)],
            &[database_mutations()],
        ),
        edits: vec![],
    });
    families.push(Family {
        name: "kong_upgrade_path",
        base: "\ndata \"kong_upgrade_path\" \"NAME\" {\n  from     = \"3.4.2\"\n  to       = \"3.6.1\"\n  strategy = \"rolling\"\n}\n".to_string(),
        needs: Needs::AnyCore,
        mutations: vec![
            ("from     = \"3.4.2\"", "from", VERSIONS),
            ("to       = \"3.6.1\"", "to", VERSIONS),
            ("strategy = \"rolling\"", "strategy", ENUM_NOISE),
        ],
        edits: vec![],
    });
    families.push(Family {
        name: "kong_promote",
        base: format!("\naction \"kong_promote\" \"NAME\" {{\n  config {{\n    max_weight_y = 50{}\n  }}\n}}\n", traffic("    ")),
        needs: Needs::ModernCore,
        mutations: joined(vec![("max_weight_y = 50", "max_weight_y", &["0.5", "0", "101", "-1", "1e300"][..])], &[traffic_mutations()]),
        edits: vec![],
    });
    families.push(Family {
        name: "kong_abort",
        base: format!("\naction \"kong_abort\" \"NAME\" {{\n  config {{\n    to_version = \"3.6.1\"{}{}\n  }}\n}}\n", traffic("    "), DATABASE.replace("\n  ", "\n    ")),
        needs: Needs::ModernCore,
        mutations: joined(vec![("to_version = \"3.6.1\"", "to_version", VERSIONS)], &[traffic_mutations(), database_mutations()]),
        edits: vec![edit("database without to_version", vec![("to_version = \"3.6.1\"", String::new()), ("config {", bad("  config {"))])],
    });
    families.push(Family {
        name: "functions",
        base: "\noutput \"NAME\" {\n  value = provider::kong::version_compare(\"3.4.2\", \"3.6.1\")\n}\n".to_string(),
        needs: Needs::ModernCore,
        mutations: vec![],
        edits: [
            r#"provider::kong::version_compare("3.4.2;rm -rf /", "3.6.1")"#,
            r#"provider::kong::version_compare("3.4.2", "x")"#,
            r#"provider::kong::version_compare("", "3.6.1")"#,
            r#"provider::kong::version_compare("3.4", "3.4.2")"#,
            r#"provider::kong::upgrade_path("3.4.2;rm", "3.6.1")"#,
            r#"provider::kong::upgrade_path("3.4.2", "")"#,
            r#"provider::kong::upgrade_path("latest", "3.6.1")"#,
            r#"provider::kong::upgrade_path("3", "3.6.1")"#,
        ]
        .into_iter()
        .map(|call| edit("function argument", vec![("value = provider::kong::version_compare(\"3.4.2\", \"3.6.1\")", bad(&format!("  value = {call}")))]))
        .collect(),
    });
    families
}

/// Provider blocks (aliases, so many are judged in one run).
pub fn provider_family() -> Family {
    Family {
        name: "provider",
        // The data source makes Terraform configure (and so validate) the alias.
        base: "\ndata \"kong_upgrade_path\" \"NAME\" {\n  provider = kong.NAME\n  from     = \"3.4.2\"\n  to       = \"3.6.1\"\n}\n\nprovider \"kong\" {\n  alias           = \"NAME\"\n  request_timeout = \"30s\"\n  headers         = { \"X-Team\" = \"edge\" }\n  tls {\n    ca_cert_pem     = null\n    client_cert_pem = null\n    client_key_pem  = null\n  }\n}\n".to_string(),
        needs: Needs::AnyCore,
        mutations: vec![
            ("request_timeout = \"30s\"", "request_timeout", DURATIONS),
            ("headers         = { \"X-Team\" = \"edge\" }", "headers", HEADERS),
            ("ca_cert_pem     = null", "ca_cert_pem", PEMS),
            ("client_cert_pem = null", "client_cert_pem", PEMS),
            ("client_key_pem  = null", "client_key_pem", &[r#""garbage""#, r#""-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUV0ZNQQ==\n-----END CERTIFICATE-----\n""#][..]),
        ],
        edits: vec![],
    }
}
