//! Sandboxes for `kong_upgrade` acceptance tests: real PostgreSQL, HAProxy
//! and kongsim clusters on loopback ports, plus the hooks a deployment tool
//! would run (start Y, stop X) and the probes the tests assert with.
//!
//! Cluster X is started by the test; cluster Y only by the upgrade's
//! `start_y` hook, as a deployment tool would start it, so Y cannot exist
//! before the provider asked for it.

use std::path::{Path, PathBuf};
use testbed::detached::Detached;
use testbed::haproxy::Haproxy;
use testbed::kongsim::{kong_pg_env, kongsim_bin, KongSim};
use testbed::postgres::KONG_PASSWORD;
use testbed::{reserved_port, Postgres};

/// The versions most tests upgrade between: an adjacent minor whose
/// migrations include teardowns, so `finish` has work to do.
pub const FROM: &str = "3.5.0";
pub const TO: &str = "3.6.1";

/// `["a", "b"]` as an HCL list of strings.
pub fn hcl_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|i| serde_json::Value::from(i.as_ref()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// A quoted HCL string.
pub fn hcl_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `examples/<path>` from the repository.
pub fn example_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(path)
}

/// Every `.tf` file of an example directory but `versions.tf` (the tests
/// supply their own `required_providers`), concatenated in name order.
pub fn example_config(dir: &str) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(example_path(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "tf")
                && p.file_name().is_some_and(|n| n != "versions.tf")
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Kong's core entity tables: the configuration an upgrade must preserve.
pub const CONFIG_TABLES: &[&str] = &[
    "services",
    "routes",
    "consumers",
    "plugins",
    "upstreams",
    "targets",
    "certificates",
];

/// Cluster Y before it exists: its ports, and the hook that starts it.
pub struct ClusterY {
    pub admin_url: String,
    pub status_url: String,
    pub proxy_url: String,
    ports: [u16; 3],
    dir: PathBuf,
    /// Every Y the hooks started, stopped on drop or once the test is gone.
    started: Detached,
}

impl ClusterY {
    fn new(dir: &Path) -> ClusterY {
        let ports = [reserved_port(), reserved_port(), reserved_port()];
        ClusterY {
            admin_url: format!("http://127.0.0.1:{}", ports[0]),
            status_url: format!("http://127.0.0.1:{}", ports[1]),
            proxy_url: format!("http://127.0.0.1:{}", ports[2]),
            ports,
            dir: dir.to_path_buf(),
            started: Detached::new(dir, "y"),
        }
    }

    pub fn proxy_addr(&self) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.ports[2]).parse().unwrap()
    }

    /// What Y logged (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("y.log")).unwrap_or_default()
    }

    /// The argv of a `start_y` hook: starts kongsim `version` detached, as a
    /// deployment tool would, with `env` (e.g. `KONG_PG_*`) and `args`
    /// after `serve`. Like Kong, Y refuses to start before `migrations up`.
    pub fn start_hook(
        &self,
        version: &str,
        env: &[(String, String)],
        args: &[String],
    ) -> Vec<String> {
        let env: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let [a, s, p] = self.ports;
        let command = format!(
            "{env}{bin} --kong-version {version} serve --admin-listen 127.0.0.1:{a} --status-listen 127.0.0.1:{s} \
             --proxy-listen 127.0.0.1:{p} --control-listen off --cluster-name y {args}",
            bin = kongsim_bin().display(),
            args = args.join(" "),
        );
        let script = self.started.start_script(&command, &self.dir.join("y.log"));
        vec!["sh".into(), "-c".into(), script]
    }
}

/// One upgrade's world: X running `FROM` (on PostgreSQL, or DB-less), Y's
/// ports reserved, HAProxy in front of both (all traffic on X), and a
/// scratch directory for backups and declarative configuration.
pub struct Sandbox {
    pub pg: Option<Postgres>,
    /// The version Y runs (`TO` unless the sandbox says otherwise).
    pub to: &'static str,
    pub x: KongSim,
    pub y: ClusterY,
    pub haproxy: Haproxy,
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// X is a traditional node on a fresh, bootstrapped PostgreSQL.
    pub fn traditional() -> Sandbox {
        Sandbox::traditional_between(FROM, TO)
    }

    /// [`Sandbox::traditional`] from `from` to `to` (four-part versions
    /// are Kong Enterprise, as kongsim reads them).
    pub fn traditional_between(from: &str, to: &'static str) -> Sandbox {
        let pg = Postgres::start().unwrap();
        let x = KongSim::builder(from)
            .postgres(&pg)
            .bootstrap()
            .cluster_name("x")
            .start()
            .unwrap();
        Sandbox {
            to,
            ..Sandbox::around(Some(pg), x, tempfile::tempdir().unwrap())
        }
    }

