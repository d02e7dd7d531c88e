//! `DB:run_migrations` of `kong/db/init.lua`: each step's SQL in its own
//! transaction, then a separate statement records it in `schema_meta` —
//! so a client-side timeout can leave a step applied but unrecorded, as in
//! Kong (issue #12978).

use super::state::{record_migration_sql, Group, RecordAs};
use super::steps::{step, ReleaseStep};
use super::test_catalog::extra_step;
use crate::log::CliLog;
use crate::pg::Pg;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub run_up: bool,
    pub run_teardown: bool,
    /// (subsystem, name) whose teardown must not run (`up -f` keeps pending
    /// migrations pending).
    pub skip_teardown: Vec<(&'static str, &'static str)>,
}

/// Test-only switches, read from the environment so a test can make a real
/// run slow or fail without changing the command line it exercises.
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    /// `KONGSIM_TEST_MIGRATION_DELAY_MS`: every step sleeps this long inside
    /// its transaction (server-side `pg_sleep`, so `--db-timeout` applies).
    pub step_delay: Option<Duration>,
    /// `KONGSIM_TEST_FAIL_MIGRATION=<subsystem>/<name>`: that step raises an
    /// SQL error.
    pub fail: Option<(String, String)>,
}

impl TestHooks {
    pub fn from_env() -> Self {
        let step_delay = std::env::var("KONGSIM_TEST_MIGRATION_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let fail = std::env::var("KONGSIM_TEST_FAIL_MIGRATION")
            .ok()
            .and_then(|v| {
                v.split_once('/')
                    .map(|(s, n)| (s.to_string(), n.to_string()))
            });
        Self { step_delay, fail }
    }

    fn wrap(&self, subsystem: &str, name: &str, sql: &str) -> String {
        let mut body = String::new();
        if let Some(delay) = self.step_delay {
            body.push_str(&format!("SELECT pg_sleep({:.3});\n", delay.as_secs_f64()));
        }
        if self
            .fail
            .as_ref()
            .is_some_and(|(s, n)| s == subsystem && n == name)
        {
            body.push_str("DO $$ BEGIN RAISE EXCEPTION 'kongsim: injected failure'; END$$;\n");
        }
        body.push_str(sql);
        body
    }
}

pub struct Runner<'a> {
    pub pg: &'a Pg,
    pub log: CliLog,
    /// `pg_database`, for "migrating core on database 'kong'...".
    pub db_name: &'a str,
    pub hooks: &'a TestHooks,
}

impl Runner<'_> {
    pub async fn run(&self, groups: &[Group], opts: &RunOptions) -> Result<(), String> {
        let mut n_migrations = 0usize;
        let mut n_pending = 0usize;
        for group in groups {
            self.log.info(format!(
                "migrating {} on database '{}'...",
                group.subsystem, self.db_name
            ));
            for migration in &group.migrations {
                let step = step(group.subsystem, migration.name)
                    .or_else(|| extra_step(group.subsystem, migration.name))
                    .map(|s| s.as_in_release(migration.has_teardown))
                    .ok_or_else(|| {
                        format!(
                            "[PostgreSQL error] failed to load migration '{}': module not found",
                            migration.name
                        )
                    })?;
                self.log
                    .debug(format!("running migration: {}", migration.name));
                if opts.run_up {
                    self.run_up(group.subsystem, migration.name, &step).await?;
                    if step.teardown.is_some() {
                        n_pending += 1;
                    }
                }
                let skip = opts
                    .skip_teardown
                    .contains(&(group.subsystem, migration.name));
                if let (true, false, Some(teardown)) = (opts.run_teardown, skip, step.teardown) {
                    self.run_teardown(group.subsystem, migration.name, teardown)
                        .await?;
                    n_pending = n_pending.saturating_sub(1);
                }
                let label = if step.teardown.is_some() && !opts.run_teardown {
                    "(pending)"
                } else {
                    "(executed)"
                };
                self.log.info(format!(
                    "{} migrated up to: {} {}",
                    group.subsystem, migration.name, label
                ));
                n_migrations += 1;
            }
        }
        self.log.info(format!(
            "{} migration{} processed",
            n_migrations,
            if n_migrations > 1 { "s" } else { "" }
        ));
        let n_executed = n_migrations - n_pending;
        if n_executed > 0 {
            self.log.info(format!("{n_executed} executed"));
        }
        if n_pending > 0 {
            self.log.info(format!("{n_pending} pending"));
        }
        Ok(())
    }

    async fn run_up(&self, subsystem: &str, name: &str, step: &ReleaseStep) -> Result<(), String> {
        let mut sql = self.hooks.wrap(subsystem, name, step.up.trim());
        if !sql.ends_with(';') {
            sql.push(';');
        }
        if let Err(e) = self.pg.simple(&format!("BEGIN;\n{sql}\nCOMMIT;\n")).await {
            let _ = self.pg.simple("ROLLBACK;").await;
            return Err(format!(
                "[PostgreSQL error] failed to run migration '{name}' up: {e}"
            ));
        }
        let state = if step.teardown.is_some() {
            RecordAs::Pending
        } else {
            RecordAs::Executed
        };
        self.record(subsystem, name, state).await
    }

    async fn run_teardown(
        &self,
        subsystem: &str,
        name: &str,
        teardown: &str,
    ) -> Result<(), String> {
        let sql = self.hooks.wrap(subsystem, name, teardown.trim());
        if let Err(e) = self.pg.simple(&format!("BEGIN;\n{sql}\nCOMMIT;\n")).await {
            let _ = self.pg.simple("ROLLBACK;").await;
            return Err(format!(
                "[PostgreSQL error] failed to run migration '{name}' teardown: {e}"
            ));
        }
        self.record(subsystem, name, RecordAs::Teardown).await
    }

    async fn record(&self, subsystem: &str, name: &str, state: RecordAs) -> Result<(), String> {
        self.pg
            .simple(&record_migration_sql(subsystem, name, state))
            .await
            .map(|_| ())
            .map_err(|e| format!("[PostgreSQL error] failed to record migration '{name}': {e}"))
    }
}
