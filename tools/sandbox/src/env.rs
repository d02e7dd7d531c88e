//! `DIR/env.json`: where every sandbox component listens, written once by
//! `sandbox up` when everything is ready and read by every other command;
//! and the same facts as Terraform variables in `DIR/terraform.tfvars`.

use crate::error::SandboxError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const ENV_FILE: &str = "env.json";
pub const TFVARS_FILE: &str = "terraform.tfvars";
pub const LOAD_FILE: &str = "load.json";
pub const UP_PID_FILE: &str = "up.pid";
pub const Y_PID_FILE: &str = "y.pid";
pub const Y_LOG_FILE: &str = "y.log";
pub const BACKUP_DIR: &str = "backups";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxEnv {
    /// Absolute path of the sandbox directory.
    pub dir: PathBuf,
    pub from_version: String,
    pub to_version: String,
    /// Pid of the `sandbox up` process that owns every component.
    pub up_pid: u32,
    pub sandbox_bin: PathBuf,
    pub kongsim_bin: PathBuf,
    pub backup_dir: PathBuf,
    pub postgres: PostgresEnv,
    pub cluster_x: ClusterEnv,
    pub cluster_y: ClusterEnv,
    pub haproxy: HaproxyEnv,
    pub load: LoadEnv,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostgresEnv {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The sandbox's throwaway password (testbed's fixed test password).
    pub password: String,
    pub database: String,
    /// Where `pg_dump`, `psql`, ... of this PostgreSQL live.
    pub bin_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterEnv {
    /// The name kongsim puts in every proxied response (`x` or `y`).
    pub name: String,
    pub version: String,
    pub admin_url: String,
    pub status_url: String,
    pub proxy_url: String,
    /// kongsim's test-only control listener (faults), never used by the provider.
    pub control_url: String,
    /// Known for X from the start; Y's pid is in `DIR/y.pid` once started.
    pub pid: Option<u32>,
    pub log: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HaproxyEnv {
    pub frontend_url: String,
    /// Admin-level runtime API unix socket.
    pub runtime_api_socket: PathBuf,
    /// The same API over TCP, `127.0.0.1:port`.
    pub runtime_api_tcp: String,
    pub backend: String,
    pub server_x: String,
    pub server_y: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadEnv {
    pub file: PathBuf,
    pub target_url: String,
    pub rate_per_s: u32,
}

impl SandboxEnv {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(ENV_FILE)
    }

    pub fn load(dir: &Path) -> Result<SandboxEnv, SandboxError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SandboxError::NoEnvironment {
                    dir: dir.to_path_buf(),
                })
            }
            Err(e) => return Err(SandboxError::io("read", path, e)),
        };
        serde_json::from_str(&text).map_err(|source| SandboxError::BadEnvFile { path, source })
    }

    /// Writes env.json and terraform.tfvars, each atomically (a reader sees
    /// the old file or the whole new one): scripts wait for env.json to
    /// appear as the sign that the sandbox is ready.
    pub fn save(&self) -> Result<(), SandboxError> {
        write_atomically(&self.dir.join(TFVARS_FILE), &self.to_tfvars())?;
        let json =
            serde_json::to_string_pretty(self).map_err(|source| SandboxError::BadEnvFile {
                path: Self::path(&self.dir),
                source,
            })?;
        write_atomically(&Self::path(&self.dir), &(json + "\n"))
    }

    /// One value by dotted path (`cluster_x.admin_url`), strings unquoted.
    pub fn get(&self, key: &str) -> Result<String, SandboxError> {
        let unknown = || SandboxError::UnknownKey {
            key: key.to_string(),
        };
        let json = serde_json::to_value(self).map_err(|_| unknown())?;
        let pointer = format!("/{}", key.replace('.', "/"));
        match json.pointer(&pointer) {
            Some(serde_json::Value::String(text)) => Ok(text.clone()),
            Some(serde_json::Value::Null) | None => Err(unknown()),
            Some(other) => Ok(other.to_string()),
        }
    }

    /// The variables `examples/demo` declares, in the order a reader expects.
    pub fn to_tfvars(&self) -> String {
        let path = |p: &Path| p.display().to_string();
        let vars: Vec<(&str, String)> = vec![
            ("from_version", self.from_version.clone()),
            ("to_version", self.to_version.clone()),
            ("x_admin_url", self.cluster_x.admin_url.clone()),
            ("x_status_url", self.cluster_x.status_url.clone()),
            ("x_proxy_url", self.cluster_x.proxy_url.clone()),
            ("y_admin_url", self.cluster_y.admin_url.clone()),
            ("y_status_url", self.cluster_y.status_url.clone()),
            ("y_proxy_url", self.cluster_y.proxy_url.clone()),
            ("pg_host", self.postgres.host.clone()),
            ("pg_port", self.postgres.port.to_string()),
            ("pg_user", self.postgres.user.clone()),
            ("pg_password", self.postgres.password.clone()),
            ("pg_database", self.postgres.database.clone()),
            ("kongsim_bin", path(&self.kongsim_bin)),
            ("haproxy_socket", path(&self.haproxy.runtime_api_socket)),
            ("haproxy_backend", self.haproxy.backend.clone()),
            ("backup_dir", path(&self.backup_dir)),
            ("sandbox_bin", path(&self.sandbox_bin)),
            ("sandbox_dir", path(&self.dir)),
        ];
        let width = vars.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut out = String::from(
            "# Written by `sandbox up`: where the local sandbox's components listen.\n\
             # Regenerated on every start; edit examples/demo, not this file.\n",
        );
        for (name, value) in vars {
            let value = if name == "pg_port" {
                value
            } else {
                hcl_string(&value)
            };
            out.push_str(&format!("{name:<width$} = {value}\n"));
        }
        out
    }
}

