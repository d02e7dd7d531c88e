//! What to run: the `kong` arguments after the runner's prefix, and the
//! environment that tells Kong where its database is. Secrets live only in
//! the environment, never in an argv.

use crate::migrations::{DatabaseConfig, MigrationPhase, Secret, REDACTED};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One `kong migrations bootstrap|up|finish` with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationCommand {
    pub phase: MigrationPhase,
    pub force: bool,
    /// `--db-timeout` (whole seconds); Kong's default `pg_timeout` is 5 s,
    /// too short for big tables (Kong/kong#12978).
    pub db_timeout: Option<Duration>,
    /// `--lock-timeout` (whole seconds): lock TTL and how long `up` waits.
    pub lock_timeout: Duration,
    /// `-c`: a kong.conf on the machine the runner runs on.
    pub conf_path: Option<String>,
}

/// Kong's default `--lock-timeout`.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

impl MigrationCommand {
    pub fn new(phase: MigrationPhase) -> Self {
        MigrationCommand {
            phase,
            force: false,
            db_timeout: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            conf_path: None,
        }
    }

    /// `migrations up --db-timeout N --lock-timeout N [-f] [-c path]`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["migrations".to_owned(), self.phase.as_str().to_owned()];
        if let Some(db_timeout) = self.db_timeout {
            args.extend(["--db-timeout".to_owned(), whole_seconds(db_timeout)]);
        }
        args.extend([
            "--lock-timeout".to_owned(),
            whole_seconds(self.lock_timeout),
        ]);
        if self.force {
            args.push("-f".to_owned());
        }
        push_conf(&mut args, self.conf_path.as_deref());
        args
    }
}

/// Read-only `kong migrations` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationsQuery {
    /// Exit 0/3/4/5 and the executed/pending/new blocks.
    List,
    /// JSON; Kong 3.0 and later.
    Status,
}

impl MigrationsQuery {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationsQuery::List => "list",
            MigrationsQuery::Status => "status",
        }
    }

    pub fn args(self, db_timeout: Option<Duration>, conf_path: Option<&str>) -> Vec<String> {
        let mut args = vec!["migrations".to_owned(), self.as_str().to_owned()];
        if let Some(db_timeout) = db_timeout {
            args.extend(["--db-timeout".to_owned(), whole_seconds(db_timeout)]);
        }
        push_conf(&mut args, conf_path);
        args
    }
}

fn push_conf(args: &mut Vec<String>, conf_path: Option<&str>) {
    if let Some(conf) = conf_path {
        args.extend(["-c".to_owned(), conf.to_owned()]);
    }
}

/// Kong's CLI takes seconds; round up so a sub-second value never becomes 0.
fn whole_seconds(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1).to_string()
}

/// The arguments after the runner's prefix plus the environment.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct KongInvocation {
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Never logged, never in an argv, redacted from kept output.
    pub secret_env: BTreeMap<String, Secret>,
    /// The run is stopped (with everything it started) after this long.
    pub timeout: Option<Duration>,
}

