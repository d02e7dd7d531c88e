//! The one traffic move, used by `kong_traffic_split`, `kong_upgrade`'s
//! traffic steps and the `kong_promote` action: read the live weights, plan
//! the walk, refuse it if it is not the walk the plan showed, shift (gates
//! at each step), and hand back the split reached and the history so the
//! caller records them, on success and on failure alike.
//!
//! Errors are one typed [`MoveError`] with one summary and one attribute
//! (relative to the caller's traffic block) per cause, turned into a
//! diagnostic at one edge ([`MoveError::diagnostic`], or the summary and
//! attribute for `kong_upgrade`'s step failures). Deadline and cancellation
//! are handled here the same way for every caller.
//!
//! An `external` split with `observe` makes one move per apply instead
//! (`observed_shift.rs`): the gates of a weight someone else applies are
//! judged in the next apply, once `observe` shows it carried.

use super::executor::{shift, ShiftError, ShiftFailure, StepRecord};
use super::{
    plan_shift, DriverError, OnFailure, Progression, ProgressionError, ShiftEnd, ShiftPlan,
    TrafficDriver, TrafficWeight, Weights,
};
use crate::gates::GateSpec;
use std::time::Instant;
use tfplug::{AttrPath, Diagnostic};
use tokio_util::sync::CancellationToken;

/// Where a move goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Y's share becomes this weight (through the progression's steps).
    Weight(TrafficWeight),
    /// One step of the progression above the live weight, never past
    /// `max` (the `kong_promote` action).
    NextStep { max: TrafficWeight },
}

/// A traffic block's load balancer and the rules for moving it.
pub struct TrafficMove<'a, D> {
    pub driver: &'a D,
    pub progression: &'a Progression,
    pub on_failure: OnFailure,
    pub gates: &'a [GateSpec],
}

/// How long a move may take and who may stop it.
#[derive(Clone, Copy)]
pub struct Bounds<'a> {
    /// Terraform asking the provider to stop.
    pub cancel: &'a CancellationToken,
    /// The operation's time limit (its `timeouts`), gates included.
    pub deadline: Option<Instant>,
}

/// A move that reached its destination.
#[derive(Debug)]
pub struct Moved {
    /// The split the load balancer was at before the move.
    pub from: Weights,
    /// The split it is at now: the destination.
    pub weights: Weights,
    /// Every step applied, with its gate results (empty when nothing moved).
    pub history: Vec<StepRecord>,
}

/// Why a move did not reach its destination.
#[derive(Debug, thiserror::Error)]
pub enum MoveCause {
    #[error("{0}")]
    Unreadable(DriverError),

    #[error("{0}")]
    Progression(ProgressionError),

    #[error("the load balancer gives Y {live} now, so this apply would set {}, but the plan showed {}; nothing was changed. Plan again to see (and approve) the move from where the split is now.", list(now), list(planned))]
    ChangedSincePlan {
        live: TrafficWeight,
        planned: Vec<TrafficWeight>,
        now: Vec<TrafficWeight>,
    },

    #[error("{0}")]
    Stopped(ShiftError),

    #[error("stopped at {} on Y: {}", weights.y, if *by_deadline { "the time limit (timeouts) passed" } else { "Terraform asked the provider to stop" })]
    Interrupted { weights: Weights, by_deadline: bool },
}

/// A failed move, with what the caller must record.
#[derive(Debug, thiserror::Error)]
#[error("{cause}")]
pub struct MoveError {
    /// Boxed so that `Result<_, MoveError>` stays small on the happy path.
    pub cause: Box<MoveCause>,
    /// The attribute at fault, relative to the traffic block.
    attribute: Option<String>,
    /// The split the load balancer is at, when the move got as far as
    /// touching it (or reading it afterwards).
    pub reached: Option<Weights>,
    /// The steps applied before the move stopped.
    pub history: Vec<StepRecord>,
}

fn list(weights: &[TrafficWeight]) -> String {
    if weights.is_empty() {
        return "no move".to_string();
    }
    let percents: Vec<String> = weights.iter().map(ToString::to_string).collect();
    percents.join(" → ")
}

/// Summary of a shift the gates (or the publication) stopped, for every
/// caller: the one move and the observed move alike.
pub const SHIFT_STOPPED: &str = "Traffic shift stopped";

/// Summary of a shift Terraform's stop or the deadline cut short.
pub const SHIFT_INTERRUPTED: &str = "Traffic shift interrupted";

impl MoveError {
    fn new(cause: MoveCause, attribute: Option<String>) -> MoveError {
        MoveError {
            cause: Box::new(cause),
            attribute,
            reached: None,
            history: Vec::new(),
        }
    }

