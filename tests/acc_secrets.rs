//! Acceptance: no secret leaks. A unique marker is set in every secret the
//! configuration of a blue-green upgrade carries — the provider's
//! `admin_token` and Admin API `headers`, the database password (write-only
//! where the core supports it), `staging_test.headers` — and the upgrade is
//! applied to `migrated` (freeze, `pg_dump`, `kong migrations up` through the
//! runner, the `start_y` hook) with `TF_LOG=TRACE`. Then none of the markers
//! may appear in Terraform's log, the plan and apply output, the argv of any
//! process started meanwhile (sampled from /proc), or error messages (a
//! refused URL with credentials, a refused login); the write-only password
//! is absent from the state.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::upgrade::{hcl_list, kong_cli, points_at, Sandbox, TO};
use support::{Acceptance, TerraformVersion};

/// A marker no other text contains: the secret's name and the test's pid.
fn marker(name: &str) -> String {
    format!("{name}-{}-c0ffee", std::process::id())
}

struct Secrets {
    token: String,
    header: String,
    password: String,
    staging: String,
    url: String,
}

impl Secrets {
    fn new() -> Secrets {
        Secrets {
            token: marker("admintoken"),
            header: marker("adminheader"),
            password: marker("dbpassword"),
            staging: marker("stagingheader"),
            url: marker("urlpassword"),
        }
    }

    fn all(&self) -> [&str; 5] {
        [
            &self.token,
            &self.header,
            &self.password,
            &self.staging,
            &self.url,
        ]
    }

    /// The markers found in `text`.
    fn found_in(&self, text: &str) -> Vec<String> {
        self.all()
            .iter()
            .filter(|m| text.contains(**m))
            .map(|m| m.to_string())
            .collect()
    }
}

fn config(sb: &Sandbox, version: TerraformVersion, phase: &str, y_admin_url: &str) -> String {
    // Terraform 1.0.x crashes ("value is marked, so must be unmarked
    // first") rendering a nested block that holds a sensitive variable: there
    // the values go through nonsensitive(), as examples/upgrades advise, and
    // the schema's own sensitivity is what hides them.
    let (password, staging_key) = if version == TerraformVersion::V1_0_3 {
        (
            "password = nonsensitive(var.db_password)",
            "nonsensitive(var.staging_key)",
        )
    } else {
        ("password_wo = var.db_password", "var.staging_key")
    };
    format!(
        r#"
variable "admin_token" {{
  type      = string
  sensitive = true
}}
variable "admin_header" {{
  type      = string
  sensitive = true
}}
variable "db_password" {{
  type      = string
  sensitive = true
}}
variable "staging_key" {{
  type      = string
  sensitive = true
}}

provider "kong" {{
  admin_token = var.admin_token
  headers     = {{ "X-Admin-Secret" = var.admin_header }}
}}

resource "kong_upgrade" "this" {{
  strategy     = "blue_green"
  to_version   = "{TO}"
  target_phase = "{phase}"

  cluster_x {{
    admin_url = "{x_admin}"
    proxy_url = "{x_proxy}"
  }}
  cluster_y {{
    admin_url  = "{y_admin}"
    status_url = "{y_status}"
    proxy_url  = "{y_proxy}"
  }}
  database {{
    host     = "127.0.0.1"
    port     = {pg_port}
    user     = "secret_role"
    {password}
    database = "kong"
  }}
  runner {{
    command {{
      argv = {kong_cli}
    }}
  }}
  traffic {{
    haproxy {{
      runtime_api = "{socket}"
      backend     = "kong"
      server_x    = "x"
      server_y    = "y"
    }}
  }}
  backup {{
    directory = "{backup}"
  }}
  staging_test {{
    name          = "orders"
    path          = "/orders"
    expect_status = 200
    headers       = {{ apikey = {staging_key} }}
  }}
  hooks = {{
    start_y = {start_y}
  }}
}}
"#,
        x_admin = sb.x.admin_url,
        x_proxy = sb.x.proxy_url,
        y_admin = y_admin_url,
        y_status = sb.y.status_url,
        y_proxy = sb.y.proxy_url,
        pg_port = sb.pg().port,
        kong_cli = kong_cli(TO),
        socket = sb.haproxy.admin_socket().display(),
        backup = sb.backup_dir().display(),
        start_y = hcl_list(&sb.start_y_on_database("kong")),
    )
}

