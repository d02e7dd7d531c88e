//! Which `pg_dump`/`pg_restore` a backup uses, and the plan-time check
//! that they exist and are at least as new as the server: `pg_dump`
//! refuses to dump a server of a newer major version ("aborting because
//! of server version mismatch"), and `pg_restore` cannot read an archive
//! written by a newer `pg_dump`. Found out at plan, not half-way through
//! an apply.

use crate::migrations::DatabaseConfig;
use crate::platform::{run_briefly, BriefRunError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bound on `<tool> --version`.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
/// Most of a `--version` answer read (it is one line).
const VERSION_OUTPUT_BYTES: usize = 64 * 1024;

/// The two client programs; by default found on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTools {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
}

impl Default for PgTools {
    fn default() -> Self {
        PgTools {
            pg_dump: PathBuf::from("pg_dump"),
            pg_restore: PathBuf::from("pg_restore"),
        }
    }
}

/// A tool that cannot serve this server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgToolError {
    #[error("{tool} was not found or cannot run ({path}): {detail}. {}", fix(tool, *server_major))]
    Missing {
        tool: &'static str,
        path: String,
        detail: String,
        server_major: u32,
    },
    #[error("{tool} {client} ({path}) is older than the PostgreSQL {server_major} server it must work with{}. {}", refusal(tool), fix(tool, *server_major))]
    TooOld {
        tool: &'static str,
        path: String,
        client: String,
        server_major: u32,
    },
    #[error("cannot read the server version of {database}: {detail}")]
    ServerVersion { database: String, detail: String },
}

impl PgToolError {
    /// The `backup` attribute that chooses the tool at fault.
    pub fn attribute(&self) -> &'static str {
        match self {
            PgToolError::Missing { tool, .. } | PgToolError::TooOld { tool, .. } => {
                tool_attribute(tool)
            }
            PgToolError::ServerVersion { .. } => "pg_dump_path",
        }
    }
}

fn refusal(tool: &str) -> &'static str {
    match tool {
        "pg_dump" => ": pg_dump refuses to dump a newer server",
        _ => ": it cannot read an archive written by a newer pg_dump",
    }
}

fn tool_attribute(tool: &str) -> &'static str {
    if tool == "pg_restore" {
        "pg_restore_path"
    } else {
        "pg_dump_path"
    }
}

fn fix(tool: &str, server_major: u32) -> String {
    let attribute = tool_attribute(tool);
    format!(
        "Install the PostgreSQL {server_major} client tools (or newer) on the machine running Terraform \
         (Debian/Ubuntu: postgresql-client-{server_major}; the official postgres:{server_major} image has them) \
         and set backup.{attribute} to its {tool}, e.g. /usr/lib/postgresql/{server_major}/bin/{tool}"
    )
}

/// Checks `pg_dump` and `pg_restore` against the server of `db`. Both are
/// needed for every database backup: `pg_restore --list` verifies each
/// dump, and dual-cluster upgrades restore it.
pub async fn check(tools: &PgTools, db: &DatabaseConfig) -> Result<(), PgToolError> {
    let server_major = server_major(db).await?;
    check_tool("pg_dump", &tools.pg_dump, server_major).await?;
    check_tool("pg_restore", &tools.pg_restore, server_major).await
}

