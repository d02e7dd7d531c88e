//! The one traffic move, on the external driver (state in memory) and a
//! real unreachable HAProxy socket: what every caller gets back.

use super::*;
use crate::gates::{AnalysisPolicy, CommandCheck, GateCheck};
use crate::traffic::test_support::{steps, w};
use crate::traffic::{ExternalDriver, HaproxyDriver, RuntimeApiAddress};
use std::time::Duration;

/// A real command gate: `sh -c 'exit <code>'`.
fn gate(name: &str, exit_code: u8) -> GateSpec {
    GateSpec {
        name: name.into(),
        check: GateCheck::Command(CommandCheck {
            argv: vec!["sh".into(), "-c".into(), format!("exit {exit_code}")],
        }),
        policy: AnalysisPolicy {
            interval: Duration::from_millis(50),
            timeout: Duration::from_secs(5),
            ..AnalysisPolicy::default()
        },
    }
}

fn mover<'a>(
    driver: &'a ExternalDriver,
    progression: &'a Progression,
    gates: &'a [GateSpec],
) -> TrafficMove<'a, ExternalDriver> {
    TrafficMove {
        driver,
        progression,
        on_failure: OnFailure::Rollback,
        gates,
    }
}

fn unbounded(cancel: &CancellationToken) -> Bounds<'_> {
    Bounds {
        cancel,
        deadline: None,
    }
}

fn percents(history: &[StepRecord]) -> Vec<u8> {
    history.iter().map(|r| r.weight_y.percent()).collect()
}

#[tokio::test]
async fn reaches_the_weight_and_hands_back_what_to_record() {
    let driver = ExternalDriver::new(Weights::with_y(w(10)));
    let progression = steps(&[30, 60], Duration::ZERO);
    let gates = [gate("healthy", 0)];
    let cancel = CancellationToken::new();
    let moved = mover(&driver, &progression, &gates)
        .move_to(
            Destination::Weight(w(100)),
            Some(&[w(30), w(60), w(100)]),
            unbounded(&cancel),
        )
        .await
        .unwrap();
    assert_eq!(moved.from, Weights::with_y(w(10)));
    assert_eq!(moved.weights, Weights::with_y(TrafficWeight::FULL));
    assert_eq!(percents(&moved.history), vec![30, 60, 100]);
    assert_eq!(driver.weights(), Weights::with_y(TrafficWeight::FULL));
}

#[tokio::test]
async fn a_walk_the_plan_did_not_show_is_refused_before_anything_moves() {
    // The plan read 0% and showed 30 → 60 → 100; someone set 50% since.
    let driver = ExternalDriver::new(Weights::with_y(w(50)));
    let progression = steps(&[30, 60], Duration::ZERO);
    let cancel = CancellationToken::new();
    let e = mover(&driver, &progression, &[])
        .move_to(
            Destination::Weight(w(100)),
            Some(&[w(30), w(60), w(100)]),
            unbounded(&cancel),
        )
        .await
        .unwrap_err();
    assert_eq!(e.summary(), "Traffic split changed since plan");
    let text = e.to_string();
    assert!(text.contains("gives Y 50% now"), "{text}");
    assert!(text.contains("would set 60% → 100%"), "{text}");
    assert!(text.contains("the plan showed 30% → 60% → 100%"), "{text}");
    assert_eq!(e.reached, None);
    assert_eq!(driver.weights(), Weights::with_y(w(50)), "nothing moved");
    // The same move with no approved walk (an action, or an upgrade step)
    // goes ahead from where the split is.
    let moved = mover(&driver, &progression, &[])
        .move_to(Destination::Weight(w(100)), None, unbounded(&cancel))
        .await
        .unwrap();
    assert_eq!(percents(&moved.history), vec![60, 100]);
}

#[tokio::test]
async fn a_split_already_where_the_plan_left_it_is_no_move() {
    let driver = ExternalDriver::new(Weights::with_y(w(40)));
    let cancel = CancellationToken::new();
    let moved = mover(&driver, &Progression::Direct, &[])
        .move_to(Destination::Weight(w(40)), Some(&[]), unbounded(&cancel))
        .await
        .unwrap();
    assert!(moved.history.is_empty());
    // Moved by hand since a plan that showed no move: refused.
    driver.set_weights(Weights::with_y(w(70))).await.unwrap();
    let e = mover(&driver, &Progression::Direct, &[])
        .move_to(Destination::Weight(w(40)), Some(&[]), unbounded(&cancel))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("the plan showed no move"), "{e}");
}

