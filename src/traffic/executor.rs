//! The executor: walks a [`ShiftPlan`] on a load balancer, gating each step.
//!
//! A step sets the split, then runs every gate's analysis concurrently with
//! the step's pause. The step passes when the pause is over and every
//! analysis passed. The first failing verdict ends the step at once (the
//! rest of the pause is not waited for) and triggers the reaction: all on X
//! (`rollback`) or back to the last passed weight (`halt`).

use super::progression::{OnFailure, PlannedStep, ShiftPlan};
use super::{DriverError, TrafficDriver, TrafficWeight, Weights};
use crate::gates::{self, analyse, GateRecord, GateSpec, Measurement, Verdict};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use std::fmt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a history entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Up one planned step; gates ran if the step had analysis.
    Advance,
    /// Down, on the fast path (no gates).
    Reduce,
    /// All traffic back to X after a failure.
    RolledBack,
    /// Back to the last good weight after a failure (or a wait verdict).
    Halted,
}

/// One entry of the resource's `history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub weight_y: TrafficWeight,
    /// When the weight was applied (RFC 3339, UTC).
    pub at: String,
    pub kind: StepKind,
    pub gates: Vec<GateRecord>,
}

/// Progress reports, in order, for logs and checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub enum ShiftEvent {
    StepApplied {
        index: usize,
        weights: Weights,
    },
    Measured {
        gate: String,
        weight_y: TrafficWeight,
        measurement: Measurement,
    },
    /// The step's gates passed and its pause is over; safe to checkpoint.
    StepPassed {
        index: usize,
        weight_y: TrafficWeight,
    },
    GateFailed {
        gate: String,
        weight_y: TrafficWeight,
        measurement: Measurement,
    },
    RolledBack {
        weights: Weights,
    },
    Halted {
        weights: Weights,
    },
    Cancelled {
        weights: Weights,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftEnd {
    Completed,
    /// Cancellation stopped the walk at `weights`, the last split applied.
    Cancelled,
}

/// A shift that did not fail: completed, or stopped by cancellation.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftOutcome {
    /// The split the load balancer is at.
    pub weights: Weights,
    pub end: ShiftEnd,
    pub history: Vec<StepRecord>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ShiftFailure {
    #[error("gate {gate:?} failed at {weight_y} on cluster Y: {} ({failures} of {measured} measurements failed)", measurement.describe())]
    GateFailed {
        gate: String,
        weight_y: TrafficWeight,
        measurement: Measurement,
        failures: u32,
        measured: u32,
    },

    #[error("gate {gate:?} is inconclusive at {weight_y} on cluster Y ({}) and its inconclusive policy is \"wait\": a human must decide — apply again to retry, or lower weight_y", measurement.detail)]
    AwaitingDecision {
        gate: String,
        weight_y: TrafficWeight,
        measurement: Measurement,
    },

    #[error("setting {attempted} failed: {source}")]
    Driver {
        attempted: Weights,
        source: DriverError,
    },

    #[error("cannot build the HTTP client gates measure with: {0}")]
    GateClient(String),
}

impl ShiftFailure {
    /// The failing gate's name, when a gate decided.
    pub fn gate(&self) -> Option<&str> {
        match self {
            ShiftFailure::GateFailed { gate, .. } | ShiftFailure::AwaitingDecision { gate, .. } => {
                Some(gate)
            }
            ShiftFailure::Driver { .. } | ShiftFailure::GateClient(_) => None,
        }
    }
}

/// What the executor did about the failure.
#[derive(Debug, thiserror::Error)]
pub enum Reaction {
    #[error("all traffic was sent back to cluster X")]
    RolledBack,
    #[error("traffic stays at the last good split ({weights})")]
    Halted { weights: Weights },
    /// A driver failure: nothing was changed on purpose; `weights` is what the
    /// load balancer reported afterwards (or the last split applied, if it
    /// could not be read).
    #[error("the load balancer is at {weights}")]
    LeftAsIs { weights: Weights },
    #[error(
        "moving traffic to {attempted} failed too ({source}); check the load balancer by hand"
    )]
    Failed {
        attempted: Weights,
        source: DriverError,
    },
}

/// A failed shift, with everything the resource needs to save its state.
#[derive(Debug, thiserror::Error)]
#[error("{failure}; {reaction}")]
pub struct ShiftError {
    pub failure: ShiftFailure,
    pub reaction: Reaction,
    /// The split the load balancer is at, as far as the executor knows.
    pub weights: Weights,
    pub history: Vec<StepRecord>,
}

