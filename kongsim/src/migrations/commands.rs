//! `kong migrations bootstrap|up|finish|list|status|reset`, following
//! `kong/cmd/migrations.lua` and `kong/cmd/utils/migrations.lua`: the same
//! messages, the same exit codes (list 0/3/4/5, everything else 0 or 1),
//! the same lock behaviour.

use super::lock::{self, Acquired, LockOptions};
use super::run::{RunOptions, Runner, TestHooks};
use super::state::{self, format_groups, Group, SchemaState};
use crate::conf::KongConf;
use crate::log::{CliLog, Level};
use crate::pg::{escape_identifier, escape_literal, Pg, PgSettings};
use crate::version::KongVersion;
use kong_catalog::Subsystem;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

pub const NOT_LEADER_MSG: &str = "aborted: another node is performing database changes";
pub const NEEDS_BOOTSTRAP_MSG: &str = "Database needs bootstrapping or is older than Kong 1.0.\n\n\
To start a new installation from scratch, run 'kong migrations bootstrap'.\n\n\
To migrate from a version older than 1.0, migrated to Kong 1.5.0 first. \n\
If you still have 'apis' entities, you can convert them to Routes and Services\n\
using the 'kong migrations migrate-apis' command in Kong 1.5.0.\n\n";
const PENDING_AFTER_UP_MSG: &str =
    "\nDatabase has pending migrations; run 'kong migrations finish' when ready";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subcommand {
    Bootstrap,
    Up,
    Finish,
    List,
    Reset,
    Status,
}

