//! `resource "kong_traffic_split"`: Y's share of user traffic, moved
//! gradually through a real load balancer with gates between steps.
//!
//! plan: the weights the apply will walk through (`planned_weights`), known
//! at plan time. apply: walk them, run the gates at each step, roll back
//! (or halt) on failure; going down is a fast path without gates. read: the
//! live split, so a hand edit on the load balancer shows as drift.

use super::observed_split;
use crate::blocks::traffic::{content, parse_content, TrafficSettings};
use crate::gates::now_rfc3339;
use crate::traffic::{Bounds, Destination, StepRecord, TrafficDriver, TrafficWeight, Weights};
use std::time::Instant;
use tfplug::{
    async_trait, ApplyRequest, ApplyResponse, AttrPath, Attribute, Check, Ctx, Diagnostics,
    ImportId, ImportResponse, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource,
    Schema, Type, Value,
};

/// How long one apply may take when `timeouts` does not say.
const APPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

pub struct KongTrafficSplit;

fn history_type() -> Type {
    Type::object([
        ("weight_y", Type::Number),
        ("at", Type::String),
        ("kind", Type::String),
        ("gates", Type::list(Type::String)),
    ])
}

fn schema() -> Schema {
    let block = content(true)
        .describe(
            "Moves user traffic from Kong cluster X to cluster Y through a real load balancer (HAProxy runtime API, an nginx \
             upstream file, an edge Kong upstream, or `external` for weights other resources apply). Going up walks `steps` (or \
             `step_weight` every `interval`) and runs the gates at each step; a failing gate rolls back to X (or halts). Going down \
             is immediate and ungated: returning to known-good must never be slowed down. Destroying the resource leaves the load \
             balancer as it is.",
        )
        .attr(Attribute::number("weight_y").required().check(Check::WholeNumber { min: 0, max: 100 }).describe("The share of traffic cluster Y should get."))
        .attr(Attribute::string("id").computed().describe(
            "Where the split lives: the driver and the non-secret settings that reach its load balancer, percent-encoded \
             (e.g. `haproxy?runtime_api=%2Frun%2Fhaproxy.sock&backend=kong&server_x=x&server_y=y`). Pass it to \
             `kong_upgrade.traffic_split_id` so the upgrade verifies this split instead of moving traffic itself. Never holds \
             the `admin_token`.",
        ))
        .attr(Attribute::number("current_weight_y").computed().describe("Y's share as last applied or read from the load balancer."))
        .attr(Attribute::number("weight_x").computed().describe("X's share (100 − `current_weight_y`), for other resources (`external` driver)."))
        .attr(Attribute::list_of("planned_weights", Type::Number).computed().describe("The weights the next apply walks through, in order."))
        .attr(Attribute::list_of("history", history_type()).computed().describe("Each step of the last apply: weight, time, kind, gate results with measured values."))
        .block(tfplug::timeouts::block(&["create", "update"], APPLY_TIMEOUT));
    Schema::new(0, observed_split::attributes(block))
}

fn desired(config: &Value, diags: &mut Diagnostics) -> Option<TrafficWeight> {
    let raw = crate::blocks::whole::<i64>(config, "weight_y", &AttrPath::default(), diags)?;
    TrafficWeight::new(raw)
        .map_err(|e| {
            diags.error_at(
                AttrPath::root("weight_y"),
                "weight_y out of range",
                e.to_string(),
            )
        })
        .ok()
}

fn recorded_weight(state: &Value) -> TrafficWeight {
    state
        .attr("current_weight_y")
        .as_i64()
        .and_then(|w| TrafficWeight::new(w).ok())
        .unwrap_or(TrafficWeight::ZERO)
}

/// The id is the split's locator: what `kong_upgrade.traffic_split_id` needs
/// to find the same load balancer and read its weights (never a secret).
fn split_id(settings: &TrafficSettings) -> Value {
    settings.driver.locator().to_string().into()
}

fn record_value(r: &StepRecord) -> Value {
    let kind = serde_json::to_value(r.kind)
        .ok()
        .and_then(|k| k.as_str().map(str::to_string))
        .unwrap_or_default();
    let gates = r
        .gates
        .iter()
        .map(|g| {
            let last = g
                .measurements
                .last()
                .map(|m| m.describe())
                .unwrap_or_default();
            Value::from(format!(
                "{}: {:?}, {} failed of {} ({last})",
                g.gate, g.verdict, g.failures, g.measured
            ))
        })
        .collect();
    Value::object([
        ("weight_y", Value::from(i64::from(r.weight_y.percent()))),
        ("at", Value::from(r.at.as_str())),
        ("kind", Value::from(kind)),
        ("gates", Value::List(gates)),
    ])
}

