//! Importing an upgrade that is already under way: the id names the
//! upgrade, and the first plan after the import infers the checkpoint from
//! the world (`schema_meta`, Y's version, the load balancer's split).
//!
//! Only what the world proves is marked done. The freeze baseline is the
//! exception that is never inferred: writes made before the import cannot
//! be known, so the first apply records a fresh one (a `freeze` step in
//! the plan) rather than trusting an unseen one.

use super::config::{Intent, Settings};
use super::state::Private;
use crate::kong::KongClient;
use crate::migrations::{
    classify, read_schema_state, KnownMigrations, SchemaState, UnknownVersion,
};
use crate::planner::{
    BackupSource, MigrationDatabase, StepKind, Strategy, TrafficWeight, UnknownName,
};
use crate::traffic::TrafficDriver;
use crate::version::{KongVersion, VersionParseError};
use tfplug::{Diagnostics, ImportId, ImportResponse, Value};

pub const ID_FORMAT: &str = "STRATEGY,TO_VERSION,X_ADMIN_URL,Y_ADMIN_URL";
const ID_EXAMPLE: &str = "blue_green,3.6.1,http://kong-x:8001,http://kong-y:8001";

/// What an import id names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImportTarget<'a> {
    strategy: Strategy,
    /// As written, so that it compares equal to the configuration's.
    to_version: &'a str,
    x_admin_url: &'a str,
    y_admin_url: &'a str,
}

/// Why an import id was not understood, naming the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum IdError {
    #[error("{id:?} has {parts} comma-separated part(s), not 4")]
    Shape { id: String, parts: usize },
    #[error("STRATEGY: {0}")]
    Strategy(#[from] UnknownName),
    #[error("TO_VERSION: {0}")]
    Version(#[from] VersionParseError),
    #[error("{part}: {url:?} is not an http(s) URL of an Admin API{reason}")]
    Url {
        part: &'static str,
        url: String,
        reason: String,
    },
}

fn parse_id(id: &str) -> Result<ImportTarget<'_>, IdError> {
    let parts: Vec<&str> = id.split(',').map(str::trim).collect();
    let [strategy, to_version, x, y] = parts.as_slice() else {
        return Err(IdError::Shape {
            id: id.to_string(),
            parts: parts.len(),
        });
    };
    let strategy = strategy.parse::<Strategy>()?;
    to_version.parse::<KongVersion>()?;
    Ok(ImportTarget {
        strategy,
        to_version,
        x_admin_url: admin_url("X_ADMIN_URL", x)?,
        y_admin_url: admin_url("Y_ADMIN_URL", y)?,
    })
}

fn admin_url<'a>(part: &'static str, url: &'a str) -> Result<&'a str, IdError> {
    let invalid = |reason: String| IdError::Url {
        part,
        url: url.to_string(),
        reason,
    };
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(url),
        Ok(parsed) => Err(invalid(format!(" (scheme {:?})", parsed.scheme()))),
        Err(e) => Err(invalid(format!(" ({e})"))),
    }
}

pub fn import(id: ImportId) -> ImportResponse {
    let mut resp = ImportResponse::default();
    let ImportId::Id(text) = id else {
        resp.diags.error(
            "Import by identity is not supported",
            format!("Import kong_upgrade by an id of the form {ID_FORMAT}."),
        );
        return resp;
    };
    let target = match parse_id(&text) {
        Ok(target) => target,
        Err(e) => {
            resp.diags.error(
                "Invalid import id",
                format!(
                    "{e}. Import kong_upgrade by an id of the form {ID_FORMAT}, e.g. {ID_EXAMPLE}."
                ),
            );
            return resp;
        }
    };
    let cluster = |url: &str| Value::object([("admin_url", Value::from(url))]);
    resp.state = Value::object([
        (
            "id",
            Value::from(format!(
                "{}:{}:{}",
                target.strategy, target.x_admin_url, target.to_version
            )),
        ),
        ("strategy", Value::from(target.strategy.as_str())),
        ("to_version", Value::from(target.to_version)),
        ("target_phase", Value::from("prepared")),
        ("cluster_x", cluster(target.x_admin_url)),
        ("cluster_y", cluster(target.y_admin_url)),
    ]);
    resp.private = Private {
        infer: true,
        ..Default::default()
    }
    .encode();
    resp
}