impl Subcommand {
    /// The subcommands the given Kong version has (`status` arrived in 3.0).
    pub fn parse(name: &str, version: &KongVersion) -> Option<Self> {
        match name {
            "bootstrap" => Some(Self::Bootstrap),
            "up" => Some(Self::Up),
            "finish" => Some(Self::Finish),
            "list" => Some(Self::List),
            "reset" => Some(Self::Reset),
            "status" if version.major >= 3 => Some(Self::Status),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MigrationsArgs {
    pub subcommand: Subcommand,
    pub yes: bool,
    pub quiet: bool,
    pub force: bool,
    pub db_timeout_secs: Option<f64>,
    pub lock_timeout_secs: f64,
    pub conf: Option<PathBuf>,
    pub verbosity: Level,
}

/// Runs one `kong migrations` command and returns the process exit code.
pub async fn execute(version: &KongVersion, args: &MigrationsArgs) -> i32 {
    let log = CliLog::new(if args.quiet {
        Level::Quiet
    } else {
        args.verbosity
    });
    match execute_inner(version, args, log).await {
        Ok(code) => code,
        Err(message) => report_error(&message, args.verbosity < Level::Info),
    }
}

/// Kong's top-level error handler (`kong/cmd/init.lua`): stderr, exit 1,
/// printed even with `--quiet`.
pub fn report_error(message: &str, verbose: bool) -> i32 {
    let mut err = std::io::stderr().lock();
    if verbose {
        let _ = writeln!(err, "Error: {message}");
    } else {
        let _ = writeln!(
            err,
            "Error: {message}\n\n  Run with --v (verbose) or --vv (debug) for more details"
        );
    }
    1
}

/// Loads kong.conf and `KONG_*` the way every `kong` command does, and
/// applies `--db-timeout`.
pub fn pg_settings_for(
    version: &KongVersion,
    conf_path: Option<&std::path::Path>,
    db_timeout_secs: Option<f64>,
) -> Result<(KongConf, PgSettings), String> {
    let conf = KongConf::load(conf_path, std::env::vars()).map_err(|e| e.to_string())?;
    conf.validate().map_err(|e| e.to_string())?;
    let mut settings = conf.pg_settings().map_err(|e| e.to_string())?;
    // 2.8's flag defaulted to 60 s; 3.x only overrides pg_timeout when given.
    let timeout = match (db_timeout_secs, version.major < 3) {
        (Some(secs), _) => Some(secs),
        (None, true) => Some(60.0),
        (None, false) => None,
    };
    if let Some(secs) = timeout.filter(|s| *s > 0.0 && s.is_finite()) {
        settings.timeout = Duration::from_secs_f64(secs);
    }
    Ok((conf, settings))
}

/// `db:init_connector()`: the first query names what failed.
pub async fn connect_for_cli(settings: &PgSettings) -> Result<Pg, String> {
    let pg = Pg::connect(settings).await.map_err(|e| {
        format!("[PostgreSQL error] failed to retrieve PostgreSQL server_version_num: {e}")
    })?;
    pg.query("SELECT current_setting('server_version_num')", &[])
        .await
        .map_err(|e| {
            format!("[PostgreSQL error] failed to retrieve PostgreSQL server_version_num: {e}")
        })?;
    Ok(pg)
}

pub fn catalog_for(version: &KongVersion) -> Result<Vec<Subsystem>, String> {
    let subsystems = match kong_catalog::subsystems_for(&version.oss_triple()) {
        Err(e) => match super::test_catalog::stand_in_for_unknown_version() {
            Some(stand_in) => kong_catalog::subsystems_for(&stand_in),
            None => Err(e),
        },
        known => known,
    };
    subsystems
        .map(super::test_catalog::adjust)
        .map_err(|e| format!("kongsim: {e}"))
}

async fn execute_inner(
    version: &KongVersion,
    args: &MigrationsArgs,
    log: CliLog,
) -> Result<i32, String> {
    let (conf, settings) = pg_settings_for(version, args.conf.as_deref(), args.db_timeout_secs)?;
    if conf.database() == "off" {
        return Err(
            "kongsim: 'kong migrations' needs database = postgres (database = off has no schema)"
                .into(),
        );
    }
    let catalog = catalog_for(version)?;
    let pg = connect_for_cli(&settings).await?;
    let hooks = TestHooks::from_env();
    let ctx = Ctx {
        pg: &pg,
        log,
        catalog: &catalog,
        db_name: &settings.database,
        owner: uuid::Uuid::new_v4().to_string(),
        lock_timeout_secs: args.lock_timeout_secs,
        hooks: &hooks,
        version,
    };
    let state = ctx.reload().await?;
    match args.subcommand {
        Subcommand::List => Ok(list(&ctx, &state)),
        Subcommand::Status => status(&state),
        Subcommand::Bootstrap => bootstrap(&ctx, state, args.force).await,
        Subcommand::Up => up(&ctx, &state, args.force).await,
        Subcommand::Finish => finish(&ctx, &state, args.force).await,
        Subcommand::Reset => reset_command(&ctx, &state, args.yes).await,
    }
}

struct Ctx<'a> {
    pg: &'a Pg,
    log: CliLog,
    catalog: &'a [Subsystem],
    db_name: &'a str,
    /// Lock owner: a fresh id per CLI run, like `kong.node.get_id()` in the CLI.
    owner: String,
    lock_timeout_secs: f64,
    hooks: &'a TestHooks,
    version: &'a KongVersion,
}

impl Ctx<'_> {
    async fn reload(&self) -> Result<SchemaState, String> {
        self.log.verbose("retrieving database schema state...");
        let state = state::load(self.pg, self.catalog).await?;
        self.log.verbose("schema state retrieved");
        Ok(state)
    }

    fn runner(&self) -> Runner<'_> {
        Runner {
            pg: self.pg,
            log: self.log,
            db_name: self.db_name,
            hooks: self.hooks,
        }
    }

    async fn acquire(&self, no_wait: bool) -> Result<Acquired, String> {
        lock::acquire(
            self.pg,
            &self.owner,
            LockOptions {
                ttl_secs: self.lock_timeout_secs,
                no_wait,
            },
        )
        .await
    }

    /// Releases the lock after the callback, mapping a callback failure to
    /// Kong's "cluster_mutex callback threw an error".
    async fn finish_mutex<T>(&self, result: Result<T, String>) -> Result<T, String> {
        lock::release(self.pg, &self.owner).await;
        result.map_err(|e| format!("[PostgreSQL error] cluster_mutex callback threw an error: {e}"))
    }
}

