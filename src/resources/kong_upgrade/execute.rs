//! Runs the planner's steps, one at a time, recording each in the
//! checkpoint and the history before the next one starts. Executors only
//! execute: every decision was the planner's.

use super::config::{Intent, Settings};
use super::failpoint;
use super::journal::{Entry, Event, Journal};
use super::state::{HistoryEntry, Private};
use crate::gates::now_rfc3339;
use crate::kong::{KongClient, KongError};
use crate::migrations::{read_schema_state, DatabaseConfig, MigrationPhase};
use crate::planner::{
    BackupSource, FreezeGate, FreezeScope, MigrationDatabase, PlannedStep, StepKind, TrafficWeight,
};
use crate::steps::{backup, freeze, hooks, readiness, staging};
use crate::version::KongVersion;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tfplug::{AttrPath, Diagnostic};
use tokio_util::sync::CancellationToken;

mod migrations;
mod record;
mod traffic;

/// Why a step failed, with the attribute the user should look at.
pub struct StepFailure {
    pub attribute: Option<String>,
    pub summary: String,
    pub detail: String,
}

impl StepFailure {
    fn new(attribute: Option<&str>, summary: &str, detail: impl Into<String>) -> Self {
        StepFailure {
            attribute: attribute.map(str::to_string),
            summary: summary.to_string(),
            detail: detail.into(),
        }
    }

    pub fn diagnostic(&self, step: &PlannedStep) -> Diagnostic {
        let d = Diagnostic::error(
            format!("Upgrade step {:?} failed: {}", step.id.as_str(), self.summary),
            format!("{}\n\nThe steps completed before it are saved; fix the cause and apply again to resume from this step.", self.detail),
        );
        match &self.attribute {
            Some(a) => d.at(AttrPath::parse(a)),
            None => d,
        }
    }
}

pub struct Executor<'a> {
    /// Where Kong's report differed from the preview; become warnings.
    pub warnings: std::sync::Mutex<Vec<String>>,
    pub intent: &'a Intent,
    pub settings: &'a Settings,
    pub from: KongVersion,
    pub cancel: &'a CancellationToken,
    pub deadline: Instant,
    pub upgrade_id: String,
    pub journal: &'a Journal,
}

type StepResult = Result<String, StepFailure>;

