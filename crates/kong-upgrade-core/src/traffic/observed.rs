//! Shifts whose weights another resource applies (the `external` driver).
//!
//! The resource that carries the weight to the load balancer depends on this
//! provider's outputs, so it applies only after this apply ends: gates that
//! ran in the same apply would judge a split the load balancer does not
//! carry yet, and waiting for it would never end. So each apply makes one
//! move: it first judges the gates still pending for the weight the previous
//! apply published (once `observe` reports that the load balancer carries
//! it), then publishes the next step's weight and leaves that step's gates
//! pending for the apply after. [`observed_move`] decides the move from the
//! walk's [`ShiftPlan`] and the pending checkpoint; it is pure so the plan
//! can show it.

use super::progression::{plan_shift, OnFailure, PlannedStep, Progression, ShiftPlan};
use super::weight::TrafficWeight;
use std::fmt;
use std::time::Duration;

/// What one apply of an observed shift does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedMove {
    /// Judge the gates of this step first, once the load balancer is
    /// observed carrying its weight.
    pub judge: Option<Judge>,
    /// Then publish this weight (`weight_x`/`weight_y`) for the other
    /// resource to apply.
    pub publish: Option<TrafficWeight>,
    /// The weight whose gates are left for the next apply.
    pub pending_after: Option<TrafficWeight>,
}

impl ObservedMove {
    /// Whether this apply has anything to do.
    pub fn is_empty(&self) -> bool {
        self.judge.is_none() && self.publish.is_none() && self.pending_after.is_none()
    }
}

/// Gates left pending for a published weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judge {
    /// The step that published the weight, with its pause.
    pub step: PlannedStep,
    /// The weight before it (its gates passed, or it had none): where
    /// `on_failure = "halt"` goes back to.
    pub last_good: TrafficWeight,
}

/// The move of one apply. `pending` is the weight whose gates the previous
/// apply left for this one; it only counts while the shift still starts at
/// that weight (`plan.from`): a split that moved since (a lower `weight_y`,
/// drift taken into state) has nothing left to judge there.
pub fn observed_move(
    plan: &ShiftPlan,
    progression: &Progression,
    pending: Option<TrafficWeight>,
) -> ObservedMove {
    let next = plan.steps.first();
    if plan.is_fast_path() {
        // Going down is never gated, and the gates of a higher weight are moot.
        return ObservedMove {
            judge: None,
            publish: next.map(|s| s.weight),
            pending_after: None,
        };
    }
    let judge = pending
        .filter(|weight| *weight == plan.from && *weight != TrafficWeight::ZERO)
        .map(|weight| Judge {
            step: gated_step_at(progression, weight),
            last_good: step_below(progression, weight),
        });
    ObservedMove {
        judge,
        publish: next.map(|s| s.weight),
        pending_after: next.filter(|s| s.analysis).map(|s| s.weight),
    }
}

/// The step a walk from 0 takes just before `weight` (0 when none).
fn step_below(progression: &Progression, weight: TrafficWeight) -> TrafficWeight {
    plan_shift(
        TrafficWeight::ZERO,
        weight,
        progression,
        OnFailure::Rollback,
    )
    .ok()
    .and_then(|plan| plan.steps.iter().rev().nth(1).map(|s| s.weight))
    .unwrap_or(TrafficWeight::ZERO)
}

/// The step that set `weight`, with the pause its gates measure during.
/// A weight the progression does not list (the desired weight reached as the
/// last step) holds for the progression's interval, or not at all.
fn gated_step_at(progression: &Progression, weight: TrafficWeight) -> PlannedStep {
    let pause = match progression {
        Progression::Direct => Duration::ZERO,
        Progression::Linear { interval, .. } => *interval,
        Progression::Steps(specs) => specs
            .iter()
            .find(|s| s.weight == weight)
            .map_or(Duration::ZERO, |s| s.pause),
    };
    PlannedStep {
        weight,
        pause,
        analysis: true,
    }
}

