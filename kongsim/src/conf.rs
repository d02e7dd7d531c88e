//! Kong configuration as Kong loads it: built-in defaults, then a
//! `kong.conf` file (`key = value`, `#` comments), then `KONG_*`
//! environment variables, which win.

use crate::pg::PgSettings;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    #[error("no file at: {0}")]
    NoFile(String),
    #[error("{0}")]
    Invalid(String),
}

/// Keys kongsim understands, with Kong's defaults (`None`: unset).
const KNOWN_KEYS: &[(&str, Option<&str>)] = &[
    ("prefix", Some("/usr/local/kong")),
    ("log_level", Some("notice")),
    ("database", Some("postgres")),
    ("role", Some("traditional")),
    ("pg_host", Some("127.0.0.1")),
    ("pg_port", Some("5432")),
    ("pg_user", Some("kong")),
    ("pg_password", None),
    ("pg_database", Some("kong")),
    ("pg_schema", None),
    ("pg_timeout", Some("5000")),
    ("pg_ssl", Some("off")),
    (
        "admin_listen",
        Some("127.0.0.1:8001 reuseport backlog=16384"),
    ),
    ("proxy_listen", Some("0.0.0.0:8000 reuseport backlog=16384")),
    ("status_listen", None),
    ("cluster_listen", Some("0.0.0.0:8005")),
    ("cluster_control_plane", Some("127.0.0.1:8005")),
    ("node_id", None),
    ("declarative_config", None),
    ("plugins", Some("bundled")),
    ("headers", Some("server_tokens, latency_tokens")),
    ("nginx_worker_processes", Some("auto")),
    ("admin_gui_listen", Some("0.0.0.0:8002")),
    ("lua_package_path", Some("./?.lua;./?/init.lua;")),
    ("wasm", Some("off")),
    ("db_update_frequency", Some("5")),
    ("db_update_propagation", Some("0")),
    ("wasm_filters_path", None),
];

/// Keys whose values Kong prints as "******" in `GET /`.
pub const SENSITIVE_KEYS: &[&str] = &["pg_password", "pg_ro_password", "admin_token"];

#[derive(Debug, Clone)]
pub struct KongConf {
    values: BTreeMap<String, String>,
}

impl KongConf {
    /// Defaults, then `conf_file`, then `KONG_*` variables from `env`.
    pub fn load(
        conf_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfError> {
        let mut values: BTreeMap<String, String> = KNOWN_KEYS
            .iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
            .collect();
        if let Some(path) = conf_file {
            let text = std::fs::read_to_string(path)
                .map_err(|_| ConfError::NoFile(path.display().to_string()))?;
            values.extend(parse_conf_text(&text));
        }
        for (name, value) in env {
            if let Some(key) = name.strip_prefix("KONG_") {
                values.insert(key.to_ascii_lowercase(), value);
            }
        }
        Ok(Self { values })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_string(), value.into());
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn database(&self) -> &str {
        self.get("database").unwrap_or("postgres")
    }

    pub fn role(&self) -> &str {
        self.get("role").unwrap_or("traditional")
    }

    /// The checks `kong/conf_loader` makes on these keys, with its messages.
    pub fn validate(&self) -> Result<(), ConfError> {
        let mut errors = Vec::new();
        let database = self.database();
        if !matches!(database, "postgres" | "off") {
            errors.push(format!(
                "database has an invalid value: '{database}' (postgres, off)"
            ));
        }
        let role = self.role();
        if !matches!(role, "traditional" | "control_plane" | "data_plane") {
            errors.push(format!(
                "role has an invalid value: '{role}' (traditional, control_plane, data_plane)"
            ));
        }
        if role == "control_plane" && database == "off" {
            errors.push(
                "in-memory storage can not be used when role = \"control_plane\"".to_string(),
            );
        }
        if role == "data_plane" && database != "off" {
            errors.push(
                "only in-memory storage can be used when role = \"data_plane\"\nHint: set database = off in your kong.conf"
                    .to_string(),
            );
        }
        if self.pg_timeout().is_none() {
            errors.push("pg_timeout must be a positive number of milliseconds".to_string());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfError::Invalid(errors.join("\n")))
        }
    }

    fn pg_timeout(&self) -> Option<Duration> {
        self.get("pg_timeout")?
            .parse::<f64>()
            .ok()
            .filter(|ms| *ms > 0.0 && ms.is_finite())
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
    }

    pub fn pg_settings(&self) -> Result<PgSettings, ConfError> {
        let port = self
            .get("pg_port")
            .unwrap_or("5432")
            .parse::<u16>()
            .map_err(|_| ConfError::Invalid("pg_port must be a valid port number".into()))?;
        let timeout = self.pg_timeout().ok_or_else(|| {
            ConfError::Invalid("pg_timeout must be a positive number of milliseconds".into())
        })?;
        Ok(PgSettings {
            host: self.get("pg_host").unwrap_or("127.0.0.1").to_string(),
            port,
            user: self.get("pg_user").unwrap_or("kong").to_string(),
            password: self.get("pg_password").map(str::to_string),
            database: self.get("pg_database").unwrap_or("kong").to_string(),
            schema: self.get("pg_schema").unwrap_or("").to_string(),
            timeout,
        })
    }
}

/// Kong's `kong.conf` syntax: `key = value`, `#` starts a comment unless
/// escaped as `\#`, blank lines ignored.
fn parse_conf_text(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = strip_comment(line);
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            if key.is_empty() {
                return None;
            }
            Some((key.to_ascii_lowercase(), value.trim().replace("\\#", "#")))
        })
        .collect()
}

fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1] != b'\\') {
            return &line[..i];
        }
    }
    line
}

/// The first `host:port` of a Kong listen directive such as
/// `127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 ssl`, or `None`
/// for `off`.
pub fn first_listen_address(directive: &str) -> Option<String> {
    let first = directive.split(',').next()?.split_whitespace().next()?;
    if first == "off" {
        None
    } else {
        Some(first.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kong.conf");
        std::fs::write(
            &path,
            "pg_host = db.example # the database\npg_port=6543\npg_password = p\\#ss\n",
        )
        .unwrap();
        let conf = KongConf::load(
            Some(&path),
            env(&[("KONG_PG_PORT", "7000"), ("HOME", "/root")]),
        )
        .unwrap();
        let pg = conf.pg_settings().unwrap();
        assert_eq!(pg.host, "db.example");
        assert_eq!(pg.port, 7000);
        assert_eq!(pg.password.as_deref(), Some("p#ss"));
        assert_eq!(pg.database, "kong");
        assert_eq!(pg.timeout, Duration::from_secs(5));
    }

    #[test]
    fn missing_file_is_reported_like_kong() {
        let err = KongConf::load(Some(Path::new("/nonexistent/kong.conf")), env(&[])).unwrap_err();
        assert_eq!(err.to_string(), "no file at: /nonexistent/kong.conf");
    }

    #[test]
    fn role_and_database_combinations_are_checked() {
        let conf = KongConf::load(None, env(&[("KONG_ROLE", "data_plane")])).unwrap();
        assert!(conf
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("only in-memory storage"));
        let conf = KongConf::load(
            None,
            env(&[("KONG_ROLE", "control_plane"), ("KONG_DATABASE", "off")]),
        )
        .unwrap();
        assert!(conf
            .validate()
            .unwrap_err()
            .to_string()
            .contains("can not be used"));
    }

    #[test]
    fn listen_directives() {
        assert_eq!(
            first_listen_address("127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 ssl")
                .as_deref(),
            Some("127.0.0.1:8001")
        );
        assert_eq!(first_listen_address("off"), None);
    }
}
