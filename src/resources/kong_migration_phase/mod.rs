//! `resource "kong_migration_phase"`: one `kong migrations bootstrap|up|finish`
//! of one Kong datastore, run by the target version's own CLI.
//!
//! Plan reads `schema_meta` and shows exactly what apply will run
//! (`migrations_to_run`), or refuses what Kong would refuse. Apply re-plans
//! against the database as it is then (and stops if that differs from the
//! plan), takes the provider's upgrade lock (`steps::lock`, the one
//! `kong_upgrade` takes: a second phase or upgrade on the database fails at
//! once, naming the holder), runs the phase through the runner, retries
//! while another node
//! holds Kong's migration lock, and re-reads `schema_meta` to verify the
//! phase really happened: Kong exits 0 when it lost the lock race.
//!
//! The state records what the phase ran. Each later plan checks that the
//! phase's result still holds in the database — bootstrapped, no new
//! migrations for `target_version` (up), nothing pending (finish) — and
//! plans to run the phase again, with a warning, when it does not (a
//! restored backup, a reset). Later phases completing (a `finish` after an
//! `up`, a newer version's `up`) are progress, not drift of earlier phases.
//! Destroy only forgets the phase: Kong cannot reverse migrations.

use crate::blocks::{database, runner};
use crate::gates::now_rfc3339;
use crate::migrations::{
    classify, describe, plan_phase, read_schema_state, DatabaseConfig, KnownMigrations,
    MigrationPhase, NoopReason, PhasePlan, PlanError, PlanWarning, PlannedSubsystem, SchemaMeta,
    SchemaState, SubsystemMigrations,
};
use crate::runner::{MigrationCommand, RunnerError};
use crate::steps::migrate::{lock_text, Culprit, MigrateError, PhaseRun};
use crate::version::KongVersion;
use std::str::FromStr;
use std::time::Duration;
use std::time::Instant;
use tfplug::{
    async_trait, timeouts, ApplyRequest, ApplyResponse, AttrPath, Attribute, Block, Ctx,
    Diagnostic, Diagnostics, ImportId, ImportResponse, PlanRequest, PlanResponse, ReadRequest,
    ReadResponse, Resource, Schema, Type, Value,
};

pub const TYPE_NAME: &str = "kong_migration_phase";
/// Default for `timeouts.create` / `timeouts.update`.
pub const DEFAULT_APPLY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct KongMigrationPhase;

mod config;
mod facts;
mod run;
mod schema;
#[cfg(test)]
mod tests;

use config::*;
use facts::*;
use run::*;
use schema::*;

