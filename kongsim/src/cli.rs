//! Command-line parsing in two stages: tokens into a validated
//! [`Invocation`] (no side effects), then `main` runs it.
//!
//! The `migrations` flags follow `kong migrations` (penlight lapp syntax,
//! including `--v`/`--vv`) so a runner can append exactly what it would
//! append for real Kong.

use crate::log::Level;
use crate::migrations::commands::{MigrationsArgs, Subcommand};
use crate::version::{Edition, KongVersion};
use std::path::PathBuf;

pub const HELP: &str = "\
kongsim: a TEST DOUBLE of Kong Gateway for this project's tests and demo.
It is not Kong and is never shipped. It imitates, for one configured Kong
version, the Admin API, the Status API, the proxy port (an echo upstream)
and `kong migrations` over a real PostgreSQL, with Kong's field names,
messages and exit codes. See kongsim/README.md for what differs from Kong.

Usage:
  kongsim --kong-version V [--edition community|enterprise] COMMAND ...

Commands:
  migrations bootstrap|up|finish|list|status|reset
             [-c conf] [-f] [-y] [-q] [--db-timeout S] [--lock-timeout S] [--v|--vv]
                    Kong's migrations CLI against KONG_PG_* / kong.conf.
  start [serve options] [--run-migrations] [--db-timeout S] [--lock-timeout S]
  serve [serve options]
                    Run a node (both refuse to start, like `kong start`, when
                    the database needs bootstrap or has new migrations).
  version [-a]      Print the version like `kong version`.

Serve options:
  --role traditional|control_plane|data_plane   --database postgres|off
  --admin-listen ADDR  --status-listen ADDR  --proxy-listen ADDR
  --control-listen ADDR   (TEST-ONLY control API: faults, data-plane rows)
  --cluster-name NAME  --node-id UUID  --admin-token TOKEN  --hostname NAME
  --declarative-config FILE  -c, --conf FILE  --v|--vv

The version may also come from KONGSIM_KONG_VERSION. PostgreSQL settings come
from kong.conf and KONG_PG_HOST, KONG_PG_PORT, KONG_PG_USER, KONG_PG_PASSWORD,
KONG_PG_DATABASE, KONG_PG_SCHEMA, KONG_PG_TIMEOUT, as Kong reads them.
";

const MIGRATIONS_USAGE: &str = "\
Usage: kong migrations COMMAND [OPTIONS]

Manage database schema migrations.

The available commands are:
  bootstrap                         Bootstrap the database and run all
                                    migrations.

  up                                Run any new migrations.

  finish                            Finish running any pending migrations after
                                    'up'.

  list                              List executed migrations.

  reset                             Reset the database.

  status                            Dump the database migration status in JSON format

Options:
 -y,--yes                           Assume \"yes\" to prompts and run
                                    non-interactively.
 -q,--quiet                         Suppress all output.
 -f,--force                         Run migrations even if database reports
                                    as already executed.
 --db-timeout     (optional number) Timeout, in seconds, for all database
                                    operations.
 --lock-timeout   (default 60)      Timeout, in seconds, for nodes waiting on
                                    the leader node to finish running
                                    migrations.
 -c,--conf        (optional string) Configuration file.
 -p,--prefix      (optional string) Override prefix directory.
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
    pub exit_code: i32,
}

