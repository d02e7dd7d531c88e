//! Acceptance: a whole blue-green upgrade through real Terraform, one apply
//! per phase, against real PostgreSQL and HAProxy and two kongsim clusters.

mod support;

use std::path::{Path, PathBuf};
use support::{Acceptance, TerraformVersion};
use testbed::haproxy::Haproxy;
use testbed::kongsim::{kong_pg_env, kongsim_bin, KongSim};
use testbed::postgres::KONG_PASSWORD;
use testbed::{free_port, Postgres};

const FROM: &str = "3.5.0";
const TO: &str = "3.6.1";

struct Sandbox {
    pg: Postgres,
    x: KongSim,
    haproxy: Haproxy,
    y_admin: String,
    y_status: String,
    y_proxy: String,
    y_ports: [u16; 3],
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn start() -> Sandbox {
        let pg = Postgres::start().unwrap();
        let x = KongSim::builder(FROM).postgres(&pg).bootstrap().cluster_name("x").start().unwrap();
        let y_ports = [free_port(), free_port(), free_port()];
        let x_proxy = x.proxy_url.trim_start_matches("http://").parse().unwrap();
        let y_proxy_addr = format!("127.0.0.1:{}", y_ports[2]).parse().unwrap();
        let haproxy = Haproxy::start(x_proxy, y_proxy_addr, (100, 0)).unwrap();
        Sandbox {
            pg,
            x,
            haproxy,
            y_admin: format!("http://127.0.0.1:{}", y_ports[0]),
            y_status: format!("http://127.0.0.1:{}", y_ports[1]),
            y_proxy: format!("http://127.0.0.1:{}", y_ports[2]),
            y_ports,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn y_pid_file(&self) -> PathBuf {
        self.dir.path().join("y.pid")
    }

    /// The `start_y` hook: starts cluster Y detached, as a deployment tool
    /// would; Y refuses to start before `migrations up`, like Kong.
    fn start_y_hook(&self) -> String {
        let env: String = kong_pg_env(&self.pg).iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let [a, s, p] = self.y_ports;
        let script = format!(
            "{env}setsid {bin} --kong-version {TO} serve --admin-listen 127.0.0.1:{a} --status-listen 127.0.0.1:{s} \
             --proxy-listen 127.0.0.1:{p} --control-listen off --cluster-name y > {dir}/y.log 2>&1 < /dev/null & echo $! > {pid}",
            bin = kongsim_bin().display(),
            dir = self.dir.path().display(),
            pid = self.y_pid_file().display(),
        );
        hcl_list(&["sh", "-c", &script])
    }

    fn config(&self, phase: &str, weight: Option<u8>) -> String {
        let weight = weight.map(|w| format!("weight_y = {w}")).unwrap_or_default();
        let backup = self.dir.path().join("backups");
        format!(
            r#"
resource "kong_upgrade" "bg" {{
  strategy     = "blue_green"
  to_version   = "{TO}"
  target_phase = "{phase}"
  {weight}

  cluster_x {{
    admin_url  = "{x_admin}"
    status_url = "{x_status}"
    proxy_url  = "{x_proxy}"
  }}
  cluster_y {{
    admin_url  = "{y_admin}"
    status_url = "{y_status}"
    proxy_url  = "{y_proxy}"
  }}
  database {{
    host     = "127.0.0.1"
    port     = {pg_port}
    user     = "kong"
    password = "{KONG_PASSWORD}"
    database = "kong"
  }}
  runner {{
    command {{
      argv = ["{kongsim}", "--kong-version", "{TO}"]
    }}
  }}
  traffic {{
    haproxy {{
      runtime_api = "{socket}"
      backend     = "kong"
      server_x    = "x"
      server_y    = "y"
    }}
    step_weight = 25
    interval    = "200ms"
  }}
  backup {{
    directory = "{backup}"
  }}
  staging_test {{
    name          = "proxy answers"
    path          = "/orders"
    expect_status = 200
  }}
  hooks = {{
    start_y        = {start_y}
    decommission_x = ["kill", "{x_pid}"]
  }}
}}

output "phase" {{
  value = kong_upgrade.bg.phase
}}
"#,
            x_admin = self.x.admin_url,
            x_status = self.x.status_url,
            x_proxy = self.x.proxy_url,
            y_admin = self.y_admin,
            y_status = self.y_status,
            y_proxy = self.y_proxy,
            pg_port = self.pg.port,
            kongsim = kongsim_bin().display(),
            socket = self.haproxy.admin_socket().display(),
            backup = backup.display(),
            start_y = self.start_y_hook(),
            x_pid = self.x.pid().unwrap(),
        )
    }

    fn pending(&self) -> String {
        self.pg.psql("SELECT string_agg(subsystem || ':' || array_to_string(pending, ','), ' ' ORDER BY subsystem) FROM schema_meta WHERE cardinality(pending) > 0").unwrap().trim().to_string()
    }

    /// HAProxy's live weight of server y, from its runtime API.
    fn weight_y(&self) -> u32 {
        use std::io::{Read, Write};
        let mut sock = std::os::unix::net::UnixStream::connect(self.haproxy.admin_socket()).unwrap();
        sock.write_all(b"get weight kong/y\n").unwrap();
        let mut answer = String::new();
        sock.read_to_string(&mut answer).unwrap();
        answer.split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or(u32::MAX)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.y_pid_file()) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn hcl_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| serde_json::Value::from(*i).to_string()).collect();
    format!("[{}]", quoted.join(", "))
}

fn phase_of(acc: &Acceptance) -> serde_json::Value {
    acc.values("kong_upgrade.bg")["phase"].clone()
}

fn service_count(pg: &Postgres) -> String {
    pg.psql("SELECT count(*) FROM services").unwrap().trim().to_string()
}

fn blue_green_end_to_end(version: TerraformVersion) {
    let sb = Sandbox::start();
    // Configuration that must survive the upgrade untouched.
    testbed::kongsim::http_request(&sb.x.admin_url, "POST", "/services", r#"{"name":"orders","url":"http://orders.internal:8080"}"#).unwrap();
    let services_before = service_count(&sb.pg);
    let mut acc = Acceptance::new(version);
    if std::env::var_os("KONG_ACC_DEBUG_LOG").is_some() {
        acc.ws_mut().enable_log("debug");
    }

    acc.configure(&sb.config("prepared", None));
    let plan = acc.ws().plan().unwrap();
    assert!(plan.stdout.contains("pg_dump"), "the plan lists the backup step:\n{plan}");
    acc.apply(&sb.config("prepared", None));
    let v = acc.values("kong_upgrade.bg");
    assert_eq!(v["phase"], "prepared");
    assert!(Path::new(v["backup_location"].as_str().unwrap()).is_file(), "{v}");
    assert!(v["config_fingerprint"].as_str().is_some_and(|f| f.len() == 32));
    assert_eq!(sb.pending(), "", "nothing migrated yet");

    acc.apply(&sb.config("migrated", None));
    assert_eq!(phase_of(&acc), "migrated");
    let pending = sb.pending();
    assert!(pending.contains("acme:003_350_to_360") && pending.contains("rate-limiting:006_350_to_360"), "{pending}");
    assert_eq!(sb.weight_y(), 0, "Y is up but takes no traffic yet");

    acc.apply(&sb.config("serving", Some(50)));
    assert_eq!(acc.values("kong_upgrade.bg")["current_weight_y"], 50);
    assert!(sb.weight_y() > 0 && sb.weight_y() < 256, "haproxy weight of y: {}", sb.weight_y());

    acc.apply(&sb.config("serving", Some(100)));
    assert_eq!(acc.values("kong_upgrade.bg")["current_weight_y"], 100);
    assert!(!sb.pending().is_empty(), "finish has not run yet");

    acc.apply(&sb.config("finished", None));
    assert_eq!(phase_of(&acc), "finished");
    assert_eq!(sb.pending(), "", "migrations finish ran the teardowns");

    acc.plan_expect_error(&sb.config("serving", Some(50)), "Upgrade refused");

    acc.apply(&sb.config("completed", None));
    assert_eq!(phase_of(&acc), "completed");
    assert_eq!(service_count(&sb.pg), services_before, "no configuration lost");
    let history = acc.values("kong_upgrade.bg")["history"].clone();
    let ran = |id: &str| history.as_array().unwrap().iter().filter(|h| h["step"] == id).count();
    assert_eq!(ran("migrations_up"), 1, "{history}");
    assert_eq!(ran("migrations_finish"), 1, "{history}");
    acc.destroy();
}

#[test]
fn blue_green_upgrade_phase_by_phase() {
    for version in support::versions() {
        blue_green_end_to_end(version);
    }
}
