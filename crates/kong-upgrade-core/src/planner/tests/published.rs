//! The `external` driver: one observed move per apply, and the steps after
//! the traffic never in the apply that publishes a higher weight.

use super::*;
use crate::traffic::progression::{Progression, StepSpec};
use std::time::Duration;

fn w(percent: i64) -> TrafficWeight {
    TrafficWeight::new(percent).unwrap()
}

/// Blue-green towards `completed`, Y started, `weight_y` published, the
/// gates at `pending` left for this apply.
fn at(weight_y: i64, pending: Option<i64>, observed: bool) -> PlanInput {
    let mut input = baseline();
    input.options.staging_tests_configured = false;
    let progression = Progression::Steps(
        [10, 50]
            .map(|weight| StepSpec {
                weight: w(weight),
                pause: Duration::ZERO,
                analysis: true,
            })
            .to_vec(),
    );
    input.options.published_traffic = Some(PublishedTraffic {
        observed: observed.then_some(progression),
    });
    let done = "freeze,backup,migrations_up,start_y,wait_ready_y";
    input.checkpoint = Checkpoint {
        completed: done.split(',').map(StepId::new).collect(),
        weight_y: w(weight_y),
        backup_location: None,
        gates_pending_at: pending.map(w),
    };
    input
}

/// `(step id, what the plan says)` of each step, and the phase reached.
fn planned(input: &PlanInput) -> (Vec<(String, String)>, String) {
    let plan = plan(input).unwrap();
    let steps = plan
        .steps
        .iter()
        .map(|s| (s.id.to_string(), s.action.clone()))
        .collect();
    (steps, plan.target_phase.to_string())
}

fn planned_ids(input: &PlanInput) -> Vec<String> {
    ids(&plan(input).unwrap().steps)
}

#[test]
fn each_observed_apply_judges_the_last_weight_then_publishes_one_and_stops() {
    let (steps, reached) = planned(&at(0, None, true));
    assert_eq!(
        steps,
        vec![
            (
                "verify_freeze_before_cutover".to_string(),
                StepKind::VerifyFreeze {
                    before: FreezeGate::Cutover
                }
                .describe()
            ),
            (
                "shift_traffic_to_10".to_string(),
                "shift to 10%; the gates at 10% are judged in the next apply, once observed"
                    .to_string()
            ),
        ]
    );
    assert_eq!(reached, "serving (10% on Y)");
    let (steps, reached) = planned(&at(10, Some(10), true));
    assert_eq!(
        steps,
        vec![(
            "shift_traffic_to_50".to_string(),
            "judge gates at 10% (observed), then shift to 50%; the gates at 50% are judged in the next apply, once observed"
                .to_string()
        )]
    );
    assert_eq!(reached, "serving (50% on Y)");
    assert_eq!(
        planned_ids(&at(50, Some(50), true)),
        ["shift_traffic_to_100"],
        "publishing 100 stops before the cutover"
    );
    // 100 published, its gates pending: judged first, then the rest.
    let (steps, reached) = planned(&at(100, Some(100), true));
    assert_eq!(steps[0].0, "shift_traffic_to_100");
    assert_eq!(steps[0].1, "judge gates at 100% (observed)");
    assert!(
        steps.iter().any(|(id, _)| id == "migrations_finish"),
        "{steps:?}"
    );
    assert_eq!(reached, "completed");
    // A pending weight the split no longer stands at is not judged.
    assert_eq!(
        planned(&at(50, Some(10), true)).0[0].1,
        "shift to 100%; the gates at 100% are judged in the next apply, once observed"
    );
}

#[test]
fn going_down_is_never_gated_and_drops_what_was_pending() {
    let mut input = at(50, Some(50), true);
    input.target = TargetPhase::Migrated;
    assert_eq!(planned_ids(&input), ["traffic_back_to_x"]);
    let mut checkpoint = input.checkpoint.clone();
    checkpoint.record(&StepKind::TrafficBackToX);
    assert_eq!(checkpoint.gates_pending_at, None);
    let mut down = at(50, Some(50), true).checkpoint;
    down.record(&StepKind::ShiftTraffic { to_weight: w(10) });
    assert_eq!(down.gates_pending_at, None);
    let mut up = at(10, Some(50), true).checkpoint;
    up.record(&StepKind::ShiftTraffic { to_weight: w(50) });
    assert_eq!(
        up.gates_pending_at,
        Some(w(50)),
        "the executor sets it going up"
    );
}

