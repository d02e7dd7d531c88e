//! Whole shifts on real components: two Kong stand-in clusters (kongsim) X
//! and Y behind a real HAProxy or nginx, gated by a real Prometheus scraping
//! both, under steady traffic; Y turned bad mid-shift with kongsim's fault
//! switch.

use super::test_support::{answers_by_cluster, kong_cluster, socket_addr, Load};
use super::*;
use crate::gates::{
    AnalysisPolicy, GateCheck, GateSpec, HttpCheck, JsonPath, Outcome, PrometheusCheck,
};
use std::sync::Arc;
use std::time::Duration;
use testbed::haproxy::{Haproxy, BACKEND, SERVER_X, SERVER_Y};
use testbed::kongsim::KongSim;
use testbed::nginx::Nginx;
use testbed::prometheus::{Prometheus, ScrapeTarget};
use tokio_util::sync::CancellationToken;

const GATE_INTERVAL: Duration = Duration::from_millis(200);

fn w(v: i64) -> TrafficWeight {
    TrafficWeight::new(v).unwrap()
}

struct Clusters {
    x: KongSim,
    y: Arc<KongSim>,
    prometheus: Prometheus,
}

impl Clusters {
    fn haproxy(&self) -> Haproxy {
        Haproxy::start(
            socket_addr(&self.x.proxy_url),
            socket_addr(&self.y.proxy_url),
            (100, 0),
        )
        .unwrap()
    }
}

fn clusters() -> Clusters {
    let (x, y) = (kong_cluster("x"), Arc::new(kong_cluster("y")));
    let targets = [
        ScrapeTarget::new("x", socket_addr(&x.status_url)),
        ScrapeTarget::new("y", socket_addr(&y.status_url)),
    ];
    let prometheus = Prometheus::start(&targets, Duration::from_millis(200)).unwrap();
    Clusters { x, y, prometheus }
}

/// No 5xx from Y in the last two seconds, and Y's Status API healthy.
fn gates(c: &Clusters) -> Vec<GateSpec> {
    let policy = AnalysisPolicy {
        interval: GATE_INTERVAL,
        timeout: Duration::from_secs(5),
        ..AnalysisPolicy::default()
    };
    vec![
        GateSpec {
            name: "y_errors".into(),
            check: GateCheck::Prometheus(PrometheusCheck {
                url: c.prometheus.url(),
                query: r#"sum(increase(kong_http_requests_total{job="y",code=~"5.."}[2s])) or vector(0)"#.into(),
                min: None,
                max: Some(0.0),
                auth: crate::gates::GateAuth::default(),
            }),
            policy: policy.clone(),
        },
        GateSpec {
            name: "y_status".into(),
            check: GateCheck::Http(HttpCheck {
                url: format!("{}/status", c.y.status_url),
                expected_status: 200,
                json_path: Some(JsonPath::parse("$.server.connections_accepted").unwrap()),
                expected_value: None,
                auth: crate::gates::GateAuth::default(),
            }),
            policy,
        },
    ]
}

fn steps(pauses: &[(i64, Duration)]) -> Progression {
    Progression::Steps(
        pauses
            .iter()
            .map(|(weight, pause)| StepSpec {
                weight: w(*weight),
                pause: *pause,
                analysis: true,
            })
            .collect(),
    )
}

/// Turns Y bad (every request a 500) as soon as `at` is applied.
fn y_turns_bad_at(at: TrafficWeight, y: &Arc<KongSim>) -> impl FnMut(&ShiftEvent) + Send + use<> {
    let y = y.clone();
    move |event| {
        if matches!(event, ShiftEvent::StepApplied { weights, .. } if weights.y == at) {
            let y = y.clone();
            tokio::task::spawn_blocking(move || y.set_faults(1.0, 0).unwrap());
        }
    }
}

/// `reloads`: whether the driver reloads the load balancer, whose old
/// workers then close idle keep-alive connections (see [`Load`]).
async fn full_shift_passes(
    driver: &impl TrafficDriver,
    c: &Clusters,
    frontend: String,
    reloads: bool,
) {
    let load = Load::start(frontend.clone(), 4);
    let pause = Duration::from_millis(700);
    let plan = plan_shift(
        w(0),
        w(100),
        &steps(&[(25, pause), (50, pause)]),
        OnFailure::Rollback,
    )
    .unwrap();
    assert_eq!(plan.weights(), vec![w(25), w(50), w(100)]);
    let outcome = shift(
        driver,
        &plan,
        &gates(c),
        &CancellationToken::new(),
        |_: &ShiftEvent| {},
    )
    .await
    .unwrap();
    let answers = load.stop().await;

    assert_eq!(
        (outcome.weights, outcome.end),
        (Weights::with_y(TrafficWeight::FULL), ShiftEnd::Completed)
    );
    assert_eq!(
        driver.read_weights().await.unwrap(),
        Weights::with_y(TrafficWeight::FULL)
    );
    assert_eq!(
        answers.get("failed"),
        None,
        "no request failed during the shift: {answers:?}"
    );
    if !reloads {
        assert_eq!(
            answers.get("resent"),
            None,
            "live weight changes close no connection: {answers:?}"
        );
    }
    assert!(
        answers.get("x").is_some_and(|n| *n > 0) && answers.get("y").is_some_and(|n| *n > 0),
        "{answers:?}"
    );
    assert_eq!(
        answers_by_cluster(&frontend, 20).await,
        [("y".to_string(), 20)].into(),
        "100 % on Y"
    );
    for record in &outcome.history[..2] {
        assert_eq!(record.gates.len(), 2);
        for gate in &record.gates {
            assert_eq!(gate.verdict, crate::gates::Verdict::Passed, "{gate:?}");
            assert!(
                gate.measurements.iter().all(|m| m.outcome == Outcome::Pass),
                "{gate:?}"
            );
        }
    }
}

