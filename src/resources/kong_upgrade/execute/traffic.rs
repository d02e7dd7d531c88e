//! Traffic steps: moving the split through the traffic block's driver, or
//! verifying a kong_traffic_split it does not own, and the cutover check.

use super::super::state::Private;
use super::{Executor, StepFailure, StepResult};
use crate::blocks::traffic::BLOCK_NAME;
use crate::traffic::{Bounds, Destination, SplitCheckError, SplitReader, TrafficWeight};
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
