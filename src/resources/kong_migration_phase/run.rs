//! Apply: re-plan against the database (refusing what the plan did not
//! show), follow the target's own list of migrations, then run the phase
//! through the one engine, `steps::migrate::PhaseRun`.

use super::*;

/// How an apply run ended.
pub(super) enum RunEnd {
    Done {
        /// The plan to record in state: the one Terraform planned when its
        /// list was known (Terraform requires the applied value to match).
        plan: PhasePlan,
        /// Where the known migrations came from.
        source: &'static str,
        warnings: Diagnostics,
        private: PhasePrivate,
    },
    Failed {
        diags: Diagnostics,
        database_changed: bool,
    },
}

pub(super) fn failed(diag: Diagnostic, database_changed: bool) -> RunEnd {
    RunEnd::Failed {
        diags: diag.into(),
        database_changed,
    }
}

/// Re-plans the phase against the database as it is now and checks that is
/// what the plan showed.
pub(super) async fn prepare_run(
    ctx: &Ctx,
    settings: &PhaseSettings,
    planned: &Value,
    private: &PhasePrivate,
) -> Result<(Facts, PhasePlan), RunEnd> {
    let facts = gather_facts(ctx, settings, private)
        .await
        .map_err(|diags| RunEnd::Failed {
            diags,
            database_changed: false,
        })?;
    let planned_list = planned.attr("migrations_to_run");
    let plan = facts.plan(settings).map_err(|e| {
        let mut d = plan_error_diagnostic(&e);
        let when = if planned_list.is_wholly_known() {
            "The database changed since the plan"
        } else {
            "Now that the database could be read"
        };
        d.detail = format!("{when}: {}. Nothing was run.", d.detail);
        failed(d, false)
    })?;
    if planned_list.is_wholly_known() && *planned_list != encode_migrations(&plan.to_run) {
        return Err(failed(
            Diagnostic::error(
                "The database changed since the plan",
                format!(
                    "The plan was to run {}, but the {} phase of Kong {} would now run {}. Nothing was run; plan again.",
                    describe_value(planned_list),
                    plan.phase,
                    plan.kong_version,
                    describe_planned(&plan.to_run),
                ),
            ),
            false,
        ));
    }
    Ok((facts, plan))
}

/// Runs the phase through the one migration engine (`steps::migrate`),
/// which retries while another node holds Kong's migration lock, until
/// `deadline` or cancellation; this resource keeps the mapping of its end
/// to diagnostics and state.
pub(super) async fn run_phase(
    ctx: &Ctx,
    settings: &PhaseSettings,
    planned: &Value,
    deadline: Instant,
    private: &PhasePrivate,
) -> RunEnd {
    let (mut facts, previewed) = match prepare_run(ctx, settings, planned, private).await {
        Ok(ready) => ready,
        Err(end) => return end,
    };
    let (plan, mut warnings, private) =
        match follow_kong(ctx, settings, &mut facts, &previewed, deadline, private).await {
            Ok(followed) => followed,
            Err(refused) => return failed(refused, false),
        };
    let recorded = if planned.attr("migrations_to_run").is_wholly_known() {
        previewed
    } else {
        plan.clone()
    };
    let command = settings.command();
    let engine = PhaseRun {
        runner: settings.runner.runner(),
        db: &settings.database,
        known: &facts.known,
        command: &command,
        deadline,
        cancel: &ctx.cancel,
    };
    match engine.run(&facts.meta, plan).await {
        Ok(report) => {
            if let Some(note) = report.another_node_note() {
                warnings.warning("Another node ran the migrations", note);
            }
            RunEnd::Done {
                plan: recorded,
                source: facts.source,
                warnings,
                private,
            }
        }
        Err(end) => failed(
            settings.migrate_diagnostic(&end.error),
            end.database_changed,
        ),
    }
}

/// Without `runner.discover` the plan previewed from the catalog. Before
/// running, the target's own `kong migrations status` (read-only, through
/// the runner that runs the phase) is asked, and Kong's list decides what
/// runs and what verification expects: a migration the catalog lists and
/// Kong lacks is not "still new". A difference becomes a warning naming
/// it, and is kept in private state for later plans. When Kong cannot
/// answer, the catalog decides, as before.
async fn follow_kong(
    ctx: &Ctx,
    settings: &PhaseSettings,
    facts: &mut Facts,
    previewed: &PhasePlan,
    deadline: Instant,
    private: &PhasePrivate,
) -> Result<(PhasePlan, Diagnostics, PhasePrivate), Diagnostic> {
    let unchanged = || Ok((previewed.clone(), Diagnostics::new(), private.clone()));
    if settings.runner.discover {
        return unchanged();
    }
    let Ok(preview) = KnownMigrations::from_catalog(&settings.target_version) else {
        return unchanged();
    };
    let timeout = deadline
        .saturating_duration_since(Instant::now())
        .min(runner::DISCOVERY_TIMEOUT);
    let target = match crate::steps::migrate::target_migrations(
        settings.runner.runner(),
        &settings.database,
        &settings.target_version,
        settings.runner.conf_path.as_deref(),
        timeout,
        &ctx.cancel,
    )
    .await
    {
        Ok(target) if target.known.source != preview.source => target,
        Ok(_) => return unchanged(),
        Err(e) => {
            tracing::warn!(error = %e, "the target's `kong migrations status` did not answer; the catalog decides");
            return unchanged();
        }
    };
    let private = PhasePrivate {
        kong_version: settings.target_version.clone(),
        kong_lacks: target.known.unknown_of(&preview),
    };
    let mut warnings = Diagnostics::new();
    if target.preview_differences.is_empty() {
        return Ok((previewed.clone(), warnings, private));
    }
    warnings.warning_at(
        AttrPath::root("target_version"),
        "Kong's migrations differ from the preview",
        format!(
            "Kong {} itself (`kong migrations status`) differs from the embedded catalog the plan previewed from; the phase follows Kong, and migrations_to_run keeps the preview: {}",
            settings.target_version,
            target.preview_differences.join("; ")
        ),
    );
    facts.known = target.known;
    facts.state = classify(&facts.meta, &facts.known);
    let plan = facts.plan(settings).map_err(|e| {
        let mut d = plan_error_diagnostic(&e);
        d.detail = format!(
            "By Kong's own list of migrations: {}. Nothing was run.",
            d.detail
        );
        d
    })?;
    Ok((plan, warnings, private))
}

pub(super) fn describe_planned(to_run: &[PlannedSubsystem]) -> String {
    let list: Vec<SubsystemMigrations> = to_run
        .iter()
        .map(|s| SubsystemMigrations {
            subsystem: s.subsystem.clone(),
            migrations: s.migrations.iter().map(|m| m.name.clone()).collect(),
        })
        .collect();
    if list.is_empty() {
        "nothing".to_owned()
    } else {
        describe(&list)
    }
}

pub(super) fn describe_value(list: &Value) -> String {
    let parts: Vec<String> = list
        .elements()
        .iter()
        .map(|s| {
            let names: Vec<&str> = s
                .attr("migrations")
                .elements()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "{}: {}",
                s.attr("subsystem").as_str().unwrap_or("?"),
                names.join(", ")
            )
        })
        .collect();
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join("; ")
    }
}