impl Executor<'_> {
    fn remaining(&self) -> Duration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1))
    }

    /// Runs every step; stops at the first failure or cancellation. Returns
    /// the failure (if any) and the step it happened in. Each step is in
    /// the journal before it starts and after it ends: a step whose start
    /// cannot be recorded does not run.
    pub async fn run(
        &self,
        steps: &[PlannedStep],
        private: &mut Private,
        history: &mut Vec<HistoryEntry>,
    ) -> Option<(PlannedStep, StepFailure)> {
        for step in steps {
            if self.cancel.is_cancelled() {
                return Some((
                    step.clone(),
                    StepFailure::new(
                        None,
                        "interrupted",
                        "Terraform asked the provider to stop before this step started.",
                    ),
                ));
            }
            let started_at = now_rfc3339();
            tracing::info!(
                step = step.id.as_str(),
                "upgrade step starting: {}",
                step.describe()
            );
            let resumed = private.in_flight.as_ref() == Some(&step.kind);
            private.in_flight = Some(step.kind.clone());
            let started = Entry::new(step.id.as_str(), Event::Started, private);
            if let Err(e) = self.write(started, private).await {
                return Some((step.clone(), self.journal_failure(&e)));
            }
            let mut outcome = self.run_step(step, resumed, private).await;
            if outcome.is_ok() && failpoint::interrupted_after(&step.id, self.cancel).await {
                outcome = Err(StepFailure::new(
                    None,
                    "interrupted",
                    "Terraform asked the provider to stop after this step's effect and before it was recorded (test fault injection).",
                ));
            }
            let (result, detail) = match &outcome {
                Ok(detail) => ("ok", detail.clone()),
                Err(f) => ("failed", format!("{}: {}", f.summary, f.detail)),
            };
            let entry = HistoryEntry {
                step: step.id.as_str().to_string(),
                action: step.describe(),
                started_at,
                finished_at: now_rfc3339(),
                result: result.to_string(),
                detail,
            };
            history.push(entry.clone());
            match outcome {
                Ok(_) => {
                    private.checkpoint.record(&step.kind);
                    private.in_flight = None;
                    if let Err(e) = self.record_finished(step, entry, history, private).await {
                        return Some((step.clone(), self.journal_failure(&e)));
                    }
                }
                Err(f) => {
                    let mut failed = Entry::new(step.id.as_str(), Event::Failed, private);
                    failed.history = vec![entry];
                    if let Err(e) = self.write(failed, private).await {
                        tracing::warn!(error = %e, "cannot record the failed step in the journal");
                    }
                    return Some((step.clone(), f));
                }
            }
        }
        None
    }

    /// Runs one step. `resumed`: the previous apply stopped inside this
    /// step, so its effect may already have happened.
    async fn run_step(
        &self,
        step: &PlannedStep,
        resumed: bool,
        private: &mut Private,
    ) -> StepResult {
        match &step.kind {
            StepKind::RecordFreeze { scope } => self.record_freeze(*scope, private).await,
            StepKind::VerifyFreeze { before } => self.verify_freeze(*before, private).await,
            StepKind::Backup { source } => self.backup(*source, private).await,
            StepKind::RestoreIntoNewDatabase => self.restore(resumed, private).await,
            StepKind::RunHook { name } => self.hook(name, step, resumed).await,
            StepKind::StopClusterX { hook }
            | StepKind::StartClusterX { hook }
            | StepKind::StartClusterY { hook }
            | StepKind::DecommissionX { hook } => self.by_hook_or_wait(hook, step, resumed).await,
            StepKind::MigrationsUp { database } => {
                self.migrations(MigrationPhase::Up, *database).await
            }
            StepKind::MigrationsFinish { database } => {
                self.migrations(MigrationPhase::Finish, *database).await
            }
            StepKind::WaitReady => self.wait_ready().await,
            StepKind::StagingTests => self.staging_tests().await,
            StepKind::ShiftTraffic { to_weight } => self.shift_traffic(*to_weight, private).await,
            StepKind::TrafficBackToX => self.shift_traffic(TrafficWeight::ZERO, private).await,
            StepKind::ConfirmCutover => self.confirm_cutover(private).await,
            StepKind::Complete => Ok("upgrade complete: configuration writes may resume".into()),
        }
    }

    fn x_client(&self) -> Result<KongClient, StepFailure> {
        KongClient::new(
            &self.settings.cluster_x.admin_url,
            &self.settings.cluster_x.admin,
        )
        .map_err(|e| kong_failure("cluster_x.admin_url", &e))
    }

    async fn fingerprint(&self, scope: FreezeScope) -> Result<freeze::Fingerprint, StepFailure> {
        let client = self.x_client()?;
        match scope {
            FreezeScope::AdminApi => freeze::take(&client)
                .await
                .map_err(|e| kong_failure("cluster_x.admin_url", &e)),
            FreezeScope::DeclarativeConfig => {
                // DB-less nodes: the configuration hash stands for the whole config.
                let info = client
                    .node_info()
                    .await
                    .map_err(|e| kong_failure("cluster_x.admin_url", &e))?;
                let hash = info.configuration_hash.unwrap_or_default();
                let mut collections = BTreeMap::new();
                collections.insert(
                    "declarative_config".to_string(),
                    Some(BTreeMap::from([("hash".to_string(), hash)])),
                );
                Ok(freeze::Fingerprint {
                    collections,
                    settled: false,
                })
            }
        }
    }

    async fn record_freeze(&self, scope: FreezeScope, private: &mut Private) -> StepResult {
        let fp = self.fingerprint(scope).await?;
        let detail = format!(
            "fingerprint {} over {} entities",
            fp.digest(),
            fp.entity_count()
        );
        private.fingerprint = Some(fp);
        Ok(detail)
    }

    async fn verify_freeze(&self, before: FreezeGate, private: &Private) -> StepResult {
        let Some(frozen) = &private.fingerprint else {
            return Err(StepFailure::new(None, "no freeze fingerprint", "The freeze was not recorded in this state; re-import the upgrade or start it again."));
        };
        let scope = if frozen.collections.contains_key("declarative_config") {
            FreezeScope::DeclarativeConfig
        } else {
            FreezeScope::AdminApi
        };
        let now = self.fingerprint(scope).await?;
        let violation = freeze::compare(frozen, &now);
        if violation.is_empty() {
            return Ok(format!(
                "configuration unchanged since the freeze ({:?})",
                before
            ));
        }
        Err(StepFailure::new(
            Some("cluster_x.admin_url"),
            "configuration changed during the freeze",
            format!(
                "Admin API writes happened after the freeze ({violation}). X and Y would no longer see the same configuration. \
                 Undo the changes (or re-run the upgrade from a new freeze) before {before:?}."
            ),
        ))
    }

    fn backup_settings(&self) -> Result<&super::config::Backup, StepFailure> {
        self.intent.backup.as_ref().ok_or_else(|| {
            StepFailure::new(
                Some("backup"),
                "no backup block",
                "Set backup { directory = ... }.",
            )
        })
    }

    async fn backup(&self, source: BackupSource, private: &mut Private) -> StepResult {
        let settings = self.backup_settings()?;
        let failed = |e: backup::BackupError| {
            StepFailure::new(
                Some(settings.store.attribute()),
                "backup failed",
                e.to_string(),
            )
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let record = match source {
            BackupSource::Database => {
                let db = self.database(MigrationDatabase::Shared)?;
                let name = unused_name(
                    settings.store.directory(),
                    backup::backup_file_name(&db.database, &self.from.to_string(), now, "dump"),
                );
                settings
                    .store
                    .dump(&settings.pg_tools, db, &name, self.remaining(), self.cancel)
                    .await
                    .map_err(failed)?
            }
            BackupSource::DeclarativeConfig => {
                let text = match &settings.declarative_config_path {
                    Some(path) => std::fs::read_to_string(path).map_err(|e| {
                        StepFailure::new(
                            Some("backup.declarative_config_path"),
                            "cannot read the declarative configuration",
                            format!("{}: {e}", path.display()),
                        )
                    })?,
                    // No file named: back up what X serves, as Kong exports
                    // it from memory (`GET /config`).
                    None => {
                        let x = &self.settings.cluster_x;
                        let unreadable = |e: KongError| {
                            StepFailure::new(
                                Some("cluster_x.admin_url"),
                                "cannot read the declarative configuration from X",
                                format!("{e}. To back up the configuration file instead, set backup.declarative_config_path."),
                            )
                        };
                        KongClient::new(&x.admin_url, &x.admin)
                            .map_err(unreadable)?
                            .declarative_config()
                            .await
                            .map_err(unreadable)?
                    }
                };
                let name = unused_name(
                    settings.store.directory(),
                    backup::backup_file_name("declarative", &self.from.to_string(), now, "yml"),
                );
                settings
                    .store
                    .keep_text(&name, &text, self.remaining(), self.cancel)
                    .await
                    .map_err(failed)?
            }
        };
        // A backup is never replaced: the first one is the one taken before
        // anything irreversible, the one a rollback needs.
        if let Some(first) = &private.checkpoint.backup_location {
            return Ok(format!(
                "{} bytes written to {} ({}); backup_location keeps the first backup, {first}",
                record.bytes, record.location, record.tool
            ));
        }
        private.checkpoint.backup_location = Some(record.location.clone());
        Ok(format!(
            "{} bytes written to {} ({})",
            record.bytes, record.location, record.tool
        ))
    }

    async fn restore(&self, resumed: bool, private: &Private) -> StepResult {
        let Some(location) = &private.checkpoint.backup_location else {
            return Err(StepFailure::new(
                Some("backup"),
                "no backup to restore",
                "The backup step has not run.",
            ));
        };
        let target = self.database(MigrationDatabase::New)?;
        // The restore is one transaction: after an interrupted restore step
        // the new database holds all of the backup (schema_meta included,
        // as import's inference reads it) or nothing.
        if resumed
            && !read_schema_state(target)
                .await
                .map_err(|e| {
                    StepFailure::new(Some("new_database"), "restore failed", e.to_string())
                })?
                .needs_bootstrap
        {
            return Ok(format!(
                "resumed: the interrupted apply already restored {location} into {}",
                target.address()
            ));
        }
        let settings = self.backup_settings()?;
        let tools = &settings.pg_tools;
        settings
            .store
            .restore(tools, target, location, self.remaining(), self.cancel)
            .await
            .map_err(|e| StepFailure::new(Some("new_database"), "restore failed", e.to_string()))?;
        Ok(format!("restored {location} into {}", target.address()))
    }

    fn hook_env(&self, step: &PlannedStep) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "KONG_UPGRADE_STEP".to_string(),
                step.id.as_str().to_string(),
            ),
            ("KONG_UPGRADE_FROM".to_string(), self.from.to_string()),
            (
                "KONG_UPGRADE_TO".to_string(),
                self.intent.to_version.to_string(),
            ),
            ("KONG_UPGRADE_ID".to_string(), self.upgrade_id.clone()),
        ])
    }

    async fn hook(&self, name: &str, step: &PlannedStep, resumed: bool) -> StepResult {
        let Some(argv) = self.intent.hooks.get(name) else {
            return Err(StepFailure::new(
                Some("hooks"),
                "hook not configured",
                format!("hooks.{name} is not set"),
            ));
        };
        let mut env = self.hook_env(step);
        if resumed {
            // The previous apply stopped while this hook's step ran: a hook
            // that is not idempotent can tell.
            env.insert("KONG_UPGRADE_RESUMED".to_string(), "1".to_string());
        }
        let out = hooks::run_hook(name, argv, &env, self.remaining(), self.cancel)
            .await
            .map_err(|e| {
                StepFailure::new(
                    Some(&format!("hooks[\"{name}\"]")),
                    "hook failed",
                    e.to_string(),
                )
            })?;
        let tail = out
            .lines
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|l| l.text.clone())
            .collect::<Vec<_>>()
            .join(" | ");
        Ok(format!(
            "hook {name:?} exited 0 after {:.1}s{}",
            out.duration.as_secs_f64(),
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {tail}")
            }
        ))
    }

    /// Runs the hook that performs a start/stop, or waits until the cluster
    /// answers (or stops answering) when someone else does it.
    /// (A resumed step whose hook already did its work never gets here:
    /// [`reconcile_in_flight`] recorded it before planning.)
    async fn by_hook_or_wait(
        &self,
        hook: &Option<String>,
        step: &PlannedStep,
        resumed: bool,
    ) -> StepResult {
        let Some((admin_url, expect)) =
            cluster_goal(&step.kind, self.settings, self.from, self.intent.to_version)
        else {
            return Err(StepFailure::new(
                None,
                "not a start or stop step",
                format!("{:?} has no cluster to wait for", step.id.as_str()),
            ));
        };
        let settings = &self.settings.cluster_x.admin;
        let mut detail = String::new();
        if let Some(name) = hook {
            detail = self.hook(name, step, resumed).await?;
        }
        // A cluster that has not started (or stopped) ten minutes after its
        // hook returned will not: fail instead of waiting out a long timeout.
        let deadline = self.deadline.min(Instant::now() + START_STOP_WAIT);
        loop {
            // Judged by version, not by "something answers": in-place, Y
            // often takes over X's address.
            if expect.met(running_version(admin_url, settings).await) {
                let sep = if detail.is_empty() { "" } else { "; " };
                return Ok(format!("{detail}{sep}{admin_url}: {}", expect.describe()));
            }
            if Instant::now() >= deadline {
                return Err(StepFailure::new(
                    None,
                    "timed out",
                    format!(
                        "{admin_url}: still not {} before the timeout",
                        expect.describe()
                    ),
                ));
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = self.cancel.cancelled() => return Err(StepFailure::new(None, "interrupted", "Terraform asked the provider to stop.")),
            }
        }
    }

    fn database(&self, which: MigrationDatabase) -> Result<&DatabaseConfig, StepFailure> {
        let attr = database_attribute(which);
        let db = match which {
            MigrationDatabase::Shared => self.settings.database.as_ref(),
            MigrationDatabase::New => self.settings.new_database.as_ref(),
        };
        db.ok_or_else(|| {
            StepFailure::new(
                Some(attr),
                "no database configured",
                format!("This step needs the {attr} block."),
            )
        })
    }

    async fn wait_ready(&self) -> StepResult {
        let y = &self.settings.cluster_y;
        readiness::wait_until_ready(
            &y.nodes,
            &y.admin,
            &self.intent.to_version,
            self.remaining(),
            self.cancel,
        )
        .await
        .map_err(|e| {
            StepFailure::new(
                Some("cluster_y.admin_url"),
                "cluster Y is not ready",
                e.to_string(),
            )
        })?;
        Ok(format!(
            "{} node(s) of Y ready on {}",
            y.nodes.len(),
            self.intent.to_version
        ))
    }

    async fn staging_tests(&self) -> StepResult {
        let (Some(x), Some(y)) = (
            &self.settings.cluster_x.proxy_url,
            &self.settings.cluster_y.proxy_url,
        ) else {
            return Err(StepFailure::new(
                Some("cluster_y.proxy_url"),
                "no proxy URLs",
                "Staging tests need cluster_x.proxy_url and cluster_y.proxy_url.",
            ));
        };
        let results = staging::run(x, y, &self.intent.staging, Duration::from_secs(10)).await;
        let failed: Vec<String> = results
            .iter()
            .filter(|r| !r.passed())
            .map(|r| format!("{}: {}", r.name, r.differences.join("; ")))
            .collect();
        if failed.is_empty() {
            Ok(format!("{} staging test(s): X and Y agree", results.len()))
        } else {
            Err(StepFailure::new(
                Some("staging_test"),
                "staging tests failed",
                failed.join("\n"),
            ))
        }
    }
}

