//! Acceptance: no secret leaks. A unique marker is set in every secret the
//! configuration of a blue-green upgrade carries — the provider's
//! `admin_token`, Admin API `headers` and TLS client key, the database
//! password (write-only where the core supports it), the SSH runner's
//! private key, `staging_test.headers`, and a gate's `headers`,
//! `bearer_token` (and, where the core supports it, a second gate's
//! write-only `bearer_token_wo`) and `basic_auth` password — and the
//! upgrade is applied to
//! `serving` (freeze, `pg_dump`, `kong migrations up` through the SSH
//! runner, the `start_y` hook, staging tests, the gates at 50 %) with
//! `TF_LOG=TRACE`. The gates' endpoint records what it was sent: the
//! secrets were really used. Then none of the markers may appear in
//! Terraform's log, the plan and apply output, the argv of any process
//! started meanwhile (sampled from /proc), or error messages (a refused URL
//! with credentials); the write-only password and token are absent from
//! the state.
//! A key has no room for a marker of ours: its marker is a line of its own
//! base64 body (random, so found nowhere else).

mod support;

use base64::Engine as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::haproxy::driver_block;
use support::runbooks::create_orders_service;
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
    gate_header: String,
    gate_token: String,
    gate_token_wo: String,
    gate_password: String,
    /// The SSH runner's private key (PEM) and the line of it searched for.
    ssh_key: String,
    ssh_marker: String,
    /// The Admin API client certificate and its key (PEM), and the line of
    /// the key searched for.
    tls_cert: String,
    tls_key: String,
    tls_marker: String,
}

impl Secrets {
    fn new(ssh_key: &str, dir: &std::path::Path) -> Secrets {
        let (tls_cert, tls_key) = client_certificate(dir);
        Secrets {
            token: marker("admintoken"),
            header: marker("adminheader"),
            password: marker("dbpassword"),
            staging: marker("stagingheader"),
            url: marker("urlpassword"),
            gate_header: marker("gateheader"),
            gate_token: marker("gatetoken"),
            gate_token_wo: marker("gatewotoken"),
            gate_password: marker("gatepassword"),
            ssh_marker: key_marker(ssh_key),
            ssh_key: ssh_key.to_string(),
            tls_marker: key_marker(&tls_key),
            tls_cert,
            tls_key,
        }
    }

    fn all(&self) -> [&str; 11] {
        [
            &self.token,
            &self.header,
            &self.password,
            &self.staging,
            &self.url,
            &self.gate_header,
            &self.gate_token,
            &self.gate_token_wo,
            &self.gate_password,
            &self.ssh_marker,
            &self.tls_marker,
        ]
    }