/// How far Y's migrations got on the database they run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MigrationProgress {
    /// The database lacks some of the target's migrations.
    NotUp,
    /// Nothing separates X's schema from Y's: the database cannot tell
    /// whether the upgrade started, and `up`/`finish` have nothing to do.
    NoneNeeded,
    /// `up` ran; `finish` has not (teardowns are pending), or it would have
    /// nothing to do, so X can still use the database.
    Up,
    /// `up` and `finish` ran: the upgrade's teardowns are executed.
    Finished,
}

impl MigrationProgress {
    fn up_ran(self) -> bool {
        matches!(self, MigrationProgress::Up | MigrationProgress::Finished)
    }
}

/// Reads `state` (classified against the target's migrations `to`).
/// `from` is what X's code knows; `None` when unknown, in which case a
/// database without pending migrations counts as finished — the answer
/// that refuses a rollback rather than allowing an impossible one.
fn migration_progress(
    state: &SchemaState,
    to: &KnownMigrations,
    from: Option<&KnownMigrations>,
) -> MigrationProgress {
    if state.needs_bootstrap || state.has_new() {
        return MigrationProgress::NotUp;
    }
    let Some(from) = from else {
        return if state.has_pending() {
            MigrationProgress::Up
        } else {
            MigrationProgress::Finished
        };
    };
    let added: Vec<_> = to
        .subsystems
        .iter()
        .flat_map(|s| s.migrations.iter().map(move |m| (s.name.as_str(), m)))
        .filter(|(subsystem, m)| !from.knows(subsystem, &m.name))
        .collect();
    if added.is_empty() {
        MigrationProgress::NoneNeeded
    } else if state.has_pending() {
        MigrationProgress::Up
    } else if added.iter().any(|(_, m)| m.has_teardown != Some(false)) {
        MigrationProgress::Finished
    } else {
        MigrationProgress::Up
    }
}

/// What the world says about an imported upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Evidence {
    /// `None` without a database (DB-less nodes, data planes).
    migrations: Option<MigrationProgress>,
    /// Dual-cluster: the new database holds a Kong schema.
    new_database_restored: bool,
    y_runs_target: bool,
    weight_y: TrafficWeight,
}

/// The once-only steps the evidence proves done.
fn inferred_steps(strategy: Strategy, has_database: bool, evidence: &Evidence) -> Vec<StepKind> {
    let which = match strategy {
        Strategy::DualCluster => MigrationDatabase::New,
        _ => MigrationDatabase::Shared,
    };
    let migrations = evidence.migrations;
    let began = migrations.is_some_and(MigrationProgress::up_ran)
        || evidence.new_database_restored
        || evidence.weight_y != TrafficWeight::ZERO;
    let mut steps = Vec::new();
    if began {
        // The backup cannot be found again, but it was due before anything
        // above happened; the freeze is re-recorded (see the module docs).
        steps.push(StepKind::Backup {
            source: if has_database {
                BackupSource::Database
            } else {
                BackupSource::DeclarativeConfig
            },
        });
    }
    if evidence.new_database_restored {
        steps.push(StepKind::RestoreIntoNewDatabase);
    }
    if migrations.is_some_and(|m| m.up_ran() || m == MigrationProgress::NoneNeeded) {
        steps.push(StepKind::MigrationsUp { database: which });
    }
    if migrations == Some(MigrationProgress::Finished) {
        steps.push(StepKind::MigrationsFinish { database: which });
    }
    if evidence.y_runs_target {
        steps.push(StepKind::StartClusterY { hook: None });
        steps.push(StepKind::WaitReady);
    }
    steps
}