/// `name`, or `N-name` with the first N for which no file exists in
/// `dir`: a backup never overwrites another (a resumed backup step may
/// dump again within the same second).
/// A backup name no earlier backup in `dir` has. Names for an upload
/// command carry the time to the second (`backup_file_name`), and the
/// journal keeps the first backup's location, so those are never reused.
fn unused_name(dir: Option<&std::path::Path>, name: String) -> String {
    let Some(dir) = dir else { return name };
    (1..)
        .map(|n: u32| {
            if n == 1 {
                name.clone()
            } else {
                format!("{n}-{name}")
            }
        })
        .find(|candidate| !dir.join(candidate).exists())
        .unwrap_or(name)
}

fn database_attribute(which: MigrationDatabase) -> &'static str {
    match which {
        MigrationDatabase::Shared => "database",
        MigrationDatabase::New => "new_database",
    }
}

/// Records the step an interrupted apply was inside when the world shows it
/// took effect: a start or stop whose cluster already is where the step
/// aimed. Runs before planning, so the plan neither repeats the step (its
/// hook would start Y twice or kill a gone X) nor the gates in front of it
/// (a decommissioned X cannot answer a freeze check).
pub async fn reconcile_in_flight(
    private: &mut Private,
    settings: &Settings,
    from: KongVersion,
    to: KongVersion,
) {
    let Some(kind) = private.in_flight.clone() else {
        return;
    };
    let Some((admin_url, expect)) = cluster_goal(&kind, settings, from, to) else {
        return;
    };
    if expect.met(running_version(admin_url, &settings.cluster_x.admin).await) {
        tracing::info!(
            step = kind.id().as_str(),
            "the interrupted apply's step took effect: {}",
            expect.describe()
        );
        private.checkpoint.record(&kind);
        private.in_flight = None;
    }
}