impl UsageError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 1,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Invocation {
    Help,
    Version {
        version: KongVersion,
        edition: Edition,
        all: bool,
    },
    Migrations {
        version: KongVersion,
        args: MigrationsArgs,
    },
    Serve {
        version: KongVersion,
        edition: Edition,
        options: Box<ServeOptions>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub role: Option<String>,
    pub database: Option<String>,
    pub admin_listen: Option<String>,
    pub status_listen: Option<String>,
    pub proxy_listen: Option<String>,
    pub control_listen: Option<String>,
    pub cluster_name: Option<String>,
    pub node_id: Option<String>,
    pub admin_token: Option<String>,
    pub hostname: Option<String>,
    pub declarative_config: Option<PathBuf>,
    pub conf: Option<PathBuf>,
    /// `kong start --run-migrations`.
    pub run_migrations: bool,
    pub db_timeout_secs: Option<f64>,
    pub lock_timeout_secs: f64,
    pub verbose: bool,
}

/// Parses `args` (without the program name). `env_version` is
/// `KONGSIM_KONG_VERSION`, used when `--kong-version` is absent.
pub fn parse(args: &[String], env_version: Option<&str>) -> Result<Invocation, UsageError> {
    let mut tokens = Tokens::new(args);
    let mut version_text: Option<String> = None;
    let mut edition_text: Option<String> = None;
    let mut rest = Vec::new();
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "--kong-version" => version_text = Some(tokens.value("--kong-version")?),
            "--edition" => edition_text = Some(tokens.value("--edition")?),
            "-h" | "--help" if rest.is_empty() => return Ok(Invocation::Help),
            _ => rest.push(token),
        }
    }
    let Some(command) = rest.first().cloned() else {
        return Ok(Invocation::Help);
    };
    if command == "help" {
        return Ok(Invocation::Help);
    }
    let version_text = version_text
        .or_else(|| env_version.map(str::to_string))
        .ok_or_else(|| {
            UsageError::new("kongsim: --kong-version is required (or set KONGSIM_KONG_VERSION)")
        })?;
    let version = KongVersion::parse(&version_text).ok_or_else(|| {
        UsageError::new(format!(
            "kongsim: invalid --kong-version {version_text:?}: expected X.Y.Z or X.Y.Z.B"
        ))
    })?;
    let edition = match edition_text {
        None if version.build.is_some() => Edition::Enterprise,
        None => Edition::Community,
        Some(text) => Edition::parse(&text).ok_or_else(|| {
            UsageError::new(format!(
                "kongsim: invalid --edition {text:?}: community or enterprise"
            ))
        })?,
    };
    let rest = &rest[1..];
    match command.as_str() {
        "migrations" => {
            parse_migrations(rest, &version).map(|args| Invocation::Migrations { version, args })
        }
        "serve" | "start" => {
            parse_serve(rest, command == "start").map(|options| Invocation::Serve {
                version,
                edition,
                options: Box::new(options),
            })
        }
        "version" => Ok(Invocation::Version {
            version,
            edition,
            all: rest.iter().any(|a| a == "-a" || a == "--all"),
        }),
        other => Err(UsageError::new(format!("No such command: {other}"))),
    }
}

fn parse_migrations(args: &[String], version: &KongVersion) -> Result<MigrationsArgs, UsageError> {
    let mut tokens = Tokens::new(args);
    let mut subcommand_name = None;
    let mut parsed = MigrationsArgs {
        subcommand: Subcommand::List,
        yes: false,
        quiet: false,
        force: false,
        db_timeout_secs: None,
        lock_timeout_secs: 60.0,
        conf: None,
        verbosity: Level::Info,
    };
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "-y" | "--yes" => parsed.yes = true,
            "-q" | "--quiet" => parsed.quiet = true,
            "-f" | "--force" => parsed.force = true,
            "--v" => parsed.verbosity = parsed.verbosity.min(Level::Verbose),
            "--vv" => parsed.verbosity = Level::Debug,
            "--db-timeout" => parsed.db_timeout_secs = Some(tokens.number("--db-timeout")?),
            "--lock-timeout" => parsed.lock_timeout_secs = tokens.number("--lock-timeout")?,
            "-c" | "--conf" => parsed.conf = Some(PathBuf::from(tokens.value("--conf")?)),
            "-p" | "--prefix" => {
                tokens.value("--prefix")?;
            }
            "-h" | "--help" => {
                return Err(UsageError {
                    message: MIGRATIONS_USAGE.to_string(),
                    exit_code: 0,
                })
            }
            flag if flag.starts_with('-') => {
                return Err(UsageError::new(format!("unrecognized parameter: {flag}")))
            }
            name if subcommand_name.is_none() => subcommand_name = Some(name.to_string()),
            extra => return Err(UsageError::new(format!("unrecognized parameter: {extra}"))),
        }
    }
    let Some(name) = subcommand_name else {
        return Err(UsageError::new(MIGRATIONS_USAGE));
    };
    parsed.subcommand = Subcommand::parse(&name, version)
        .ok_or_else(|| UsageError::new(format!("No such command for migrations: {name}")))?;
    Ok(parsed)
}

