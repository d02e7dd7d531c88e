//! Runs the planner's steps, one at a time, recording each in the
//! checkpoint and the history before the next one starts. Executors only
//! execute: every decision was the planner's.

use super::config::{Intent, Settings};
use super::failpoint;
use super::state::{HistoryEntry, Private};
use crate::gates::now_rfc3339;
use crate::kong::{KongClient, KongError};
use crate::migrations::{read_schema_state, DatabaseConfig, KnownMigrations, MigrationPhase};
use crate::planner::{
    BackupSource, FreezeGate, FreezeScope, MigrationDatabase, PlannedStep, StepKind,
};
use crate::runner::MigrationCommand;
use crate::steps::{backup, freeze, hooks, migrate, readiness, staging};
use crate::traffic::{
    plan_shift, shift, SplitCheckError, SplitReader, TrafficDriver, TrafficWeight,
};
use crate::version::KongVersion;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tfplug::{AttrPath, Diagnostic};
use tokio_util::sync::CancellationToken;

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
    pub intent: &'a Intent,
    pub settings: &'a Settings,
    pub from: KongVersion,
    pub cancel: &'a CancellationToken,
    pub deadline: Instant,
    pub upgrade_id: String,
}

type StepResult = Result<String, StepFailure>;

impl Executor<'_> {
    fn remaining(&self) -> Duration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1))
    }

    /// Runs every step; stops at the first failure or cancellation. Returns
    /// the failure (if any) and the step it happened in.
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
            history.push(HistoryEntry {
                step: step.id.as_str().to_string(),
                action: step.describe(),
                started_at,
                finished_at: now_rfc3339(),
                result: result.to_string(),
                detail,
            });
            match outcome {
                Ok(_) => {
                    private.checkpoint.record(&step.kind);
                    private.in_flight = None;
                }
                Err(f) => return Some((step.clone(), f)),
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
            StepKind::ShiftTraffic { to_weight } => {
                self.shift_traffic(i64::from(to_weight.percent()), private)
                    .await
            }
            StepKind::TrafficBackToX => self.shift_traffic(0, private).await,
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
                let name =
                    backup::backup_file_name(&db.database, &self.from.to_string(), now, "dump");
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
                let name =
                    backup::backup_file_name("declarative", &self.from.to_string(), now, "yml");
                settings
                    .store
                    .keep_text(&name, &text, self.remaining(), self.cancel)
                    .await
                    .map_err(failed)?
            }
        };
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

    async fn migrations(&self, phase: MigrationPhase, which: MigrationDatabase) -> StepResult {
        let db = self.database(which)?;
        let Some(runner) = &self.settings.runner else {
            return Err(StepFailure::new(Some("runner"), "no runner configured", "Migrations run through the kong CLI of the target version: set runner { command { argv = [...] } }."));
        };
        let known =
            KnownMigrations::from_catalog(&self.intent.to_version.to_string()).map_err(|e| {
                StepFailure::new(Some("to_version"), "unknown migrations", e.to_string())
            })?;
        if phase == MigrationPhase::Up {
            let already = migrate::up_already_ran(db, &known).await.map_err(|e| {
                StepFailure::new(
                    Some(database_attribute(which)),
                    "cannot read schema_meta",
                    e.to_string(),
                )
            })?;
            if let Some(pending) = already {
                return Ok(format!(
                    "kong migrations up already ran: {pending} migration(s) await finish"
                ));
            }
        }
        let command = MigrationCommand {
            phase,
            force: false,
            db_timeout: None,
            lock_timeout: Duration::from_secs(60),
            conf_path: runner.conf_path.clone(),
        };
        let report = migrate::run_phase(
            runner.runner(),
            db,
            &known,
            &command,
            self.deadline,
            self.cancel,
        )
        .await
        .map_err(|e| {
            StepFailure::new(
                Some(database_attribute(which)),
                &format!("kong migrations {phase} failed"),
                e.to_string(),
            )
        })?;
        if report.plan.is_noop() {
            return Ok(format!("kong migrations {phase}: nothing to do"));
        }
        Ok(format!(
            "kong migrations {phase}: {} migration(s) in {:.1}s ({} attempt(s))",
            report.plan.migration_count(),
            report.duration.as_secs_f64(),
            report.attempts
        ))
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

    async fn shift_traffic(&self, to: i64, private: &mut Private) -> StepResult {
        if let Some(split) = &self.settings.traffic_split {
            return self.verify_split(split, to, private).await;
        }
        let Some(traffic) = &self.settings.traffic else {
            return Err(StepFailure::new(
                Some("traffic"),
                "no traffic block",
                "This step moves traffic: configure a traffic block.",
            ));
        };
        let to = TrafficWeight::new(to)
            .map_err(|e| StepFailure::new(Some("weight_y"), "invalid weight", e.to_string()))?;
        let current = traffic.driver.read_weights().await.map_err(|e| {
            StepFailure::new(
                Some("traffic"),
                "cannot read the load balancer",
                e.to_string(),
            )
        })?;
        let plan =
            plan_shift(current.y, to, &traffic.progression, traffic.on_failure).map_err(|e| {
                StepFailure::new(
                    Some(&format!("traffic.{}", e.attribute())),
                    "invalid traffic progression",
                    e.to_string(),
                )
            })?;
        let outcome = shift(
            &traffic.driver,
            &plan,
            &traffic.gates,
            self.cancel,
            |event| tracing::info!(?event, "traffic"),
        )
        .await;
        match outcome {
            Ok(o) => {
                set_checkpoint_weight(private, o.weights.y);
                if o.weights.y != to {
                    return Err(StepFailure::new(
                        None,
                        "interrupted",
                        format!("traffic stopped at {}% on Y", o.weights.y.percent()),
                    ));
                }
                Ok(format!(
                    "traffic {}% → {}% on Y in {} step(s)",
                    current.y.percent(),
                    to.percent(),
                    o.history.len()
                ))
            }
            Err(e) => {
                set_checkpoint_weight(private, e.weights.y);
                Err(StepFailure::new(
                    Some("traffic"),
                    "traffic shift stopped",
                    e.to_string(),
                ))
            }
        }
    }

    /// With `traffic_split_id` a kong_traffic_split owns the weights: a
    /// traffic step (rollback included) only checks that the split gives Y
    /// the share the phase needs, waiting briefly for an owner still moving
    /// it. The checkpoint records the split seen, as a refresh would.
    async fn verify_split(
        &self,
        split: &SplitReader,
        to: i64,
        private: &mut Private,
    ) -> StepResult {
        let wanted = TrafficWeight::new(to)
            .map_err(|e| StepFailure::new(Some("weight_y"), "invalid weight", e.to_string()))?;
        let bound = self
            .deadline
            .saturating_duration_since(Instant::now())
            .min(SPLIT_WAIT);
        match split.wait_for(wanted, bound, SPLIT_POLL, self.cancel).await {
            Ok(live) => {
                set_checkpoint_weight(private, live.y);
                Ok(format!(
                    "verified: the kong_traffic_split ({}) is at {live}; the upgrade moved no traffic",
                    split.kind()
                ))
            }
            Err(e) => {
                if let Some(live) = e.last_seen() {
                    set_checkpoint_weight(private, live.y);
                }
                Err(split_failure(&e, wanted, bound))
            }
        }
    }

    async fn confirm_cutover(&self, private: &Private) -> StepResult {
        if private.checkpoint.weight_y.percent() != 100 {
            return Err(StepFailure::new(
                Some("weight_y"),
                "not all traffic on Y",
                format!(
                    "Y has {}% of traffic",
                    private.checkpoint.weight_y.percent()
                ),
            ));
        }
        Ok("all traffic on Y; X kept for rollback until decommissioned".into())
    }
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

/// Longest wait for a kong_traffic_split (`traffic_split_id`) to reach the
/// weight a step needs. Terraform applies a referenced split before the
/// upgrade, so it is normally there at once; the wait covers an owner
/// applying it elsewhere at the same moment, not a forgotten apply.
const SPLIT_WAIT: Duration = Duration::from_secs(30);
const SPLIT_POLL: Duration = Duration::from_millis(500);

/// What to do about a kong_traffic_split that is not where the step needs
/// it; on `traffic_split_id`, since that split is what must change.
fn split_failure(e: &SplitCheckError, wanted: TrafficWeight, waited: Duration) -> StepFailure {
    let at = Some(crate::blocks::traffic::SPLIT_ID);
    match e {
        SplitCheckError::Mismatch { live, .. } if wanted == TrafficWeight::ZERO => StepFailure::new(
            at,
            "the traffic split still sends traffic to Y",
            format!(
                "The kong_traffic_split named by traffic_split_id is at {live}. A rollback needs all traffic on X, and this \
                 upgrade does not write weights it does not own: set that split's weight_y = 0 and apply (going down is \
                 immediate, without gates), then apply this upgrade again."
            ),
        ),
        SplitCheckError::Mismatch { live, .. } => {
            let fix = if live.y < wanted {
                format!(
                    "raise that split's weight_y to {} and apply it (with traffic_split_id = kong_traffic_split.NAME.id in \
                     the same configuration, Terraform applies it before this upgrade)",
                    wanted.percent()
                )
            } else {
                format!("lower that split's weight_y to {}", wanted.percent())
            };
            StepFailure::new(
                at,
                "the traffic split is not at this phase's weight",
                format!(
                    "The kong_traffic_split named by traffic_split_id is at {live} (after waiting {}s for it), and this phase \
                     needs {}% on Y. This upgrade does not move traffic it does not own: {fix}, or set this upgrade's \
                     target_phase and weight_y to where the split stands.",
                    waited.as_secs(),
                    wanted.percent()
                ),
            )
        }
        SplitCheckError::Unreadable(d) => {
            StepFailure::new(at, "cannot read the traffic split", d.to_string())
        }
        SplitCheckError::Cancelled { .. } => StepFailure::new(
            None,
            "interrupted",
            "Terraform asked the provider to stop while it waited for the traffic split.",
        ),
    }
}

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

/// The checkpoint follows what the load balancer really applied, even on
/// failure (a rollback leaves Y at 0).
fn set_checkpoint_weight(private: &mut Private, weight: TrafficWeight) {
    if let Ok(w) = crate::planner::WeightY::new(i64::from(weight.percent())) {
        private.checkpoint.weight_y = w;
    }
}

fn kong_failure(attribute: &str, e: &KongError) -> StepFailure {
    StepFailure::new(Some(attribute), "Kong Admin API error", e.to_string())
}