/// Walks `plan` on `driver`, running `gates` at every step with analysis.
///
/// The load balancer is assumed to be at `plan.from` when called (read it
/// first). `cancel` is observed between steps and during pauses and gate
/// measurements; a driver call in flight is allowed to finish, so the split
/// reported is always one that was actually applied.
pub async fn shift<D, F>(
    driver: &D,
    plan: &ShiftPlan,
    gates: &[GateSpec],
    cancel: &CancellationToken,
    on_event: F,
) -> Result<ShiftOutcome, ShiftError>
where
    D: TrafficDriver,
    F: FnMut(&ShiftEvent) + Send,
{
    let client = match gates::http_client() {
        Ok(client) => client,
        Err(e) => {
            let weights = Weights::with_y(plan.from);
            return Err(ShiftError {
                failure: ShiftFailure::GateClient(e.to_string()),
                reaction: Reaction::LeftAsIs { weights },
                weights,
                history: Vec::new(),
            });
        }
    };
    let mut walk = Walk {
        driver,
        gates,
        client,
        on_failure: plan.on_failure,
        applied: Weights::with_y(plan.from),
        last_good: plan.from,
        history: Vec::new(),
        on_event,
    };
    for (index, step) in plan.steps.iter().enumerate() {
        if step.weight < walk.applied.y {
            // Towards known-good: never gated, never cancelled halfway.
            walk.apply(index, step.weight, StepKind::Reduce).await?;
            walk.last_good = step.weight;
            continue;
        }
        if cancel.is_cancelled() {
            return Ok(walk.cancelled());
        }
        walk.apply(index, step.weight, StepKind::Advance).await?;
        match walk.hold(step, cancel).await {
            StepEnd::Passed => {
                walk.last_good = step.weight;
                walk.emit(ShiftEvent::StepPassed {
                    index,
                    weight_y: step.weight,
                });
            }
            StepEnd::Cancelled => return Ok(walk.cancelled()),
            StepEnd::Failed(gate) => return Err(walk.react(gate, false).await),
            StepEnd::AwaitingDecision(gate) => return Err(walk.react(gate, true).await),
        }
    }
    tracing::info!(weights = %walk.applied, "traffic shift completed");
    Ok(ShiftOutcome {
        weights: walk.applied,
        end: ShiftEnd::Completed,
        history: walk.history,
    })
}

/// How a step's hold ended; gate indexes point into the step's records.
enum StepEnd {
    Passed,
    Cancelled,
    Failed(usize),
    AwaitingDecision(usize),
}

/// The executor's running state.
struct Walk<'a, D, F> {
    driver: &'a D,
    gates: &'a [GateSpec],
    client: reqwest::Client,
    on_failure: OnFailure,
    /// The split last set successfully.
    applied: Weights,
    /// The highest weight whose step passed (or the starting weight).
    last_good: TrafficWeight,
    history: Vec<StepRecord>,
    on_event: F,
}