    /// X is a DB-less node serving the declarative configuration in
    /// [`Sandbox::declarative_config_path`].
    pub fn dbless() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("kong.yml");
        std::fs::write(&config, "_format_version: \"3.0\"\nservices:\n- name: orders\n  url: http://orders.internal:8080\n").unwrap();
        let x = KongSim::builder(FROM)
            .database_off()
            .empty_config()
            .env("KONG_DECLARATIVE_CONFIG", config.to_str().unwrap())
            .cluster_name("x")
            .start()
            .unwrap();
        Sandbox::around(None, x, dir)
    }

    fn around(pg: Option<Postgres>, x: KongSim, dir: tempfile::TempDir) -> Sandbox {
        let y = ClusterY::new(dir.path());
        let x_proxy = x.proxy_url.trim_start_matches("http://").parse().unwrap();
        let haproxy = Haproxy::start(x_proxy, y.proxy_addr(), (100, 0)).unwrap();
        Sandbox {
            pg,
            to: TO,
            x,
            y,
            haproxy,
            dir,
        }
    }

    pub fn pg(&self) -> &Postgres {
        self.pg.as_ref().expect("this sandbox has a database")
    }

    pub fn declarative_config_path(&self) -> PathBuf {
        self.dir.path().join("kong.yml")
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.dir.path().join("backups")
    }

    /// A `start_y` hook for Y on `database` of the sandbox's PostgreSQL.
    pub fn start_y_on_database(&self, database: &str) -> Vec<String> {
        let env: Vec<(String, String)> = kong_pg_env(self.pg())
            .into_iter()
            .map(|(k, v)| {
                if k == "KONG_PG_DATABASE" {
                    (k, database.to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        self.y.start_hook(self.to, &env, &[])
    }

    /// A `start_y` hook for a DB-less Y serving the same declarative file.
    pub fn start_y_dbless(&self) -> Vec<String> {
        let args = [
            "--database".to_string(),
            "off".into(),
            "--declarative-config".into(),
            self.declarative_config_path().display().to_string(),
        ];
        self.y.start_hook(self.to, &[], &args)
    }

    /// A hook that stops X (SIGTERM, as an orchestrator would).
    pub fn stop_x_hook(&self) -> Vec<String> {
        vec!["kill".into(), self.x.pid().unwrap().to_string()]
    }

    /// `CREATE DATABASE name OWNER kong`: an empty database for Y.
    pub fn create_database(&self, name: &str) {
        self.pg()
            .psql_db("postgres", &format!("CREATE DATABASE {name} OWNER kong"))
            .unwrap();
    }

    /// `subsystem:pending,...` for every subsystem with pending migrations.
    pub fn pending(&self) -> String {
        self.pending_in("kong")
    }

    pub fn pending_in(&self, database: &str) -> String {
        self.query(
            database,
            "SELECT coalesce(string_agg(subsystem || ':' || array_to_string(pending, ','), ' ' ORDER BY subsystem), '') FROM schema_meta WHERE cardinality(pending) > 0",
        )
    }

    /// The whole of `schema_meta`, one line per subsystem.
    pub fn schema_meta(&self, database: &str) -> String {
        self.query(
            database,
            "SELECT coalesce(string_agg(subsystem || ' last=' || coalesce(last_executed, '') || ' executed=' || array_to_string(executed, ',') || ' pending=' || coalesce(array_to_string(pending, ','), ''), E'\\n' ORDER BY subsystem), '') FROM schema_meta",
        )
    }

    /// Migration names recorded more than once in `executed` or `pending`
    /// (Kong records each exactly once, unless it was run twice).
    pub fn duplicate_migrations(&self, database: &str) -> String {
        self.query(
            database,
            "SELECT coalesce(string_agg(subsystem || '/' || name || ' x' || n, ' '), '') FROM ( \
               SELECT subsystem, name, count(*) AS n FROM schema_meta, \
                 unnest(coalesce(executed, '{}') || coalesce(pending, '{}')) AS name \
               GROUP BY subsystem, name HAVING count(*) > 1) d",
        )
    }

    /// An md5 over every row of `tables`, in id order: changes if any row
    /// changes.
    pub fn rows_hash(&self, database: &str, tables: &[&str]) -> String {
        let parts: Vec<String> = tables
            .iter()
            .map(|t| format!("coalesce((SELECT md5(string_agg(r::text, '' ORDER BY r.id)) FROM {t} r), '{t}:empty')"))
            .collect();
        self.query(database, &format!("SELECT md5({})", parts.join(" || ")))
    }

    pub fn query(&self, database: &str, sql: &str) -> String {
        self.pg().psql_db(database, sql).unwrap().trim().to_string()
    }

    /// HAProxy's live weight of server `server`, from its runtime API.
    pub fn haproxy_weight(&self, server: &str) -> u32 {
        self.haproxy_command(&format!("get weight kong/{server}"))
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(u32::MAX)
    }

    /// Sets HAProxy's weight of server `server` (as an operator would).
    pub fn set_haproxy_weight(&self, server: &str, weight: u32) {
        self.haproxy_command(&format!("set weight kong/{server} {weight}"));
    }

    /// One command on HAProxy's runtime API, and its answer.
    fn haproxy_command(&self, command: &str) -> String {
        use std::io::{Read, Write};
        let mut sock =
            std::os::unix::net::UnixStream::connect(self.haproxy.admin_socket()).unwrap();
        sock.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        sock.read_to_string(&mut answer).unwrap();
        answer
    }

    /// The `database { ... }` block for `database` of the sandbox's PostgreSQL.
    pub fn database_block(&self, block: &str, database: &str) -> String {
        format!(
            "{block} {{\n    host     = \"127.0.0.1\"\n    port     = {}\n    user     = \"kong\"\n    password = \"{KONG_PASSWORD}\"\n    database = \"{database}\"\n  }}",
            self.pg().port
        )
    }
}

/// `(status, body)` of an Admin API request.
pub fn admin(url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    testbed::kongsim::http_request(url, method, path, body).unwrap()
}

/// Whether something answers HTTP at `url`.
pub fn answers(url: &str) -> bool {
    testbed::kongsim::http_request(url, "GET", "/", "").is_ok()
}

/// The number of times step `id` appears in a `history` with `result`.
pub fn history_count(history: &serde_json::Value, id: &str, result: &str) -> usize {
    history.as_array().map_or(0, |h| {
        h.iter()
            .filter(|e| e["step"] == id && e["result"] == result)
            .count()
    })
}

/// Terraform wraps long diagnostics; compare with whitespace collapsed.
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether Terraform showed a diagnostic on the configuration line that
/// sets `attribute` (it prints that line as `  12:   attribute = value`).
pub fn points_at(output: &str, attribute: &str) -> bool {
    output.lines().any(|line| {
        let Some((number, code)) = line.trim_start().split_once(':') else {
            return false;
        };
        !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && code
                .trim_start()
                .strip_prefix(attribute)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
    })
}

/// A `terraform.tfvars` file from `(name, HCL expression)` pairs.
pub fn tfvars(vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(name, value)| format!("{name} = {value}\n"))
        .collect()
}

/// The runner argv that stands in for the `kong` CLI of `version`.
/// The `kong` of `version` on the far side of a boundary: a script in
/// `dir` running kongsim as that version, for a runner whose last argv
/// element is the far-side `kong` (`env_transport = "stdin"`).
pub fn far_side_kong(dir: &Path, version: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("kong-{version}"));
    let script = format!(
        "#!/bin/sh\nexec '{}' --kong-version {version} \"$@\"\n",
        kongsim_bin().display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// A `runner` block behind `env -i` (a boundary that drops the environment, as
/// `kubectl exec` does), the far side's own settings in `far_env`.
pub fn env_i_runner_block(far_kong: &str, far_env: &[String], transport: &str) -> String {
    let argv: Vec<&str> = ["env", "-i", "PATH=/usr/bin:/bin"]
        .into_iter()
        .chain(far_env.iter().map(String::as_str))
        .chain([far_kong])
        .collect();
    format!(
        "  runner {{\n    command {{\n      argv          = {}\n      env_transport = \"{transport}\"\n    }}\n  }}\n",
        hcl_list(&argv)
    )
}

pub fn kong_cli(version: &str) -> String {
    hcl_list(&[
        kongsim_bin().display().to_string(),
        "--kong-version".into(),
        version.into(),
    ])
}

/// The planned values of `address` (`change.after` of `terraform show -json`
/// on a saved plan): what `planned_steps`, `phase` and `current_weight_y`
/// say the next apply will do. Values known only after apply are absent.
pub fn planned_values(ws: &testbed::terraform::Workspace, address: &str) -> serde_json::Value {
    let planned = ws
        .run(&["plan", "-input=false", "-no-color", "-out=planned.tfplan"])
        .unwrap();
    assert!(planned.success(), "{planned}");
    let shown = ws
        .run(&["show", "-json", "-no-color", "planned.tfplan"])
        .unwrap();
    assert!(shown.success(), "{shown}");
    let plan: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    plan["resource_changes"]
        .as_array()
        .and_then(|changes| changes.iter().find(|c| c["address"] == address))
        .map(|c| c["change"]["after"].clone())
        .unwrap_or_else(|| panic!("{address} has no planned change\n{planned}"))
}

/// The ids of a `planned_steps` list, in order.
pub fn step_ids(planned: &serde_json::Value) -> Vec<String> {
    planned["planned_steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| s["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Percent of HAProxy's weight on Y.
pub fn haproxy_share_y(sb: &Sandbox) -> u32 {
    let (x, y) = (sb.haproxy_weight("x"), sb.haproxy_weight("y"));
    if x + y == 0 {
        return 0;
    }
    y * 100 / (x + y)
}

/// `action "kong_abort" "now"` checking the shared database on `pg_port`
/// for an upgrade to `to_version`, moving HAProxy's `kong` backend through
/// its runtime API `socket`.
pub fn abort_action(to_version: &str, pg_port: u16, socket: &Path) -> String {
    format!(
        r#"
action "kong_abort" "now" {{
  config {{
    to_version = "{to_version}"
    database {{
      host     = "127.0.0.1"
      port     = {pg_port}
      password = "{KONG_PASSWORD}"
    }}
    traffic {{
      haproxy {{
        runtime_api = "{socket}"
        backend     = "kong"
        server_x    = "x"
        server_y    = "y"
      }}
      step_weight = 25
      interval    = "100ms"
    }}
  }}
}}
"#,
        socket = socket.display()
    )
}