async fn check_tool(tool: &'static str, path: &Path, server_major: u32) -> Result<(), PgToolError> {
    let shown = path.display().to_string();
    let missing = |detail: String| PgToolError::Missing {
        tool,
        path: shown.clone(),
        detail,
        server_major,
    };
    let argv = [path.as_os_str(), std::ffi::OsStr::new("--version")];
    let output = match run_briefly(&argv, VERSION_TIMEOUT, VERSION_OUTPUT_BYTES).await {
        Ok(output) => output,
        Err(BriefRunError::TimedOut { .. }) => {
            return Err(missing(format!(
                "`--version` did not answer within {VERSION_TIMEOUT:?}"
            )))
        }
        Err(BriefRunError::Spawn { source, .. }) => return Err(missing(source.to_string())),
        Err(e) => return Err(missing(e.to_string())),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let Some((client, client_major)) = client_version(&text) else {
        return Err(missing(format!(
            "`--version` printed {:?}, not a PostgreSQL client version",
            text.trim()
        )));
    };
    if client_major < server_major {
        return Err(PgToolError::TooOld {
            tool,
            path: shown,
            client,
            server_major,
        });
    }
    Ok(())
}

/// `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → ("15.18", 15);
/// before PostgreSQL 10 the major version had two parts (9.6 → 9).
fn client_version(text: &str) -> Option<(String, u32)> {
    let line = text.lines().next()?;
    let version = line
        .split_once("(PostgreSQL) ")?
        .1
        .split_whitespace()
        .next()?;
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((version.to_owned(), major))
}

async fn server_major(db: &DatabaseConfig) -> Result<u32, PgToolError> {
    let failed = |detail: String| PgToolError::ServerVersion {
        database: db.address(),
        detail,
    };
    let client = crate::migrations::database::connect(db)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let row = client
        .query_one("SHOW server_version_num", &[])
        .await
        .map_err(|e| failed(e.to_string()))?;
    let number: String = row.get(0);
    number
        .trim()
        .parse::<u32>()
        .map(|n| n / 10_000)
        .map_err(|_| failed(format!("server_version_num is {number:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{Secret, SslMode};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn client_versions_parse_across_formats() {
        assert_eq!(
            client_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(("15.18".into(), 15))
        );
        assert_eq!(
            client_version("pg_restore (PostgreSQL) 9.6.24"),
            Some(("9.6.24".into(), 9))
        );
        assert_eq!(
            client_version("pg_dump (PostgreSQL) 17beta1").map(|v| v.1),
            Some(17)
        );
        assert_eq!(client_version("something else 16.1"), None);
    }

    fn fake_tool(dir: &Path, name: &str, version_line: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{version_line}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A real server; the real client tools pass, an older `pg_dump`, a
    /// missing `pg_restore` and a program that is no PostgreSQL tool are
    /// refused on the attribute that chooses them, naming the fix.
    #[tokio::test]
    async fn tools_are_checked_against_the_real_server_version() {
        let pg = testbed::Postgres::start().unwrap();
        let mut db = DatabaseConfig::new(
            "127.0.0.1",
            pg.port,
            "kong",
            Secret::new(testbed::postgres::KONG_PASSWORD),
            "kong",
        );
        db.sslmode = SslMode::Disable;
        let real = PgTools {
            pg_dump: pg.bin_dir().join("pg_dump"),
            pg_restore: pg.bin_dir().join("pg_restore"),
        };
        check(&real, &db).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let old = PgTools {
            pg_dump: fake_tool(dir.path(), "pg_dump", "pg_dump (PostgreSQL) 9.6.24"),
            ..real.clone()
        };
        let err = check(&old, &db).await.unwrap_err();
        assert_eq!(err.attribute(), "pg_dump_path");
        let message = err.to_string();
        assert!(
            message.contains("pg_dump 9.6.24")
                && message.contains("refuses to dump a newer server")
                && message.contains("backup.pg_dump_path")
                && message.contains("postgresql-client-"),
            "{message}"
        );

        let missing = PgTools {
            pg_restore: dir.path().join("no-such-pg_restore"),
            ..real.clone()
        };
        let err = check(&missing, &db).await.unwrap_err();
        assert_eq!(err.attribute(), "pg_restore_path");
        assert!(err.to_string().contains("backup.pg_restore_path"), "{err}");

        let not_pg = PgTools {
            pg_dump: PathBuf::from("/bin/true"),
            ..real
        };
        let err = check(&not_pg, &db).await.unwrap_err();
        assert!(matches!(err, PgToolError::Missing { .. }), "{err}");
    }
}
