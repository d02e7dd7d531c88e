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
use crate::migrations::{classify, read_schema_state, KnownMigrations, UnknownVersion};
use crate::planner::{
    inferred_steps, migration_progress, Evidence, MigrationProgress, Strategy, TrafficWeight,
    UnknownName,
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
}
