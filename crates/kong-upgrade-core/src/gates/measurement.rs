//! One gate measurement: what was observed and what it means.

use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// What one measurement says about the new cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Measured, and within the expected range.
    Pass,
    /// Measured, and outside the expected range.
    Fail,
    /// Nothing to judge by: the query returned no data (e.g. no traffic yet).
    Inconclusive,
    /// Could not measure: the check is broken (PromQL error, unreachable
    /// endpoint, command not found, timeout). Counts as a failure.
    Error,
}

/// One measurement, as recorded in the resource's `history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// When the measurement finished (RFC 3339, UTC).
    pub at: String,
    pub outcome: Outcome,
    /// The measured value as text (a metric sample, a status code, an exit
    /// code), when there was one.
    pub value: Option<String>,
    /// A sentence for humans: what was expected and what was seen.
    pub detail: String,
    /// For [`Outcome::Error`]: the gate attribute at fault (`"query"`, `"url"`,
    /// `"argv"`, `"json_path"`), so a diagnostic can point at it.
    pub fault: Option<String>,
}

impl Measurement {
    pub fn pass(value: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Outcome::Pass, Some(value.into()), detail.into(), None)
    }

    pub fn fail(value: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Outcome::Fail, Some(value.into()), detail.into(), None)
    }

    pub fn inconclusive(detail: impl Into<String>) -> Self {
        Self::new(Outcome::Inconclusive, None, detail.into(), None)
    }

    pub fn error(fault: &'static str, detail: impl Into<String>) -> Self {
        Self::new(Outcome::Error, None, detail.into(), Some(fault.to_string()))
    }

    fn new(outcome: Outcome, value: Option<String>, detail: String, fault: Option<String>) -> Self {
        Measurement {
            at: now_rfc3339(),
            outcome,
            value,
            detail,
            fault,
        }
    }

    /// "measured 0.31: error ratio above 0.05" style summary for messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Some(value) => format!("measured {value}: {}", self.detail),
            None => self.detail.clone(),
        }
    }
}

/// The current time as RFC 3339 (UTC, millisecond precision).
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `t` as RFC 3339 (UTC, millisecond precision).
pub fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let millis = t
        .replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t);
    millis
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{}", t.unix_timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_in_utc_with_milliseconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
    }
}
