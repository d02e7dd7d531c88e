//! Runs one [`ObservedMove`] (the `external` driver with `observe`): wait
//! until the load balancer carries the weight the previous apply published,
//! judge that step's gates through the ordinary executor, then publish the
//! next weight. Each part reuses [`shift`], so rollback, halt, cancellation
//! and history behave as for every other driver.

use super::observe::{wait_until_carried, Observe, ObserveError};
use super::progression::{OnFailure, PlannedStep, ShiftPlan};
use super::{
    shift, ExternalDriver, ObservedMove, ShiftEnd, ShiftError, StepRecord, TrafficWeight, Weights,
};
use crate::gates::GateSpec;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why an observed apply stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ObservedFailure {
    /// The load balancer never carried the published weight: nothing was
    /// judged or changed, the gates stay pending.
    #[error(transparent)]
    NotCarried(ObserveError),
    /// The judged gates failed (or the publication did); the executor
    /// reacted as `on_failure` says.
    #[error(transparent)]
    Shift(Box<ShiftError>),
}

impl ObservedFailure {
    /// The diagnostic summary, the same for every caller (a failed gate as
    /// in the one move, [`super::MoveError::summary`]).
    pub fn summary(&self) -> &'static str {
        match self {
            ObservedFailure::NotCarried(_) => {
                "The load balancer does not carry the published weight"
            }
            ObservedFailure::Shift(_) => super::movement::SHIFT_STOPPED,
        }
    }
}

/// Where an observed apply left things, failed or not.
#[derive(Debug)]
pub struct ObservedApply {
    /// The published split.
    pub weights: Weights,
    pub history: Vec<StepRecord>,
    /// The weight whose gates the next apply judges.
    pub pending: Option<TrafficWeight>,
    pub failure: Option<ObservedFailure>,
    /// Stopped by cancellation (Ctrl-C or the timeout) before the end.
    pub cancelled: bool,
}

/// Makes `mv` on `driver`, whose weights are the split published so far.
pub async fn shift_observed(
    driver: &ExternalDriver,
    observe: &Observe,
    mv: &ObservedMove,
    gates: &[GateSpec],
    on_failure: OnFailure,
    cancel: &CancellationToken,
) -> ObservedApply {
    let mut done = ObservedApply {
        weights: driver.weights(),
        history: Vec::new(),
        pending: mv.judge.as_ref().map(|j| j.step.weight),
        failure: None,
        cancelled: false,
    };
    if let Some(judge) = &mv.judge {
        let client = match crate::gates::http_client() {
            Ok(client) => client,
            Err(e) => {
                done.failure = Some(ObservedFailure::NotCarried(ObserveError::Client(
                    e.to_string(),
                )));
                return done;
            }
        };
        match wait_until_carried(observe, &client, judge.step.weight, cancel).await {
            Ok(_) => {}
            Err(ObserveError::Cancelled { .. }) => {
                done.cancelled = true;
                return done;
            }
            Err(e) => {
                done.failure = Some(ObservedFailure::NotCarried(e));
                return done;
            }
        }
        // From the last good weight, so `halt` goes back there; setting the
        // judged weight again changes nothing on the external driver.
        let plan = ShiftPlan {
            from: judge.last_good,
            to: judge.step.weight,
            steps: vec![judge.step.clone()],
            on_failure,
        };
        if !record(&mut done, shift(driver, &plan, gates, cancel, log).await) {
            return done;
        }
        done.pending = None;
    }
    if let Some(weight) = mv.publish {
        let plan = ShiftPlan {
            from: driver.weights().y,
            to: weight,
            steps: vec![PlannedStep {
                weight,
                pause: Duration::ZERO,
                analysis: false,
            }],
            on_failure,
        };
        if !record(&mut done, shift(driver, &plan, &[], cancel, log).await) {
            return done;
        }
        done.pending = mv.pending_after;
    }
    done
}

fn log(event: &super::ShiftEvent) {
    tracing::info!(?event, "traffic (observed)");
}

/// Takes a part's outcome into `done`; whether to go on.
fn record(done: &mut ObservedApply, outcome: Result<super::ShiftOutcome, ShiftError>) -> bool {
    match outcome {
        Ok(o) => {
            done.weights = o.weights;
            done.history.extend(o.history);
            done.cancelled = o.end == ShiftEnd::Cancelled;
            !done.cancelled
        }
        Err(mut e) => {
            done.weights = e.weights;
            done.history.append(&mut e.history);
            // Rolled back or halted below the judged weight: nothing pending.
            done.pending = None;
            done.failure = Some(ObservedFailure::Shift(Box::new(e)));
            false
        }
    }
}
