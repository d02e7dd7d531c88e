//! What plan reads from the database and shows: the phase's plan against
//! `schema_meta`, drift of a recorded run, and the diagnostics for both.

use super::*;

/// What a plan or an apply learns from the database and the target code.
pub(super) struct Facts {
    pub(super) meta: SchemaMeta,
    pub(super) known: KnownMigrations,
    pub(super) state: SchemaState,
    pub(super) source: &'static str,
    pub(super) runner_fallback_reason: Option<String>,
}

impl Facts {
    pub(super) fn schema_level(&self) -> Option<&'static str> {
        self.meta.schema_level()
    }

    /// What `settings.phase` would run (or refuse) against these facts.
    pub(super) fn plan(&self, settings: &PhaseSettings) -> Result<PhasePlan, PlanError> {
        plan_phase(
            &self.state,
            &self.known,
            settings.phase,
            settings.force,
            self.schema_level(),
        )
    }
}

/// The private state: what the target's own `kong migrations status` said
/// at the last apply, where it corrected the catalog's preview. Later plans
/// without `runner.discover` use it, so a migration the catalog lists and
/// Kong lacks is not "still new" forever.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct PhasePrivate {
    /// The `target_version` Kong was asked about.
    #[serde(default)]
    pub(super) kong_version: String,
    /// `subsystem/name` the catalog lists and that Kong does not know.
    #[serde(default)]
    pub(super) kong_lacks: Vec<String>,
}

