//! `data "kong_migrations"`: the migration state of one Kong datastore, read
//! from `schema_meta` and `locks`, optionally compared with what a target
//! Kong version knows.

use crate::blocks::{database, first, runner};
use crate::migrations::{classify, read_schema_state, SchemaMeta, SubsystemMigrations};
use crate::version::KongVersion;
use std::collections::BTreeMap;
use std::str::FromStr;
use tfplug::{
    async_trait, AttrPath, Attribute, Block, Ctx, DataSource, Diagnostic, Diagnostics, Schema,
    Type, Value,
};

pub const TYPE_NAME: &str = "kong_migrations";

pub struct KongMigrations;

fn runner_path() -> AttrPath {
    AttrPath::root("runner")
}

fn names_by_subsystem() -> Type {
    Type::map(Type::list(Type::String))
}

fn schema() -> Schema {
    let block = Block::new()
        .describe(
            "The migration state of a Kong database, as Kong records it in `schema_meta` (executed and pending migrations \
             per subsystem) and `locks` (the cluster-wide migration lock). With `target_version`, also the migrations that \
             version would run (`new`), from the embedded catalog of Kong OSS migrations or, with `runner { discover = true }`, \
             from the target's own `kong migrations status`. Read-only: nothing is written to the database.",
        )
        .attr(Attribute::string("target_version").optional().describe(
            "A Kong version to compare with, e.g. `3.6.1`: fills `new` with the migrations its `kong migrations up` would run. Default: none (`new` stays empty).",
        ))
        .attr(Attribute::string("id").computed().describe("`host:port/database[/schema]`."))
        .attr(Attribute::bool("needs_bootstrap").computed().describe(
            "No `schema_meta` table: the database has never been bootstrapped (Kong's `needs_bootstrap`).",
        ))
        .attr(Attribute::new("executed", names_by_subsystem()).computed().describe(
            "Executed migrations per subsystem (`schema_meta.executed`), in the order they completed.",
        ))
        .attr(Attribute::new("pending", names_by_subsystem()).computed().describe(
            "Migrations whose up step ran but whose teardown (`kong migrations finish`) has not, per subsystem; only subsystems with some.",
        ))
        .attr(Attribute::new("new", names_by_subsystem()).computed().describe(
            "Migrations `target_version` knows and the database has not run, per subsystem; only subsystems with some. Null without `target_version`.",
        ))
        .attr(Attribute::map_of("last_executed", Type::String).computed().describe(
            "`schema_meta.last_executed` per subsystem.",
        ))
        .attr(Attribute::string("schema_level").computed().describe(
            "The Kong OSS release whose core migrations the database has reached (e.g. `3.6`), from core's `last_executed`; null when not bootstrapped or unknown (Enterprise, custom builds).",
        ))
        .attr(Attribute::string("lock_held_by").computed().describe(
            "Owner of Kong's migration lock (the node ID of a running `kong migrations`), or null when nobody holds it.",
        ))
        .attr(Attribute::string("lock_expires").computed().describe(
            "When the held migration lock expires (RFC 3339, UTC), or null.",
        ))
        .attr(Attribute::string("known_migrations_source").computed().describe(
            "With `target_version`: `catalog` or `runner`, where the list of migrations it knows came from.",
        ))
        .block(database::data_source_block())
        .block(runner::optional_block());
    Schema::new(0, block)
}

fn names_map(entries: impl Iterator<Item = (String, Vec<String>)>) -> Value {
    Value::Map(
        entries
            .map(|(subsystem, names)| {
                (
                    subsystem,
                    Value::List(names.into_iter().map(Value::from).collect()),
                )
            })
            .collect(),
    )
}

fn bucket_map(buckets: Vec<SubsystemMigrations>) -> Value {
    names_map(buckets.into_iter().map(|b| (b.subsystem, b.migrations)))
}

/// The computed attributes that come from the database alone.
fn set_database_facts(state: &mut Value, meta: &SchemaMeta) {
    state.set_attr("needs_bootstrap", meta.needs_bootstrap.into());
    state.set_attr(
        "executed",
        names_map(
            meta.subsystems
                .iter()
                .map(|r| (r.subsystem.clone(), r.executed.clone())),
        ),
    );
    state.set_attr(
        "pending",
        names_map(
            meta.subsystems
                .iter()
                .filter(|r| !r.pending.is_empty())
                .map(|r| (r.subsystem.clone(), r.pending.clone())),
        ),
    );
    let last_executed: BTreeMap<String, Value> = meta
        .subsystems
        .iter()
        .filter_map(|r| {
            r.last_executed
                .as_ref()
                .map(|l| (r.subsystem.clone(), Value::from(l.as_str())))
        })
        .collect();
    state.set_attr("last_executed", Value::Map(last_executed));
    state.set_attr(
        "schema_level",
        meta.schema_level().map(Value::from).unwrap_or(Value::Null),
    );
    state.set_attr(
        "lock_held_by",
        meta.lock
            .as_ref()
            .map(|l| Value::from(l.owner.as_str()))
            .unwrap_or(Value::Null),
    );
    state.set_attr(
        "lock_expires",
        meta.lock
            .as_ref()
            .map(|l| Value::from(l.expires_at.as_str()))
            .unwrap_or(Value::Null),
    );
}

