//! `resource "kong_upgrade"`: Kong's upgrade runbooks as one resource.
//!
//! plan: read facts from the clusters, ask the pure planner which steps lead
//! from the checkpoint to `target_phase`, show them (`planned_steps`) or
//! refuse with a diagnostic on the attribute at fault.
//! apply: run those steps through the executors, recording each one in the
//! checkpoint (private state) and `history` as it completes; on failure or
//! Ctrl-C return the state reached plus the error, so the next apply
//! resumes.

mod config;
mod execute;
mod facts;
mod failpoint;
mod guards;
mod import;
mod journal;
mod precheck;
pub use journal::latest_pending_after_up;
pub use journal::SCHEMA as JOURNAL_SCHEMA;
mod reconcile;
mod rollback;
mod schema;
mod state;

use crate::planner::{
    self, Checkpoint, DeploymentFacts, Options, Plan, PlanError, PlanInput, Warning,
};
use crate::provider::ProviderState;
use crate::version::KongVersion;
use config::{Intent, Settings};
use guards::{refuse_if_under_way, refuse_unusable_backup_tools};
use reconcile::{
    adopt_journal, journal_of, show_adopted_progress, steps_changed_since_plan,
    with_journal_history,
};
use state::{
    history_from_state, history_value, steps_value, warnings_value, weight_after, HistoryEntry,
    Private,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tfplug::{
    async_trait, ApplyRequest, ApplyResponse, AttrPath, Ctx, Diagnostics, ImportId, ImportResponse,
    PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Value,
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub struct KongUpgrade {
    state: Arc<ProviderState>,
}

impl KongUpgrade {
    pub fn new(state: Arc<ProviderState>) -> Self {
        KongUpgrade { state }
    }
}

fn plan_errors(errors: Vec<PlanError>) -> Diagnostics {
    refusals(errors, None)
}

/// Why a tainted upgrade should be untainted rather than replaced: Terraform
/// taints a resource whose first apply failed, and replacing it means
/// destroying the upgrade in progress.
const UNTAINT_HINT: &str = "If Terraform plans to replace kong_upgrade because it is tainted (its first apply was interrupted or failed), do not let it start over: run `terraform untaint` on it, and the next apply resumes the upgrade from its last completed step.";

/// Refusals to destroy, with the way out of the tainted-replace case.
fn destroy_refused(errors: Vec<PlanError>) -> Diagnostics {
    refusals(errors, Some(UNTAINT_HINT))
}

/// The planner's errors as diagnostics on their attributes, each followed by
/// `hint` when given.
fn refusals(errors: Vec<PlanError>, hint: Option<&str>) -> Diagnostics {
    let mut d = Diagnostics::new();
    for e in errors {
        let detail = match hint {
            Some(h) => format!("{}\n\n{h}", e.message),
            None => e.message,
        };
        d.error_at(
            AttrPath::parse(e.field.attribute()),
            "Upgrade refused",
            detail,
        );
    }
    d
}

fn plan_warnings(warnings: &[Warning], diags: &mut Diagnostics) {
    for w in warnings {
        diags.warning_at(
            AttrPath::parse(w.field.attribute()),
            "Upgrade warning",
            w.message.clone(),
        );
    }
}

fn options(intent: &Intent) -> Options {
    Options {
        allow_downtime: intent.allow_downtime,
        accept_unsupported_path: intent.accept_unsupported_path,
        backup_enabled: intent.backup.as_ref().is_some_and(|b| b.enabled),
        staging_tests_configured: !intent.staging.is_empty(),
        traffic_configured: intent.traffic_configured,
        traffic_owned_by_split: intent.traffic_owned_by_split,
        traffic_steps: intent.traffic_steps.clone(),
        published_traffic: intent.published_traffic.clone(),
        hooks: intent.hook_names(),
    }
}

fn plan_input(
    intent: &Intent,
    from: KongVersion,
    facts: DeploymentFacts,
    checkpoint: Checkpoint,
) -> PlanInput {
    PlanInput {
        strategy: intent.strategy,
        from,
        to: intent.to_version,
        facts,
        checkpoint,
        target: intent.target,
        options: options(intent),
    }
}

/// Facts and from-version: read from X, or (when X no longer answers, e.g.
/// after it was decommissioned) the ones recorded at the last plan.
async fn gather(
    intent: &Intent,
    settings: &Settings,
    config: &Value,
    private: &Private,
    provider: &crate::kong::AdminSettings,
) -> Result<(KongVersion, DeploymentFacts), Diagnostics> {
    let second_db = intent.new_database_configured;
    let cp = config.attr("control_plane_admin_url").as_str();
    match facts::read(&settings.cluster_x, cp, second_db, provider).await {
        Ok(read) => {
            let from = intent
                .from_version
                .or(private.from_version)
                .unwrap_or(read.node.version);
            Ok((from, read.deployment))
        }
        Err((attr, e)) => match (&private.facts, intent.from_version.or(private.from_version)) {
            (Some(f), Some(from)) if private.checkpoint.x_may_be_gone() || stopping_x(private) => {
                tracing::info!(error = %e, "cluster X does not answer; using the facts recorded earlier");
                Ok((from, f.clone()))
            }
            _ => Err(crate::admin_api::error_diagnostic(AttrPath::parse(&attr), &e).into()),
        },
    }
}

/// The apply stopped inside a step that stops X: X not answering is its
/// effect (`execute::reconcile_in_flight` records it once the facts are in).
fn stopping_x(private: &Private) -> bool {
    matches!(
        private.in_flight,
        Some(planner::StepKind::StopClusterX { .. } | planner::StepKind::DecommissionX { .. })
    )
}

fn upgrade_id(config: &Value, prior: &Value) -> String {
    if let Some(id) = prior.attr("id").as_str() {
        return id.to_string();
    }
    format!(
        "{}:{}:{}",
        config.attr("strategy").as_str().unwrap_or_default(),
        config
            .attr("cluster_x")
            .attr("admin_url")
            .as_str()
            .unwrap_or_default(),
        config.attr("to_version").as_str().unwrap_or_default()
    )
}

/// The planned state: the configuration plus what the planner says.
fn planned_state(
    proposed: &Value,
    prior: &Value,
    from: KongVersion,
    plan: &Plan,
    private: &Private,
    id: String,
) -> Value {
    let checkpoint = &private.checkpoint;
    let mut s = proposed.clone();
    s.set_attr("id", id.into());
    s.set_attr("from_version", from.to_string().into());
    s.set_attr("warnings", warnings_value(&plan.warnings));
    if plan.is_empty() {
        // Warnings about steps run earlier (a rollback's) stay until the
        // next change: dropping them would make the plan after apply non-empty.
        if !prior.is_null() {
            s.set_attr("warnings", prior.attr("warnings").clone());
        }
        for keep in ["phase", "current_weight_y", "planned_steps", "history"] {
            s.set_attr(keep, prior.attr(keep).clone());
        }
        set_recorded_artifacts(&mut s, private);
        if prior.is_null() || prior.attr("phase").is_null() {
            s.set_attr("phase", plan.current_phase.name().into());
            s.set_attr(
                "current_weight_y",
                Value::from(i64::from(checkpoint.weight_y.percent())),
            );
            s.set_attr("planned_steps", Value::List(Vec::new()));
            s.set_attr("history", Value::List(Vec::new()));
        }
        return s;
    }
    s.set_attr("phase", plan.target_phase.name().into());
    s.set_attr(
        "current_weight_y",
        Value::from(weight_after(plan, checkpoint)),
    );
    s.set_attr("planned_steps", steps_value(&plan.steps));
    s.set_attr("history", Value::Unknown);
    // What apply will report (`fill_progress`): the private state's record,
    // unknown where this apply takes a new backup or freeze.
    set_recorded_artifacts(&mut s, private);
    let runs = |pred: fn(&planner::StepKind) -> bool| plan.steps.iter().any(|st| pred(&st.kind));
    if runs(|k| matches!(k, planner::StepKind::Backup { .. })) {
        s.set_attr("backup_location", Value::Unknown);
    }
    if runs(|k| matches!(k, planner::StepKind::RecordFreeze { .. })) {
        s.set_attr("config_fingerprint", Value::Unknown);
    }
    s
}

/// `backup_location` and `config_fingerprint` as the private state records
/// them.
fn set_recorded_artifacts(state: &mut Value, private: &Private) {
    state.set_attr(
        "backup_location",
        private.checkpoint.backup_location.clone().into(),
    );
    state.set_attr(
        "config_fingerprint",
        private.fingerprint.as_ref().map(|f| f.digest()).into(),
    );
}

fn timeout_for(config: &Value, op: &str, diags: &mut Diagnostics) -> Duration {
    tfplug::timeouts::timeout(config, op, DEFAULT_TIMEOUT).unwrap_or_else(|d| {
        diags.push(d);
        DEFAULT_TIMEOUT
    })
}

#[async_trait]
impl Resource for KongUpgrade {
    fn type_name(&self) -> &'static str {
        "kong_upgrade"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    async fn validate(&self, ctx: &Ctx, config: &Value) -> Diagnostics {
        let write_only_allowed = ctx.client.write_only_attributes_allowed;
        if !config.is_wholly_known() {
            // Terraform's first validation sees variables as unknown, and
            // stops before planning on any error: refuse write-only values
            // the core would store now, beside the other resources' errors.
            return config::validate_write_only(config, write_only_allowed);
        }
        config::validate(config, write_only_allowed)
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest) -> PlanResponse {
        let mut resp = PlanResponse {
            private: req.prior_private.clone(),
            ..Default::default()
        };
        let mut private = Private::decode(&req.prior_private);
        if req.proposed.is_null() {
            let private = private.or_from_attributes(&req.prior);
            return self.plan_destroy(req, private).await;
        }
        if !req.config.is_wholly_known() {
            // Values known only after other resources apply: plan once known.
            let mut planned = req.proposed.clone();
            schema::schema().block.mark_computed_unknown(
                &req.config,
                &mut planned,
                &req.prior,
                &["id"],
            );
            resp.planned = planned;
            return resp;
        }
        let intent = match config::parse_intent(&req.config) {
            Ok(i) => i,
            Err(d) => return PlanResponse { diags: d, ..resp },
        };
        let provider = match self.state.admin_settings() {
            Ok(s) => s,
            Err(d) => {
                return PlanResponse {
                    diags: d.into(),
                    ..resp
                }
            }
        };
        let settings = match config::parse_settings(&req.config, &provider) {
            Ok(s) => s,
            Err(d) => return PlanResponse { diags: d, ..resp },
        };
        let id = upgrade_id(&req.config, &req.prior);
        let journal = journal_of(&intent, &settings, &id);
        // A journal that cannot be read is reported after the planner's
        // refusals of the configuration, which come first.
        let (adopted, unreadable_journal) =
            match adopt_journal(&journal, &mut private, &req.config, &req.prior).await {
                Ok(recorded) => (recorded.adopted, None),
                Err(d) => (false, Some(d)),
            };
        let (from, facts) = match gather(&intent, &settings, &req.config, &private, &provider).await
        {
            Ok(g) => g,
            Err(mut d) => {
                d.extend(unreadable_journal.unwrap_or_default());
                return PlanResponse { diags: d, ..resp };
            }
        };
        execute::reconcile_in_flight(&mut private, &settings, from, intent.to_version).await;
        if private.infer {
            if let Err(d) = import::infer_checkpoint(&intent, &settings, &mut private).await {
                return PlanResponse { diags: d, ..resp };
            }
        }
        let input = plan_input(&intent, from, facts.clone(), private.checkpoint.clone());
        let plan = match planner::plan(&input) {
            Ok(p) => p,
            Err(errors) => {
                return PlanResponse {
                    diags: plan_errors(errors),
                    ..resp
                }
            }
        };
        if let Some(d) = unreadable_journal {
            return PlanResponse { diags: d, ..resp };
        }
        let d = precheck::backup_database(&plan, &settings, &req.config).await;
        if d.has_errors() {
            return PlanResponse { diags: d, ..resp };
        }
        // After the planner, whose refusals of the configuration come first.
        if req.prior.is_null() && !private.infer {
            if let Some(d) = refuse_if_under_way(&intent, &settings).await {
                return PlanResponse { diags: d, ..resp };
            }
        }
        if let Some(d) = refuse_unusable_backup_tools(&intent, &settings, &plan).await {
            return PlanResponse { diags: d, ..resp };
        }
        plan_warnings(&plan.warnings, &mut resp.diags);
        if let Some(d) = &plan.downtime {
            resp.diags
                .warning_at(AttrPath::root("allow_downtime"), "Downtime", d.describe());
        }
        resp.planned = planned_state(&req.proposed, &req.prior, from, &plan, &private, id);
        if adopted && plan.is_empty() {
            // The journal went further than Terraform's state: an apply
            // with no step brings the attributes up to it.
            show_adopted_progress(&mut resp.planned, &plan, &private);
        }
        if !req.prior.is_null() && req.prior.attr("to_version") != req.proposed.attr("to_version") {
            resp.requires_replace.push(AttrPath::root("to_version"));
        }
        if !req.prior.is_null() && req.prior.attr("strategy") != req.proposed.attr("strategy") {
            resp.requires_replace.push(AttrPath::root("strategy"));
        }
        private.facts = Some(facts);
        private.from_version = Some(from);
        resp.private = private.encode();
        resp
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest) -> ApplyResponse {
        let private = Private::decode(&req.private);
        if req.planned.is_null() {
            let private = private.or_from_attributes(&req.prior);
            return self.apply_destroy(ctx, req, private).await;
        }
        let mut diags = Diagnostics::new();
        let op = if req.prior.is_null() {
            "create"
        } else {
            "update"
        };
        let deadline = Instant::now() + timeout_for(&req.config, op, &mut diags);
        let failed = |diags: Diagnostics| ApplyResponse {
            new_state: if req.prior.is_null() {
                Value::Null
            } else {
                req.prior.clone()
            },
            private: req.private.clone(),
            diags,
        };
        let intent = match config::parse_intent(&req.config) {
            Ok(i) => i,
            Err(d) => return failed(d),
        };
        let provider = match self.state.admin_settings() {
            Ok(s) => s,
            Err(d) => return failed(d.into()),
        };
        let settings = match config::parse_settings(&req.config, &provider) {
            Ok(s) => s,
            Err(d) => return failed(d),
        };
        let mut private = private;
        let id = upgrade_id(&req.config, &req.prior);
        // The lock comes before the journal is read: another apply on this
        // database could otherwise append to it between our read and our
        // first step.
        let _lock = match upgrade_lock(&settings, &id).await {
            Ok(l) => l,
            Err(d) => return failed(d),
        };
        let journal = journal_of(&intent, &settings, &id);
        let recorded = match adopt_journal(&journal, &mut private, &req.config, &req.prior).await {
            Ok(r) => r,
            Err(d) => return failed(d),
        };
        let (from, facts) = match gather(&intent, &settings, &req.config, &private, &provider).await
        {
            Ok(g) => g,
            Err(d) => return failed(d),
        };
        execute::reconcile_in_flight(&mut private, &settings, from, intent.to_version).await;
        let input = plan_input(&intent, from, facts, private.checkpoint.clone());
        let plan = match planner::plan(&input) {
            Ok(p) => p,
            Err(errors) => return failed(plan_errors(errors)),
        };
        if let Some(d) = steps_changed_since_plan(&req.planned, &plan) {
            return failed(d);
        }
        // The journal holds the whole history of an apply Terraform did not
        // record; otherwise the state's history is the record.
        let mut history = with_journal_history(history_from_state(&req.prior), &recorded.journal);
        let executor = execute::Executor {
            warnings: Default::default(),
            intent: &intent,
            settings: &settings,
            from,
            cancel: &ctx.cancel,
            deadline,
            upgrade_id: id.clone(),
            journal: &journal,
        };
        let failure = executor.run(&plan.steps, &mut private, &mut history).await;
        for warning in executor
            .warnings
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
        {
            diags.warning("Kong's migrations differ from the preview", warning);
        }
        let mut state = req.planned.clone();
        self.fill_progress(&mut state, &private, &history, from, &input, &id);
        if let Some((step, f)) = failure {
            let mut d = f.diagnostic(&step);
            if req.prior.is_null() {
                d.detail.push_str(&format!(
                    "\n\nThis was the upgrade's first apply, so Terraform marks kong_upgrade as tainted. {UNTAINT_HINT}"
                ));
            }
            diags.push(d);
        }
        ApplyResponse {
            new_state: state,
            private: private.encode(),
            diags,
        }
    }

    async fn read(&self, _ctx: &Ctx, req: ReadRequest) -> ReadResponse {
        let mut private = Private::decode(&req.private);
        let mut state = req.current.clone();
        // Drift: the load balancer's live split wins over the checkpoint,
        // whether the traffic block moves it or a kong_traffic_split does
        // (traffic_split_id).
        let provider = self.state.admin_settings().unwrap_or_default();
        match crate::blocks::traffic::live_weights(&state, &provider).await {
            Some(Ok(w)) if w.y != private.checkpoint.weight_y => {
                tracing::info!(live = %w.y, recorded = %private.checkpoint.weight_y, "traffic split drifted");
                private.checkpoint.weight_y = w.y;
                state.set_attr("current_weight_y", Value::from(i64::from(w.y.percent())));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the load balancer's weights during refresh")
            }
            None => {}
        }
        ReadResponse {
            new_state: state,
            private: private.encode(),
            diags: Diagnostics::new(),
        }
    }

    async fn import(&self, _ctx: &Ctx, id: ImportId) -> ImportResponse {
        import::import(id)
    }
}

impl KongUpgrade {
    fn fill_progress(
        &self,
        state: &mut Value,
        private: &Private,
        history: &[HistoryEntry],
        from: KongVersion,
        input: &PlanInput,
        id: &str,
    ) {
        let mut after = input.clone();
        after.checkpoint = private.checkpoint.clone();
        state.set_attr("id", id.into());
        state.set_attr("from_version", from.to_string().into());
        state.set_attr("phase", planner::current_phase(&after).name().into());
        state.set_attr(
            "current_weight_y",
            Value::from(i64::from(private.checkpoint.weight_y.percent())),
        );
        state.set_attr("history", history_value(history));
        set_recorded_artifacts(state, private);
    }

    async fn plan_destroy(&self, req: PlanRequest, private: Private) -> PlanResponse {
        let mut resp = PlanResponse {
            planned: Value::Null,
            private: req.prior_private.clone(),
            ..Default::default()
        };
        let Some((input, on_destroy)) = self.destroy_input(&req.prior, &private) else {
            return resp;
        };
        match planner::plan_destroy(&input, on_destroy) {
            Ok(plan) => {
                plan_warnings(&plan.warnings, &mut resp.diags);
                for s in &plan.steps {
                    resp.diags
                        .warning("Destroy runs a rollback step", s.describe());
                }
            }
            Err(errors) => resp.diags = destroy_refused(errors),
        }
        resp
    }

    fn destroy_input(
        &self,
        prior: &Value,
        private: &Private,
    ) -> Option<(PlanInput, planner::OnDestroy)> {
        let intent = config::parse_intent(prior).ok()?;
        let from = private.from_version.or(intent.from_version)?;
        let facts = private
            .facts
            .clone()
            .unwrap_or_else(DeploymentFacts::traditional_postgres);
        Some((
            plan_input(&intent, from, facts, private.checkpoint.clone()),
            intent.on_destroy,
        ))
    }

    async fn apply_destroy(
        &self,
        ctx: &Ctx,
        req: ApplyRequest,
        mut private: Private,
    ) -> ApplyResponse {
        let id = req
            .prior
            .attr("id")
            .as_str()
            .unwrap_or_default()
            .to_string();
        // The rollback needs the settings; on destroy Terraform passes the
        // prior state as configuration.
        let parsed = match (
            config::parse_intent(&req.prior),
            self.state.admin_settings(),
        ) {
            (Ok(i), Ok(p)) => config::parse_settings(&req.prior, &p).map(|s| (i, s)),
            (Err(d), _) => Err(d),
            (_, Err(d)) => Err(d.into()),
        };
        let journal = parsed
            .as_ref()
            .ok()
            .map(|(intent, settings)| journal_of(intent, settings, &id));
        let mut recorded = None;
        // As in an apply, the lock before the journal (a rollback runs steps).
        let _lock = match &parsed {
            Ok((_, settings)) => match upgrade_lock(settings, &id).await {
                Ok(l) => l,
                Err(diags) => {
                    return ApplyResponse {
                        new_state: req.prior.clone(),
                        private: private.encode(),
                        diags,
                    }
                }
            },
            Err(_) => None,
        };
        if let Some(journal) = &journal {
            match adopt_journal(journal, &mut private, &req.prior, &req.prior).await {
                Ok(r) => recorded = Some(r.journal),
                Err(d) => {
                    return ApplyResponse {
                        new_state: req.prior.clone(),
                        private: private.encode(),
                        diags: d,
                    }
                }
            }
        }
        let Some((input, on_destroy)) = self.destroy_input(&req.prior, &private) else {
            return forget(journal.as_ref()).await;
        };
        let keep = |diags: Diagnostics, private: &Private| ApplyResponse {
            new_state: req.prior.clone(),
            private: private.encode(),
            diags,
        };
        let plan = match planner::plan_destroy(&input, on_destroy) {
            Ok(p) => p,
            Err(errors) => return keep(destroy_refused(errors), &private),
        };
        // Judged even when no step is left to run: `on_destroy = "rollback"`
        // promises a database X can use, which a teardown since `up` broke.
        if let (planner::OnDestroy::Rollback, Ok((intent, settings)), Some(recorded)) =
            (on_destroy, &parsed, &recorded)
        {
            let mut diags = Diagnostics::new();
            rollback::check_way_back(intent, settings, recorded, &private.checkpoint, &mut diags)
                .await;
            if diags.has_errors() {
                return keep(diags, &private);
            }
        }
        if plan.is_empty() {
            return forget(journal.as_ref()).await;
        }
        let (journal, (intent, settings)) = match (journal, parsed) {
            (Some(j), Ok(p)) => (j, p),
            (_, Err(d)) => return keep(d, &private),
            (None, Ok(_)) => return keep(Diagnostics::new(), &private),
        };
        let recorded = recorded.unwrap_or_default();
        let mut diags = Diagnostics::new();
        let deadline = Instant::now() + timeout_for(&req.prior, "delete", &mut diags);
        let mut history = with_journal_history(history_from_state(&req.prior), &recorded);
        let executor = execute::Executor {
            warnings: Default::default(),
            intent: &intent,
            settings: &settings,
            from: input.from,
            cancel: &ctx.cancel,
            deadline,
            upgrade_id: id.clone(),
            journal: &journal,
        };
        if let Some((step, f)) = executor.run(&plan.steps, &mut private, &mut history).await {
            let mut state = req.prior.clone();
            self.fill_progress(&mut state, &private, &history, input.from, &input, &id);
            diags.push(f.diagnostic(&step));
            return ApplyResponse {
                new_state: state,
                private: private.encode(),
                diags,
            };
        }
        forget(Some(&journal)).await
    }
}

/// The upgrade lock on X's database, when there is one, held until the
/// returned guard drops. Upgrades without a database (DB-less `rolling`)
/// have nothing shared to lock.
async fn upgrade_lock(
    settings: &config::Settings,
    id: &str,
) -> Result<Option<crate::steps::lock::UpgradeLock>, Diagnostics> {
    let Some(db) = &settings.database else {
        return Ok(None);
    };
    crate::steps::lock::acquire(db, id)
        .await
        .map(Some)
        .map_err(|e| {
            let mut d = Diagnostics::new();
            d.error_at(
                AttrPath::root("database"),
                "Another upgrade is running",
                e.to_string(),
            );
            d
        })
}

/// A destroyed upgrade leaves nothing behind: its journal rows go, and the
/// journal's schema with the last of them. A journal that cannot be
/// removed is a warning, not a reason to keep the resource.
async fn forget(journal: Option<&journal::Journal>) -> ApplyResponse {
    let mut resp = ApplyResponse::default();
    if let Some(journal) = journal {
        if let Err(e) = journal.remove().await {
            resp.diags.warning(
                "The upgrade journal was not removed",
                format!(
                    "{e}. Remove it by hand: it lives in {}.",
                    journal.describe()
                ),
            );
        }
    }
    resp
}