/// The walk the plan showed for this apply: none when the plan kept the
/// recorded weight (`planned_weights` then still holds the previous walk),
/// else `planned_weights`; unknown when the plan could not compute it.
/// An apply whose walk differs is refused (the world changed since plan).
fn approved_walk(prior: &Value, planned: &Value, to: TrafficWeight) -> Option<Vec<TrafficWeight>> {
    if !prior.is_null() && recorded_weight(prior) == to {
        return Some(Vec::new());
    }
    let Value::List(weights) = planned.attr("planned_weights") else {
        return None;
    };
    weights
        .iter()
        .map(|w| w.as_i64().and_then(|w| TrafficWeight::new(w).ok()))
        .collect()
}

fn with_split(mut state: Value, y: TrafficWeight) -> Value {
    state.set_attr("current_weight_y", Value::from(i64::from(y.percent())));
    state.set_attr("weight_x", Value::from(100 - i64::from(y.percent())));
    state
}

/// The state after an apply: its history and the split it reached.
fn with_history(mut state: Value, history: &[StepRecord], reached: TrafficWeight) -> Value {
    state.set_attr(
        "history",
        Value::List(history.iter().map(record_value).collect()),
    );
    tracing::info!(weight_y = reached.percent(), at = %now_rfc3339(), "traffic split applied");
    with_split(state, reached)
}

