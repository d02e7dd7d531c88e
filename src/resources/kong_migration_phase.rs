//! `resource "kong_migration_phase"`: one `kong migrations bootstrap|up|finish`
//! of one Kong datastore, run by the target version's own CLI.
//!
//! Plan reads `schema_meta` and shows exactly what apply will run
//! (`migrations_to_run`), or refuses what Kong would refuse. Apply re-plans
//! against the database as it is then (and stops if that differs from the
//! plan), runs the phase through the runner, retries while another node
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
use crate::migrations::{
    classify, describe, plan_phase, read_schema_state, verify_phase, DatabaseConfig,
    KnownMigrations, MigrationLock, MigrationPhase, NoopReason, PhasePlan, PlanError, PlanWarning,
    PlannedSubsystem, SchemaMeta, SchemaState, SubsystemMigrations,
};
use crate::runner::{
    parse_phase_output, CliFailure, CliOutcome, FailureKind, KongInvocation, MigrationCommand,
    RunOutput, RunnerError, Stream, ERROR_TAIL_LINES,
};
use crate::version::KongVersion;
use std::str::FromStr;
use std::time::Duration;
use tfplug::{
    async_trait, timeouts, ApplyRequest, ApplyResponse, AttrPath, Attribute, Block, Ctx,
    Diagnostic, Diagnostics, ImportId, ImportResponse, PlanRequest, PlanResponse, ReadRequest,
    ReadResponse, Resource, Schema, Type, Value,
};
use tokio::time::Instant;

pub const TYPE_NAME: &str = "kong_migration_phase";
/// Default for `timeouts.create` / `timeouts.update`.
pub const DEFAULT_APPLY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Lock contention: first wait before trying again, doubled up to the max.
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);
/// Reading `schema_meta` after a run that was interrupted must not hang.
const AFTER_RUN_READ_TIMEOUT: Duration = Duration::from_secs(15);

pub struct KongMigrationPhase;

// ------------------------------------------------------------------ schema

fn migrations_type() -> Type {
    Type::list(Type::object([
        ("subsystem", Type::String),
        ("migrations", Type::list(Type::String)),
    ]))
}

fn schema() -> Schema {
    let block = Block::new()
        .describe(
            "One migration phase (`kong migrations bootstrap`, `up` or `finish`) of one Kong datastore, run by the `kong` CLI \
             of `target_version` through a `runner`.\n\n\
             The plan reads `schema_meta` and lists in `migrations_to_run` exactly what apply will run, per subsystem; what Kong \
             would refuse (up while a previous upgrade is still pending, finish before up, bootstrap of a bootstrapped database, \
             a `target_version` older than the database) is a plan-time error. Apply retries while another node holds Kong's \
             migration lock (until `timeouts`) and re-reads `schema_meta` to verify the phase took effect, since Kong exits 0 \
             when it loses the lock race.\n\n\
             Every plan checks that the phase's result still holds (bootstrapped; no new migrations for `target_version` after \
             `up`; nothing pending after `finish`) and plans to run it again, with a warning, when the database changed outside \
             Terraform. Known migrations come from the embedded catalog of Kong OSS releases, or from the target version's own \
             `kong migrations status` with `runner { discover = true }` (needed for Enterprise).\n\n\
             **Destroying this resource does not reverse migrations** (Kong cannot): it only removes the phase from the state. \
             Rolling back means restoring a database backup.",
        )
        .attr(Attribute::string("phase").required().describe("`bootstrap`, `up` or `finish`. Changing it replaces the resource."))
        .attr(Attribute::string("target_version").required().describe(
            "The Kong version whose code runs the phase, e.g. `3.6.1`: the version of the `kong` CLI the runner reaches. Changing it runs the phase again for the new version (e.g. the next `up`).",
        ))
        .attr(Attribute::bool("force").optional().describe(
            "Pass `-f`: re-run every migration the database records as executed (and, for `up`, run despite pending migrations). Only safe if the migrations are idempotent. Default `false`.",
        ))
        .attr(Attribute::number("db_timeout").optional().describe(
            "`--db-timeout` in seconds: Kong's per-statement database timeout (5 s by default, too short for big tables).",
        ))
        .attr(Attribute::number("lock_timeout").optional().describe(
            "`--lock-timeout` in seconds: the TTL of Kong's migration lock and how long `up` waits for it. Default `60`.",
        ))
        .attr(Attribute::string("after").optional().describe(
            "Orders this phase after another one, typically `kong_migration_phase.<previous>.applied_at`. While that value is unknown (the previous phase runs in the same apply) this phase's plan cannot read the database yet, so `migrations_to_run` is known only after apply; when it changes (the previous phase ran again) this phase runs again too. Default: none (no ordering).",
        ))
        .attr(Attribute::string("id").computed().describe(
            "`host:port/database[/schema]/phase@target_version`, also the import ID.",
        ))
        .attr(Attribute::new("migrations_to_run", migrations_type()).computed().describe(
            "In a plan: the migrations apply will run, per subsystem in Kong's order. In the state: the migrations the last run of this phase ran. Empty when the phase had nothing to do.",
        ))
        .attr(Attribute::string("known_migrations_source").computed().describe(
            "Where the list of migrations `target_version` knows came from: `catalog` (the provider's embedded catalog of Kong OSS migrations) or `runner` (`kong migrations status` of the target version).",
        ))
        .attr(Attribute::string("applied_at").computed().describe("When the phase last ran (RFC 3339, UTC)."))
        .block(database::block())
        .block(runner::block())
        .block(timeouts::block(&["create", "update"], DEFAULT_APPLY_TIMEOUT));
    Schema::new(0, block)
}

