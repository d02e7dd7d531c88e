//! Executor behaviour with real gates (commands, a real Prometheus) on the
//! external driver, whose state is in memory: what the executor decides,
//! step by step, independent of any load balancer.

use super::*;
use crate::gates::{
    AnalysisPolicy, CommandCheck, GateCheck, InconclusivePolicy, Outcome, PrometheusCheck,
};
use crate::traffic::external::ExternalDriver;
use crate::traffic::haproxy::{HaproxyDriver, RuntimeApiAddress};
use crate::traffic::progression::{plan_shift, Progression, StepSpec};
use crate::traffic::test_support::{steps, w};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn fast_policy() -> AnalysisPolicy {
    AnalysisPolicy {
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        ..AnalysisPolicy::default()
    }
}

/// A gate that passes while `flag` does not exist: tests make "Y turn bad"
/// by creating the file, from the event callback, at a chosen weight.
fn flag_gate(name: &str, flag: &Path) -> GateSpec {
    GateSpec {
        name: name.into(),
        check: GateCheck::Command(CommandCheck {
            argv: vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "test ! -e '{}' || {{ echo 'Y is bad' >&2; exit 7; }}",
                    flag.display()
                ),
            ],
        }),
        policy: fast_policy(),
    }
}

struct Scenario {
    _dir: tempfile::TempDir,
    flag: PathBuf,
    events: Arc<Mutex<Vec<ShiftEvent>>>,
}

impl Scenario {
    fn new() -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("y-is-bad");
        Scenario {
            _dir: dir,
            flag,
            events: Arc::default(),
        }
    }

    /// An event callback that records events and turns Y bad once `bad_at`
    /// is applied.
    fn callback(&self, bad_at: Option<TrafficWeight>) -> impl FnMut(&ShiftEvent) + Send + use<> {
        let (events, flag) = (self.events.clone(), self.flag.clone());
        move |event| {
            if let (ShiftEvent::StepApplied { weights, .. }, Some(bad)) = (event, bad_at) {
                if weights.y == bad {
                    std::fs::write(&flag, "").unwrap();
                }
            }
            events.lock().unwrap().push(event.clone());
        }
    }

    fn events(&self) -> Vec<ShiftEvent> {
        self.events.lock().unwrap().clone()
    }
}