    /// The diagnostic summary: one text per cause, whichever caller.
    pub fn summary(&self) -> &'static str {
        match self.cause.as_ref() {
            MoveCause::Unreadable(_) => "Cannot read the load balancer",
            MoveCause::Progression(_) => "Invalid traffic progression",
            MoveCause::ChangedSincePlan { .. } => "Traffic split changed since plan",
            MoveCause::Stopped(_) => SHIFT_STOPPED,
            MoveCause::Interrupted { .. } => SHIFT_INTERRUPTED,
        }
    }

    /// The attribute at fault, under the caller's traffic block `block`
    /// (`"traffic"`, or `""` when the block is the resource itself).
    pub fn attribute_under(&self, block: &str) -> Option<String> {
        match (block, &self.attribute) {
            (_, None) if block.is_empty() => None,
            (_, None) => Some(block.to_string()),
            ("", Some(a)) => Some(a.clone()),
            (_, Some(a)) => Some(format!("{block}.{a}")),
        }
    }

    /// The one diagnostic of a failed move, on the attribute at fault under
    /// the caller's traffic block.
    pub fn diagnostic(&self, block: &str) -> Diagnostic {
        let d = Diagnostic::error(self.summary(), self.to_string());
        match self.attribute_under(block) {
            Some(a) => d.at(AttrPath::parse(&a)),
            None => d,
        }
    }
}

impl<D: TrafficDriver> TrafficMove<'_, D> {
    /// The split the load balancer applies now.
    pub async fn read(&self) -> Result<Weights, MoveError> {
        self.driver.read_weights().await.map_err(|e| {
            let at = format!("{}.{}", self.driver.kind(), e.attribute());
            MoveError::new(MoveCause::Unreadable(e), Some(at))
        })
    }

    /// The walk from `from` to `destination` (pure: what a plan shows).
    pub fn plan(
        &self,
        from: TrafficWeight,
        destination: Destination,
    ) -> Result<ShiftPlan, MoveError> {
        let to = match destination {
            Destination::Weight(to) => to,
            Destination::NextStep { max } => self.progression.next_after(from, max),
        };
        // One promotion is one step: straight there, gates at the end.
        let progression = match destination {
            Destination::Weight(_) => self.progression,
            Destination::NextStep { .. } => &Progression::Direct,
        };
        plan_shift(from, to, progression, self.on_failure).map_err(|e| {
            let at = e.attribute();
            MoveError::new(MoveCause::Progression(e), Some(at))
        })
    }

    /// Reads, plans and walks to `destination`. With `approved` (the walk
    /// the plan showed), a different walk is refused before anything moves.
    pub async fn move_to(
        &self,
        destination: Destination,
        approved: Option<&[TrafficWeight]>,
        bounds: Bounds<'_>,
    ) -> Result<Moved, MoveError> {
        let from = self.read().await?;
        let plan = self.plan(from.y, destination)?;
        if let Some(planned) = approved {
            refuse_if_changed(from.y, planned, &plan.weights())?;
        }
        self.walk(from, &plan, bounds).await
    }

    async fn walk(
        &self,
        from: Weights,
        plan: &ShiftPlan,
        bounds: Bounds<'_>,
    ) -> Result<Moved, MoveError> {
        let stop = bounds.token();
        let outcome = shift(self.driver, plan, self.gates, &stop, |event| {
            tracing::info!(?event, "traffic")
        })
        .await;
        stop.cancel();
        match outcome {
            Ok(o) if o.end == ShiftEnd::Completed => Ok(Moved {
                from,
                weights: o.weights,
                history: o.history,
            }),
            Ok(o) => {
                let cause = MoveCause::Interrupted {
                    weights: o.weights,
                    by_deadline: !bounds.cancel.is_cancelled(),
                };
                Err(MoveError {
                    reached: Some(o.weights),
                    history: o.history,
                    ..MoveError::new(cause, None)
                })
            }
            Err(mut e) => {
                let at = self.failure_attribute(&e.failure);
                let (reached, history) = (e.weights, std::mem::take(&mut e.history));
                Err(MoveError {
                    reached: Some(reached),
                    history,
                    ..MoveError::new(MoveCause::Stopped(e), at)
                })
            }
        }
    }

    /// The failing gate's block (`gate[i]`), or the driver attribute.
    fn failure_attribute(&self, failure: &ShiftFailure) -> Option<String> {
        match failure {
            ShiftFailure::GateFailed { gate, .. } | ShiftFailure::AwaitingDecision { gate, .. } => {
                let index = self.gates.iter().position(|g| &g.name == gate)?;
                Some(format!("gate[{index}]"))
            }
            ShiftFailure::Driver { source, .. } => {
                Some(format!("{}.{}", self.driver.kind(), source.attribute()))
            }
            ShiftFailure::GateClient(_) => None,
        }
    }
}

/// The plan is what the user approved: an apply whose walk differs (the
/// load balancer moved since plan) changes nothing and says what changed.
pub fn refuse_if_changed(
    live: TrafficWeight,
    planned: &[TrafficWeight],
    now: &[TrafficWeight],
) -> Result<(), MoveError> {
    if planned == now {
        return Ok(());
    }
    let cause = MoveCause::ChangedSincePlan {
        live,
        planned: planned.to_vec(),
        now: now.to_vec(),
    };
    Err(MoveError::new(cause, None))
}

impl Bounds<'_> {
    /// A token cancelled by Terraform's cancellation or at the deadline,
    /// whichever comes first; the caller cancels it when done, which ends
    /// the timer task.
    pub fn token(&self) -> CancellationToken {
        let token = self.cancel.child_token();
        if let Some(deadline) = self.deadline {
            let fire = token.clone();
            let deadline = tokio::time::Instant::from_std(deadline);
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => fire.cancel(),
                    _ = fire.cancelled() => {}
                }
            });
        }
        token
    }
}

#[cfg(test)]
#[path = "movement_tests.rs"]
mod tests;