#[test]
fn without_observe_the_steps_after_the_traffic_wait_for_a_later_apply() {
    let (steps, reached) = planned(&at(0, None, false));
    let walked: Vec<&str> = steps.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        walked,
        [
            "verify_freeze_before_cutover",
            "shift_traffic_to_10",
            "shift_traffic_to_50",
            "shift_traffic_to_100"
        ]
    );
    assert_eq!(reached, "serving (100% on Y)");
    let next = planned_ids(&at(100, None, false));
    assert!(next.contains(&"migrations_finish".to_string()), "{next:?}");
    // Drivers that move the load balancer themselves run it all at once.
    let mut own = at(0, None, false);
    own.options.published_traffic = None;
    assert!(planned_ids(&own).contains(&"migrations_finish".to_string()));
}

#[test]
fn a_checkpoint_written_before_gates_pending_at_loads_with_nothing_pending() {
    let old = r#"{"completed":["freeze"],"weight_y":10,"backup_location":null}"#;
    let checkpoint: Checkpoint = serde_json::from_str(old).unwrap();
    assert_eq!(checkpoint.gates_pending_at, None);
    assert_eq!(checkpoint.weight_y, w(10));
    let written = serde_json::to_string(&at(10, Some(10), true).checkpoint).unwrap();
    assert!(written.contains(r#""gates_pending_at":10"#), "{written}");
}

/// One apply of `plan` as the executor makes it: every step recorded, and,
/// for an observed move up, the gates of the weight it published left
/// pending (each step of these progressions has analysis).
fn run(input: &mut PlanInput, plan: &Plan) {
    let observed = input
        .options
        .published_traffic
        .as_ref()
        .is_some_and(|p| p.observed.is_some());
    for step in &plan.steps {
        if let StepKind::ShiftTraffic { to_weight } = step.kind {
            input.checkpoint.gates_pending_at =
                (observed && to_weight > input.checkpoint.weight_y).then_some(to_weight);
        }
        input.checkpoint.record(&step.kind);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever the strategy, progression and target: each apply ends where
    /// its plan said (`target_phase`), nothing but traffic follows a move
    /// that publishes more traffic for Y (observed: nothing at all), and
    /// applying again converges to an empty plan.
    #[test]
    fn published_walks_converge_one_move_per_apply(
        strategy in proptest::sample::select(vec![Strategy::BlueGreen, Strategy::DualCluster]),
        observed in proptest::prelude::any::<bool>(),
        linear in 0u8..3,
        target in proptest::sample::select(vec!["serving", "finished", "completed"]),
        weight in 1i64..=100,
    ) {
        let mut input = at(0, None, observed);
        input.strategy = strategy;
        input.facts.second_database_configured = strategy == Strategy::DualCluster;
        input.checkpoint = Checkpoint::default();
        if let Some(published) = input.options.published_traffic.as_mut().and_then(|p| p.observed.as_mut()) {
            *published = match linear {
                0 => Progression::Direct,
                1 => Progression::Linear { step_weight: w(30), interval: Duration::ZERO },
                _ => published.clone(),
            };
        }
        input.target = TargetPhase::from_parts(target, Some(weight)).unwrap();
        for _ in 0..20 {
            let plan = plan(&input).unwrap();
            if plan.is_empty() {
                return Ok(());
            }
            let before = input.checkpoint.weight_y;
            if let Some(up) = plan.steps.iter().position(|s| matches!(s.kind, StepKind::ShiftTraffic { to_weight } if to_weight > before)) {
                let after = &plan.steps[up + 1..];
                // Unobserved, the intermediate weights are published in turn.
                let only_moves = after.iter().all(|s| matches!(s.kind, StepKind::ShiftTraffic { .. }));
                proptest::prop_assert!(only_moves && (!observed || after.is_empty()), "{:?}", ids(&plan.steps));
            }
            run(&mut input, &plan);
            let reached = match plan.target_phase {
                Phase::Serving { weight_y } if weight_y == TrafficWeight::ZERO => Phase::Migrated,
                phase => phase,
            };
            proptest::prop_assert_eq!(current_phase(&input), reached);
        }
        proptest::prop_assert!(false, "not converged after 20 applies");
    }
}