#[tokio::test]
async fn the_next_step_is_one_direct_step_capped_at_max() {
    let driver = ExternalDriver::new(Weights::with_y(w(30)));
    // Pauses belong to the upgrade's walk; a promotion is one step.
    let progression = steps(&[10, 30, 60], Duration::from_secs(3600));
    let cancel = CancellationToken::new();
    let move_ = mover(&driver, &progression, &[]);
    let plan = move_
        .plan(w(30), Destination::NextStep { max: w(50) })
        .unwrap();
    assert_eq!(plan.weights(), vec![w(50)]);
    assert_eq!(plan.steps[0].pause, Duration::ZERO);
    let moved = move_
        .move_to(
            Destination::NextStep { max: w(100) },
            None,
            unbounded(&cancel),
        )
        .await
        .unwrap();
    assert_eq!(moved.weights, Weights::with_y(w(60)));
}

/// A walk from 0 to 100 through 20 (pausing 30 s there), stopped after
/// 300 ms by the deadline or by Terraform cancelling.
async fn stopped_during_a_pause(by_deadline: bool) -> MoveError {
    let driver = ExternalDriver::new(Weights::all_on_x());
    let progression = steps(&[20, 60], Duration::from_secs(30));
    let cancel = CancellationToken::new();
    let soon = Instant::now() + Duration::from_millis(300);
    let deadline = if by_deadline {
        soon
    } else {
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(soon)).await;
            stop.cancel();
        });
        soon + Duration::from_secs(600)
    };
    let e = mover(&driver, &progression, &[])
        .move_to(
            Destination::Weight(w(100)),
            None,
            Bounds {
                cancel: &cancel,
                deadline: Some(deadline),
            },
        )
        .await
        .unwrap_err();
    assert!(
        soon.elapsed() < Duration::from_secs(10),
        "the pause was cut short"
    );
    e
}

#[tokio::test]
async fn the_deadline_and_terraform_cancelling_stop_the_walk_the_same_way() {
    for (by_deadline, why) in [(true, "time limit"), (false, "Terraform asked")] {
        let e = stopped_during_a_pause(by_deadline).await;
        assert_eq!(e.summary(), "Traffic shift interrupted");
        assert!(
            matches!(*e.cause, MoveCause::Interrupted { by_deadline: b, .. } if b == by_deadline),
            "{e}"
        );
        assert!(e.to_string().contains(why), "{e}");
        assert_eq!(e.reached, Some(Weights::with_y(w(20))));
        assert_eq!(percents(&e.history), vec![20]);
        assert_eq!(e.attribute_under("traffic").as_deref(), Some("traffic"));
        assert_eq!(e.attribute_under(""), None);
    }
}

#[tokio::test]
async fn a_failing_gate_is_named_by_its_block_under_the_callers_traffic_block() {
    let driver = ExternalDriver::new(Weights::all_on_x());
    let gates = [gate("healthy", 0), gate("errors", 3)];
    let cancel = CancellationToken::new();
    let e = mover(&driver, &Progression::Direct, &gates)
        .move_to(Destination::Weight(w(50)), None, unbounded(&cancel))
        .await
        .unwrap_err();
    assert_eq!(e.summary(), "Traffic shift stopped");
    assert_eq!(
        e.attribute_under("traffic").as_deref(),
        Some("traffic.gate[1]")
    );
    assert_eq!(e.attribute_under("").as_deref(), Some("gate[1]"));
    assert!(e.to_string().contains("all traffic was sent back"), "{e}");
    assert_eq!(e.reached, Some(Weights::all_on_x()));
    assert_eq!(percents(&e.history), vec![50, 0]);
}

#[tokio::test]
async fn an_unreachable_load_balancer_names_the_driver_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let driver = HaproxyDriver::new(
        RuntimeApiAddress::Unix(dir.path().join("absent.sock")),
        "kong",
        "x",
        "y",
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let move_ = TrafficMove {
        driver: &driver,
        progression: &Progression::Direct,
        on_failure: OnFailure::Rollback,
        gates: &[],
    };
    let e = move_
        .move_to(Destination::Weight(w(50)), None, unbounded(&cancel))
        .await
        .unwrap_err();
    assert_eq!(e.summary(), "Cannot read the load balancer");
    assert_eq!(
        e.attribute_under("traffic").as_deref(),
        Some("traffic.haproxy.runtime_api")
    );
    assert_eq!(e.reached, None);
}

#[test]
fn an_invalid_progression_names_the_step() {
    let driver = ExternalDriver::new(Weights::all_on_x());
    let progression = steps(&[30, 20], Duration::ZERO);
    let e = mover(&driver, &progression, &[])
        .plan(w(0), Destination::Weight(w(100)))
        .unwrap_err();
    assert_eq!(e.summary(), "Invalid traffic progression");
    assert_eq!(
        e.attribute_under("traffic").as_deref(),
        Some("traffic.steps[1].weight")
    );
}