impl<D: TrafficDriver, F: FnMut(&ShiftEvent) + Send> Walk<'_, D, F> {
    fn emit(&mut self, event: ShiftEvent) {
        (self.on_event)(&event);
    }

    async fn apply(
        &mut self,
        index: usize,
        weight_y: TrafficWeight,
        kind: StepKind,
    ) -> Result<(), ShiftError> {
        let target = Weights::with_y(weight_y);
        if let Err(source) = self.driver.set_weights(target).await {
            let weights = self.driver.read_weights().await.unwrap_or(self.applied);
            tracing::warn!(%target, error = %source, "setting the traffic split failed");
            return Err(ShiftError {
                failure: ShiftFailure::Driver {
                    attempted: target,
                    source,
                },
                reaction: Reaction::LeftAsIs { weights },
                weights,
                history: std::mem::take(&mut self.history),
            });
        }
        tracing::info!(weights = %target, ?kind, "traffic split applied");
        self.applied = target;
        self.history.push(StepRecord {
            weight_y,
            at: gates::now_rfc3339(),
            kind,
            gates: Vec::new(),
        });
        self.emit(ShiftEvent::StepApplied {
            index,
            weights: target,
        });
        Ok(())
    }

    /// Stays at the applied weight for the step's pause while its gates run.
    async fn hold(&mut self, step: &PlannedStep, cancel: &CancellationToken) -> StepEnd {
        let gates: &[GateSpec] = if step.analysis { self.gates } else { &[] };
        let window_end = Instant::now() + step.pause;
        let mut records: Vec<GateRecord> = gates.iter().map(|g| GateRecord::new(&g.name)).collect();
        let (sender, mut measurements) = mpsc::unbounded_channel::<(usize, Measurement)>();
        // A clone (an Arc inside) so the analyses do not borrow `self`, which
        // reports measurements while they run.
        let client = self.client.clone();
        let end = {
            let client = &client;
            let mut analyses: FuturesUnordered<_> = gates
                .iter()
                .zip(records.iter_mut())
                .enumerate()
                .map(|(i, (gate, record))| {
                    let sender = sender.clone();
                    async move {
                        let verdict = analyse(gate, client, window_end, record, |m| {
                            // The receiver outlives every analysis; a send cannot fail.
                            let _ = sender.send((i, m.clone()));
                        })
                        .await;
                        (i, verdict)
                    }
                })
                .collect();
            drop(sender);
            let pause = tokio::time::sleep_until(window_end);
            tokio::pin!(pause);
            let mut paused = step.pause.is_zero();
            loop {
                if paused && analyses.is_empty() {
                    break StepEnd::Passed;
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break StepEnd::Cancelled,
                    Some((i, verdict)) = analyses.next(), if !analyses.is_empty() => match verdict {
                        Verdict::Failed => break StepEnd::Failed(i),
                        Verdict::AwaitingDecision => break StepEnd::AwaitingDecision(i),
                        Verdict::Passed | Verdict::Continue => {}
                    },
                    Some((i, measurement)) = measurements.recv() => {
                        self.report_measurement(gates, i, measurement);
                    }
                    _ = &mut pause, if !paused => paused = true,
                }
            }
        };
        while let Ok((i, measurement)) = measurements.try_recv() {
            self.report_measurement(gates, i, measurement);
        }
        if let Some(record) = self.history.last_mut() {
            record.gates = records;
        }
        end
    }

    fn report_measurement(&mut self, gates: &[GateSpec], index: usize, measurement: Measurement) {
        let gate = gates.get(index).map(|g| g.name.clone()).unwrap_or_default();
        let weight_y = self.applied.y;
        self.emit(ShiftEvent::Measured {
            gate,
            weight_y,
            measurement,
        });
    }

    /// Reacts to gate `index` of the latest step failing (or asking for a
    /// human), and builds the error.
    async fn react(&mut self, index: usize, awaiting_decision: bool) -> ShiftError {
        let weight_y = self.applied.y;
        let failure = self.gate_failure(index, weight_y, awaiting_decision);
        if let ShiftFailure::GateFailed {
            gate, measurement, ..
        }
        | ShiftFailure::AwaitingDecision {
            gate, measurement, ..
        } = &failure
        {
            tracing::warn!(gate = %gate, %weight_y, detail = %measurement.describe(), "gate stopped the traffic shift");
            self.emit(ShiftEvent::GateFailed {
                gate: gate.clone(),
                weight_y,
                measurement: measurement.clone(),
            });
        }
        let (target, kind) = match (self.on_failure, awaiting_decision) {
            (OnFailure::Rollback, false) => (Weights::all_on_x(), StepKind::RolledBack),
            _ => (Weights::with_y(self.last_good), StepKind::Halted),
        };
        let reaction = if target == self.applied {
            self.halted_or_rolled_back(kind, target)
        } else {
            match self.driver.set_weights(target).await {
                Ok(()) => {
                    self.applied = target;
                    self.history.push(StepRecord {
                        weight_y: target.y,
                        at: gates::now_rfc3339(),
                        kind,
                        gates: Vec::new(),
                    });
                    self.halted_or_rolled_back(kind, target)
                }
                Err(source) => {
                    if let Ok(now) = self.driver.read_weights().await {
                        self.applied = now;
                    }
                    Reaction::Failed {
                        attempted: target,
                        source,
                    }
                }
            }
        };
        ShiftError {
            failure,
            reaction,
            weights: self.applied,
            history: std::mem::take(&mut self.history),
        }
    }

    fn halted_or_rolled_back(&mut self, kind: StepKind, weights: Weights) -> Reaction {
        tracing::warn!(%weights, ?kind, "traffic shift stopped");
        if kind == StepKind::RolledBack {
            self.emit(ShiftEvent::RolledBack { weights });
            Reaction::RolledBack
        } else {
            self.emit(ShiftEvent::Halted { weights });
            Reaction::Halted { weights }
        }
    }

    fn gate_failure(
        &self,
        index: usize,
        weight_y: TrafficWeight,
        awaiting_decision: bool,
    ) -> ShiftFailure {
        let record = self.history.last().and_then(|r| r.gates.get(index));
        let gate = record.map(|r| r.gate.clone()).unwrap_or_default();
        let measurement = record
            .and_then(GateRecord::deciding)
            .cloned()
            .unwrap_or_else(|| Measurement::inconclusive("no measurement recorded"));
        if awaiting_decision {
            return ShiftFailure::AwaitingDecision {
                gate,
                weight_y,
                measurement,
            };
        }
        let (failures, measured) = record.map(|r| (r.failures, r.measured)).unwrap_or((0, 0));
        ShiftFailure::GateFailed {
            gate,
            weight_y,
            measurement,
            failures,
            measured,
        }
    }

    fn cancelled(mut self) -> ShiftOutcome {
        tracing::info!(weights = %self.applied, "traffic shift cancelled");
        self.emit(ShiftEvent::Cancelled {
            weights: self.applied,
        });
        ShiftOutcome {
            weights: self.applied,
            end: ShiftEnd::Cancelled,
            history: self.history,
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            StepKind::Advance => "advance",
            StepKind::Reduce => "reduce",
            StepKind::RolledBack => "rolled_back",
            StepKind::Halted => "halted",
        };
        f.write_str(text)
    }
}

#[cfg(test)]
#[path = "executor_tests.rs"]
mod tests;
