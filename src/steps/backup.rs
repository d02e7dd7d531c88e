//! Backups before anything irreversible: `pg_dump` (custom format) of the
//! Kong database, restored into the new database with `pg_restore` for
//! dual-cluster upgrades; for DB-less nodes, the declarative configuration.

use super::pg_tools::PgTools;
use crate::migrations::DatabaseConfig;
use crate::runner::process::{execute, ProcessSpec};
use crate::runner::{RunOutput, RunnerError, Stream};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot create the backup directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{tool} failed: {detail}")]
    ToolFailed { tool: &'static str, detail: String },
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error("the backup file {path} is missing or empty after {tool} reported success")]
    EmptyBackup { path: PathBuf, tool: &'static str },
    #[error("refusing to restore into {database}: it is not empty ({detail}); restore only into a new, empty database")]
    TargetNotEmpty { database: String, detail: String },
    #[error("the backup {name} the download command returned is not the one uploaded (expected {expected}, got {got}); the new database was not touched")]
    ChecksumMismatch {
        name: String,
        expected: String,
        got: String,
    },
    #[error("cannot write the declarative configuration to {path}: {source}")]
    WriteConfig {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a backup ended up, for state and for the user's rollback.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupRecord {
    pub location: String,
    pub bytes: u64,
    pub tool: String,
}

/// A file name that says what the backup is: database, source version, time.
pub fn backup_file_name(
    database: &str,
    from_version: &str,
    unix_seconds: u64,
    extension: &str,
) -> String {
    let safe = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!(
        "kong-{}-{}-{unix_seconds}.{extension}",
        safe(database),
        safe(from_version)
    )
}

pub(super) fn pg_env(db: &DatabaseConfig) -> Vec<(String, String)> {
    // Secrets travel in the environment, never in argv.
    let mut env = vec![
        ("PGHOST".to_string(), db.host.clone()),
        ("PGPORT".to_string(), db.port.to_string()),
        ("PGUSER".to_string(), db.user.clone()),
        ("PGPASSWORD".to_string(), db.password.expose().to_string()),
        ("PGDATABASE".to_string(), db.database.clone()),
        ("PGSSLMODE".to_string(), db.sslmode.as_str().to_string()),
        (
            "PGCONNECT_TIMEOUT".to_string(),
            db.timeout.as_secs().max(1).to_string(),
        ),
    ];
    env.retain(|(k, v)| !(k == "PGPASSWORD" && v.is_empty()));
    env
}

async fn run_pg_tool(
    tool: &'static str,
    argv: Vec<String>,
    db: &DatabaseConfig,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<RunOutput, BackupError> {
    let redact = |line: &str| db.password.redact_in(line);
    let display = argv.join(" ");
    let spec = ProcessSpec {
        argv,
        env: pg_env(db),
        working_dir: None,
        display,
        redact: &redact,
        stdin: None,
        timeout: Some(timeout),
    };
    let mut log_line = |stream: Stream, line: &str| tracing::debug!(tool, ?stream, "{line}");
    let out = execute(spec, cancel, &mut log_line).await?;
    if out.exit_code != 0 {
        return Err(BackupError::ToolFailed {
            tool,
            detail: format!("exit {}: {}", out.exit_code, out.stderr().trim()),
        });
    }
    Ok(out)
}

/// `pg_dump --format=custom` of the whole Kong database into `dir`.
pub async fn dump_database(
    tools: &PgTools,
    db: &DatabaseConfig,
    dir: &Path,
    file_name: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<BackupRecord, BackupError> {
    std::fs::create_dir_all(dir).map_err(|source| BackupError::Directory {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(file_name);
    let partial = dir.join(format!("{file_name}.partial"));
    let argv = vec![
        tools.pg_dump.display().to_string(),
        "--format=custom".to_string(),
        "--no-password".to_string(),
        // The provider's upgrade journal is not Kong's: a restored database
        // must not bring back a journal of steps it never saw.
        format!(
            "--exclude-schema={}",
            crate::resources::kong_upgrade::JOURNAL_SCHEMA
        ),
        format!("--file={}", partial.display()),
    ];
    run_pg_tool("pg_dump", argv, db, timeout, cancel).await?;
    // Only a finished dump gets the real name: a half-written file must never
    // look like a backup someone could restore.
    std::fs::rename(&partial, &path).map_err(|source| BackupError::Directory {
        path: path.clone(),
        source,
    })?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if bytes == 0 {
        return Err(BackupError::EmptyBackup {
            path,
            tool: "pg_dump",
        });
    }
    verify_dump(tools, db, &path, timeout, cancel).await?;
    Ok(BackupRecord {
        location: path.display().to_string(),
        bytes,
        tool: "pg_dump --format=custom".into(),
    })
}

/// `pg_restore --list` reads the archive's table of contents: a truncated
/// or corrupt dump fails here, not on the day it is needed.
pub(super) async fn verify_dump(
    tools: &PgTools,
    db: &DatabaseConfig,
    path: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), BackupError> {
    let argv = vec![
        tools.pg_restore.display().to_string(),
        "--list".to_string(),
        path.display().to_string(),
    ];
    run_pg_tool("pg_restore --list", argv, db, timeout, cancel)
        .await
        .map(|_| ())
}

/// Restores a dump into a new, empty database (dual-cluster).
pub async fn restore_into(
    tools: &PgTools,
    target: &DatabaseConfig,
    dump: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), BackupError> {
    ensure_empty(target).await?;
    let mut argv = restore_argv(tools, target);
    argv.push(dump.display().to_string());
    run_pg_tool("pg_restore", argv, target, timeout, cancel)
        .await
        .map(|_| ())
}

/// `pg_restore` into `target` in one transaction, stopping at the first
/// error; the archive (a file, or stdin when none) follows.
pub(super) fn restore_argv(tools: &PgTools, target: &DatabaseConfig) -> Vec<String> {
    vec![
        tools.pg_restore.display().to_string(),
        "--no-owner".to_string(),
        "--no-privileges".to_string(),
        "--exit-on-error".to_string(),
        "--single-transaction".to_string(),
        "--no-password".to_string(),
        format!("--dbname={}", target.database),
    ]
}

pub(super) async fn ensure_empty(target: &DatabaseConfig) -> Result<(), BackupError> {
    let not_empty = |detail: String| BackupError::TargetNotEmpty {
        database: target.address(),
        detail,
    };
    let client = crate::migrations::database::connect(target)
        .await
        .map_err(|e| BackupError::ToolFailed {
            tool: "pg_restore",
            detail: e.to_string(),
        })?;
    let row = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog','information_schema')",
            &[],
        )
        .await
        .map_err(|e| BackupError::ToolFailed { tool: "pg_restore", detail: e.to_string() })?;
    let tables: i64 = row.get(0);
    if tables > 0 {
        return Err(not_empty(format!("{tables} tables")));
    }
    Ok(())
}

/// Writes a DB-less node's declarative configuration (from its file, or as
/// its Admin API serves it at `GET /config`) to `dir`. The file appears
/// whole or not at all: it is written beside its final name, synced, then
/// renamed, so an interrupted backup never passes for a complete one.
pub fn write_declarative(
    dir: &Path,
    file_name: &str,
    config: &str,
) -> Result<BackupRecord, BackupError> {
    let path = dir.join(file_name);
    if config.trim().is_empty() {
        return Err(BackupError::EmptyBackup {
            path,
            tool: "declarative config",
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| BackupError::Directory {
        path: dir.to_path_buf(),
        source,
    })?;
    let partial = dir.join(format!("{file_name}.partial"));
    let written = write_synced(&partial, config).and_then(|()| std::fs::rename(&partial, &path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(BackupError::WriteConfig { path, source });
    }
    Ok(BackupRecord {
        location: path.display().to_string(),
        bytes: config.len() as u64,
        tool: "declarative config".into(),
    })
}

fn write_synced(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_say_what_they_hold() {
        assert_eq!(
            backup_file_name("kong", "3.4.2", 1700000000, "dump"),
            "kong-kong-3.4.2-1700000000.dump"
        );
        assert_eq!(
            backup_file_name("a/b c", "3.4.2", 1, "yml"),
            "kong-a_b_c-3.4.2-1.yml"
        );
    }

    #[test]
    fn a_declarative_backup_holds_the_configuration_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("nested").join("backups");
        let yaml = "_format_version: \"3.0\"\nservices:\n- name: orders\n";
        let record = write_declarative(&backups, "kong-x.yml", yaml).unwrap();
        assert_eq!(std::fs::read_to_string(&record.location).unwrap(), yaml);
        assert_eq!(record.bytes, yaml.len() as u64);
        let names: Vec<_> = std::fs::read_dir(&backups)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["kong-x.yml"], "no partial file is left");
    }

    #[test]
    fn an_empty_declarative_configuration_is_no_backup() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_declarative(dir.path(), "kong-x.yml", " \n").unwrap_err();
        assert!(matches!(err, BackupError::EmptyBackup { .. }), "{err}");
        assert!(!dir.path().join("kong-x.yml").exists());
    }

    #[test]
    fn a_failed_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the backup file should go: the rename fails.
        std::fs::create_dir(dir.path().join("kong-x.yml")).unwrap();
        std::fs::write(dir.path().join("kong-x.yml").join("keep"), "x").unwrap();
        let err =
            write_declarative(dir.path(), "kong-x.yml", "_format_version: \"3.0\"\n").unwrap_err();
        assert!(matches!(err, BackupError::WriteConfig { .. }), "{err}");
        assert!(!dir.path().join("kong-x.yml.partial").exists());
    }
}