impl PhasePrivate {
    pub(super) fn decode(bytes: &[u8]) -> PhasePrivate {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        if *self == PhasePrivate::default() {
            return Vec::new();
        }
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The catalog's preview corrected by what Kong said it lacks.
    fn correct(&self, known: KnownMigrations) -> KnownMigrations {
        let applies = matches!(known.source, crate::migrations::KnownSource::Catalog { .. })
            && known.kong_version == self.kong_version;
        if applies {
            known.without(&self.kong_lacks)
        } else {
            known
        }
    }
}

pub(super) async fn gather_facts(
    ctx: &Ctx,
    settings: &PhaseSettings,
    private: &PhasePrivate,
) -> Result<Facts, Diagnostics> {
    if settings.runner.discover {
        settings
            .runner
            .check_program()
            .map_err(|e| settings.runner_diagnostic(&e))?;
    }
    let meta = read_schema_state(&settings.database)
        .await
        .map_err(|e| settings.database_diagnostic(&e))?;
    let discovered = runner::discover_known_migrations(
        Some(&settings.runner),
        &settings.target_version,
        &settings.database,
        settings.db_timeout,
        &ctx.cancel,
    )
    .await
    .map_err(|e| {
        let path = if e.runner_error.is_some() {
            runner::attribute_path(&settings.runner_block, AttrPath::root("runner"), None)
        } else {
            AttrPath::root("target_version")
        };
        Diagnostic::error(
            format!(
                "Cannot tell which migrations Kong {} knows",
                settings.target_version
            ),
            e.to_string(),
        )
        .at(path)
    })?;
    let source = runner::source_name(&discovered.known.source);
    let known = private.correct(discovered.known);
    let state = classify(&meta, &known);
    Ok(Facts {
        meta,
        known,
        state,
        source,
        runner_fallback_reason: discovered.runner_fallback_reason,
    })
}

/// Whether the result of an applied `phase` still holds.
pub(super) fn result_holds(phase: MigrationPhase, state: &SchemaState) -> bool {
    match phase {
        MigrationPhase::Bootstrap => !state.needs_bootstrap,
        MigrationPhase::Up => state.is_up_to_date(),
        MigrationPhase::Finish => !state.needs_bootstrap && !state.has_pending(),
    }
}

/// Why an applied phase must run again, for the plan's warning.
pub(super) fn drift_detail(phase: MigrationPhase, facts: &Facts) -> String {
    let version = &facts.known.kong_version;
    let what = match phase {
        MigrationPhase::Bootstrap => {
            "the database is no longer bootstrapped (no schema_meta table)".to_owned()
        }
        _ if facts.state.needs_bootstrap => {
            "the database is no longer bootstrapped (no schema_meta table)".to_owned()
        }
        MigrationPhase::Up => format!(
            "Kong {version} has new migrations for it again: {}",
            describe(&facts.state.new_migrations())
        ),
        MigrationPhase::Finish => format!(
            "migrations are pending again: {}",
            describe(&facts.state.pending())
        ),
    };
    format!(
        "This {phase} phase of Kong {version} was applied, but {what}. Was the database reset or restored from a backup, \
         or a phase run outside Terraform? Applying runs the {phase} phase again."
    )
}

pub(super) fn plan_error_diagnostic(e: &PlanError) -> Diagnostic {
    let (attribute, summary) = match e {
        PlanError::NeedsBootstrap { .. } => ("phase", "The database is not bootstrapped"),
        PlanError::AlreadyBootstrapped {
            force_would_reset: true,
        } => ("force", "bootstrap -f would reset the database"),
        PlanError::AlreadyBootstrapped { .. } => ("phase", "The database is already bootstrapped"),
        PlanError::PendingFromPreviousUpgrade { .. } => {
            ("phase", "Pending migrations from a previous upgrade")
        }
        PlanError::FinishBeforeUp { .. } => ("phase", "Nothing to finish: up has not run"),
        PlanError::DatabaseAheadOfTarget { .. } => (
            "target_version",
            "target_version is older than the database",
        ),
    };
    Diagnostic::error(summary, e.to_string()).at(AttrPath::root(attribute))
}

pub(super) fn plan_warning_diagnostic(w: &PlanWarning) -> Diagnostic {
    let d = Diagnostic::warning("Kong migrations", w.to_string());
    match w {
        PlanWarning::ForcedUpSkipsNew(_) => d.at(AttrPath::root("force")),
        _ => d,
    }
}

pub(super) fn encode_migrations(to_run: &[PlannedSubsystem]) -> Value {
    Value::List(
        to_run
            .iter()
            .map(|s| {
                Value::object([
                    ("subsystem", Value::from(s.subsystem.as_str())),
                    (
                        "migrations",
                        Value::List(
                            s.migrations
                                .iter()
                                .map(|m| Value::from(m.name.as_str()))
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect(),
    )
}

// --------------------------------------------------------------------- plan

/// The plan of a phase that will run: its warnings and values.
pub(super) fn plan_run(
    settings: &PhaseSettings,
    facts: &Facts,
    planned: &mut Value,
    diags: &mut Diagnostics,
) -> Option<PhasePlan> {
    let plan = match facts.plan(settings) {
        Ok(plan) => plan,
        Err(e) => {
            diags.push(plan_error_diagnostic(&e));
            return None;
        }
    };
    planned.set_attr("migrations_to_run", encode_migrations(&plan.to_run));
    planned.set_attr("applied_at", Value::Unknown);
    planned.set_attr("known_migrations_source", facts.source.into());
    for w in &plan.warnings {
        diags.push(plan_warning_diagnostic(w));
    }
    match plan.noop {
        Some(NoopReason::AlreadyUpToDate) => diags.warning_at(
            AttrPath::root("phase"),
            "Nothing to migrate",
            format!(
                "Kong {} has no new migrations for this database, so up will run nothing. Was it already run, perhaps outside Terraform?",
                plan.kong_version
            ),
        ),
        Some(NoopReason::NothingPending) => diags.warning_at(
            AttrPath::root("phase"),
            "Nothing to finish",
            "No migrations are pending, so finish will run nothing. Was it already run, perhaps outside Terraform?",
        ),
        None => {}
    }
    if plan.force && !plan.is_noop() {
        diags.warning_at(
            AttrPath::root("force"),
            "Forced migrations",
            format!(
                "force runs `kong migrations {} -f`, which re-runs {} migration(s) the database already records; this is only safe if they are idempotent.",
                plan.phase,
                plan.to_run.iter().flat_map(|s| &s.migrations).filter(|m| m.rerun).count()
            ),
        );
    }
    if let (Some(lock), false) = (&facts.meta.lock, plan.is_noop()) {
        diags.warning_at(
            AttrPath::root("database"),
            "Kong's migration lock is held",
            format!(
                "Right now {}. Apply waits for it (retrying until the timeouts) before running {}.",
                lock_text(lock),
                plan.phase
            ),
        );
    }
    Some(plan)
}

pub(super) fn destroy_plan() -> PlanResponse {
    let mut diags = Diagnostics::new();
    diags.warning(
        "Destroying a migration phase does not reverse it",
        "Kong cannot undo migrations: destroying kong_migration_phase only removes it from the Terraform state and leaves the \
         database as it is. To roll back an upgrade, restore a database backup taken before it.",
    );
    PlanResponse {
        planned: Value::Null,
        diags,
        ..Default::default()
    }
}

/// Attributes whose change replaces the resource: another phase or another
/// database is another object.
pub(super) fn replaced_paths(prior: &Value, proposed: &Value) -> Vec<AttrPath> {
    if prior.is_null() {
        return Vec::new();
    }
    let mut paths = Vec::new();
    if prior.attr("phase") != proposed.attr("phase") {
        paths.push(AttrPath::root("phase"));
    }
    for name in ["host", "port", "database", "schema"] {
        if prior.attr("database").attr(name) != proposed.attr("database").attr(name) {
            paths.push(AttrPath::root("database").attr(name));
        }
    }
    paths
}
