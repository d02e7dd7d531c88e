//! Importing an upgrade that is already under way: the id names the
//! upgrade, and the first plan after the import infers the checkpoint from
//! the world (`schema_meta`, Y's version, the load balancer's split).

use super::config::{Intent, Settings};
use super::state::Private;
use crate::kong::KongClient;
use crate::migrations::{classify, read_schema_state, KnownMigrations};
use crate::planner::{FreezeScope, MigrationDatabase, StepKind, Strategy, WeightY};
use crate::steps::freeze;
use crate::traffic::TrafficDriver;
use tfplug::{Diagnostics, ImportId, ImportResponse, Value};

pub const ID_FORMAT: &str = "STRATEGY,TO_VERSION,X_ADMIN_URL,Y_ADMIN_URL";

pub fn import(id: ImportId) -> ImportResponse {
    let mut resp = ImportResponse::default();
    let ImportId::Id(text) = id else {
        resp.diags.error(
            "Import by identity is not supported",
            format!("Import kong_upgrade by an id of the form {ID_FORMAT}."),
        );
        return resp;
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [strategy, to, x, y] = parts.as_slice() else {
        resp.diags.error("Invalid import id", format!("{text:?} is not of the form {ID_FORMAT} (e.g. blue_green,3.6.1,http://kong-x:8001,http://kong-y:8001)."));
        return resp;
    };
    if strategy.parse::<Strategy>().is_err() || to.parse::<crate::version::KongVersion>().is_err() {
        resp.diags.error(
            "Invalid import id",
            format!("{text:?}: the strategy or the version is not valid ({ID_FORMAT})."),
        );
        return resp;
    }
    let cluster = |url: &str| Value::object([("admin_url", Value::from(url))]);
    resp.state = Value::object([
        ("id", Value::from(format!("{strategy}:{x}:{to}"))),
        ("strategy", Value::from(*strategy)),
        ("to_version", Value::from(*to)),
        ("target_phase", Value::from("prepared")),
        ("cluster_x", cluster(x)),
        ("cluster_y", cluster(y)),
    ]);
    resp.private = Private {
        infer: true,
        ..Default::default()
    }
    .encode();
    resp
}

fn done(private: &mut Private, kind: StepKind) {
    private.checkpoint.completed.insert(kind.id());
}

/// Works out how far an imported upgrade got.
pub async fn infer_checkpoint(
    intent: &Intent,
    settings: &Settings,
    private: &mut Private,
) -> Result<(), Diagnostics> {
    let diag = |attr: &str, summary: &str, detail: String| -> Diagnostics {
        let mut d = Diagnostics::new();
        d.error_at(tfplug::AttrPath::parse(attr), summary, detail);
        d
    };
    let (db, which) = match intent.strategy {
        Strategy::DualCluster => (settings.new_database.as_ref(), MigrationDatabase::New),
        _ => (settings.database.as_ref(), MigrationDatabase::Shared),
    };
    let mut migrated = intent.strategy == Strategy::Rolling;
    if let Some(db) = db {
        let known = KnownMigrations::from_catalog(&intent.to_version.to_string()).map_err(|e| {
            diag(
                "to_version",
                "Cannot infer the upgrade's progress",
                e.to_string(),
            )
        })?;
        let meta = read_schema_state(db)
            .await
            .map_err(|e| diag("database", "Cannot read schema_meta", e.to_string()))?;
        let state = classify(&meta, &known);
        if !state.needs_bootstrap && !state.has_new() {
            migrated = true;
            done(private, StepKind::MigrationsUp { database: which });
            if !state.has_pending() && intent.strategy != Strategy::DualCluster {
                done(private, StepKind::MigrationsFinish { database: which });
            }
        }
    }
    if migrated {
        let scope = if settings.database.is_some() {
            FreezeScope::AdminApi
        } else {
            FreezeScope::DeclarativeConfig
        };
        done(private, StepKind::RecordFreeze { scope });
        done(
            private,
            StepKind::Backup {
                source: if settings.database.is_some() {
                    crate::planner::BackupSource::Database
                } else {
                    crate::planner::BackupSource::DeclarativeConfig
                },
            },
        );
        // The freeze baseline is now: writes before the import are unknown.
        if let Ok(client) =
            KongClient::new(&settings.cluster_x.admin_url, &settings.cluster_x.admin)
        {
            private.fingerprint = freeze::take(&client).await.ok();
        }
    }
    if let Ok(y) = KongClient::new(&settings.cluster_y.admin_url, &settings.cluster_y.admin) {
        if y.node_info()
            .await
            .is_ok_and(|n| n.version == intent.to_version)
        {
            done(private, StepKind::StartClusterY { hook: None });
            done(private, StepKind::WaitReady);
        }
    }
    if let Some(traffic) = &settings.traffic {
        if let Ok(w) = traffic.driver.read_weights().await {
            private.checkpoint.weight_y =
                WeightY::new(i64::from(w.y.percent())).unwrap_or_default();
        }
    }
    private.infer = false;
    Ok(())
}