// ---------------------------------------------------------------- settings

/// A wholly known configuration, parsed.
struct PhaseSettings {
    phase: MigrationPhase,
    /// Normalized (`v3.6.1` → `3.6.1`).
    target_version: String,
    force: bool,
    db_timeout: Option<Duration>,
    lock_timeout: Option<Duration>,
    database: DatabaseConfig,
    runner: runner::RunnerSettings,
    /// The blocks as configured, to point diagnostics at their attributes.
    database_block: Value,
    runner_block: Value,
}

impl PhaseSettings {
    fn database_diagnostic(&self, e: &crate::migrations::MigrationsError) -> Diagnostic {
        database::error_diagnostic(e, &self.database_block, AttrPath::root("database"))
    }

    fn runner_diagnostic(&self, e: &RunnerError) -> Diagnostic {
        runner::error_diagnostic_in(e, &self.runner_block, AttrPath::root("runner"))
    }

    fn command(&self) -> MigrationCommand {
        let mut command = MigrationCommand::new(self.phase);
        command.force = self.force;
        command.db_timeout = self.db_timeout;
        if let Some(lock_timeout) = self.lock_timeout {
            command.lock_timeout = lock_timeout;
        }
        command.conf_path = self.runner.conf_path.clone();
        command
    }
}

fn seconds(config: &Value, name: &str) -> Result<Option<Duration>, Diagnostic> {
    let value = config.attr(name);
    if value.is_null() || value.is_unknown() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && (1.0..=86_400.0).contains(&n) => {
            Ok(Some(Duration::from_secs_f64(n)))
        }
        _ => Err(Diagnostic::error(
            "Invalid number of seconds",
            format!("{name} must be a number of seconds from 1 to 86400, got {value}."),
        )
        .at(AttrPath::root(name))),
    }
}

fn parse_phase(config: &Value) -> Result<Option<MigrationPhase>, Diagnostic> {
    match config.attr("phase").as_str() {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|e: crate::migrations::UnknownPhase| {
                Diagnostic::error("Invalid phase", e.to_string()).at(AttrPath::root("phase"))
            }),
    }
}

fn parse_target_version(config: &Value) -> Result<Option<String>, Diagnostic> {
    match config.attr("target_version").as_str() {
        None => Ok(None),
        Some(text) => KongVersion::from_str(text)
            .map(|v| Some(v.to_string()))
            .map_err(|e| {
                Diagnostic::error("Invalid Kong version", e.to_string())
                    .at(AttrPath::root("target_version"))
            }),
    }
}