impl KongInvocation {
    pub fn new(args: Vec<String>) -> Self {
        KongInvocation {
            args,
            ..KongInvocation::default()
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `kong migrations <phase> ...` against `db`.
    pub fn migrations(command: &MigrationCommand, db: &DatabaseConfig) -> Self {
        KongInvocation::new(command.args()).with_database(db)
    }

    /// `kong migrations list|status ...` against `db`.
    pub fn query(
        query: MigrationsQuery,
        db: &DatabaseConfig,
        db_timeout: Option<Duration>,
        conf_path: Option<&str>,
    ) -> Self {
        KongInvocation::new(query.args(db_timeout, conf_path)).with_database(db)
    }

    /// Kong reads `KONG_*` variables over kong.conf, so these win over
    /// whatever the runner's kong.conf says.
    pub fn with_database(mut self, db: &DatabaseConfig) -> Self {
        let on_off = |b: bool| if b { "on" } else { "off" }.to_owned();
        let mut env = BTreeMap::from([
            ("KONG_DATABASE".to_owned(), "postgres".to_owned()),
            ("KONG_PG_HOST".to_owned(), db.host.clone()),
            ("KONG_PG_PORT".to_owned(), db.port.to_string()),
            ("KONG_PG_USER".to_owned(), db.user.clone()),
            ("KONG_PG_DATABASE".to_owned(), db.database.clone()),
            ("KONG_PG_SSL".to_owned(), on_off(db.sslmode.kong_pg_ssl())),
            (
                "KONG_PG_SSL_VERIFY".to_owned(),
                on_off(db.sslmode.kong_pg_ssl_verify()),
            ),
        ]);
        if let Some(schema) = &db.schema {
            env.insert("KONG_PG_SCHEMA".to_owned(), schema.clone());
        }
        self.env.extend(env);
        self.secret_env
            .insert("KONG_PG_PASSWORD".to_owned(), db.password.clone());
        self
    }

    /// Redacts every secret value from text we did not write (output).
    pub fn redact(&self, text: &str) -> String {
        self.secret_env
            .values()
            .fold(text.to_owned(), |text, secret| secret.redact_in(&text))
    }
}

impl fmt::Debug for KongInvocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KongInvocation")
            .field("args", &self.args)
            .field("env", &self.env)
            .field("secret_env", &self.secret_env.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A command line for humans: `NAME=value ... argv`, secrets shown as
/// `(sensitive)`. This is what diagnostics print; never what is executed.
pub fn display_command_line(
    env: &BTreeMap<String, String>,
    secret_env: &BTreeMap<String, Secret>,
    argv: &[String],
) -> String {
    let mut names: Vec<(&str, String)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), shell_quote(v)))
        .chain(secret_env.keys().map(|k| (k.as_str(), REDACTED.to_owned())))
        .collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    names
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(argv.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// POSIX shell quoting: bare when safe, else single quotes.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if safe {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> DatabaseConfig {
        let mut db = DatabaseConfig::new(
            "db.internal",
            5433,
            "kong",
            Secret::new("pa55-word"),
            "kong",
        );
        db.schema = Some("kong_schema".into());
        db
    }

    #[test]
    fn migration_command_builds_kong_arguments() {
        let mut cmd = MigrationCommand::new(MigrationPhase::Up);
        cmd.db_timeout = Some(Duration::from_millis(120_500));
        cmd.lock_timeout = Duration::from_secs(90);
        cmd.force = true;
        cmd.conf_path = Some("/etc/kong/kong.conf".into());
        assert_eq!(
            cmd.args(),
            [
                "migrations",
                "up",
                "--db-timeout",
                "121",
                "--lock-timeout",
                "90",
                "-f",
                "-c",
                "/etc/kong/kong.conf"
            ]
        );
        assert_eq!(
            MigrationCommand::new(MigrationPhase::Finish).args(),
            ["migrations", "finish", "--lock-timeout", "60"]
        );
        assert_eq!(
            MigrationsQuery::Status.args(None, None),
            ["migrations", "status"]
        );
    }

    #[test]
    fn the_password_goes_to_the_secret_environment_only() {
        let inv = KongInvocation::migrations(&MigrationCommand::new(MigrationPhase::Up), &db());
        assert!(inv.args.iter().all(|a| !a.contains("pa55-word")));
        assert!(inv.env.values().all(|v| !v.contains("pa55-word")));
        assert_eq!(inv.secret_env["KONG_PG_PASSWORD"].expose(), "pa55-word");
        assert_eq!(inv.env["KONG_PG_PORT"], "5433");
        assert_eq!(inv.env["KONG_PG_SCHEMA"], "kong_schema");
        assert_eq!(inv.env["KONG_PG_SSL"], "off");
        assert!(!format!("{inv:?}").contains("pa55-word"));
    }

    #[test]
    fn the_displayed_command_line_redacts_secrets() {
        let inv = KongInvocation::migrations(&MigrationCommand::new(MigrationPhase::Up), &db());
        let argv: Vec<String> = ["kong".to_owned()]
            .into_iter()
            .chain(inv.args.clone())
            .collect();
        let line = display_command_line(&inv.env, &inv.secret_env, &argv);
        assert!(line.contains("KONG_PG_PASSWORD=(sensitive)"), "{line}");
        assert!(
            line.ends_with("kong migrations up --lock-timeout 60"),
            "{line}"
        );
        assert!(!line.contains("pa55-word"));
    }

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("deploy/kong-y"), "deploy/kong-y");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }
}