fn parse_serve(args: &[String], is_start: bool) -> Result<ServeOptions, UsageError> {
    let mut tokens = Tokens::new(args);
    let mut options = ServeOptions {
        lock_timeout_secs: 60.0,
        ..Default::default()
    };
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "--role" => options.role = Some(tokens.value("--role")?),
            "--database" => options.database = Some(tokens.value("--database")?),
            "--admin-listen" => options.admin_listen = Some(tokens.value("--admin-listen")?),
            "--status-listen" => options.status_listen = Some(tokens.value("--status-listen")?),
            "--proxy-listen" => options.proxy_listen = Some(tokens.value("--proxy-listen")?),
            "--control-listen" => options.control_listen = Some(tokens.value("--control-listen")?),
            "--cluster-name" => options.cluster_name = Some(tokens.value("--cluster-name")?),
            "--node-id" => options.node_id = Some(tokens.value("--node-id")?),
            "--admin-token" => options.admin_token = Some(tokens.value("--admin-token")?),
            "--hostname" => options.hostname = Some(tokens.value("--hostname")?),
            "--declarative-config" => {
                options.declarative_config =
                    Some(PathBuf::from(tokens.value("--declarative-config")?))
            }
            "-c" | "--conf" => options.conf = Some(PathBuf::from(tokens.value("--conf")?)),
            "--run-migrations" if is_start => options.run_migrations = true,
            "--db-timeout" => options.db_timeout_secs = Some(tokens.number("--db-timeout")?),
            "--lock-timeout" => options.lock_timeout_secs = tokens.number("--lock-timeout")?,
            "--v" | "--vv" => options.verbose = true,
            "-p" | "--prefix" => {
                tokens.value("--prefix")?;
            }
            other => return Err(UsageError::new(format!("unrecognized parameter: {other}"))),
        }
    }
    Ok(options)
}

/// Yields arguments, splitting `--flag=value` into two tokens.
struct Tokens {
    items: std::vec::IntoIter<String>,
}

impl Tokens {
    fn new(args: &[String]) -> Self {
        let mut items = Vec::with_capacity(args.len());
        for arg in args {
            match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    items.push(flag.to_string());
                    items.push(value.to_string());
                }
                _ => items.push(arg.clone()),
            }
        }
        Self {
            items: items.into_iter(),
        }
    }

    fn next(&mut self) -> Option<String> {
        self.items.next()
    }

    fn value(&mut self, flag: &str) -> Result<String, UsageError> {
        self.items
            .next()
            .ok_or_else(|| UsageError::new(format!("missing value for {flag}")))
    }

    fn number(&mut self, flag: &str) -> Result<f64, UsageError> {
        let value = self.value(flag)?;
        value
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| UsageError::new(format!("{flag}: expected a number, got {value:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn migrations_flags_in_kong_syntax() {
        let inv = parse(&args("--kong-version 3.6.1 migrations up -c /tmp/k.conf --db-timeout 30 --lock-timeout=5 -f --vv"), None).unwrap();
        let Invocation::Migrations { version, args } = inv else {
            panic!("not migrations")
        };
        assert_eq!(version.to_string(), "3.6.1");
        assert_eq!(args.subcommand, Subcommand::Up);
        assert_eq!(args.db_timeout_secs, Some(30.0));
        assert_eq!(args.lock_timeout_secs, 5.0);
        assert!(args.force);
        assert_eq!(args.verbosity, Level::Debug);
        assert_eq!(args.conf, Some(PathBuf::from("/tmp/k.conf")));
    }

    #[test]
    fn status_does_not_exist_before_3_0() {
        let err = parse(&args("--kong-version 2.8.5 migrations status"), None).unwrap_err();
        assert_eq!(err.message, "No such command for migrations: status");
        assert_eq!(err.exit_code, 1);
    }

    #[test]
    fn version_comes_from_the_environment_when_not_given() {
        let inv = parse(&args("version"), Some("3.4.2")).unwrap();
        assert!(
            matches!(inv, Invocation::Version { version, .. } if version.to_string() == "3.4.2")
        );
        assert!(parse(&args("version"), None).is_err());
    }

    #[test]
    fn four_part_versions_default_to_enterprise() {
        let inv = parse(&args("--kong-version 3.4.3.5 serve"), None).unwrap();
        assert!(matches!(
            inv,
            Invocation::Serve {
                edition: Edition::Enterprise,
                ..
            }
        ));
    }

    #[test]
    fn run_migrations_is_a_start_flag_only() {
        assert!(parse(&args("--kong-version 3.6.1 start --run-migrations"), None).is_ok());
        assert!(parse(&args("--kong-version 3.6.1 serve --run-migrations"), None).is_err());
    }
}
