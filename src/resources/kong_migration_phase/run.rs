//! Apply: re-plan against the database, run the kong CLI under the
//! provider's upgrade lock, verify in `schema_meta`, retry while Kong's
//! migration lock is held.

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

pub(super) fn same_schema(a: &SchemaMeta, b: &SchemaMeta) -> bool {
    a.needs_bootstrap == b.needs_bootstrap && a.subsystems == b.subsystems
}

pub(super) fn cli_failure_diagnostic(
    settings: &PhaseSettings,
    f: &CliFailure,
    output: &RunOutput,
) -> Diagnostic {
    let phase = settings.phase;
    let (path, summary) = match &f.kind {
        FailureKind::AuthenticationFailed | FailureKind::DatabaseUnreachable => (
            Some(AttrPath::root("database").attr("host")),
            "The kong CLI could not use the database".to_owned(),
        ),
        FailureKind::NeedsBootstrap | FailureKind::PendingMigrations => (
            Some(AttrPath::root("phase")),
            format!("Kong refused to run migrations {phase}"),
        ),
        FailureKind::MigrationFailed { migration } => (
            None,
            format!(
                "Migration {} failed",
                migration.as_deref().unwrap_or("(unnamed)")
            ),
        ),
        FailureKind::LockTimeout | FailureKind::NoSuchCommand | FailureKind::Other => (
            Some(runner::attribute_path(
                &settings.runner_block,
                AttrPath::root("runner"),
                Some("argv"),
            )),
            format!("kong migrations {phase} failed"),
        ),
    };
    let detail = format!(
        "`{}` exited {}: {}\n\nLast output:\n{}",
        output.command_line,
        f.exit_code,
        f.message,
        output.last_lines(ERROR_TAIL_LINES).join("\n")
    );
    let d = Diagnostic::error(summary, detail);
    match path {
        Some(p) => d.at(p),
        None => d,
    }
}

pub(super) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) async fn sleep_or_cancel(ctx: &Ctx, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = ctx.cancel.cancelled() => false,
    }
}