/// Checks that need no network and tolerate unknown values.
fn validate_config(config: &Value, write_only_allowed: bool) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut keep = |r: Result<(), Diagnostic>| {
        if let Err(d) = r {
            diags.push(d)
        }
    };
    keep(parse_phase(config).map(drop));
    keep(parse_target_version(config).map(drop));
    keep(seconds(config, "db_timeout").map(drop));
    keep(seconds(config, "lock_timeout").map(drop));
    for op in ["create", "update"] {
        keep(timeouts::timeout(config, op, DEFAULT_APPLY_TIMEOUT).map(drop));
    }
    diags.extend(database::validate(
        config.attr("database"),
        &AttrPath::root("database"),
        write_only_allowed,
    ));
    diags.extend(runner::validate(
        config.attr("runner"),
        &AttrPath::root("runner"),
    ));
    diags
}

fn parse_settings(config: &Value) -> Result<PhaseSettings, Diagnostics> {
    let mut diags = Diagnostics::new();
    let phase = parse_phase(config)
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let target_version = parse_target_version(config)
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let db_timeout = seconds(config, "db_timeout")
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let lock_timeout = seconds(config, "lock_timeout")
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let database = database::parse(config.attr("database"), AttrPath::root("database"))
        .map_err(|d| diags.extend(d));
    let runner =
        runner::parse(config.attr("runner"), AttrPath::root("runner")).map_err(|d| diags.extend(d));
    match (phase, target_version, database, runner) {
        (Some(phase), Some(target_version), Ok(database), Ok(runner)) if !diags.has_errors() => {
            Ok(PhaseSettings {
                phase,
                target_version,
                force: config.attr("force").as_bool().unwrap_or(false),
                db_timeout,
                lock_timeout,
                database,
                runner,
                database_block: config.attr("database").clone(),
                runner_block: config.attr("runner").clone(),
            })
        }
        _ => Err(diags),
    }
}

// ---------------------------------------------------------------------- id

/// `host:port/database[/schema]/phase@version`, from a configuration;
/// `None` while any part is unknown.
fn id_of(config: &Value) -> Option<String> {
    let db = config.attr("database");
    let host = db.attr("host").as_str()?;
    let port = match db.attr("port") {
        Value::Null => i64::from(database::DEFAULT_PORT),
        v => v.as_i64()?,
    };
    let name = match db.attr("database") {
        Value::Null => database::DEFAULT_DATABASE,
        v => v.as_str()?,
    };
    let schema = match db.attr("schema") {
        Value::Null => None,
        v => Some(v.as_str()?),
    };
    let phase = config.attr("phase").as_str()?;
    let version = config.attr("target_version").as_str()?;
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let schema = schema.map(|s| format!("/{s}")).unwrap_or_default();
    Some(format!("{host}:{port}/{name}{schema}/{phase}@{version}"))
}

/// What an import ID names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImportTarget {
    host: String,
    port: u16,
    database: String,
    schema: Option<String>,
    phase: MigrationPhase,
    target_version: String,
}

const IMPORT_FORMAT: &str =
    "host:port/database/phase@target_version (or host:port/database/schema/phase@target_version), e.g. db.internal:5432/kong/up@3.6.1";

fn parse_import_id(id: &str) -> Result<ImportTarget, String> {
    let bad = |why: &str| format!("import ID {id:?}: {why}; expected {IMPORT_FORMAT}");
    let (authority, path) = id.split_once('/').ok_or_else(|| bad("no database"))?;
    let (host, port) = authority.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    let (path, target_version) = path
        .rsplit_once('@')
        .ok_or_else(|| bad("no @target_version"))?;
    KongVersion::from_str(target_version).map_err(|e| bad(&e.to_string()))?;
    let parts: Vec<&str> = path.split('/').collect();
    let (database, schema, phase) = match parts[..] {
        [database, phase] => (database, None, phase),
        [database, schema, phase] => (database, Some(schema), phase),
        _ => return Err(bad("expected database[/schema]/phase before @")),
    };
    if host.is_empty() || database.is_empty() || schema.is_some_and(str::is_empty) {
        return Err(bad("empty host, database or schema"));
    }
    Ok(ImportTarget {
        host: host.to_owned(),
        port,
        database: database.to_owned(),
        schema: schema.map(str::to_owned),
        phase: phase
            .parse()
            .map_err(|e: crate::migrations::UnknownPhase| bad(&e.to_string()))?,
        target_version: target_version.to_owned(),
    })
}

