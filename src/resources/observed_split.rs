//! `kong_traffic_split` with `external { observe { ... } }`: one move per
//! apply (see `kong_upgrade_core::traffic::observed`). The weight whose
//! gates are still to be judged is kept in the computed `gates_pending_at`,
//! so the next plan shows the move ("judge gates at 10% (observed), then
//! shift to 25%") in `next_move`, and is not empty until the gates of the
//! last weight passed.

use crate::blocks::traffic::TrafficSettings;
use crate::traffic::{
    observed_move, shift_observed, Driver, ExternalDriver, Observe, ObservedFailure, ObservedMove,
    ShiftPlan, StepRecord, TrafficWeight,
};
use tfplug::{AttrPath, Attribute, Block, CancellationToken, Diagnostics, Value};

const PENDING: &str = "gates_pending_at";
const NEXT_MOVE: &str = "next_move";

/// The two computed attributes of an observed split.
pub fn attributes(block: Block) -> Block {
    block
        .attr(Attribute::number(PENDING).computed().describe(
            "With `external` and `observe`: the weight published by the last apply whose gates the next apply judges, once \
             `observe` reports the load balancer carries it. Null when no gates are pending (and for other drivers).",
        ))
        .attr(Attribute::string(NEXT_MOVE).computed().describe(
            "With `external` and `observe`: what the apply does, e.g. `judge gates at 10% (observed), then shift to 25%; the \
             gates at 25% are judged in the next apply, once observed`. Each apply makes one such move. Null for other drivers.",
        ))
}

/// An observed split's driver, its `observe`, and this apply's move; `None`
/// for every other driver.
pub struct Observed<'a> {
    pub driver: &'a ExternalDriver,
    pub observe: &'a Observe,
    pub step: ObservedMove,
}

pub fn observed<'a>(
    settings: &'a TrafficSettings,
    shift_plan: &ShiftPlan,
    prior: &Value,
) -> Option<Observed<'a>> {
    let Driver::External(driver) = &settings.driver else {
        return None;
    };
    let observe = driver.observe()?;
    let pending = prior
        .attr(PENDING)
        .as_i64()
        .and_then(|w| TrafficWeight::new(w).ok());
    Some(Observed {
        driver,
        observe,
        step: observed_move(shift_plan, &settings.progression, pending),
    })
}

/// Clears the observed attributes (any driver but an observed `external`).
pub fn not_observed(value: &mut Value) {
    value.set_attr(PENDING, Value::Null);
    value.set_attr(NEXT_MOVE, Value::Null);
}

/// The planned value for an observed split starting at `from`, and the
/// weight it publishes; `None` when there is nothing to do (keep the prior).
pub fn planned(
    mut planned: Value,
    prior: &Value,
    o: &Observed<'_>,
    from: TrafficWeight,
) -> (Value, TrafficWeight) {
    if o.step.is_empty() && !prior.is_null() {
        for keep in ["planned_weights", "history", NEXT_MOVE] {
            planned.set_attr(keep, prior.attr(keep).clone());
        }
        planned.set_attr(PENDING, Value::Null);
        return (planned, from);
    }
    let published: Vec<Value> = o
        .step
        .publish
        .iter()
        .map(|w| Value::from(i64::from(w.percent())))
        .collect();
    planned.set_attr("planned_weights", Value::List(published));
    planned.set_attr("history", Value::Unknown);
    planned.set_attr(PENDING, weight_value(o.step.pending_after));
    planned.set_attr(NEXT_MOVE, Value::from(o.step.to_string()));
    (planned, o.step.publish.unwrap_or(from))
}

/// Runs the move; returns the published weight and the history, having set
/// `gates_pending_at` (and, for a move not made, `next_move` back to
/// `prior`'s) in `state` and reported failures in `diags`.
pub async fn apply(
    o: &Observed<'_>,
    settings: &TrafficSettings,
    cancel: &CancellationToken,
    prior: &Value,
    state: &mut Value,
    diags: &mut Diagnostics,
) -> (TrafficWeight, Vec<StepRecord>) {
    let done = shift_observed(
        o.driver,
        o.observe,
        &o.step,
        &settings.gates,
        settings.on_failure,
        cancel,
    )
    .await;
    state.set_attr(PENDING, weight_value(done.pending));
    if done.failure.is_some() || done.cancelled {
        // The move was not made: the next plan shows it again.
        state.set_attr(NEXT_MOVE, prior.attr(NEXT_MOVE).clone());
    }
    match &done.failure {
        Some(failure @ ObservedFailure::NotCarried(e)) => diags.error_at(
            AttrPath::root("external").attr("observe"),
            failure.summary(),
            format!(
                "{e}. The weight was published by the last apply; check that the resource applying weight_x/weight_y ran \
                 and that observe reads the right load balancer. Nothing changed: the next apply waits again."
            ),
        ),
        Some(failure @ ObservedFailure::Shift(e)) => {
            diags.error_at(AttrPath::root("gate"), failure.summary(), e.to_string())
        }
        None if done.cancelled => diags.error(
            crate::traffic::SHIFT_INTERRUPTED,
            format!(
                "Stopped at {}% on Y (Terraform asked the provider to stop, or the timeout passed).",
                done.weights.y.percent()
            ),
        ),
        None => {}
    }
    (done.weights.y, done.history)
}

fn weight_value(weight: Option<TrafficWeight>) -> Value {
    weight.map_or(Value::Null, |w| Value::from(i64::from(w.percent())))
}