/// Re-reads the database after a run; `None` when that failed too.
pub(super) async fn reread(settings: &PhaseSettings) -> Option<SchemaMeta> {
    let mut cfg = settings.database.clone();
    cfg.timeout = cfg.timeout.min(AFTER_RUN_READ_TIMEOUT);
    match read_schema_state(&cfg).await {
        Ok(meta) => Some(meta),
        Err(e) => {
            tracing::warn!(error = %e, "could not re-read schema_meta after running the phase");
            None
        }
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

/// How one run of the kong CLI ended, judged by the database afterwards.
pub(super) enum Attempt {
    /// The database shows the phase done; with warnings to pass on.
    Verified(Diagnostics),
    /// Another node holds (or held) Kong's migration lock; nothing ran.
    LockHeld {
        lock: Option<MigrationLock>,
        database_changed: bool,
    },
    Failed {
        diag: Diagnostic,
        database_changed: bool,
    },
}

/// Runs the phase, retrying with backoff while another node holds Kong's
/// migration lock, until `deadline` or cancellation.
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
    let done = |warnings: Diagnostics| RunEnd::Done {
        plan: recorded,
        source: facts.source,
        warnings,
        private,
    };
    if plan.is_noop() {
        tracing::info!(phase = %plan.phase, "nothing to run");
        return done(warnings);
    }
    let mut delay = crate::steps::migrate::FIRST_RETRY_DELAY;
    loop {
        match attempt(ctx, settings, &facts, &plan, deadline).await {
            Attempt::Verified(more) => {
                warnings.extend(more);
                return done(warnings);
            }
            Attempt::Failed {
                diag,
                database_changed,
            } => return failed(diag, database_changed),
            Attempt::LockHeld {
                lock,
                database_changed,
            } => {
                let Some(pause) =
                    crate::steps::migrate::pause_before_retry(delay, deadline.into_std())
                else {
                    return failed(
                        lock_stayed_held(settings.phase, lock.as_ref()),
                        database_changed,
                    );
                };
                tracing::info!(
                    ?lock,
                    ?pause,
                    "Kong's migration lock is held by another node; retrying"
                );
                if !sleep_or_cancel(ctx, pause).await {
                    let interrupted = Diagnostic::error(
                        "Interrupted",
                        "Terraform asked the provider to stop while it waited for Kong's migration lock. Nothing was run.",
                    );
                    return failed(interrupted, database_changed);
                }
                delay = crate::steps::migrate::next_retry_delay(delay);
            }
        }
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

/// One run of `kong migrations <phase>`, then `schema_meta` read again.
pub(super) async fn attempt(
    ctx: &Ctx,
    settings: &PhaseSettings,
    facts: &Facts,
    plan: &PhasePlan,
    deadline: Instant,
) -> Attempt {
    let remaining = deadline.saturating_duration_since(Instant::now());
    let invocation = KongInvocation::migrations(&settings.command(), &settings.database)
        .with_timeout(remaining.max(Duration::from_secs(1)));
    let phase = settings.phase;
    let mut on_line = |stream: Stream, line: &str| tracing::info!(%phase, %stream, "kong: {line}");
    let runner = settings.runner.runner();
    tracing::info!(%phase, runner = %runner.describe(), "running kong migrations {phase}");
    // A migration cut off mid-way can be applied but not recorded (Kong/kong#12978)
    // and leaves Kong's lock held: let the CLI finish, then stop.
    let result =
        crate::steps::migrate::run_to_completion(runner, &invocation, &ctx.cancel, &mut on_line)
            .await;
    let after = reread(settings).await;
    let database_changed = after.as_ref().is_none_or(|a| !same_schema(&facts.meta, a));
    let fail = |diag: Diagnostic| Attempt::Failed {
        diag,
        database_changed,
    };
    let output = match result {
        Ok(output) => output,
        Err(e @ RunnerError::Cancelled { .. }) => {
            return fail(Diagnostic::error(
                "Interrupted",
                format!("Terraform asked the provider to stop; the kong CLI was stopped. {e}. The state reached is saved; plan again to see what remains."),
            ))
        }
        // The deadline fell while `up` waited for the lock: that is the
        // lock's doing, and nothing ran.
        Err(RunnerError::TimedOut { .. })
            if !database_changed && after.as_ref().is_some_and(|a| a.lock.is_some()) =>
        {
            return Attempt::LockHeld { lock: after.and_then(|a| a.lock), database_changed }
        }
        Err(e) => return fail(settings.runner_diagnostic(&e)),
    };
    let outcome = match parse_phase_output(phase, &output) {
        Ok(outcome) => outcome,
        Err(e) => {
            let path = runner::attribute_path(
                &settings.runner_block,
                AttrPath::root("runner"),
                Some("argv"),
            );
            return fail(
                Diagnostic::error("Unexpected output from the kong CLI", e.to_string()).at(path),
            );
        }
    };
    let Some(after) = after else {
        return fail(
            Diagnostic::error(
                "Cannot verify the migration phase",
                format!("`kong migrations {phase}` ended, but schema_meta could not be read again to verify it."),
            )
            .at(AttrPath::root("database").attr("host")),
        );
    };
    let verified = verify_phase(plan, &classify(&after, &facts.known), after.lock.as_ref());
    match (&outcome, verified) {
        (outcome, Ok(())) if outcome.is_lock_contention() => {
            // Kong's `up` aborts when the lock holder finishes: that node
            // did the work.
            let mut warnings = Diagnostics::new();
            warnings.warning(
                "Another node ran the migrations",
                format!("While this apply waited for Kong's migration lock, another node ran {phase} and the database now shows the phase done."),
            );
            Attempt::Verified(warnings)
        }
        (outcome, Err(_)) if outcome.is_lock_contention() => Attempt::LockHeld {
            lock: after.lock,
            database_changed,
        },
        (CliOutcome::Failed(f), _) => fail(cli_failure_diagnostic(settings, f, &output)),
        (_, Ok(())) => Attempt::Verified(Diagnostics::new()),
        (outcome, Err(e)) => {
            let unchanged = !database_changed && after.lock.is_none();
            let db = &settings.database;
            match crate::steps::migrate::migrated_elsewhere(phase, outcome, unchanged, db, &output)
            {
                Some(elsewhere) => fail(
                    Diagnostic::error(
                        "The runner migrated another database",
                        elsewhere.to_string(),
                    )
                    .at(AttrPath::root("runner")),
                ),
                None => fail(Diagnostic::error(
                    "The migration phase did not take effect",
                    format!("{e}. The kong CLI exited {}.", output.exit_code),
                )),
            }
        }
    }
}

pub(super) fn lock_stayed_held(phase: MigrationPhase, lock: Option<&MigrationLock>) -> Diagnostic {
    let holder = lock
        .map(lock_text)
        .unwrap_or_else(|| "the lock is free now".to_owned());
    Diagnostic::error(
        "Kong's migration lock stayed held",
        format!(
            "kong migrations {phase} could not take Kong's migration lock (the `locks` row with key \"migrations\") before the timeout: {holder}. Nothing was run. Wait for the other node or, if it is gone, for the lock to expire, then apply again."
        ),
    )
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