fn list(ctx: &Ctx<'_>, state: &SchemaState) -> i32 {
    let log = ctx.log;
    if state.needs_bootstrap {
        log.info(NEEDS_BOOTSTRAP_MSG);
        return 3;
    }
    let mut sep = "";
    if !state.executed.is_empty() {
        log.info(format!(
            "Executed migrations:\n{}",
            format_groups(&state.executed)
        ));
        sep = "\n";
    }
    if !state.pending.is_empty() {
        log.info(format!(
            "{sep}Pending migrations:\n{}",
            format_groups(&state.pending)
        ));
        sep = "\n";
    }
    if !state.new.is_empty() {
        log.info(format!(
            "{sep}New migrations available:\n{}",
            format_groups(&state.new)
        ));
        sep = "\n";
    }
    if !state.pending.is_empty() && !state.new.is_empty() {
        if !sep.is_empty() {
            log.info("");
        }
        log.warn(format!(
            "Database has pending migrations from a previous upgrade, and new migrations from this upgrade (version {})",
            ctx.version
        ));
        log.info(
            "\nRun 'kong migrations finish' when ready to complete pending migrations (postgres database will be incompatible with the previous Kong version)",
        );
        return 4;
    }
    if !state.pending.is_empty() {
        log.info("\nRun 'kong migrations finish' when ready");
        return 4;
    }
    if !state.new.is_empty() {
        log.info("\nRun 'kong migrations up' to proceed");
        return 5;
    }
    0
}