#[tokio::test]
async fn haproxy_shifts_zero_to_hundred_while_the_gates_pass() {
    let c = clusters();
    let haproxy = c.haproxy();
    let driver = HaproxyDriver::new(
        RuntimeApiAddress::Unix(haproxy.admin_socket()),
        BACKEND,
        SERVER_X,
        SERVER_Y,
    )
    .unwrap();
    full_shift_passes(&driver, &c, haproxy.frontend_url(), false).await;
}

fn nginx_in_front(c: &Clusters) -> (Nginx, NginxDriver) {
    let (x, y) = (
        socket_addr(&c.x.proxy_url).to_string(),
        socket_addr(&c.y.proxy_url).to_string(),
    );
    let initial = NginxDriver::new("/unused".into(), "kong", &x, &y)
        .unwrap()
        .render(Weights::all_on_x());
    let nginx = Nginx::start("kong", &initial).unwrap();
    let driver = NginxDriver::new(nginx.upstream_file(), "kong", &x, &y)
        .unwrap()
        .with_reload_argv(nginx.reload_argv())
        .unwrap()
        .with_validate_argv(nginx.validate_argv())
        .unwrap()
        .with_pid_file(nginx.pid_file());
    (nginx, driver)
}

#[tokio::test]
async fn nginx_shifts_zero_to_hundred_while_the_gates_pass() {
    let c = clusters();
    let (nginx, driver) = nginx_in_front(&c);
    full_shift_passes(&driver, &c, nginx.frontend_url(), true).await;
}

#[tokio::test]
async fn y_turning_bad_at_thirty_percent_rolls_everything_back_to_x() {
    let c = clusters();
    let haproxy = c.haproxy();
    let driver = HaproxyDriver::new(
        RuntimeApiAddress::Unix(haproxy.admin_socket()),
        BACKEND,
        SERVER_X,
        SERVER_Y,
    )
    .unwrap();
    let load = Load::start(haproxy.frontend_url(), 4);
    // An hour at 30 %: only the failing gate can end that step.
    let hour = Duration::from_secs(3600);
    let progression = steps(&[(10, Duration::from_millis(500)), (30, hour), (60, hour)]);
    let plan = plan_shift(w(0), w(100), &progression, OnFailure::Rollback).unwrap();
    let error = shift(
        &driver,
        &plan,
        &gates(&c),
        &CancellationToken::new(),
        y_turns_bad_at(w(30), &c.y),
    )
    .await
    .unwrap_err();
    load.stop().await;

    match &error.failure {
        ShiftFailure::GateFailed {
            gate,
            weight_y,
            measurement,
            ..
        } => {
            assert_eq!((gate.as_str(), *weight_y), ("y_errors", w(30)));
            let measured: f64 = measurement.value.as_deref().unwrap().parse().unwrap();
            assert!(measured > 0.0, "{measurement:?}");
            assert!(
                error.to_string().contains(&format!(
                    "measured {}",
                    measurement.value.as_deref().unwrap()
                )),
                "{error}"
            );
        }
        other => panic!("expected the error gate to fail, got {other}"),
    }
    assert!(matches!(error.reaction, Reaction::RolledBack), "{error}");
    assert_eq!(error.weights, Weights::all_on_x());
    assert_eq!(driver.read_weights().await.unwrap(), Weights::all_on_x());
    assert_eq!(
        answers_by_cluster(&haproxy.frontend_url(), 20).await,
        [("x".to_string(), 20)].into()
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
}

#[tokio::test]
async fn halt_keeps_the_last_good_weight_on_nginx() {
    let c = clusters();
    let (nginx, driver) = nginx_in_front(&c);
    let load = Load::start(nginx.frontend_url(), 4);
    let hour = Duration::from_secs(3600);
    let progression = steps(&[(30, Duration::from_millis(500)), (60, hour)]);
    let plan = plan_shift(w(0), w(100), &progression, OnFailure::Halt).unwrap();
    let error = shift(
        &driver,
        &plan,
        &gates(&c),
        &CancellationToken::new(),
        y_turns_bad_at(w(60), &c.y),
    )
    .await
    .unwrap_err();
    load.stop().await;

    assert!(
        matches!(&error.failure, ShiftFailure::GateFailed { gate, weight_y, .. } if gate == "y_errors" && *weight_y == w(60)),
        "{error}"
    );
    assert!(
        matches!(error.reaction, Reaction::Halted { weights } if weights == Weights::with_y(w(30))),
        "{error}"
    );
    assert_eq!(driver.read_weights().await.unwrap(), Weights::with_y(w(30)));
    // Y still takes its 30 % (and still fails them: halting is not healing).
    let answers = answers_by_cluster(&nginx.frontend_url(), 20).await;
    assert_eq!(answers.get("x"), Some(&14), "{answers:?}");
}
