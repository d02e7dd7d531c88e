//! The analysis loop: measure a gate every interval until [`decide`] says
//! the analysis is over.

use super::decision::{counts_as_failure, decide, Verdict};
use super::measurement::Measurement;
use super::GateSpec;
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, MissedTickBehavior};

/// Measurements kept per gate and step in the history; older ones are only
/// counted, so a long pause at a short interval cannot bloat the state.
pub const KEPT_MEASUREMENTS: usize = 10;

/// One gate's analysis within one step, as recorded in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    pub gate: String,
    /// `Continue` while running, or when the step ended before the gate did
    /// (another gate failed, or the shift was cancelled).
    pub verdict: Verdict,
    /// The latest measurements, oldest first (at most [`KEPT_MEASUREMENTS`]).
    pub measurements: Vec<Measurement>,
    /// Measurements taken in total.
    pub measured: u32,
    /// Measurements that counted as failures (fail, error, and inconclusive
    /// when the policy says so).
    pub failures: u32,
}

impl GateRecord {
    pub fn new(gate: &str) -> GateRecord {
        GateRecord {
            gate: gate.to_string(),
            verdict: Verdict::Continue,
            measurements: Vec::new(),
            measured: 0,
            failures: 0,
        }
    }

    fn push(&mut self, measurement: Measurement, failed: bool) {
        self.measured += 1;
        if failed {
            self.failures += 1;
        }
        if self.measurements.len() == KEPT_MEASUREMENTS {
            self.measurements.remove(0);
        }
        self.measurements.push(measurement);
    }

    /// The measurement that decided the verdict (the latest one).
    pub fn deciding(&self) -> Option<&Measurement> {
        self.measurements.last()
    }
}

/// Runs one gate's analysis until it passes, fails or awaits a decision.
///
/// Measurements start one interval after the call and repeat every
/// interval; with no `count`, the analysis ends at the first measurement that
/// leaves no room for another before `window_end`. Each measurement is
/// written to `record` and reported to `on_measurement` as soon as it is
/// taken, so a failure reaches the caller without waiting for the window.
pub async fn analyse(
    gate: &GateSpec,
    client: &reqwest::Client,
    window_end: Instant,
    record: &mut GateRecord,
    mut on_measurement: impl FnMut(&Measurement),
) -> Verdict {
    let policy = &gate.policy;
    let interval = policy.interval.max(std::time::Duration::from_millis(1));
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut outcomes = Vec::new();
    loop {
        ticks.tick().await;
        let measurement = gate.check.measure(client, policy.timeout).await;
        tracing::debug!(gate = %gate.name, outcome = ?measurement.outcome, value = ?measurement.value, "gate measured");
        outcomes.push(measurement.outcome);
        on_measurement(&measurement);
        let failed = counts_as_failure(policy, measurement.outcome);
        record.push(measurement, failed);
        let window_closed = Instant::now() + interval > window_end;
        let verdict = decide(policy, &outcomes, window_closed);
        if verdict != Verdict::Continue {
            record.verdict = verdict;
            return verdict;
        }
    }
}