/// `kong migrations status`: the state as JSON on stdout, empty keys left
/// out. Kong's code converts executed/pending/new entries to names but not
/// missing ones, so cjson receives whole migration modules there: it fails
/// on a module with a teardown function and otherwise prints the module
/// (name and SQL). kongsim reproduces both.
fn status(state: &SchemaState) -> Result<i32, String> {
    let mut out = serde_json::Map::new();
    out.insert("needs_bootstrap".into(), state.needs_bootstrap.into());
    for (key, groups) in [
        ("executed_migrations", &state.executed),
        ("pending_migrations", &state.pending),
        ("new_migrations", &state.new),
    ] {
        if !groups.is_empty() {
            out.insert(key.into(), groups_as_names(groups));
        }
    }
    if !state.missing.is_empty() {
        out.insert(
            "missing_migrations".into(),
            missing_as_modules(&state.missing)?,
        );
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", serde_json::Value::Object(out));
    let _ = stdout.flush();
    Ok(0)
}

fn groups_as_names(groups: &[Group]) -> serde_json::Value {
    groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "subsystem": g.subsystem,
                "namespace": g.namespace(),
                "migrations": g.migrations.iter().map(|m| m.name).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn missing_as_modules(groups: &[Group]) -> Result<serde_json::Value, String> {
    if groups
        .iter()
        .flat_map(|g| &g.migrations)
        .any(|m| m.has_teardown)
    {
        return Err("Cannot serialise function: type not supported".into());
    }
    Ok(groups
        .iter()
        .map(|g| {
            let modules: Vec<serde_json::Value> = g
                .migrations
                .iter()
                .map(|m| {
                    let up = super::steps::step(g.subsystem, m.name).map(|s| s.up).unwrap_or_default();
                    serde_json::json!({ "name": m.name, "postgres": { "up": up } })
                })
                .collect();
            serde_json::json!({ "subsystem": g.subsystem, "namespace": g.namespace(), "migrations": modules })
        })
        .collect())
}

async fn bootstrap(ctx: &Ctx<'_>, mut state: SchemaState, force: bool) -> Result<i32, String> {
    if force {
        reset(ctx, &state).await?;
        state = ctx.reload().await?;
    }
    if !state.needs_bootstrap {
        ctx.log.info("Database already bootstrapped");
        return Ok(0);
    }
    ctx.log.info("Bootstrapping database...");
    schema_bootstrap(ctx.pg)
        .await
        .map_err(|e| format!("[PostgreSQL error] failed to bootstrap database: {e}"))?;
    match ctx.acquire(true).await? {
        Acquired::NotLeader => {
            ctx.log.info(NOT_LEADER_MSG);
            Ok(0)
        }
        Acquired::Yes => {
            let opts = RunOptions {
                run_up: true,
                run_teardown: true,
                ..Default::default()
            };
            let mut result = ctx.runner().run(&state.new, &opts).await;
            if result.is_ok() {
                result = enterprise_tables(ctx).await;
            }
            ctx.finish_mutex(result).await?;
            ctx.log.info("Database is up-to-date");
            Ok(0)
        }
    }
}

async fn up(ctx: &Ctx<'_>, state: &SchemaState, force: bool) -> Result<i32, String> {
    if state.needs_bootstrap {
        return Err(format!("Cannot run migrations: {NEEDS_BOOTSTRAP_MSG}"));
    }
    if !force && !state.pending.is_empty() {
        return Err("Database has pending migrations; run 'kong migrations finish'".into());
    }
    match ctx.acquire(false).await? {
        Acquired::NotLeader => {
            ctx.log.info(NOT_LEADER_MSG);
            Ok(0)
        }
        Acquired::Yes => {
            let result = up_locked(ctx, force).await;
            ctx.finish_mutex(result).await?;
            Ok(0)
        }
    }
}

async fn up_locked(ctx: &Ctx<'_>, force: bool) -> Result<(), String> {
    let mut state = ctx.reload().await?;
    if !force && !state.pending.is_empty() {
        return Err("Database has pending migrations; run 'kong migrations finish'".into());
    }
    enterprise_tables(ctx).await?;
    if force && !state.executed.is_empty() {
        ctx.log.debug(format!(
            "forcing re-execution of these migrations:\n{}",
            format_groups(&state.executed)
        ));
        let skip = state
            .pending
            .iter()
            .flat_map(|g| {
                g.migrations
                    .iter()
                    .filter(|m| m.has_teardown)
                    .map(move |m| (g.subsystem, m.name))
            })
            .collect();
        let opts = RunOptions {
            run_up: true,
            run_teardown: true,
            skip_teardown: skip,
        };
        ctx.runner().run(&state.executed, &opts).await?;
        state = ctx.reload().await?;
        if !state.pending.is_empty() {
            ctx.log.info(PENDING_AFTER_UP_MSG);
            return Ok(());
        }
    }
    if state.new.is_empty() {
        if !force {
            ctx.log.info("Database is already up-to-date");
        }
        return Ok(());
    }
    ctx.log
        .debug(format!("migrations to run:\n{}", format_groups(&state.new)));
    ctx.runner()
        .run(
            &state.new,
            &RunOptions {
                run_up: true,
                ..Default::default()
            },
        )
        .await?;
    let state = ctx.reload().await?;
    if !state.pending.is_empty() {
        ctx.log.info(PENDING_AFTER_UP_MSG);
    }
    Ok(())
}

async fn finish(ctx: &Ctx<'_>, state: &SchemaState, force: bool) -> Result<i32, String> {
    if state.needs_bootstrap {
        return Err(format!("Cannot run migrations: {NEEDS_BOOTSTRAP_MSG}"));
    }
    match ctx.acquire(true).await? {
        Acquired::NotLeader => {
            ctx.log.info(NOT_LEADER_MSG);
            Ok(0)
        }
        Acquired::Yes => {
            let result = finish_locked(ctx, force).await;
            ctx.finish_mutex(result).await?;
            Ok(0)
        }
    }
}

async fn finish_locked(ctx: &Ctx<'_>, force: bool) -> Result<(), String> {
    let mut state = ctx.reload().await?;
    if force && !state.executed.is_empty() {
        let opts = RunOptions {
            run_up: true,
            run_teardown: true,
            ..Default::default()
        };
        ctx.runner().run(&state.executed, &opts).await?;
        state = ctx.reload().await?;
    }
    if !state.pending.is_empty() {
        ctx.log.debug(format!(
            "pending migrations to finish:\n{}",
            format_groups(&state.pending)
        ));
        ctx.runner()
            .run(
                &state.pending,
                &RunOptions {
                    run_teardown: true,
                    ..Default::default()
                },
            )
            .await?;
        state = ctx.reload().await?;
    }
    if !state.new.is_empty() {
        ctx.log
            .info("\nNew migrations available; run 'kong migrations up' to proceed");
        return Ok(());
    }
    // Kong checks the state re-read after the teardowns, so this line is
    // printed after a successful finish too.
    if !force && state.pending.is_empty() {
        ctx.log.info("No pending migrations to finish");
    }
    Ok(())
}

async fn reset_command(ctx: &Ctx<'_>, state: &SchemaState, yes: bool) -> Result<i32, String> {
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err("not a tty: invoke 'reset' non-interactively with the --yes flag".into());
        }
        if !state.needs_bootstrap && !confirm("Are you sure? This operation is irreversible.") {
            ctx.log.info("cancelled");
            return Ok(0);
        }
    }
    Ok(if reset(ctx, state).await? { 0 } else { 1 })
}