fn diag(attr: &str, summary: &str, detail: String) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.error_at(tfplug::AttrPath::parse(attr), summary, detail);
    d
}

/// The version X runs: configured, or read from X.
async fn x_version(intent: &Intent, settings: &Settings) -> Option<KongVersion> {
    if intent.from_version.is_some() {
        return intent.from_version;
    }
    let x = KongClient::new(&settings.cluster_x.admin_url, &settings.cluster_x.admin).ok()?;
    x.node_info().await.ok().map(|n| n.version)
}

/// Reads the migration progress and, for dual-cluster, whether the backup
/// was restored into the new database.
async fn read_migrations(
    intent: &Intent,
    settings: &Settings,
) -> Result<(Option<MigrationProgress>, bool), Diagnostics> {
    let (db, attr) = match intent.strategy {
        Strategy::DualCluster => (settings.new_database.as_ref(), "new_database"),
        _ => (settings.database.as_ref(), "database"),
    };
    let Some(db) = db else {
        return Ok((None, false));
    };
    let to = KnownMigrations::from_catalog(&intent.to_version.to_string()).map_err(
        |e: UnknownVersion| {
            diag(
                "to_version",
                "Cannot infer the upgrade's progress",
                e.to_string(),
            )
        },
    )?;
    let from = x_version(intent, settings)
        .await
        .and_then(|v| KnownMigrations::from_catalog(&v.to_string()).ok());
    let meta = read_schema_state(db)
        .await
        .map_err(|e| diag(attr, "Cannot read schema_meta", e.to_string()))?;
    let restored = intent.strategy == Strategy::DualCluster && !meta.needs_bootstrap;
    let state = classify(&meta, &to);
    Ok((
        Some(migration_progress(&state, &to, from.as_ref())),
        restored,
    ))
}