#[async_trait]
impl DataSource for KongMigrations {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let mut diags =
            database::validate(config.attr("database"), &AttrPath::root("database"), false);
        diags.extend(runner::validate(
            first(config.attr("runner")),
            &runner_path(),
        ));
        if let Some(version) = config.attr("target_version").as_str() {
            if let Err(e) = KongVersion::from_str(version) {
                diags.push(
                    Diagnostic::error("Invalid Kong version", e.to_string())
                        .at(AttrPath::root("target_version")),
                );
            }
        }
        diags
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> (Value, Diagnostics) {
        let mut diags = self.validate(ctx, config).await;
        if diags.has_errors() {
            return (Value::Null, diags);
        }
        let db = match database::parse(config.attr("database"), AttrPath::root("database")) {
            Ok(db) => db,
            Err(d) => return (Value::Null, d),
        };
        let runner_settings = match first(config.attr("runner")) {
            Value::Null => None,
            block => match runner::parse(block, runner_path()) {
                Ok(r) => Some(r),
                Err(d) => return (Value::Null, d),
            },
        };
        let meta = tokio::select! {
            meta = read_schema_state(&db) => meta,
            _ = ctx.cancel.cancelled() => {
                diags.error("Interrupted", "Terraform asked the provider to stop before the database was read.");
                return (Value::Null, diags);
            }
        };
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) => {
                let d = database::error_diagnostic(
                    &e,
                    config.attr("database"),
                    AttrPath::root("database"),
                );
                return (Value::Null, d.into());
            }
        };
        let mut state = config.clone();
        let schema = db
            .schema
            .as_ref()
            .map(|s| format!("/{s}"))
            .unwrap_or_default();
        state.set_attr(
            "id",
            format!("{}/{}{schema}", db.address(), db.database).into(),
        );
        set_database_facts(&mut state, &meta);
        state.set_attr("new", Value::Null);
        state.set_attr("known_migrations_source", Value::Null);
        if let Some(version) = config.attr("target_version").as_str() {
            let version = KongVersion::from_str(version)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| version.to_owned());
            if let Some(settings) = runner_settings.as_ref().filter(|r| r.discover) {
                if let Err(e) = settings.check_program() {
                    return (
                        Value::Null,
                        runner::error_diagnostic_in(&e, config.attr("runner"), runner_path())
                            .into(),
                    );
                }
            }
            let discovered = match runner::discover_known_migrations(
                runner_settings.as_ref(),
                &version,
                &db,
                None,
                &ctx.cancel,
            )
            .await
            {
                Ok(d) => d,
                Err(e) => {
                    let path = if e.runner_error.is_some() {
                        runner_path()
                    } else {
                        AttrPath::root("target_version")
                    };
                    diags.error_at(
                        path,
                        format!("Cannot tell which migrations Kong {version} knows"),
                        e.to_string(),
                    );
                    return (Value::Null, diags);
                }
            };
            if let Some(reason) = &discovered.runner_fallback_reason {
                diags.warning_at(
                    runner_path(),
                    "Using the embedded migration catalog",
                    format!(
                        "Asking the runner which migrations Kong {version} knows failed: {reason}"
                    ),
                );
            }
            let source = runner::source_name(&discovered.known.source);
            state.set_attr("known_migrations_source", source.into());
            state.set_attr(
                "new",
                bucket_map(classify(&meta, &discovered.known).new_migrations()),
            );
        }
        (state, diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{MigrationLock, SubsystemRow};
    use std::time::Duration;

    #[test]
    fn database_facts_fill_every_computed_attribute() {
        let meta = SchemaMeta {
            needs_bootstrap: false,
            subsystems: vec![
                SubsystemRow {
                    subsystem: "acme".into(),
                    last_executed: Some("002_320_to_330".into()),
                    executed: vec!["000_base_acme".into(), "002_320_to_330".into()],
                    pending: vec!["003_350_to_360".into()],
                },
                SubsystemRow {
                    subsystem: "core".into(),
                    last_executed: Some("022_350_to_360".into()),
                    executed: vec!["000_base".into(), "022_350_to_360".into()],
                    pending: vec![],
                },
            ],
            lock: Some(MigrationLock {
                owner: "node-7".into(),
                expires_at: "2030-01-01T00:00:00Z".into(),
                expires_in: Duration::from_secs(9),
            }),
        };
        let mut state = Value::from_json(&serde_json::json!({}), &schema().value_type()).unwrap();
        set_database_facts(&mut state, &meta);
        assert_eq!(state.attr("needs_bootstrap"), &Value::Bool(false));
        assert_eq!(state.attr("schema_level").as_str(), Some("3.6"));
        assert_eq!(state.attr("lock_held_by").as_str(), Some("node-7"));
        assert_eq!(
            state.attr("pending").entries().map(|m| m.len()),
            Some(1),
            "only subsystems with pending ones"
        );
        assert_eq!(
            state.attr("last_executed").attr("core"),
            &Value::Null,
            "a map, read with entries()"
        );
        assert_eq!(
            state
                .attr("last_executed")
                .entries()
                .and_then(|m| m.get("core"))
                .and_then(Value::as_str),
            Some("022_350_to_360")
        );
        assert!(tfplug::value::to_msgpack(&state, &schema().value_type()).is_ok());
    }
}