/// Where a start or stop step's cluster answers, and what it must report
/// there once the step took effect; `None` for other steps.
fn cluster_goal<'a>(
    kind: &StepKind,
    settings: &'a Settings,
    from: KongVersion,
    to: KongVersion,
) -> Option<(&'a str, Expect)> {
    let x = settings.cluster_x.admin_url.as_str();
    match kind {
        StepKind::StopClusterX { .. } | StepKind::DecommissionX { .. } => {
            Some((x, Expect::Gone(from)))
        }
        StepKind::StartClusterX { .. } => Some((x, Expect::Running(from))),
        StepKind::StartClusterY { .. } => {
            Some((settings.cluster_y.admin_url.as_str(), Expect::Running(to)))
        }
        _ => None,
    }
}

/// The version a cluster's Admin API reports, if it answers.
async fn running_version(
    admin_url: &str,
    settings: &crate::kong::AdminSettings,
) -> Option<KongVersion> {
    let client = KongClient::new(admin_url, settings).ok()?;
    client.node_info().await.ok().map(|n| n.version)
}

/// Longest wait for a cluster to start or stop once its hook returned.
const START_STOP_WAIT: Duration = Duration::from_secs(600);

/// What a start or stop step waits for at a cluster's Admin API.
#[derive(Clone, Copy)]
enum Expect {
    /// A node answers and runs this version.
    Running(KongVersion),
    /// No node of this version answers any more (nothing, or another version).
    Gone(KongVersion),
}

impl Expect {
    fn met(self, running: Option<KongVersion>) -> bool {
        match self {
            Expect::Running(v) => running == Some(v),
            Expect::Gone(v) => running != Some(v),
        }
    }

    fn describe(self) -> String {
        match self {
            Expect::Running(v) => format!("Kong {v} answers"),
            Expect::Gone(v) => format!("no Kong {v} answers any more"),
        }
    }
}

/// An Admin API failure in a step: the same summary as everywhere else
/// (`KongError::summary`), behind the step's own prefix.
fn kong_failure(attribute: &str, e: &KongError) -> StepFailure {
    StepFailure::new(Some(attribute), e.summary(), e.to_string())
}