/// Works out how far an imported upgrade got.
pub async fn infer_checkpoint(
    intent: &Intent,
    settings: &Settings,
    private: &mut Private,
) -> Result<(), Diagnostics> {
    let (migrations, new_database_restored) = read_migrations(intent, settings).await?;
    let y_runs_target =
        match KongClient::new(&settings.cluster_y.admin_url, &settings.cluster_y.admin) {
            Ok(y) => y
                .node_info()
                .await
                .is_ok_and(|n| n.version == intent.to_version),
            Err(_) => false,
        };
    let mut weight_y = TrafficWeight::ZERO;
    let live = match (&settings.traffic, &settings.traffic_split) {
        (Some(traffic), _) => Some(("traffic", traffic.driver.read_weights().await)),
        (None, Some(split)) => Some(("traffic_split_id", split.read_weights().await)),
        (None, None) => None,
    };
    if let Some((attribute, read)) = live {
        match read {
            Ok(w) => weight_y = w.y,
            Err(e) => {
                return Err(diag(
                    attribute,
                    "Cannot infer the upgrade's progress",
                    format!("reading the load balancer's split: {e}"),
                ))
            }
        }
    }
    let evidence = Evidence {
        migrations,
        new_database_restored,
        y_runs_target,
        weight_y,
    };
    tracing::info!(?evidence, "inferring an imported upgrade's progress");
    for step in inferred_steps(intent.strategy, settings.database.is_some(), &evidence) {
        private.checkpoint.completed.insert(step.id());
    }
    private.checkpoint.weight_y = weight_y;
    private.infer = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{KnownMigration, KnownSource, KnownSubsystem, SubsystemState};

    #[test]
    fn a_well_formed_id_names_the_upgrade() {
        assert_eq!(
            parse_id(" blue_green , 3.6.1 ,http://kong-x:8001, https://kong-y:8444/ ").unwrap(),
            ImportTarget {
                strategy: Strategy::BlueGreen,
                to_version: "3.6.1",
                x_admin_url: "http://kong-x:8001",
                y_admin_url: "https://kong-y:8444/",
            }
        );
    }

    #[test]
    fn a_malformed_id_names_the_part_at_fault() {
        let cases = [
            (
                "blue_green,3.6.1",
                "\"blue_green,3.6.1\" has 2 comma-separated part(s), not 4",
            ),
            ("", "\"\" has 1 comma-separated part(s), not 4"),
            ("a,b,c,d,e", "has 5 comma-separated part(s), not 4"),
            (
                "teal,3.6.1,http://x,http://y",
                "STRATEGY: unknown strategy \"teal\"",
            ),
            (
                "blue_green,3.6,http://x,http://y",
                "TO_VERSION: not a Kong version: \"3.6\"",
            ),
            (
                "blue_green,3.6.1,kong-x:8001,http://y",
                "X_ADMIN_URL: \"kong-x:8001\" is not an http(s) URL",
            ),
            (
                "blue_green,3.6.1,http://x,",
                "Y_ADMIN_URL: \"\" is not an http(s) URL",
            ),
            (
                "blue_green,3.6.1,http://x,ftp://y",
                "Y_ADMIN_URL: \"ftp://y\" is not an http(s) URL of an Admin API (scheme \"ftp\")",
            ),
        ];
        for (id, expected) in cases {
            let message = parse_id(id).unwrap_err().to_string();
            assert!(message.contains(expected), "{id:?}: {message}");
        }
    }

    #[test]
    fn an_import_without_an_id_is_refused_with_the_form() {
        let resp = import(ImportId::Id("rolling,3.6.1".into()));
        let text = format!("{:?}", resp.diags);
        assert!(text.contains("Invalid import id"), "{text}");
        assert!(text.contains(ID_FORMAT), "{text}");
        assert!(resp.state.is_null(), "nothing is imported");
    }

    /// Migrations per subsystem: `name*` has a teardown.
    fn known(version: &str, subsystems: &[(&str, &str)]) -> KnownMigrations {
        KnownMigrations {
            kong_version: version.into(),
            subsystems: subsystems
                .iter()
                .map(|(name, list)| KnownSubsystem {
                    name: (*name).into(),
                    migrations: list
                        .split_whitespace()
                        .map(|m| KnownMigration {
                            name: m.trim_end_matches('*').into(),
                            has_teardown: Some(m.ends_with('*')),
                        })
                        .collect(),
                })
                .collect(),
            source: KnownSource::Catalog {
                provenance: "test".into(),
            },
        }
    }

    fn state(needs_bootstrap: bool, pending: &[&str], new: &[&str]) -> SchemaState {
        SchemaState {
            kong_version: "3.6.1".into(),
            needs_bootstrap,
            subsystems: vec![SubsystemState {
                subsystem: "core".into(),
                pending: pending.iter().map(|s| s.to_string()).collect(),
                new: new.iter().map(|s| s.to_string()).collect(),
                ..SubsystemState::default()
            }],
            unknown_subsystems: Vec::new(),
            unlisted_pending: Vec::new(),
        }
    }

    #[test]
    fn migration_progress_reads_schema_meta_against_both_versions() {
        use MigrationProgress::*;
        let from = known("3.5.0", &[("core", "000_base 021")]);
        let with_teardown = known("3.6.1", &[("core", "000_base 021 022*")]);
        let without_teardown = known("3.6.1", &[("core", "000_base 021 022")]);
        let patch = known("3.5.1", &[("core", "000_base 021")]);
        let rows: &[(
            &str,
            SchemaState,
            &KnownMigrations,
            Option<&KnownMigrations>,
            MigrationProgress,
        )] = &[
            (
                "fresh database",
                state(true, &[], &[]),
                &with_teardown,
                Some(&from),
                NotUp,
            ),
            (
                "before up",
                state(false, &[], &["022"]),
                &with_teardown,
                Some(&from),
                NotUp,
            ),
            (
                "after up",
                state(false, &["022"], &[]),
                &with_teardown,
                Some(&from),
                Up,
            ),
            (
                "after finish",
                state(false, &[], &[]),
                &with_teardown,
                Some(&from),
                Finished,
            ),
            (
                "finish had nothing to do",
                state(false, &[], &[]),
                &without_teardown,
                Some(&from),
                Up,
            ),
            (
                "patch without migrations",
                state(false, &[], &[]),
                &patch,
                Some(&from),
                NoneNeeded,
            ),
            (
                "X unknown, pending",
                state(false, &["022"], &[]),
                &with_teardown,
                None,
                Up,
            ),
            (
                "X unknown, nothing pending",
                state(false, &[], &[]),
                &with_teardown,
                None,
                Finished,
            ),
        ];
        for (name, state, to, from, expected) in rows {
            assert_eq!(migration_progress(state, to, *from), *expected, "{name}");
        }
    }

    fn ids(steps: Vec<StepKind>) -> Vec<String> {
        steps.iter().map(|s| s.id().to_string()).collect()
    }

    #[test]
    fn only_what_the_world_proves_is_inferred_done() {
        use MigrationProgress::*;
        let evidence = |migrations, restored, y, weight: i64| Evidence {
            migrations,
            new_database_restored: restored,
            y_runs_target: y,
            weight_y: TrafficWeight::new(weight).unwrap(),
        };
        let rows: &[(&str, Strategy, bool, Evidence, &[&str])] = &[
            (
                "nothing done",
                Strategy::BlueGreen,
                true,
                evidence(Some(NotUp), false, false, 0),
                &[],
            ),
            (
                "migrated, Y ready",
                Strategy::BlueGreen,
                true,
                evidence(Some(Up), false, true, 0),
                &["backup", "migrations_up", "start_y", "wait_ready_y"],
            ),
            (
                "finished",
                Strategy::BlueGreen,
                true,
                evidence(Some(Finished), false, true, 100),
                &[
                    "backup",
                    "migrations_up",
                    "migrations_finish",
                    "start_y",
                    "wait_ready_y",
                ],
            ),
            (
                "a patch: Y running proves nothing about the preparation",
                Strategy::BlueGreen,
                true,
                evidence(Some(NoneNeeded), false, true, 0),
                &["migrations_up", "start_y", "wait_ready_y"],
            ),
            (
                "a patch serving on Y",
                Strategy::BlueGreen,
                true,
                evidence(Some(NoneNeeded), false, true, 30),
                &["backup", "migrations_up", "start_y", "wait_ready_y"],
            ),
            (
                "dual-cluster restored, not migrated",
                Strategy::DualCluster,
                true,
                evidence(Some(NotUp), true, false, 0),
                &["backup", "restore_new_database"],
            ),
            (
                "dual-cluster migrated and finished on the new database",
                Strategy::DualCluster,
                true,
                evidence(Some(Finished), true, true, 0),
                &[
                    "backup",
                    "restore_new_database",
                    "migrations_up",
                    "migrations_finish",
                    "start_y",
                    "wait_ready_y",
                ],
            ),
            (
                "rolling, Y started only",
                Strategy::Rolling,
                false,
                evidence(None, false, true, 0),
                &["start_y", "wait_ready_y"],
            ),
            (
                "rolling with traffic on Y",
                Strategy::Rolling,
                false,
                evidence(None, false, true, 20),
                &["backup", "start_y", "wait_ready_y"],
            ),
        ];
        for (name, strategy, has_database, evidence, expected) in rows {
            assert_eq!(
                ids(inferred_steps(*strategy, *has_database, evidence)),
                *expected,
                "{name}"
            );
        }
    }

    #[test]
    fn the_freeze_is_never_inferred() {
        let everything = Evidence {
            migrations: Some(MigrationProgress::Finished),
            new_database_restored: false,
            y_runs_target: true,
            weight_y: TrafficWeight::FULL,
        };
        let steps = ids(inferred_steps(Strategy::BlueGreen, true, &everything));
        assert!(!steps.contains(&"freeze".to_string()), "{steps:?}");
    }
}