/// What the plan shows, e.g. "judge gates at 10% (observed), then shift to
/// 25%; its gates are judged in the next apply".
impl fmt::Display for ObservedMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(judge) = &self.judge {
            parts.push(format!("judge gates at {} (observed)", judge.step.weight));
        }
        if let Some(weight) = self.publish {
            parts.push(format!("shift to {weight}"));
        }
        if parts.is_empty() {
            return f.write_str("nothing to do");
        }
        f.write_str(&parts.join(", then "))?;
        if let Some(weight) = self.pending_after {
            write!(
                f,
                "; the gates at {weight} are judged in the next apply, once observed"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::progression::StepSpec;
    use super::*;

    fn w(v: i64) -> TrafficWeight {
        TrafficWeight::new(v).unwrap()
    }

    /// 10 (gated, 1s), 25 (ungated), 50 (gated, 2s); 100 is reached as the last step.
    fn steps() -> Progression {
        let spec = |weight, pause, analysis| StepSpec {
            weight: w(weight),
            pause: Duration::from_secs(pause),
            analysis,
        };
        Progression::Steps(vec![
            spec(10, 1, true),
            spec(25, 0, false),
            spec(50, 2, true),
        ])
    }

    fn moved(from: i64, to: i64, progression: &Progression, pending: Option<i64>) -> String {
        let plan = plan_shift(w(from), w(to), progression, OnFailure::Rollback).unwrap();
        observed_move(&plan, progression, pending.map(w)).to_string()
    }

    #[test]
    fn each_apply_judges_what_the_last_one_published_then_publishes_one_step() {
        let s = steps();
        let linear = Progression::Linear {
            step_weight: w(40),
            interval: Duration::from_secs(5),
        };
        let cases: &[(i64, i64, &Progression, Option<i64>, &str)] = &[
            (0, 100, &s, None, "shift to 10%; the gates at 10% are judged in the next apply, once observed"),
            (10, 100, &s, Some(10), "judge gates at 10% (observed), then shift to 25%"),
            (25, 100, &s, None, "shift to 50%; the gates at 50% are judged in the next apply, once observed"),
            (50, 100, &s, Some(50), "judge gates at 50% (observed), then shift to 100%; the gates at 100% are judged in the next apply, once observed"),
            (100, 100, &s, Some(100), "judge gates at 100% (observed)"),
            (100, 100, &s, None, "nothing to do"),
            // A target between steps is the last step, gated.
            (0, 5, &s, None, "shift to 5%; the gates at 5% are judged in the next apply, once observed"),
            // Going down: never gated; the pending gates are moot.
            (50, 0, &s, Some(50), "shift to 0%"),
            // A pending weight the split no longer starts at is not judged.
            (25, 100, &s, Some(10), "shift to 50%; the gates at 50% are judged in the next apply, once observed"),
            (0, 100, &Progression::Direct, None, "shift to 100%; the gates at 100% are judged in the next apply, once observed"),
            (40, 100, &linear, Some(40), "judge gates at 40% (observed), then shift to 80%; the gates at 80% are judged in the next apply, once observed"),
        ];
        for (from, to, progression, pending, expected) in cases {
            assert_eq!(
                moved(*from, *to, progression, *pending),
                *expected,
                "from {from} to {to}, pending {pending:?}"
            );
        }
    }

    #[test]
    fn the_judged_step_holds_for_the_pause_of_the_step_that_set_it() {
        let judged = |from: i64, progression: &Progression| {
            let plan = plan_shift(w(from), w(100), progression, OnFailure::Rollback).unwrap();
            observed_move(&plan, progression, Some(w(from)))
                .judge
                .unwrap()
        };
        let at_fifty = judged(50, &steps());
        assert_eq!(at_fifty.step.pause, Duration::from_secs(2));
        assert_eq!(
            at_fifty.last_good,
            w(25),
            "halt goes back to the step before"
        );
        assert_eq!(judged(10, &steps()).last_good, w(0));
        assert_eq!(
            judged(
                40,
                &Progression::Linear {
                    step_weight: w(40),
                    interval: Duration::from_secs(5)
                }
            )
            .step
            .pause,
            Duration::from_secs(5)
        );
        assert_eq!(judged(30, &Progression::Direct).step.pause, Duration::ZERO);
        assert!(judged(30, &steps()).step.analysis);
        assert_eq!(judged(100, &steps()).last_good, w(50));
    }

    #[test]
    fn pending_gates_at_zero_and_an_idle_split_are_no_move() {
        let plan = plan_shift(w(0), w(0), &Progression::Direct, OnFailure::Rollback).unwrap();
        assert!(observed_move(&plan, &Progression::Direct, Some(w(0))).is_empty());
    }
}
