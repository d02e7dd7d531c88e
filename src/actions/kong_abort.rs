//! `action "kong_abort"`: all traffic back to cluster X at once. Refused
//! after `kong migrations finish` on the shared database, because X can no
//! longer run against it: roll back by restoring the backup instead.

use super::{traffic_settings, validate_traffic};
use crate::blocks;
use crate::migrations::{classify, read_schema_state, KnownMigrations, KnownSource};
use crate::traffic::{TrafficDriver, TrafficWeight, Weights};
use crate::version::KongVersion;
use tfplug::{
    async_trait, Action, AttrPath, Attribute, Block, Ctx, Diagnostic, Diagnostics, Schema, Value,
};

pub struct KongAbort;

fn missing_to_version() -> Diagnostic {
    Diagnostic::error(
        "Missing to_version",
        "With a database, to_version tells which upgrade to check.",
    )
    .at(AttrPath::root("to_version"))
}

/// True when the database no longer has the pending migrations an
/// unfinished upgrade to `to_version` leaves: `finish` has run.
async fn finish_has_run(config: &Value) -> Result<bool, Diagnostics> {
    let db_value = blocks::first(config.attr("database"));
    if db_value.is_null() {
        return Ok(false);
    }
    let db = blocks::database::parse(db_value, AttrPath::root("database"))?;
    let Some(to) = config.attr("to_version").as_str() else {
        return Err(missing_to_version().into());
    };
    // A version the catalog does not know is judged from Kong's records
    // alone: every pending migration recorded counts (see `classify`).
    let known = KnownMigrations::from_catalog(to).unwrap_or_else(|e| {
        tracing::info!(error = %e, "no catalog preview for {to}; judging from schema_meta alone");
        KnownMigrations {
            kong_version: to.to_owned(),
            subsystems: Vec::new(),
            source: KnownSource::Catalog {
                provenance: "none: version unknown to the catalog".to_owned(),
            },
        }
    });
    let meta = read_schema_state(&db).await.map_err(|e| {
        let mut d = Diagnostics::new();
        d.error_at(
            AttrPath::root("database"),
            "Cannot read schema_meta",
            e.to_string(),
        );
        d
    })?;
    let state = classify(&meta, &known);
    Ok(!state.needs_bootstrap && !state.has_new() && !state.has_pending())
}

#[async_trait]
impl Action for KongAbort {
    fn type_name(&self) -> &'static str {
        "kong_abort"
    }

    fn schema(&self) -> Schema {
        let mut database = blocks::database::data_source_block();
        database.min_items = 0;
        Schema::new(
            0,
            Block::new()
                .describe(
                    "Sends all traffic back to cluster X at once, without gates: returning to known-good is never slowed down. \
                     With `database` and `to_version`, it first checks that `kong migrations finish` has not run (X cannot run \
                     against a finished database) and refuses if it has.",
                )
                .attr(Attribute::string("to_version").optional().describe("The version being upgraded to (with `database`). Default: none (the finish check is skipped)."))
                .block(crate::blocks::traffic::block())
                .block(database),
        )
    }

    async fn validate(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let mut diags = validate_traffic(config);
        if let Some(to) = config.attr("to_version").as_str() {
            if let Err(e) = to.parse::<KongVersion>() {
                diags.error_at(
                    AttrPath::root("to_version"),
                    "Invalid Kong version",
                    e.to_string(),
                );
            }
        }
        let db = blocks::first(config.attr("database"));
        diags.extend(blocks::database::validate(
            db,
            &AttrPath::root("database"),
            false,
        ));
        if !db.is_null() && config.attr("to_version").is_null() {
            diags.push(missing_to_version());
        }
        diags
    }

    async fn invoke(
        &self,
        _ctx: &Ctx,
        config: &Value,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Diagnostics {
        let mut diags = Diagnostics::new();
        match finish_has_run(config).await {
            Err(d) => return d,
            Ok(true) => {
                diags.error_at(
                    AttrPath::root("database"),
                    "Abort refused: migrations finish has run",
                    "Cluster X cannot run against this database any more. Roll back by restoring the backup taken before the upgrade (kong_upgrade.backup_location).",
                );
                return diags;
            }
            Ok(false) => {}
        }
        let traffic = match traffic_settings(config) {
            Ok(t) => t,
            Err(d) => return d,
        };
        let before = traffic.driver.read_weights().await;
        match traffic
            .driver
            .set_weights(Weights::with_y(TrafficWeight::ZERO))
            .await
        {
            Ok(()) => progress(format!(
                "all traffic back on X{}",
                before
                    .map(|w| format!(" (Y had {}%)", w.y.percent()))
                    .unwrap_or_default()
            )),
            Err(e) => diags.error_at(AttrPath::root("traffic"), "Abort failed", e.to_string()),
        }
        diags
    }
}