fn confirm(question: &str) -> bool {
    let stdin = std::io::stdin();
    for _ in 0..3 {
        print!("> {question} [y/n] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        if stdin.lock().read_line(&mut answer).is_err() {
            return false;
        }
        match answer.trim() {
            "y" | "Y" | "yes" | "YES" => return true,
            "n" | "N" | "no" | "NO" => return false,
            _ => {}
        }
    }
    false
}

/// `migrations_utils.reset`: `Ok(false)` when there was nothing to reset or
/// another node holds the lock.
async fn reset(ctx: &Ctx<'_>, state: &SchemaState) -> Result<bool, String> {
    if state.needs_bootstrap {
        ctx.log.info("Database not bootstrapped, nothing to reset");
        return Ok(false);
    }
    // Kong keeps the lock row (no_cleanup): the reset drops the table it is in.
    let acquired = ctx.acquire(true).await;
    let locked_result = match acquired {
        Ok(Acquired::NotLeader) => {
            ctx.log.info(NOT_LEADER_MSG);
            return Ok(false);
        }
        Ok(Acquired::Yes) => {
            ctx.log.info("Resetting database...");
            schema_reset(ctx.pg)
                .await
                .map_err(|e| format!("[PostgreSQL error] cluster_mutex callback threw an error: [PostgreSQL error] {e}"))
        }
        Err(e) => Err(e),
    };
    match locked_result {
        Ok(()) => {
            ctx.log.info("Database successfully reset");
            Ok(true)
        }
        Err(e) => {
            ctx.log
                .error(format!("{e} - retrying without cluster lock"));
            ctx.log.info("Resetting database...");
            schema_reset(ctx.pg)
                .await
                .map_err(|e| format!("[PostgreSQL error] {e}"))?;
            ctx.log.info("Database successfully reset");
            Ok(true)
        }
    }
}