#[async_trait]
impl Resource for KongMigrationPhase {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, ctx: &Ctx, config: &Value) -> Diagnostics {
        validate_config(config, ctx.client.write_only_attributes_allowed)
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest) -> PlanResponse {
        if req.proposed.is_null() {
            return destroy_plan();
        }
        let mut planned = req.proposed.clone();
        let mut diags = Diagnostics::new();
        let requires_replace = replaced_paths(&req.prior, &req.proposed);
        let creating = req.prior.is_null() || !requires_replace.is_empty();
        planned.set_attr(
            "id",
            id_of(&req.config)
                .map(Value::from)
                .unwrap_or(Value::Unknown),
        );
        let respond = |planned: Value, diags: Diagnostics| PlanResponse {
            planned,
            requires_replace: requires_replace.clone(),
            private: req.prior_private.clone(),
            diags,
        };
        let version_changed = req.prior.attr("target_version") != req.config.attr("target_version");
        let after_changed = req.prior.attr("after") != req.config.attr("after");
        let run_requested = creating || version_changed || after_changed;
        if !req.config.is_wholly_known() {
            // Settings known only after apply (typically `after`, while the
            // previous phase runs in the same apply): the database cannot
            // be read yet; apply runs whatever the phase finds then.
            if run_requested {
                for name in ["migrations_to_run", "known_migrations_source", "applied_at"] {
                    planned.set_attr(name, Value::Unknown);
                }
            }
            return respond(planned, diags);
        }
        let settings = match parse_settings(&req.config) {
            Ok(s) => s,
            Err(d) => return respond(planned, d),
        };
        let private = PhasePrivate::decode(&req.prior_private);
        let facts = match gather_facts(ctx, &settings, &private).await {
            Ok(f) => f,
            Err(d) => return respond(planned, d),
        };
        if let Some(reason) = &facts.runner_fallback_reason {
            diags.warning_at(
                AttrPath::root("runner"),
                "Using the embedded migration catalog",
                format!("Asking the runner which migrations Kong {} knows failed, so the embedded catalog is used: {reason}", settings.target_version),
            );
        }
        let holds = result_holds(settings.phase, &facts.state);
        if run_requested || !holds {
            if !run_requested {
                diags.warning_at(
                    AttrPath::root("phase"),
                    "The database changed outside Terraform",
                    drift_detail(settings.phase, &facts),
                );
            }
            if let Some(plan) = plan_run(&settings, &facts, &mut planned, &mut diags) {
                if !plan.is_noop() {
                    if let Err(e) = settings.runner.check_program() {
                        diags.push(settings.runner_diagnostic(&e));
                    }
                }
            }
        } else if planned.attr("known_migrations_source").is_null() {
            // Imported: the source was not known until now.
            planned.set_attr("known_migrations_source", facts.source.into());
        }
        respond(planned, diags)
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest) -> ApplyResponse {
        if req.planned.is_null() {
            tracing::info!("forgetting a migration phase; the database is left as it is");
            return ApplyResponse::default();
        }
        let planned = req.planned;
        let unchanged = if req.prior.is_null() {
            Value::Null
        } else {
            req.prior.clone()
        };
        if !planned.attr("applied_at").is_unknown() {
            // Only settings changed (or drift was acknowledged): nothing runs.
            return ApplyResponse {
                new_state: planned,
                private: req.private,
                ..Default::default()
            };
        }
        let fail = |diags: Diagnostics| ApplyResponse {
            new_state: unchanged.clone(),
            diags,
            ..Default::default()
        };
        let settings = match parse_settings(&req.config) {
            Ok(s) => s,
            Err(d) => return fail(d),
        };
        let operation = if req.prior.is_null() {
            "create"
        } else {
            "update"
        };
        let limit = match timeouts::timeout(&req.config, operation, DEFAULT_APPLY_TIMEOUT) {
            Ok(t) => t,
            Err(d) => return fail(d.into()),
        };
        let deadline = Instant::now() + limit;
        // The provider's own upgrade lock, as `kong_upgrade` takes it: a
        // second phase or upgrade on this database fails at once, naming
        // the holder, instead of racing for Kong's migration lock.
        let owner = format!("kong_migration_phase {}", settings.phase);
        let _lock = match crate::steps::lock::acquire(&settings.database, &owner).await {
            Ok(lock) => lock,
            Err(e) => {
                return fail(
                    Diagnostic::error(
                        "Another upgrade or migration phase is running",
                        e.to_string(),
                    )
                    .at(AttrPath::root("database"))
                    .into(),
                )
            }
        };
        let private = PhasePrivate::decode(&req.private);
        match run_phase(ctx, &settings, &planned, deadline, &private).await {
            RunEnd::Done {
                plan,
                source,
                warnings,
                private,
            } => {
                let mut state = planned.clone();
                state.set_attr("migrations_to_run", encode_migrations(&plan.to_run));
                state.set_attr("applied_at", now_rfc3339().into());
                if state.attr("known_migrations_source").is_unknown() {
                    state.set_attr("known_migrations_source", source.into());
                }
                tracing::info!(phase = %plan.phase, migrations = plan.migration_count(), "migration phase applied");
                ApplyResponse {
                    new_state: state,
                    private: private.encode(),
                    diags: warnings,
                }
            }
            RunEnd::Failed {
                diags,
                database_changed,
            } => {
                if !database_changed {
                    return fail(diags);
                }
                // Part of the phase ran: keep it in state (a create is saved
                // tainted), so the next plan starts from what happened.
                let mut state = planned.clone();
                state.set_attr("applied_at", now_rfc3339().into());
                ApplyResponse {
                    new_state: state.unknowns_to_null(),
                    private: req.private,
                    diags,
                }
            }
        }
    }

    async fn read(&self, _ctx: &Ctx, req: ReadRequest) -> ReadResponse {
        // The record of what ran stays as apply wrote it; every plan reads
        // the database and checks the phase's result still holds.
        ReadResponse {
            new_state: req.current,
            private: req.private,
            ..Default::default()
        }
    }

    async fn import(&self, _ctx: &Ctx, id: ImportId) -> ImportResponse {
        let mut diags = Diagnostics::new();
        let ImportId::Id(id) = id else {
            diags.error(
                "Import by identity not supported",
                format!("Import {TYPE_NAME} by ID: {IMPORT_FORMAT}."),
            );
            return ImportResponse {
                diags,
                ..Default::default()
            };
        };
        let target = match parse_import_id(&id) {
            Ok(t) => t,
            Err(e) => {
                diags.error("Invalid import ID", e);
                return ImportResponse {
                    diags,
                    ..Default::default()
                };
            }
        };
        match imported_state(&target) {
            Ok(state) => ImportResponse {
                state,
                ..Default::default()
            },
            Err(e) => {
                diags.error("Import failed", e);
                ImportResponse {
                    diags,
                    ..Default::default()
                }
            }
        }
    }
}

/// The state an import ID describes: the rest (credentials, runner, what
/// ran) comes from the configuration at the next plan, which also checks
/// the phase's result holds in the database.
fn imported_state(target: &ImportTarget) -> Result<Value, String> {
    let schema = schema();
    let mut state = Value::from_json(&serde_json::json!({}), &schema.value_type())
        .map_err(|e| e.to_string())?;
    let database_type = schema
        .block
        .blocks
        .iter()
        .find(|b| b.name == database::BLOCK_NAME)
        .map(|b| b.block.value_type())
        .ok_or("the schema has no database block")?;
    let mut db =
        Value::from_json(&serde_json::json!({}), &database_type).map_err(|e| e.to_string())?;
    db.set_attr("host", target.host.as_str().into());
    db.set_attr("port", Value::from(i64::from(target.port)));
    db.set_attr("database", target.database.as_str().into());
    db.set_attr("schema", target.schema.clone().into());
    state.set_attr("database", db);
    state.set_attr("phase", target.phase.as_str().into());
    state.set_attr("target_version", target.target_version.as_str().into());
    state.set_attr("id", id_of(&state).map(Value::from).unwrap_or(Value::Null));
    Ok(state)
}