    /// `terraform.tfvars` holding every secret.
    fn tfvars(&self) -> String {
        [
            ("admin_token", &self.token),
            ("admin_header", &self.header),
            ("db_password", &self.password),
            ("staging_key", &self.staging),
            ("gate_header", &self.gate_header),
            ("gate_token", &self.gate_token),
            ("gate_token_wo", &self.gate_token_wo),
            ("gate_password", &self.gate_password),
            ("ssh_key", &self.ssh_key),
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
        ]
        .iter()
        .map(|(name, value)| format!("{name} = \"{}\"\n", value.replace('\n', "\\n")))
        .collect()
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

/// A line of a PEM key's base64 body that holds key material: the
/// longest one after the first (which starts with a fixed header).
fn key_marker(pem: &str) -> String {
    let body: Vec<&str> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    let line = body
        .iter()
        .skip(usize::from(body.len() > 1))
        .max_by_key(|l| l.len())
        .expect("a PEM body");
    assert!(
        line.len() >= 40,
        "a marker long enough to be unique: {line}"
    );
    line.to_string()
}

/// A throwaway client certificate and key (RSA, PKCS#8) from `openssl`.
fn client_certificate(dir: &std::path::Path) -> (String, String) {
    let (cert, key) = (dir.join("client.crt"), dir.join("client.key"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=terraform-provider-kong-test",
            "-days",
            "1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl: {out:?}");
    (
        std::fs::read_to_string(cert).unwrap(),
        std::fs::read_to_string(key).unwrap(),
    )
}

/// A gate endpoint on 127.0.0.1 that answers 200 to everything and keeps
/// every request head it was sent.
struct GateEndpoint {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl GateEndpoint {
    fn start() -> GateEndpoint {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = std::io::BufReader::new(&stream);
                let mut head = String::new();
                while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
                kept.lock().unwrap().push(head);
                let _ = (&stream).write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        GateEndpoint { url, heads }
    }

    /// Whether a request for `path` carried `header` (case-insensitive name).
    fn received(&self, path: &str, header: &str) -> bool {
        self.heads.lock().unwrap().iter().any(|h| {
            h.starts_with(&format!("GET {path} "))
                && h.lines().any(|l| l.eq_ignore_ascii_case(header))
        })
    }
}

/// The blue-green configuration with every secret; `weight_y` for
/// `serving`.
fn config(
    sb: &Sandbox,
    version: TerraformVersion,
    phase: &str,
    y_admin_url: &str,
    sshd: &testbed::sshd::Sshd,
    gates: &GateEndpoint,
) -> String {
    // Terraform 1.0.x crashes ("value is marked, so must be unmarked
    // first") rendering a nested block that holds a sensitive variable: there
    // the values go through nonsensitive(), as examples/upgrades advise, and
    // the schema's own sensitivity is what hides them.
    let old = version == TerraformVersion::V1_0_3;
    let nested = |var: &str| {
        if old {
            format!("nonsensitive(var.{var})")
        } else {
            format!("var.{var}")
        }
    };
    let password = if old {
        "password = nonsensitive(var.db_password)".to_string()
    } else {
        "password_wo = var.db_password".to_string()
    };
    // Write-only values exist from Terraform 1.11 on (1.0.3 refuses
    // bearer_token_wo: tests/acc_gate_write_only.rs).
    let write_only_gate = if old {
        String::new()
    } else {
        format!(
            r#"
    gate {{
      name     = "bearer_wo"
      interval = "1s"
      count    = 1
      http {{
        url             = "{}/bearer_wo"
        bearer_token_wo = var.gate_token_wo
      }}
    }}"#,
            gates.url
        )
    };
    let weight = if phase == "serving" {
        "weight_y     = 50"
    } else {
        ""
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
variable "gate_header" {{
  type      = string
  sensitive = true
}}
variable "gate_token" {{
  type      = string
  sensitive = true
}}
variable "gate_token_wo" {{
  type      = string
  sensitive = true
}}
variable "gate_password" {{
  type      = string
  sensitive = true
}}
variable "ssh_key" {{
  type      = string
  sensitive = true
}}
variable "tls_cert" {{
  type = string
}}
variable "tls_key" {{
  type      = string
  sensitive = true
}}

provider "kong" {{
  admin_token = var.admin_token
  headers     = {{ "X-Admin-Secret" = var.admin_header }}
  tls {{
    client_cert_pem = var.tls_cert
    client_key_pem  = var.tls_key
  }}
}}

resource "kong_upgrade" "this" {{
  strategy     = "blue_green"
  to_version   = "{TO}"
  target_phase = "{phase}"
  {weight}

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
    ssh {{
      host        = "127.0.0.1"
      port        = {ssh_port}
      user        = "{ssh_user}"
      private_key = {ssh_key}
      host_key    = "{host_key}"
      argv        = {kong_cli}
    }}
  }}
  traffic {{
    interval = "1s"
{haproxy}    gate {{
      name     = "bearer"
      interval = "1s"
      count    = 1
      http {{
        url          = "{gates}/bearer"
        headers      = {{ "X-Api-Key" = {gate_header} }}
        bearer_token = {gate_token}
      }}
    }}
    gate {{
      name     = "basic"
      interval = "1s"
      count    = 1
      http {{
        url = "{gates}/basic"
        basic_auth {{
          username = "gate-user"
          password = {gate_password}
        }}
      }}
    }}{write_only_gate}
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
        haproxy = driver_block(&sb.haproxy, "    "),
        backup = sb.backup_dir().display(),
        start_y = hcl_list(&sb.start_y_on_database("kong")),
        staging_key = nested("staging_key"),
        gate_header = nested("gate_header"),
        gate_token = nested("gate_token"),
        gate_password = nested("gate_password"),
        ssh_key = nested("ssh_key"),
        ssh_port = sshd.port,
        ssh_user = sshd.user,
        host_key = sshd.host_public_key,
        gates = gates.url,
    )
}

/// Samples the argv of every process on the machine until stopped: short
/// lived children (pg_dump, the kong CLI, hooks) included, every 5 ms.
/// Every argv is checked for secrets (the markers are unique to this test);
/// `ours` keeps those of this test process's descendants, so another
/// acceptance test running beside this one cannot stand in for the
/// children this test must see.
struct ArgvSampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Sampled>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Sampled {
    all: std::collections::BTreeSet<String>,
    ours: std::collections::BTreeSet<String>,
}

/// The parent of `pid`, from `/proc/PID/stat` (the field after the
/// parenthesised command name, which may itself hold spaces).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` descends from `ancestor` (a bounded walk up the tree).
fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut current = pid;
    for _ in 0..64 {
        match parent_of(current) {
            Some(parent) if parent == ancestor => return true,
            Some(parent) if parent > 1 => current = parent,
            _ => return false,
        }
    }
    false
}

impl ArgvSampler {
    fn start() -> ArgvSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Sampled::default()));
        let (s, w) = (stop.clone(), seen.clone());
        let me = std::process::id();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let Ok(argv) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    if !argv.is_empty() {
                        let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
                        let pid = entry.file_name().to_str().and_then(|p| p.parse().ok());
                        let mut sampled = w.lock().unwrap();
                        if pid.is_some_and(|pid| descends_from(pid, me)) {
                            sampled.ours.insert(argv.clone());
                        }
                        sampled.all.insert(argv);
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

    /// Every argv seen, and those of this test's own descendants.
    fn finish(mut self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let seen = self.seen.lock().unwrap();
        (
            seen.all.iter().cloned().collect(),
            seen.ours.iter().cloned().collect(),
        )
    }
}

fn no_secret_leaks(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    let sshd = testbed::sshd::Sshd::start().unwrap();
    let gates = GateEndpoint::start();
    let secrets = Secrets::new(&sshd.client_private_key_pem, sb.dir.path());
    sb.pg()
        .psql(&format!(
            "CREATE ROLE secret_role LOGIN SUPERUSER PASSWORD '{}'",
            secrets.password
        ))
        .unwrap();
    let mut acc = Acceptance::new(version);
    acc.ws_mut().enable_log("TRACE");
    acc.ws()
        .write_file("terraform.tfvars", &secrets.tfvars())
        .unwrap();
    let mut outputs = Vec::new();
    let config =
        |phase: &str, y_admin_url: &str| config(&sb, version, phase, y_admin_url, &sshd, &gates);

    acc.configure(&config("prepared", &sb.y.admin_url));
    outputs.push(acc.ws().plan().unwrap().to_string());
    let sampler = ArgvSampler::start();
    for phase in ["prepared", "migrated", "serving"] {
        outputs.push(acc.apply(&config(phase, &sb.y.admin_url)).to_string());
    }
    let (argv, ours) = sampler.finish();
    assert_eq!(acc.values("kong_upgrade.this")["phase"], "serving");
    assert!(
        sshd.log().contains("Accepted publickey"),
        "the migrations went through the SSH runner: {}",
        sshd.log()
    );
    // The gates really sent their credentials.
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("gate-user:{}", secrets.gate_password));
    for (path, header) in [
        ("/bearer", format!("x-api-key: {}", secrets.gate_header)),
        (
            "/bearer",
            format!("authorization: Bearer {}", secrets.gate_token),
        ),
        ("/basic", format!("authorization: Basic {basic}")),
    ] {
        assert!(gates.received(path, &header), "the gate sent {header}");
    }
    if version.at_least(1, 11) {
        let header = format!("authorization: Bearer {}", secrets.gate_token_wo);
        assert!(
            gates.received("/bearer_wo", &header),
            "the write-only token was sent"
        );
    }
    assert!(
        ours.iter().any(|a| a.contains("pg_dump"))
            && ours.iter().any(|a| a.contains("migrations up")),
        "the sampler saw this test's own children it watches for: {ours:#?}"
    );
    for a in &argv {
        assert!(secrets.found_in(a).is_empty(), "a child's argv: {a}");
    }

    // Error messages: a URL with credentials is refused without echo.
    let y_with_userinfo =
        sb.y.admin_url
            .replace("http://", &format!("http://admin:{}@", secrets.url));
    acc.configure(&config("serving", &y_with_userinfo));
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
        assert!(
            state.contains("bearer_token_wo") && !state.contains(&secrets.gate_token_wo),
            "the write-only token is not in the state"
        );
    }
    // Canaries: Terraform keeps sensitive (not write-only) values in the
    // state, so the search must find these markers there.
    for canary in [&secrets.ssh_marker, &secrets.gate_token, &secrets.staging] {
        assert!(
            state.contains(canary.as_str()),
            "canary: {canary} in the state"
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