// --------------------------------------------------------- database facts

/// What a plan or an apply learns from the database and the target code.
struct Facts {
    meta: SchemaMeta,
    known: KnownMigrations,
    state: SchemaState,
    source: &'static str,
    runner_fallback_reason: Option<String>,
}

impl Facts {
    fn schema_level(&self) -> Option<&'static str> {
        self.meta.schema_level()
    }
}

async fn gather_facts(ctx: &Ctx, settings: &PhaseSettings) -> Result<Facts, Diagnostics> {
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
    let state = classify(&meta, &discovered.known);
    Ok(Facts {
        meta,
        known: discovered.known,
        state,
        source,
        runner_fallback_reason: discovered.runner_fallback_reason,
    })
}

/// Whether the result of an applied `phase` still holds.
fn result_holds(phase: MigrationPhase, state: &SchemaState) -> bool {
    match phase {
        MigrationPhase::Bootstrap => !state.needs_bootstrap,
        MigrationPhase::Up => state.is_up_to_date(),
        MigrationPhase::Finish => !state.needs_bootstrap && !state.has_pending(),
    }
}

/// Why an applied phase must run again, for the plan's warning.
fn drift_detail(phase: MigrationPhase, facts: &Facts) -> String {
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

fn plan_error_diagnostic(e: &PlanError) -> Diagnostic {
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

fn plan_warning_diagnostic(w: &PlanWarning) -> Diagnostic {
    let d = Diagnostic::warning("Kong migrations", w.to_string());
    match w {
        PlanWarning::ForcedUpSkipsNew(_) => d.at(AttrPath::root("force")),
        _ => d,
    }
}

fn lock_text(lock: &MigrationLock) -> String {
    format!(
        "node {} holds Kong's migration lock until {} ({}s from now)",
        lock.owner,
        lock.expires_at,
        lock.expires_in.as_secs()
    )
}

fn encode_migrations(to_run: &[PlannedSubsystem]) -> Value {
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
fn plan_run(
    settings: &PhaseSettings,
    facts: &Facts,
    planned: &mut Value,
    diags: &mut Diagnostics,
) -> Option<PhasePlan> {
    let plan = match plan_phase(
        &facts.state,
        &facts.known,
        settings.phase,
        settings.force,
        facts.schema_level(),
    ) {
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

fn destroy_plan() -> PlanResponse {
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
fn replaced_paths(prior: &Value, proposed: &Value) -> Vec<AttrPath> {
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

// -------------------------------------------------------------------- apply

/// How an apply run ended.
enum RunEnd {
    Done {
        plan: PhasePlan,
        /// Where the known migrations came from.
        source: &'static str,
        warnings: Diagnostics,
    },
    Failed {
        diags: Diagnostics,
        database_changed: bool,
    },
}

fn failed(diag: Diagnostic, database_changed: bool) -> RunEnd {
    RunEnd::Failed {
        diags: diag.into(),
        database_changed,
    }
}

fn same_schema(a: &SchemaMeta, b: &SchemaMeta) -> bool {
    a.needs_bootstrap == b.needs_bootstrap && a.subsystems == b.subsystems
}

fn cli_failure_diagnostic(
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

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn sleep_or_cancel(ctx: &Ctx, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = ctx.cancel.cancelled() => false,
    }
}

/// Re-reads the database after a run; `None` when that failed too.
async fn reread(settings: &PhaseSettings) -> Option<SchemaMeta> {
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
async fn prepare_run(
    ctx: &Ctx,
    settings: &PhaseSettings,
    planned: &Value,
) -> Result<(Facts, PhasePlan), RunEnd> {
    let facts = gather_facts(ctx, settings)
        .await
        .map_err(|diags| RunEnd::Failed {
            diags,
            database_changed: false,
        })?;
    let planned_list = planned.attr("migrations_to_run");
    let plan = plan_phase(
        &facts.state,
        &facts.known,
        settings.phase,
        settings.force,
        facts.schema_level(),
    )
    .map_err(|e| {
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
enum Attempt {
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
async fn run_phase(
    ctx: &Ctx,
    settings: &PhaseSettings,
    planned: &Value,
    deadline: Instant,
) -> RunEnd {
    let (facts, plan) = match prepare_run(ctx, settings, planned).await {
        Ok(ready) => ready,
        Err(end) => return end,
    };
    if plan.is_noop() {
        tracing::info!(phase = %plan.phase, "nothing to run");
        return RunEnd::Done {
            plan,
            source: facts.source,
            warnings: Diagnostics::new(),
        };
    }
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        match attempt(ctx, settings, &facts, &plan, deadline).await {
            Attempt::Verified(warnings) => {
                return RunEnd::Done {
                    plan,
                    source: facts.source,
                    warnings,
                }
            }
            Attempt::Failed {
                diag,
                database_changed,
            } => return failed(diag, database_changed),
            Attempt::LockHeld {
                lock,
                database_changed,
            } => {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining <= delay {
                    return failed(
                        lock_stayed_held(settings.phase, lock.as_ref()),
                        database_changed,
                    );
                }
                tracing::info!(
                    ?lock,
                    ?delay,
                    "Kong's migration lock is held by another node; retrying"
                );
                if !sleep_or_cancel(ctx, delay).await {
                    let interrupted = Diagnostic::error(
                        "Interrupted",
                        "Terraform asked the provider to stop while it waited for Kong's migration lock. Nothing was run.",
                    );
                    return failed(interrupted, database_changed);
                }
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
    }
}

/// One run of `kong migrations <phase>`, then `schema_meta` read again.
async fn attempt(
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
        (_, Err(e)) => fail(Diagnostic::error(
            "The migration phase did not take effect",
            format!("{e}. The kong CLI exited {}.", output.exit_code),
        )),
    }
}

fn lock_stayed_held(phase: MigrationPhase, lock: Option<&MigrationLock>) -> Diagnostic {
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

fn describe_planned(to_run: &[PlannedSubsystem]) -> String {
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

fn describe_value(list: &Value) -> String {
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

// ----------------------------------------------------------------- resource

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
        let facts = match gather_facts(ctx, &settings).await {
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
        match run_phase(ctx, &settings, &planned, deadline).await {
            RunEnd::Done {
                plan,
                source,
                warnings,
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
                    private: req.private,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{KnownMigration, KnownSource, KnownSubsystem, SubsystemRow};

    #[test]
    fn import_ids_round_trip_through_the_id_attribute() {
        for id in [
            "db.internal:5432/kong/up@3.6.1",
            "10.0.0.7:6432/kong_prod/kong_s/finish@3.4.2",
            "[::1]:5432/kong/bootstrap@3.4.2",
        ] {
            let target = parse_import_id(id).unwrap();
            let state = imported_state(&target).unwrap();
            assert_eq!(state.attr("id").as_str(), Some(id), "{id}");
        }
        let t = parse_import_id("[::1]:5432/kong/bootstrap@3.4.2").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.phase),
            ("::1", 5432, MigrationPhase::Bootstrap)
        );
    }

    #[test]
    fn bad_import_ids_say_what_is_expected() {
        for id in [
            "kong/up@3.6.1",
            "db:5432/kong/up",
            "db:0/kong/up@3.6.1",
            "db:5432/kong/reset@3.6.1",
            "db:5432/up@3.6.1",
            "db:5432/kong/up@three",
        ] {
            let e = parse_import_id(id).unwrap_err();
            assert!(
                e.contains("expected host:port/database/phase@target_version"),
                "{id}: {e}"
            );
        }
    }

    #[test]
    fn the_id_follows_the_configuration_with_kong_defaults() {
        let state = imported_state(&parse_import_id("db:5432/kong/up@3.6.1").unwrap()).unwrap();
        let mut config = state.clone();
        let mut db = config.attr("database").clone();
        db.set_attr("port", Value::Null);
        db.set_attr("database", Value::Null);
        config.set_attr("database", db.clone());
        assert_eq!(id_of(&config).as_deref(), Some("db:5432/kong/up@3.6.1"));
        db.set_attr("host", Value::Unknown);
        config.set_attr("database", db);
        assert_eq!(id_of(&config), None, "unknown while the host is");
    }

    fn known() -> KnownMigrations {
        let subsystem = |name: &str, names: &[(&str, bool)]| KnownSubsystem {
            name: name.into(),
            migrations: names
                .iter()
                .map(|(n, t)| KnownMigration {
                    name: (*n).into(),
                    has_teardown: Some(*t),
                })
                .collect(),
        };
        KnownMigrations {
            kong_version: "3.6.1".into(),
            subsystems: vec![
                subsystem("core", &[("000", false), ("022", false)]),
                subsystem("acme", &[("003", true)]),
            ],
            source: KnownSource::Catalog {
                provenance: "test".into(),
            },
        }
    }

    fn row(subsystem: &str, last: &str, executed: &[&str], pending: &[&str]) -> SubsystemRow {
        SubsystemRow {
            subsystem: subsystem.into(),
            last_executed: Some(last.into()),
            executed: executed.iter().map(|s| (*s).into()).collect(),
            pending: pending.iter().map(|s| (*s).into()).collect(),
        }
    }

    #[test]
    fn a_phase_result_holds_until_its_own_work_is_undone() {
        let known = known();
        let fresh = classify(
            &SchemaMeta {
                needs_bootstrap: true,
                ..Default::default()
            },
            &known,
        );
        let at_34 = classify(
            &SchemaMeta {
                subsystems: vec![row("core", "000", &["000"], &[])],
                ..Default::default()
            },
            &known,
        );
        let after_up = classify(
            &SchemaMeta {
                subsystems: vec![
                    row("core", "022", &["000", "022"], &[]),
                    row("acme", "", &[], &["003"]),
                ],
                ..Default::default()
            },
            &known,
        );
        let finished = classify(
            &SchemaMeta {
                subsystems: vec![
                    row("core", "022", &["000", "022"], &[]),
                    row("acme", "003", &["003"], &[]),
                ],
                ..Default::default()
            },
            &known,
        );
        use MigrationPhase::{Bootstrap, Finish, Up};
        assert!(!result_holds(Bootstrap, &fresh));
        assert!(result_holds(Bootstrap, &at_34));
        assert!(!result_holds(Up, &at_34), "restored to before the up");
        assert!(result_holds(Up, &after_up));
        assert!(
            result_holds(Up, &finished),
            "a finish after the up is progress, not drift"
        );
        assert!(!result_holds(Finish, &after_up));
        assert!(result_holds(Finish, &finished));
    }

    #[test]
    fn schema_attributes_match_what_plan_and_apply_write() {
        let ty = schema().value_type();
        let Type::Object(attrs) = ty else {
            panic!("object")
        };
        assert_eq!(attrs["migrations_to_run"], migrations_type());
        let list = encode_migrations(&[]);
        assert_eq!(list, Value::List(vec![]));
        assert!(tfplug::value::to_msgpack(&list, &migrations_type()).is_ok());
    }

    #[test]
    fn configuration_checks_point_at_the_attribute() {
        let mut config = Value::from_json(&serde_json::json!({}), &schema().value_type()).unwrap();
        config.set_attr("phase", "reset".into());
        config.set_attr("target_version", "three.six".into());
        config.set_attr("lock_timeout", Value::from(0i64));
        let paths: Vec<String> = validate_config(&config, true)
            .iter()
            .filter_map(|d| d.path.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, ["phase", "target_version", "lock_timeout"]);
    }
}
