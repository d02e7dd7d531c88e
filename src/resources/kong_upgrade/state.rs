//! What `kong_upgrade` keeps between applies: the planner's checkpoint and
//! the freeze fingerprint in private state (bytes Terraform stores but does
//! not show), and the human-readable attributes derived from them.

use super::schema::history_type;
use crate::planner::{
    Checkpoint, DeploymentFacts, Plan, PlannedStep, StepId, StepKind, TrafficWeight, Warning,
};
use crate::steps::freeze::Fingerprint;
use crate::version::KongVersion;
use serde::{Deserialize, Serialize};
use tfplug::Value;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Private {
    #[serde(default)]
    pub checkpoint: Checkpoint,
    #[serde(default)]
    pub fingerprint: Option<Fingerprint>,
    /// Facts read from X at the last plan (X may be gone later).
    #[serde(default)]
    pub facts: Option<DeploymentFacts>,
    #[serde(default)]
    pub from_version: Option<KongVersion>,
    /// Set by import: the next plan infers the checkpoint from the world.
    #[serde(default)]
    pub infer: bool,
    /// The step that had started but was not recorded complete when the
    /// last apply stopped (Ctrl-C, failure). Its effect may have happened:
    /// the step's executor checks the world before doing it again.
    #[serde(default)]
    pub in_flight: Option<StepKind>,
    /// The newest journal row this private state reflects (0: none); a
    /// newer row means an apply went further than Terraform recorded.
    #[serde(default)]
    pub journal_seq: i64,
}

impl Private {
    pub fn decode(bytes: &[u8]) -> Private {
        if bytes.is_empty() {
            return Private::default();
        }
        serde_json::from_slice(bytes).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "unreadable private state; starting from an empty checkpoint");
            Private::default()
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// This private state, or — when it holds no progress although `state`
    /// shows some — the checkpoint as `history` and `current_weight_y` tell
    /// it. Terraform hands the destroy half of replacing a tainted upgrade
    /// the *new* object's empty private state; judging the destroy by it
    /// would let an upgrade in progress be destroyed unchecked.
    pub fn or_from_attributes(mut self, state: &Value) -> Private {
        let progressed = !self.checkpoint.completed.is_empty()
            || self.checkpoint.weight_y != TrafficWeight::ZERO;
        if progressed {
            return self;
        }
        for entry in history_from_state(state)
            .iter()
            .filter(|e| e.result == "ok")
        {
            self.checkpoint.completed.insert(StepId::new(&entry.step));
        }
        if let Some(weight) = state
            .attr("current_weight_y")
            .as_i64()
            .and_then(|w| TrafficWeight::new(w).ok())
        {
            self.checkpoint.weight_y = weight;
        }
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub step: String,
    pub action: String,
    pub started_at: String,
    pub finished_at: String,
    pub result: String,
    pub detail: String,
}

pub fn history_value(entries: &[HistoryEntry]) -> Value {
    let ty = history_type();
    Value::List(
        entries
            .iter()
            .filter_map(|e| Value::encode(e, &ty).ok())
            .collect(),
    )
}

pub fn history_from_state(state: &Value) -> Vec<HistoryEntry> {
    if !state.attr("history").is_wholly_known() {
        return Vec::new();
    }
    state
        .attr("history")
        .decode::<Vec<Option<HistoryEntry>>>()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

pub fn steps_value(steps: &[PlannedStep]) -> Value {
    Value::List(
        steps
            .iter()
            .map(|s| {
                Value::object([
                    ("id", Value::from(s.id.as_str())),
                    ("action", Value::from(s.describe())),
                    ("why", Value::from(s.why.as_str())),
                    ("destructive", Value::from(s.destructive)),
                ])
            })
            .collect(),
    )
}

pub fn warnings_value(warnings: &[Warning]) -> Value {
    Value::List(
        warnings
            .iter()
            .map(|w| Value::from(w.message.as_str()))
            .collect(),
    )
}

/// The weight Y will have once `plan` ran.
pub fn weight_after(plan: &Plan, checkpoint: &Checkpoint) -> i64 {
    plan.steps
        .iter()
        .rev()
        .find_map(|s| match s.kind {
            StepKind::ShiftTraffic { to_weight } => Some(i64::from(to_weight.percent())),
            StepKind::TrafficBackToX => Some(0),
            _ => None,
        })
        .unwrap_or_else(|| i64::from(checkpoint.weight_y.percent()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with_history(entries: &[(&str, &str)], weight_y: i64) -> Value {
        let history: Vec<HistoryEntry> = entries
            .iter()
            .map(|(step, result)| HistoryEntry {
                step: step.to_string(),
                action: String::new(),
                started_at: String::new(),
                finished_at: String::new(),
                result: result.to_string(),
                detail: String::new(),
            })
            .collect();
        Value::object([
            ("history", history_value(&history)),
            ("current_weight_y", Value::from(weight_y)),
        ])
    }

    /// The destroy half of replacing a tainted upgrade gets an empty private
    /// state: the attributes tell what was done.
    #[test]
    fn an_empty_private_state_is_rebuilt_from_the_history() {
        let state = state_with_history(
            &[
                ("freeze", "ok"),
                ("migrations_up", "ok"),
                ("start_y", "failed"),
            ],
            25,
        );
        let private = Private::default().or_from_attributes(&state);
        let done: Vec<&str> = private
            .checkpoint
            .completed
            .iter()
            .map(StepId::as_str)
            .collect();
        assert_eq!(done, ["freeze", "migrations_up"]);
        assert_eq!(private.checkpoint.weight_y.percent(), 25);
    }

    #[test]
    fn a_private_state_with_progress_is_kept() {
        let state = state_with_history(&[("freeze", "ok"), ("migrations_up", "ok")], 0);
        let mut recorded = Private::default();
        recorded.checkpoint.completed.insert(StepId::new("freeze"));
        let private = recorded.or_from_attributes(&state);
        assert_eq!(private.checkpoint.completed.len(), 1);
    }
}
