//! Which migrations the target Kong version knows: asked of that version
//! itself (`kong migrations status`, Kong 3.0+) when allowed, else taken
//! from the embedded catalog.
//!
//! `status` only reads the database, but like every Kong CLI command it
//! prepares Kong's prefix directory on the machine the runner runs on, so
//! "allowed" is the user's call.

use super::cli::{parse_status_output, StatusReport};
use super::invocation::{KongInvocation, MigrationsQuery};
use super::output::Stream;
use super::Runner;
use crate::migrations::{
    DatabaseConfig, KnownMigration, KnownMigrations, KnownSource, KnownSubsystem,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How to learn the target version's migrations.
#[derive(Debug, Clone)]
pub struct DiscoveryRequest<'a> {
    pub kong_version: &'a str,
    pub database: &'a DatabaseConfig,
    /// Run `kong migrations status` through the runner (read-only). When
    /// false, or the version predates `status`, only the catalog is used.
    pub ask_runner: bool,
    pub conf_path: Option<&'a str>,
    pub db_timeout: Option<Duration>,
    /// Bound on the `status` run.
    pub timeout: Duration,
}

/// The migrations found, and why the runner was not the source if it was
/// asked and could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub known: KnownMigrations,
    pub runner_fallback_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot tell which migrations Kong {kong_version} knows: {catalog_error}{}", runner_error.as_ref().map(|e| format!("; asking the runner failed too: {e}")).unwrap_or_default())]
pub struct DiscoveryError {
    pub kong_version: String,
    pub catalog_error: String,
    pub runner_error: Option<String>,
}

/// Lists the migrations Kong `request.kong_version` knows.
pub async fn list_known_migrations(
    runner: &dyn Runner,
    request: &DiscoveryRequest<'_>,
    cancel: &CancellationToken,
) -> Result<Discovered, DiscoveryError> {
    let catalog = KnownMigrations::from_catalog(request.kong_version);
    if !request.ask_runner || !has_status_command(request.kong_version) {
        return catalog
            .map(|known| Discovered {
                known,
                runner_fallback_reason: None,
            })
            .map_err(|e| DiscoveryError {
                kong_version: request.kong_version.to_owned(),
                catalog_error: e.to_string(),
                runner_error: None,
            });
    }
    match ask_runner(runner, request, cancel).await {
        Ok(mut known) => {
            if let Ok(catalog) = &catalog {
                known.fill_teardowns_from(catalog);
            }
            Ok(Discovered {
                known,
                runner_fallback_reason: None,
            })
        }
        Err(runner_error) => match catalog {
            Ok(known) => {
                tracing::warn!(error = %runner_error, "kong migrations status failed; using the embedded catalog");
                Ok(Discovered {
                    known,
                    runner_fallback_reason: Some(runner_error),
                })
            }
            Err(e) => Err(DiscoveryError {
                kong_version: request.kong_version.to_owned(),
                catalog_error: e.to_string(),
                runner_error: Some(runner_error),
            }),
        },
    }
}

async fn ask_runner(
    runner: &dyn Runner,
    request: &DiscoveryRequest<'_>,
    cancel: &CancellationToken,
) -> Result<KnownMigrations, String> {
    let invocation = KongInvocation::query(
        MigrationsQuery::Status,
        request.database,
        request.db_timeout,
        request.conf_path,
    )
    .with_timeout(request.timeout);
    let mut ignore = |_: Stream, _: &str| {};
    let output = runner
        .run(&invocation, cancel, &mut ignore)
        .await
        .map_err(|e| e.to_string())?;
    let report = parse_status_output(&output).map_err(|e| e.to_string())?;
    Ok(known_from_status(
        request.kong_version,
        &report,
        output.command_line,
    ))
}

/// `status` exists from Kong 3.0. Unparseable versions are tried anyway.
fn has_status_command(version: &str) -> bool {
    version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u64>().ok())
        .is_none_or(|major| major >= 3)
}

/// Every migration `status` mentions belongs to the code that ran it.
/// Within a subsystem, Kong's migration names start with a sequence number,
/// so name order is code order; subsystems go `core` first, then by name,
/// as Kong orders them.
pub fn known_from_status(
    kong_version: &str,
    report: &StatusReport,
    command_line: String,
) -> KnownMigrations {
    let mut subsystems: Vec<KnownSubsystem> = Vec::new();
    for bucket in [
        &report.executed,
        &report.pending,
        &report.new,
        &report.missing,
    ] {
        for entry in bucket {
            let subsystem = match subsystems
                .iter_mut()
                .position(|s| s.name == entry.subsystem)
            {
                Some(i) => &mut subsystems[i],
                None => {
                    subsystems.push(KnownSubsystem {
                        name: entry.subsystem.clone(),
                        migrations: Vec::new(),
                    });
                    let last = subsystems.len() - 1;
                    &mut subsystems[last]
                }
            };
            for name in &entry.migrations {
                if !subsystem.migrations.iter().any(|m| &m.name == name) {
                    subsystem.migrations.push(KnownMigration {
                        name: name.clone(),
                        has_teardown: None,
                    });
                }
            }
        }
    }
    for subsystem in &mut subsystems {
        subsystem.migrations.sort_by(|a, b| a.name.cmp(&b.name));
    }
    subsystems.sort_by(|a, b| (a.name != "core", &a.name).cmp(&(b.name != "core", &b.name)));
    KnownMigrations {
        kong_version: kong_version.to_owned(),
        subsystems,
        source: KnownSource::Runner { command_line },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::SubsystemMigrations;

    fn bucket(subsystem: &str, names: &[&str]) -> SubsystemMigrations {
        SubsystemMigrations {
            subsystem: subsystem.into(),
            migrations: names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    #[test]
    fn status_buckets_merge_into_code_order() {
        let report = StatusReport {
            needs_bootstrap: false,
            executed: vec![
                bucket("core", &["000_base", "020_330_to_340"]),
                bucket("acme", &["000_base_acme"]),
            ],
            pending: vec![],
            new: vec![
                bucket("core", &["021_340_to_350", "022_350_to_360"]),
                bucket("acme", &["003_350_to_360"]),
                bucket("ai-proxy", &["001_360_to_370"]),
            ],
            missing: vec![],
        };
        let known = known_from_status("3.7.1", &report, "kong migrations status".into());
        let names: Vec<&str> = known.subsystems.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["core", "acme", "ai-proxy"]);
        let core: Vec<&str> = known.subsystems[0]
            .migrations
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            core,
            [
                "000_base",
                "020_330_to_340",
                "021_340_to_350",
                "022_350_to_360"
            ]
        );
        assert_eq!(known.has_teardown("acme", "003_350_to_360"), None);
    }

    #[test]
    fn status_exists_from_kong_3() {
        assert!(!has_status_command("2.8.4"));
        assert!(has_status_command("3.0.0"));
        assert!(has_status_command("3.9.1"));
    }
}
