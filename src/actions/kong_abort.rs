//! `action "kong_abort"`: all traffic back to cluster X at once. Refused
//! after `kong migrations finish` on the shared database, because X can no
//! longer run against it: roll back by restoring the backup instead.

use super::{traffic_settings, validate_traffic};
use crate::blocks;
use crate::migrations::{judge_way_back, why_closed, WayBack, JUDGED_WITHOUT_RECORD};
use crate::resources::kong_upgrade::latest_pending_after_up;
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

/// Whether X can still run on the database: no teardown has run since
/// `up`. Judged from what Kong had pending right after `up` (the upgrade
/// journal in the database records it) against `schema_meta` now; without
/// a record, from `schema_meta` and `to_version` alone. `None`: no
/// database configured, nothing to check.
async fn way_back(config: &Value) -> Result<Option<WayBack>, Diagnostics> {
    let db_value = blocks::first(config.attr("database"));
    if db_value.is_null() {
        return Ok(None);
    }
    let db = blocks::database::parse(db_value, AttrPath::root("database"))?;
    let Some(to) = config.attr("to_version").as_str() else {
        return Err(missing_to_version().into());
    };
    let unreadable = |title: &str, detail: String| {
        let mut d = Diagnostics::new();
        d.error_at(AttrPath::root("database"), title, detail);
        d
    };
    let recorded = latest_pending_after_up(&db)
        .await
        .map_err(|e| unreadable("Cannot read the upgrade journal", e.to_string()))?;
    judge_way_back(&db, recorded.as_deref(), to)
        .await
        .map(Some)
        .map_err(|e| unreadable("Cannot read schema_meta", e.to_string()))
}

/// The refusal (or the warning of a judgement without a record) for `verdict`.
fn judge(verdict: &WayBack, diags: &mut Diagnostics) {
    if *verdict == WayBack::OpenBySchemaMetaAlone {
        diags.warning("Abort judged from schema_meta alone", JUDGED_WITHOUT_RECORD);
    }
    if let Some(why) = why_closed(verdict) {
        diags.error_at(
            AttrPath::root("database"),
            "Abort refused: migrations finish has run",
            format!(
                "{why}. Cluster X cannot run against this database any more. Roll back by restoring the backup taken before the upgrade (kong_upgrade.backup_location)."
            ),
        );
    }
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
                     With `database` and `to_version`, it first checks that no migration teardown has run since `kong migrations up` \
                     (X cannot run against a finished database) and refuses if one has, naming it: what Kong had pending right after \
                     `up` (recorded in the upgrade journal) is compared with what `schema_meta` has pending now.",
                )
                .attr(Attribute::string("to_version").optional().describe("The version being upgraded to (with `database`). Default: none (the finish check is skipped)."))
                .block(crate::blocks::traffic::block(false))
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
        match way_back(config).await {
            Err(d) => return d,
            Ok(Some(verdict)) => {
                judge(&verdict, &mut diags);
                if !verdict.is_open() {
                    return diags;
                }
            }
            Ok(None) => {}
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