/// Samples the argv of every process on the machine until stopped: short
/// lived children (pg_dump, the kong CLI, hooks) included, every 5 ms.
struct ArgvSampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<std::collections::BTreeSet<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ArgvSampler {
    fn start() -> ArgvSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let (s, w) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let Ok(argv) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    if !argv.is_empty() {
                        let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
                        w.lock().unwrap().insert(argv);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        ArgvSampler {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let seen = self.seen.lock().unwrap();
        seen.iter().cloned().collect()
    }
}

fn no_secret_leaks(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    let secrets = Secrets::new();
    sb.pg()
        .psql(&format!(
            "CREATE ROLE secret_role LOGIN SUPERUSER PASSWORD '{}'",
            secrets.password
        ))
        .unwrap();
    let mut acc = Acceptance::new(version);
    acc.ws_mut().enable_log("TRACE");
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &format!(
                "admin_token = \"{}\"\nadmin_header = \"{}\"\ndb_password = \"{}\"\nstaging_key = \"{}\"\n",
                secrets.token, secrets.header, secrets.password, secrets.staging
            ),
        )
        .unwrap();
    let mut outputs = Vec::new();

    acc.configure(&config(&sb, version, "prepared", &sb.y.admin_url));
    outputs.push(acc.ws().plan().unwrap().to_string());
    let sampler = ArgvSampler::start();
    outputs.push(
        acc.apply(&config(&sb, version, "prepared", &sb.y.admin_url))
            .to_string(),
    );
    outputs.push(
        acc.apply(&config(&sb, version, "migrated", &sb.y.admin_url))
            .to_string(),
    );
    let argv = sampler.finish();
    assert_eq!(acc.values("kong_upgrade.this")["phase"], "migrated");
    assert!(
        argv.iter().any(|a| a.contains("pg_dump"))
            && argv.iter().any(|a| a.contains("migrations up")),
        "the sampler saw the children it watches for: {argv:#?}"
    );
    for a in &argv {
        assert!(secrets.found_in(a).is_empty(), "a child's argv: {a}");
    }

    // Error messages: a URL with credentials is refused without echo.
    let y_with_userinfo =
        sb.y.admin_url
            .replace("http://", &format!("http://admin:{}@", secrets.url));
    acc.configure(&config(&sb, version, "migrated", &y_with_userinfo));
    let refused = acc.ws().plan_expect_error().unwrap();
    assert!(
        refused.stderr.contains("carries credentials") && points_at(&refused.stderr, "admin_url"),
        "{refused}"
    );
    // Terraform quotes the configuration line it points at, with the URL as
    // written: only the provider's own words are checked.
    let words: String = refused
        .stderr
        .lines()
        .filter(|l| !l.contains("admin_url  ="))
        .filter(|l| !l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join("\n");
    outputs.push(words);

    let state = std::fs::read_to_string(acc.ws().dir().join("terraform.tfstate")).unwrap();
    if version == TerraformVersion::V1_0_3 {
        // No write-only attributes before Terraform 1.11: a sensitive value
        // is kept in state, as Terraform does (and the search can see it).
        assert!(
            state.contains(&secrets.password),
            "canary: the marker search works"
        );
    } else {
        assert!(
            !state.contains(&secrets.password),
            "the write-only password is not in the state"
        );
    }
    let log = acc.ws().read_log().unwrap();
    assert!(
        log.contains("upgrade step starting") && log.contains("ApplyResourceChange"),
        "the TRACE log holds the provider's own log lines and the RPCs"
    );
    for (what, text) in [("the TRACE log", log.as_str())]
        .into_iter()
        .chain(outputs.iter().map(|o| ("Terraform's output", o.as_str())))
    {
        let found = secrets.found_in(text);
        assert!(found.is_empty(), "{found:?} in {what}:\n{text}");
    }
}

#[test]
fn no_secret_reaches_a_log_an_output_an_argv_or_the_state() {
    for version in support::versions() {
        no_secret_leaks(version);
    }
}