fn applied_weights(events: &[ShiftEvent]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            ShiftEvent::StepApplied { weights, .. } => Some(weights.y.percent()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn walks_every_step_while_the_gates_pass() {
    let s = Scenario::new();
    let driver = ExternalDriver::new(Weights::all_on_x());
    let plan = plan_shift(
        w(0),
        w(100),
        &steps(&[10, 50], Duration::from_secs(1)),
        OnFailure::Rollback,
    )
    .unwrap();
    let gates = [flag_gate("healthy", &s.flag)];
    let outcome = shift(
        &driver,
        &plan,
        &gates,
        &CancellationToken::new(),
        s.callback(None),
    )
    .await
    .unwrap();

    assert_eq!(
        (outcome.weights, outcome.end),
        (Weights::with_y(TrafficWeight::FULL), ShiftEnd::Completed)
    );
    assert_eq!(driver.weights(), Weights::with_y(TrafficWeight::FULL));
    assert_eq!(applied_weights(&s.events()), vec![10, 50, 100]);
    let kinds: Vec<_> = outcome
        .history
        .iter()
        .map(|r| (r.weight_y.percent(), r.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (10, StepKind::Advance),
            (50, StepKind::Advance),
            (100, StepKind::Advance)
        ]
    );
    // 1 s pause at a 50 ms interval: at least two measurements per paused
    // step. A second one is taken only when the first (a shell spawned)
    // leaves room for it before the pause ends; with a 120 ms pause a busy
    // machine left none and the test flaked.
    for record in &outcome.history[..2] {
        let gate = &record.gates[0];
        assert_eq!(
            (gate.gate.as_str(), gate.verdict),
            ("healthy", Verdict::Passed)
        );
        assert!(gate.measured >= 2, "{gate:?}");
        assert!(gate
            .measurements
            .iter()
            .all(|m| m.outcome == Outcome::Pass && m.value.as_deref() == Some("0")));
    }
    let passed = s
        .events()
        .iter()
        .filter(|e| matches!(e, ShiftEvent::StepPassed { .. }))
        .count();
    assert_eq!(passed, 3);
}

#[tokio::test]
async fn a_failing_gate_rolls_everything_back_to_x_without_waiting_for_the_pause() {
    let s = Scenario::new();
    let driver = ExternalDriver::new(Weights::all_on_x());
    // A one-hour pause at 30: the test only ends if the failure cuts it short.
    let hour = Duration::from_secs(3600);
    let progression = Progression::Steps(vec![
        StepSpec {
            weight: w(10),
            pause: Duration::ZERO,
            analysis: true,
        },
        StepSpec {
            weight: w(30),
            pause: hour,
            analysis: true,
        },
        StepSpec {
            weight: w(60),
            pause: hour,
            analysis: true,
        },
    ]);
    let plan = plan_shift(w(0), w(100), &progression, OnFailure::Rollback).unwrap();
    let gates = [flag_gate("error_rate", &s.flag)];
    let error = shift(
        &driver,
        &plan,
        &gates,
        &CancellationToken::new(),
        s.callback(Some(w(30))),
    )
    .await
    .unwrap_err();

    assert_eq!(driver.weights(), Weights::all_on_x());
    assert_eq!(error.weights, Weights::all_on_x());
    assert!(matches!(error.reaction, Reaction::RolledBack));
    match &error.failure {
        ShiftFailure::GateFailed {
            gate,
            weight_y,
            measurement,
            ..
        } => {
            assert_eq!((gate.as_str(), weight_y.percent()), ("error_rate", 30));
            assert_eq!(
                (measurement.outcome, measurement.value.as_deref()),
                (Outcome::Fail, Some("7"))
            );
        }
        other => panic!("expected a gate failure, got {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("\"error_rate\"")
            && message.contains("30%")
            && message.contains("measured 7"),
        "{message}"
    );
    assert!(
        message.contains("Y is bad") && message.contains("sent back to cluster X"),
        "{message}"
    );
    let kinds: Vec<_> = error
        .history
        .iter()
        .map(|r| (r.weight_y.percent(), r.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (10, StepKind::Advance),
            (30, StepKind::Advance),
            (0, StepKind::RolledBack)
        ]
    );
    let events = s.events();
    assert!(
        matches!(events.last(), Some(ShiftEvent::RolledBack { .. })),
        "{events:?}"
    );
}

#[tokio::test]
async fn halt_returns_to_the_last_step_whose_gates_passed() {
    let s = Scenario::new();
    let driver = ExternalDriver::new(Weights::all_on_x());
    let plan = plan_shift(
        w(0),
        w(100),
        &steps(&[10, 30, 60], Duration::ZERO),
        OnFailure::Halt,
    )
    .unwrap();
    let gates = [flag_gate("latency", &s.flag)];
    let error = shift(
        &driver,
        &plan,
        &gates,
        &CancellationToken::new(),
        s.callback(Some(w(60))),
    )
    .await
    .unwrap_err();

    assert_eq!(driver.weights(), Weights::with_y(w(30)));
    assert!(
        matches!(error.reaction, Reaction::Halted { weights } if weights == Weights::with_y(w(30))),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("last good split (X 70% / Y 30%)"),
        "{error}"
    );
    assert_eq!(
        error.history.last().map(|r| (r.weight_y.percent(), r.kind)),
        Some((30, StepKind::Halted))
    );
}

#[tokio::test]
async fn failure_limit_tolerates_that_many_failures() {
    let s = Scenario::new();
    std::fs::write(&s.flag, "").unwrap();
    let driver = ExternalDriver::new(Weights::all_on_x());
    let mut gate = flag_gate("flaky", &s.flag);
    gate.policy.count = Some(3);
    gate.policy.failure_limit = 2;
    let plan = plan_shift(w(0), w(20), &Progression::Direct, OnFailure::Rollback).unwrap();
    let error = shift(
        &driver,
        &plan,
        &[gate],
        &CancellationToken::new(),
        s.callback(None),
    )
    .await
    .unwrap_err();
    match error.failure {
        ShiftFailure::GateFailed {
            failures, measured, ..
        } => assert_eq!((failures, measured), (3, 3)),
        other => panic!("expected a gate failure, got {other}"),
    }
}

#[tokio::test]
async fn cancellation_stops_at_the_last_applied_weight() {
    let s = Scenario::new();
    let driver = ExternalDriver::new(Weights::all_on_x());
    let plan = plan_shift(
        w(0),
        w(100),
        &steps(&[10, 30, 60], Duration::from_secs(3600)),
        OnFailure::Rollback,
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let mut record = s.callback(None);
    let trigger = cancel.clone();
    let on_event = move |event: &ShiftEvent| {
        if matches!(event, ShiftEvent::StepApplied { .. }) {
            trigger.cancel();
        }
        record(event);
    };
    let outcome = shift(
        &driver,
        &plan,
        &[flag_gate("g", &s.flag)],
        &cancel,
        on_event,
    )
    .await
    .unwrap();
    assert_eq!(
        (outcome.weights, outcome.end),
        (Weights::with_y(w(10)), ShiftEnd::Cancelled)
    );
    assert_eq!(driver.weights(), Weights::with_y(w(10)));
    assert_eq!(applied_weights(&s.events()), vec![10]);
}

#[tokio::test]
async fn going_down_is_immediate_and_ungated() {
    let s = Scenario::new();
    std::fs::write(&s.flag, "").unwrap(); // every gate would fail
    let driver = ExternalDriver::new(Weights::with_y(TrafficWeight::FULL));
    let plan = plan_shift(
        w(100),
        w(0),
        &steps(&[10, 30], Duration::from_secs(3600)),
        OnFailure::Rollback,
    )
    .unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel(); // not even a cancelled apply slows a return to X
    let outcome = shift(
        &driver,
        &plan,
        &[flag_gate("g", &s.flag)],
        &cancel,
        s.callback(None),
    )
    .await
    .unwrap();
    assert_eq!(
        (outcome.weights, outcome.end),
        (Weights::all_on_x(), ShiftEnd::Completed)
    );
    assert_eq!(outcome.history.len(), 1);
    assert_eq!(
        (outcome.history[0].kind, outcome.history[0].gates.len()),
        (StepKind::Reduce, 0)
    );
}

#[tokio::test]
async fn a_driver_failure_leaves_the_last_applied_split_and_names_the_attribute() {
    let s = Scenario::new();
    let driver = HaproxyDriver::new(
        RuntimeApiAddress::Unix(s.flag.with_extension("sock")),
        "kong",
        "x",
        "y",
    )
    .unwrap();
    let plan = plan_shift(w(0), w(50), &Progression::Direct, OnFailure::Rollback).unwrap();
    let error = shift(
        &driver,
        &plan,
        &[],
        &CancellationToken::new(),
        s.callback(None),
    )
    .await
    .unwrap_err();
    match &error.failure {
        ShiftFailure::Driver { source, .. } => assert_eq!(source.attribute(), "runtime_api"),
        other => panic!("expected a driver failure, got {other}"),
    }
    assert!(
        matches!(error.reaction, Reaction::LeftAsIs { weights } if weights == Weights::all_on_x())
    );
}

mod with_prometheus {
    use super::*;
    use testbed::prometheus::Prometheus;

    fn prometheus_gate(
        prometheus: &Prometheus,
        query: &str,
        inconclusive: InconclusivePolicy,
    ) -> GateSpec {
        GateSpec {
            name: "error_rate".into(),
            check: GateCheck::Prometheus(PrometheusCheck {
                url: prometheus.url(),
                query: query.into(),
                min: None,
                max: Some(0.05),
                auth: crate::gates::GateAuth::default(),
            }),
            policy: AnalysisPolicy {
                inconclusive,
                ..fast_policy()
            },
        }
    }

    async fn run(gate: GateSpec, on_failure: OnFailure) -> (ShiftError, Weights) {
        let driver = ExternalDriver::new(Weights::with_y(w(10)));
        let plan = plan_shift(w(10), w(40), &steps(&[20, 40], Duration::ZERO), on_failure).unwrap();
        let error = shift(
            &driver,
            &plan,
            &[gate],
            &CancellationToken::new(),
            |_: &ShiftEvent| {},
        )
        .await
        .unwrap_err();
        (error, driver.weights())
    }

    #[tokio::test]
    async fn no_data_fails_by_default_waits_for_a_human_when_asked_and_a_promql_error_quotes_prometheus(
    ) {
        let prometheus = Prometheus::start(&[], Duration::from_secs(1)).unwrap();
        let no_data = "sum(rate(kong_http_requests_total{code=~\"5..\"}[1m]))";

        let (error, weights) = run(
            prometheus_gate(&prometheus, no_data, InconclusivePolicy::Fail),
            OnFailure::Rollback,
        )
        .await;
        assert_eq!(weights, Weights::all_on_x());
        match &error.failure {
            ShiftFailure::GateFailed { measurement, .. } => {
                assert_eq!(measurement.outcome, Outcome::Inconclusive);
                assert!(
                    measurement.detail.contains("no data"),
                    "{}",
                    measurement.detail
                );
            }
            other => panic!("expected a gate failure, got {other}"),
        }

        // `wait` halts at the last good weight even with on_failure = rollback.
        let (error, weights) = run(
            prometheus_gate(&prometheus, no_data, InconclusivePolicy::Wait),
            OnFailure::Rollback,
        )
        .await;
        assert_eq!(weights, Weights::with_y(w(10)));
        assert!(
            matches!(error.failure, ShiftFailure::AwaitingDecision { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("a human must decide"), "{error}");

        let (error, _) = run(
            prometheus_gate(&prometheus, "sum(rate(", InconclusivePolicy::Fail),
            OnFailure::Halt,
        )
        .await;
        match &error.failure {
            ShiftFailure::GateFailed { measurement, .. } => {
                assert_eq!(
                    (measurement.outcome, measurement.fault.as_deref()),
                    (Outcome::Error, Some("query"))
                );
                assert!(
                    measurement.detail.contains("bad_data")
                        && measurement.detail.contains("parse error"),
                    "{}",
                    measurement.detail
                );
            }
            other => panic!("expected a gate failure, got {other}"),
        }
    }
}