#[async_trait]
impl Resource for KongTrafficSplit {
    fn type_name(&self) -> &'static str {
        "kong_traffic_split"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, ctx: &Ctx, config: &Value) -> Diagnostics {
        let mut diags = crate::blocks::gate::validate_write_only(
            config.attr("gate"),
            &AttrPath::root("gate"),
            ctx.client.write_only_attributes_allowed,
        );
        if !config.is_wholly_known() {
            return diags;
        }
        desired(config, &mut diags);
        if let Err(d) = parse_content(
            config,
            &AttrPath::default(),
            Weights::with_y(TrafficWeight::ZERO),
        ) {
            diags.extend(d);
        }
        diags
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest) -> PlanResponse {
        let mut resp = PlanResponse {
            private: req.prior_private.clone(),
            ..Default::default()
        };
        if req.proposed.is_null() {
            resp.diags.warning(
                "Destroy leaves the load balancer as it is",
                "kong_traffic_split is only removed from state; the current split stays in place.",
            );
            return resp;
        }
        let mut planned = req.proposed.clone();
        if !req.config.is_wholly_known() {
            schema()
                .block
                .mark_computed_unknown(&req.config, &mut planned, &req.prior, &["id"]);
            resp.planned = planned;
            return resp;
        }
        let Some(to) = desired(&req.config, &mut resp.diags) else {
            return resp;
        };
        let settings = match parse_content(
            &req.config,
            &AttrPath::default(),
            Weights::with_y(recorded_weight(&req.prior)),
        ) {
            Ok(s) => s,
            Err(d) => return PlanResponse { diags: d, ..resp },
        };
        // A new split starts from what the load balancer does now.
        let traffic = settings.traffic_move();
        let from = if req.prior.is_null() {
            match traffic.read().await {
                Ok(w) => w.y,
                Err(e) => {
                    resp.diags.push(e.diagnostic(""));
                    return resp;
                }
            }
        } else {
            recorded_weight(&req.prior)
        };
        let shift_plan = match traffic.plan(from, Destination::Weight(to)) {
            Ok(p) => p,
            Err(e) => {
                resp.diags.push(e.diagnostic(""));
                return resp;
            }
        };
        planned.set_attr("id", split_id(&settings));
        if let Some(observed) = observed_split::observed(&settings, &shift_plan, &req.prior) {
            let (planned, published) =
                observed_split::planned(planned, &req.prior, &observed, from);
            resp.planned = with_split(planned, published);
            return resp;
        }
        observed_split::not_observed(&mut planned);
        let unchanged = from == to && !req.prior.is_null();
        if unchanged {
            for keep in ["planned_weights", "history"] {
                planned.set_attr(keep, req.prior.attr(keep).clone());
            }
            resp.planned = with_split(planned, to);
            return resp;
        }
        let weights = shift_plan
            .weights()
            .iter()
            .map(|w| Value::from(i64::from(w.percent())))
            .collect();
        planned.set_attr("planned_weights", Value::List(weights));
        planned.set_attr("history", Value::Unknown);
        resp.planned = with_split(planned, to);
        resp
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest) -> ApplyResponse {
        if req.planned.is_null() {
            return ApplyResponse::default();
        }
        let mut diags = Diagnostics::new();
        let keep_prior = |diags: Diagnostics| ApplyResponse {
            new_state: req.prior.clone(),
            diags,
            ..Default::default()
        };
        let Some(to) = desired(&req.config, &mut diags) else {
            return keep_prior(diags);
        };
        let op = if req.prior.is_null() {
            "create"
        } else {
            "update"
        };
        let limit = match tfplug::timeouts::timeout(&req.config, op, APPLY_TIMEOUT) {
            Ok(l) => l,
            Err(d) => return keep_prior(d.into()),
        };
        let settings = match parse_content(
            &req.config,
            &AttrPath::default(),
            Weights::with_y(recorded_weight(&req.prior)),
        ) {
            Ok(s) => s,
            Err(d) => return keep_prior(d),
        };
        let bounds = Bounds {
            cancel: &ctx.cancel,
            // A limit too far to represent is no limit.
            deadline: Instant::now().checked_add(limit),
        };
        let traffic = settings.traffic_move();
        let mut state = req.planned.clone();
        state.set_attr("id", split_id(&settings));
        let observed = traffic
            .plan(recorded_weight(&req.prior), Destination::Weight(to))
            .ok()
            .and_then(|p| observed_split::observed(&settings, &p, &req.prior));
        let (reached, history) = if let Some(observed) = observed {
            // The timeout bounds the whole move, the wait for the load
            // balancer and the gates included.
            let cancel = bounds.token();
            let done = observed_split::apply(
                &observed, &settings, &cancel, &req.prior, &mut state, &mut diags,
            )
            .await;
            cancel.cancel();
            done
        } else {
            observed_split::not_observed(&mut state);
            let approved = approved_walk(&req.prior, &req.planned, to);
            match traffic
                .move_to(Destination::Weight(to), approved.as_deref(), bounds)
                .await
            {
                Ok(moved) => (moved.weights.y, moved.history),
                Err(e) => {
                    diags.push(e.diagnostic(""));
                    // Nothing touched (unreadable, refused, invalid): the
                    // state stays what it was.
                    let Some(reached) = e.reached else {
                        return keep_prior(diags);
                    };
                    (reached.y, e.history)
                }
            }
        };
        ApplyResponse {
            new_state: with_history(state, &history, reached),
            diags,
            ..Default::default()
        }
    }

    async fn read(&self, _ctx: &Ctx, req: ReadRequest) -> ReadResponse {
        let mut state = req.current.clone();
        let recorded = recorded_weight(&state);
        if let Ok(settings) = parse_content(&state, &AttrPath::default(), Weights::with_y(recorded))
        {
            // Ids written by earlier versions of the provider did not say how
            // to read the split; the current form replaces them here, so the
            // next plan stays empty.
            let id = split_id(&settings);
            if state.attr("id") != &id {
                tracing::info!(from = ?state.attr("id").as_str(), to = ?id.as_str(), "kong_traffic_split id updated to the current form");
                state.set_attr("id", id);
            }
            match settings.driver.read_weights().await {
                Ok(w) if w.y != recorded => {
                    tracing::info!(
                        live = w.y.percent(),
                        recorded = recorded.percent(),
                        "traffic split changed outside Terraform"
                    );
                    state = with_split(state, w.y);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the load balancer during refresh")
                }
            }
        }
        ReadResponse {
            new_state: state,
            private: req.private,
            diags: Diagnostics::new(),
        }
    }

    async fn import(&self, _ctx: &Ctx, _id: ImportId) -> ImportResponse {
        let mut resp = ImportResponse::default();
        resp.diags.error(
            "Import not supported",
            "kong_traffic_split has no remote object to import: declare it with the split you want; its first plan reads the load balancer's current weights.",
        );
        resp
    }
}
