//! Traffic steps: moving the split through the traffic block's driver, or
//! verifying a kong_traffic_split it does not own, and the cutover check.

use super::super::state::Private;
use super::{Executor, StepFailure, StepResult};
use crate::blocks::traffic::{TrafficSettings, BLOCK_NAME};
use crate::traffic::{
    plan_shift, shift_observed, Bounds, Destination, Driver, ExternalDriver, Observe,
    ObservedFailure, SplitCheckError, SplitReader, TrafficDriver, TrafficWeight, Weights,
};
use std::time::{Duration, Instant};

impl Executor<'_> {
    pub(super) async fn shift_traffic(
        &self,
        to: TrafficWeight,
        private: &mut Private,
    ) -> StepResult {
        if let Some(split) = &self.settings.traffic_split {
            return self.verify_split(split, to, private).await;
        }
        let Some(traffic) = &self.settings.traffic else {
            return Err(StepFailure::new(
                Some(BLOCK_NAME),
                "no traffic block",
                "This step moves traffic: configure a traffic block.",
            ));
        };
        // The planner approved this step (guards refuse steps that differ
        // from planned_steps), so the walk itself is not compared again.
        let bounds = Bounds {
            cancel: self.cancel,
            deadline: Some(self.deadline),
        };
        if let Driver::External(external) = &traffic.driver {
            if let Some(observe) = external.observe() {
                return make_observed_move(traffic, external, observe, to, bounds, private).await;
            }
        }
        match traffic
            .traffic_move()
            .move_to(Destination::Weight(to), None, bounds)
            .await
        {
            Ok(moved) => {
                private.checkpoint.weight_y = moved.weights.y;
                Ok(format!(
                    "traffic {} → {} on Y in {} step(s)",
                    moved.from.y,
                    moved.weights.y,
                    moved.history.len()
                ))
            }
            Err(e) => {
                // The checkpoint follows what the load balancer really
                // applied, even on failure (a rollback leaves Y at 0).
                if let Some(reached) = e.reached {
                    private.checkpoint.weight_y = reached.y;
                }
                Err(StepFailure::new(
                    e.attribute_under(BLOCK_NAME).as_deref(),
                    e.summary(),
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
        wanted: TrafficWeight,
        private: &mut Private,
    ) -> StepResult {
        let bound = self
            .deadline
            .saturating_duration_since(Instant::now())
            .min(SPLIT_WAIT);
        match split.wait_for(wanted, bound, SPLIT_POLL, self.cancel).await {
            Ok(live) => {
                private.checkpoint.weight_y = live.y;
                Ok(format!(
                    "verified: the kong_traffic_split ({}) is at {live}; the upgrade moved no traffic",
                    split.kind()
                ))
            }
            Err(e) => {
                if let Some(live) = e.last_seen() {
                    private.checkpoint.weight_y = live.y;
                }
                Err(split_failure(&e, wanted, bound))
            }
        }
    }

    pub(super) async fn confirm_cutover(&self, private: &Private) -> StepResult {
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

/// An observed `external` split's move of this apply (the planner's
/// [`crate::traffic::observed_move`], decided again from the same
/// checkpoint and progression): wait until the load balancer carries the
/// weight the last apply published, judge its gates, then publish `to` and
/// leave its gates pending. The checkpoint follows what was published and
/// what is still pending, failed or not.
async fn make_observed_move(
    traffic: &TrafficSettings,
    external: &ExternalDriver,
    observe: &Observe,
    to: TrafficWeight,
    bounds: Bounds<'_>,
    private: &mut Private,
) -> StepResult {
    let published = private.checkpoint.weight_y;
    let plan =
        plan_shift(published, to, &traffic.progression, traffic.on_failure).map_err(|e| {
            StepFailure::new(
                Some(BLOCK_NAME),
                "Invalid traffic progression",
                e.to_string(),
            )
        })?;
    let mv = crate::traffic::observed_move(
        &plan,
        &traffic.progression,
        private.checkpoint.gates_pending_at,
    );
    // The driver starts from the weight published so far (state), not the
    // all-on-X it was parsed with; setting an external split cannot fail.
    let _ = external.set_weights(Weights::with_y(published)).await;
    let stop = bounds.token();
    let done = shift_observed(
        external,
        observe,
        &mv,
        &traffic.gates,
        traffic.on_failure,
        &stop,
    )
    .await;
    stop.cancel();
    private.checkpoint.weight_y = done.weights.y;
    private.checkpoint.gates_pending_at = done.pending;
    let observe_at = format!("{BLOCK_NAME}.external.observe");
    let gate_at = format!("{BLOCK_NAME}.gate");
    match &done.failure {
        Some(failure @ ObservedFailure::NotCarried(e)) => Err(StepFailure::new(
            Some(&observe_at),
            failure.summary(),
            format!(
                "{e}. The last apply published {published}; check that the resource applying this upgrade's \
                 current_weight_y ran and that observe reads the right load balancer. Nothing changed: the gates at \
                 {published} stay pending and the next apply waits again."
            ),
        )),
        Some(failure @ ObservedFailure::Shift(e)) => Err(StepFailure::new(
            Some(&gate_at),
            failure.summary(),
            e.to_string(),
        )),
        None if done.cancelled => Err(StepFailure::new(
            None,
            crate::traffic::SHIFT_INTERRUPTED,
            format!(
                "Stopped at {} on Y (Terraform asked the provider to stop, or the timeout passed); the next apply \
                 makes the move again.",
                done.weights.y
            ),
        )),
        None => Ok(format!(
            "{mv}: published {} on Y in {} step(s)",
            done.weights.y,
            done.history.len()
        )),
    }
}

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