/// A quoted HCL string literal: `"`, `\` and control characters escaped, and
/// `${` / `%{` doubled so a path can never become a template expression.
pub fn hcl_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Write to a temp file beside `path`, then rename over it.
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), SandboxError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.tmp"));
    std::fs::write(&temp, contents).map_err(|e| SandboxError::io("write", &temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| SandboxError::io("replace", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(dir: &Path) -> SandboxEnv {
        let cluster = |name: &str, version: &str, port: u16| ClusterEnv {
            name: name.into(),
            version: version.into(),
            admin_url: format!("http://127.0.0.1:{port}"),
            status_url: format!("http://127.0.0.1:{}", port + 1),
            proxy_url: format!("http://127.0.0.1:{}", port + 2),
            control_url: format!("http://127.0.0.1:{}", port + 3),
            pid: None,
            log: None,
        };
        SandboxEnv {
            dir: dir.to_path_buf(),
            from_version: "3.5.0".into(),
            to_version: "3.6.1".into(),
            up_pid: 42,
            sandbox_bin: "/bin/sandbox".into(),
            kongsim_bin: "/opt/k\"s${x}/kongsim".into(),
            backup_dir: dir.join("backups"),
            postgres: PostgresEnv {
                host: "127.0.0.1".into(),
                port: 5433,
                user: "kong".into(),
                password: "pw".into(),
                database: "kong".into(),
                bin_dir: "/usr/lib/postgresql/15/bin".into(),
            },
            cluster_x: cluster("x", "3.5.0", 8001),
            cluster_y: cluster("y", "3.6.1", 9001),
            haproxy: HaproxyEnv {
                frontend_url: "http://127.0.0.1:8080".into(),
                runtime_api_socket: dir.join("admin.sock"),
                runtime_api_tcp: "127.0.0.1:9999".into(),
                backend: "kong".into(),
                server_x: "x".into(),
                server_y: "y".into(),
            },
            load: LoadEnv {
                file: dir.join("load.json"),
                target_url: "http://127.0.0.1:8080/demo".into(),
                rate_per_s: 200,
            },
        }
    }

    #[test]
    fn hcl_strings_cannot_start_templates_or_end_early() {
        assert_eq!(hcl_string("plain"), "\"plain\"");
        assert_eq!(hcl_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(
            hcl_string("${var.x} %{if} $5 %d"),
            "\"$${var.x} %%{if} $5 %d\""
        );
        assert_eq!(hcl_string("line\nnext"), "\"line\\nnext\"");
    }

    #[test]
    fn saves_and_loads_the_same_environment_and_writes_tfvars() {
        let dir = tempfile::tempdir().unwrap();
        let env = example(dir.path());
        env.save().unwrap();
        assert_eq!(SandboxEnv::load(dir.path()).unwrap(), env);
        let tfvars = std::fs::read_to_string(dir.path().join(TFVARS_FILE)).unwrap();
        assert!(tfvars.contains("pg_port         = 5433\n"), "{tfvars}");
        assert!(
            tfvars.contains("kongsim_bin     = \"/opt/k\\\"s$${x}/kongsim\"\n"),
            "{tfvars}"
        );
        assert!(
            tfvars.contains("x_admin_url     = \"http://127.0.0.1:8001\"\n"),
            "{tfvars}"
        );
    }

    #[test]
    fn get_reads_dotted_keys_and_refuses_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let env = example(dir.path());
        assert_eq!(
            env.get("cluster_y.proxy_url").unwrap(),
            "http://127.0.0.1:9003"
        );
        assert_eq!(env.get("postgres.port").unwrap(), "5433");
        assert!(matches!(
            env.get("cluster_y.pid"),
            Err(SandboxError::UnknownKey { .. })
        ));
        assert!(matches!(
            env.get("nope"),
            Err(SandboxError::UnknownKey { .. })
        ));
    }

    #[test]
    fn a_missing_environment_says_how_to_start_one() {
        let dir = tempfile::tempdir().unwrap();
        let error = SandboxEnv::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("sandbox up --dir"), "{error}");
    }
}