/// `schema_bootstrap` of Kong's connector: the schema, `schema_meta` and
/// `locks` (with `locks_ttl_idx`).
async fn schema_bootstrap(pg: &Pg) -> Result<(), String> {
    let schema = if pg.schema.is_empty() {
        "public"
    } else {
        pg.schema.as_str()
    };
    let create_schema = format!(
        "BEGIN;\n  DO $$\n  BEGIN\n    CREATE SCHEMA IF NOT EXISTS {id} AUTHORIZATION CURRENT_USER;\n    GRANT ALL ON SCHEMA {id} TO CURRENT_USER;\n  EXCEPTION WHEN insufficient_privilege THEN\n    NULL; -- perhaps the schema has been created already\n  END;\n  $$;\n  SET SCHEMA {lit};\nCOMMIT;",
        id = escape_identifier(schema),
        lit = escape_literal(schema)
    );
    pg.simple(&create_schema).await.map_err(|e| e.to_string())?;
    pg.simple(
        "CREATE TABLE IF NOT EXISTS schema_meta (\n  key            TEXT,\n  subsystem      TEXT,\n  last_executed  TEXT,\n  executed       TEXT[],\n  pending        TEXT[],\n\n  PRIMARY KEY (key, subsystem)\n);",
    )
    .await
    .map_err(|e| e.to_string())?;
    pg.simple(
        "BEGIN;\n  CREATE TABLE IF NOT EXISTS locks (\n    key    TEXT PRIMARY KEY,\n    owner  TEXT,\n    ttl    TIMESTAMP WITH TIME ZONE\n  );\n  CREATE INDEX IF NOT EXISTS locks_ttl_idx ON locks (ttl);\nCOMMIT;",
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// `reset_schema` of Kong's connector: drop and recreate the schema, or,
/// without the privilege to, drop every table in it.
async fn schema_reset(pg: &Pg) -> Result<(), String> {
    let schema = if pg.schema.is_empty() {
        "public"
    } else {
        pg.schema.as_str()
    };
    let sql = format!(
        "BEGIN;\n  DO $$\n  DECLARE\n    t RECORD;\n  BEGIN\n    DROP SCHEMA IF EXISTS {id} CASCADE;\n    CREATE SCHEMA IF NOT EXISTS {id} AUTHORIZATION CURRENT_USER;\n    GRANT ALL ON SCHEMA {id} TO CURRENT_USER;\n  EXCEPTION WHEN insufficient_privilege THEN\n    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = {lit} LOOP\n      EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident({lit}) || '.' || quote_ident(t.tablename) || ' CASCADE';\n    END LOOP;\n  END;\n  $$;\n  SET SCHEMA {lit};\nCOMMIT;",
        id = escape_identifier(schema),
        lit = escape_literal(schema)
    );
    pg.simple(&sql).await.map(|_| ()).map_err(|e| e.to_string())
}

/// The startup check of `kong start` (`check_state` plus its log lines):
/// refuses when the database needs bootstrapping or has new migrations,
/// starts with pending or missing ones.
pub async fn check_state_for_start(
    pg: &Pg,
    catalog: &[Subsystem],
    log: CliLog,
) -> Result<SchemaState, String> {
    let state = state::load(pg, catalog).await?;
    if !state.is_up_to_date() {
        if state.needs_bootstrap {
            return Err(NEEDS_BOOTSTRAP_MSG.to_string());
        }
        return Err("New migrations available; run 'kong migrations up' to proceed".into());
    }
    if !state.missing.is_empty() {
        log.warn(format!(
            "Database is missing some migrations:\n{}",
            format_groups(&state.missing)
        ));
    }
    if !state.pending.is_empty() {
        log.info(format!(
            "Database has pending migrations:\n{}",
            format_groups(&state.pending)
        ));
    }
    Ok(state)
}

/// Kong Enterprise's `consumer_groups` (see `CONSUMER_GROUPS` in the
/// server's entity definitions) and their members (`consumer_group_consumers`,
/// served by the server's `memberships.rs`), created by a Kong Enterprise (four-part
/// version) `bootstrap` or `up`. Kong Enterprise records its own
/// migrations for it; kongsim models only Kong OSS's (the Enterprise ones
/// are not public), so the table is made without a `schema_meta` entry.
const ENTERPRISE_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS "consumer_groups" (
  "id"          UUID PRIMARY KEY,
  "name"        TEXT UNIQUE,
  "tags"        TEXT[],
  "ws_id"       UUID REFERENCES workspaces (id),
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "updated_at"  TIMESTAMP WITH TIME ZONE
);
CREATE TABLE IF NOT EXISTS "consumer_group_consumers" (
  "consumer_group_id"  UUID REFERENCES consumer_groups (id) ON DELETE CASCADE,
  "consumer_id"        UUID REFERENCES consumers (id) ON DELETE CASCADE,
  "ws_id"              UUID REFERENCES workspaces (id),
  "created_at"         TIMESTAMP WITH TIME ZONE,
  PRIMARY KEY ("consumer_group_id", "consumer_id")
);
"#;

async fn enterprise_tables(ctx: &Ctx<'_>) -> Result<(), String> {
    if ctx.version.build.is_none() {
        return Ok(());
    }
    ctx.pg
        .simple(ENTERPRISE_TABLES)
        .await
        .map(|_| ())
        .map_err(|e| format!("[PostgreSQL error] {e}"))
}

/// `kong start --run-migrations`: the `up` logic, never `finish`.
pub async fn up_for_start(
    version: &KongVersion,
    pg: &Pg,
    catalog: &[Subsystem],
    db_name: &str,
    lock_timeout_secs: f64,
    log: CliLog,
) -> Result<(), String> {
    let hooks = TestHooks::from_env();
    let ctx = Ctx {
        pg,
        log,
        catalog,
        db_name,
        owner: uuid::Uuid::new_v4().to_string(),
        lock_timeout_secs,
        hooks: &hooks,
        version,
    };
    let state = ctx.reload().await?;
    if state.needs_bootstrap {
        return Err(format!("Cannot run migrations: {NEEDS_BOOTSTRAP_MSG}"));
    }
    up(&ctx, &state, false).await.map(|_| ())
}
