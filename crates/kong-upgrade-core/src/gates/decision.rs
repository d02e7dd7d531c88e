//! When an analysis is over, and how it ended: a pure function of the
//! policy and the outcomes measured so far (Argo Rollouts' semantics).

use super::measurement::Outcome;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What to do with a measurement that has nothing to judge by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InconclusivePolicy {
    /// Count it as a failure (the default: no evidence is not good evidence).
    #[default]
    Fail,
    /// Count it as a success.
    Pass,
    /// Stop and wait for a human: the shift halts with a message.
    Wait,
}

/// How one gate is sampled and judged within a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisPolicy {
    /// Time between measurements; the first one is taken one interval after
    /// the step's weight was applied, so metrics can reflect it.
    pub interval: Duration,
    /// Number of measurements to take; the gate then stops measuring even if
    /// the step's pause goes on. `None`: measure every interval until the
    /// step's pause is over (at least once), which guards the whole pause.
    pub count: Option<u32>,
    /// The analysis fails once failures exceed this number (default 0: the
    /// first failure fails it).
    pub failure_limit: u32,
    /// The analysis passes as soon as this many measurements in a row
    /// succeeded; when set and never reached, the analysis is inconclusive.
    pub consecutive_success_limit: Option<u32>,
    pub inconclusive: InconclusivePolicy,
    /// Bound on a single measurement (HTTP request, query, command).
    pub timeout: Duration,
}

impl Default for AnalysisPolicy {
    fn default() -> Self {
        AnalysisPolicy {
            interval: Duration::from_secs(10),
            count: None,
            failure_limit: 0,
            consecutive_success_limit: None,
            inconclusive: InconclusivePolicy::Fail,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Where an analysis stands after its latest measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Keep measuring.
    Continue,
    Passed,
    Failed,
    /// Inconclusive with `inconclusive = "wait"`: a human must decide.
    AwaitingDecision,
}

/// Decides an analysis from its outcomes so far, oldest first.
///
/// `window_closed` says the step's pause leaves no room for another
/// measurement; it only matters when `count` is not set.
pub fn decide(policy: &AnalysisPolicy, outcomes: &[Outcome], window_closed: bool) -> Verdict {
    let Some(latest) = outcomes.last() else {
        return Verdict::Continue;
    };
    if *latest == Outcome::Inconclusive && policy.inconclusive == InconclusivePolicy::Wait {
        return Verdict::AwaitingDecision;
    }
    let failures = outcomes
        .iter()
        .filter(|o| counts_as_failure(policy, **o))
        .count();
    if failures > policy.failure_limit as usize {
        return Verdict::Failed;
    }
    if let Some(limit) = policy.consecutive_success_limit {
        let streak = outcomes
            .iter()
            .rev()
            .take_while(|o| counts_as_success(policy, **o))
            .count();
        if streak >= limit as usize {
            return Verdict::Passed;
        }
    }
    let finished = match policy.count {
        Some(count) => outcomes.len() >= count as usize,
        None => window_closed,
    };
    if !finished {
        return Verdict::Continue;
    }
    if policy.consecutive_success_limit.is_some() {
        // Ran out of measurements before the streak was reached: not proven
        // good, not proven bad.
        return match policy.inconclusive {
            InconclusivePolicy::Fail => Verdict::Failed,
            InconclusivePolicy::Pass => Verdict::Passed,
            InconclusivePolicy::Wait => Verdict::AwaitingDecision,
        };
    }
    Verdict::Passed
}

/// Whether `outcome` counts against the gate under `policy`.
pub fn counts_as_failure(policy: &AnalysisPolicy, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Fail | Outcome::Error => true,
        Outcome::Inconclusive => policy.inconclusive == InconclusivePolicy::Fail,
        Outcome::Pass => false,
    }
}

fn counts_as_success(policy: &AnalysisPolicy, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Pass => true,
        Outcome::Inconclusive => policy.inconclusive == InconclusivePolicy::Pass,
        Outcome::Fail | Outcome::Error => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InconclusivePolicy as Inc;
    use Outcome::{Error as E, Fail as F, Inconclusive as I, Pass as P};
    use Verdict::*;

    /// One row: policy knobs, outcomes so far, whether the window closed, verdict.
    struct Row {
        count: Option<u32>,
        failure_limit: u32,
        streak: Option<u32>,
        inconclusive: Inc,
        outcomes: &'static [Outcome],
        window_closed: bool,
        expect: Verdict,
    }

    const fn row(
        count: Option<u32>,
        failure_limit: u32,
        streak: Option<u32>,
        inconclusive: Inc,
        outcomes: &'static [Outcome],
        window_closed: bool,
        expect: Verdict,
    ) -> Row {
        Row {
            count,
            failure_limit,
            streak,
            inconclusive,
            outcomes,
            window_closed,
            expect,
        }
    }

    #[rustfmt::skip]
    const ROWS: &[Row] = &[
        // Nothing measured yet.
        row(None,    0, None,    Inc::Fail, &[],           true,  Continue),
        // Default policy: one failure fails, the window decides the end.
        row(None,    0, None,    Inc::Fail, &[P],          false, Continue),
        row(None,    0, None,    Inc::Fail, &[P],          true,  Passed),
        row(None,    0, None,    Inc::Fail, &[P, F],       false, Failed),
        row(None,    0, None,    Inc::Fail, &[E],          false, Failed),
        // A failure fails at once, without waiting for the window or count.
        row(Some(5), 0, None,    Inc::Fail, &[F],          false, Failed),
        // failure_limit tolerates that many failures.
        row(Some(5), 1, None,    Inc::Fail, &[F, P],       false, Continue),
        row(Some(5), 1, None,    Inc::Fail, &[F, P, E],    false, Failed),
        row(Some(3), 1, None,    Inc::Fail, &[F, P, P],    false, Passed),
        // count, not the window, ends a counted analysis.
        row(Some(3), 0, None,    Inc::Fail, &[P, P],       true,  Continue),
        row(Some(2), 0, None,    Inc::Fail, &[P, P],       false, Passed),
        // Inconclusive handling.
        row(Some(3), 0, None,    Inc::Fail, &[I],          false, Failed),
        row(Some(3), 1, None,    Inc::Fail, &[I],          false, Continue),
        row(Some(2), 0, None,    Inc::Pass, &[I, P],       false, Passed),
        row(Some(3), 5, None,    Inc::Wait, &[P, I],       false, AwaitingDecision),
        row(Some(3), 5, None,    Inc::Wait, &[I, P],       false, Continue),
        // consecutive_success_limit passes early on a streak...
        row(Some(10), 2, Some(2), Inc::Fail, &[F, P, P],   false, Passed),
        row(Some(10), 2, Some(3), Inc::Fail, &[P, F, P, P], false, Continue),
        row(None,    2, Some(2), Inc::Pass, &[F, I, P],    false, Passed),
        // ...and is inconclusive when the measurements run out without one.
        row(Some(3), 2, Some(3), Inc::Fail, &[P, F, P],    false, Failed),
        row(Some(3), 2, Some(3), Inc::Pass, &[P, F, P],    false, Passed),
        row(Some(3), 2, Some(3), Inc::Wait, &[P, F, P],    false, AwaitingDecision),
        row(None,    2, Some(3), Inc::Fail, &[P, P],       true,  Failed),
        // Failures beyond the limit win over a streak.
        row(Some(9), 0, Some(1), Inc::Fail, &[F],          false, Failed),
    ];

    #[test]
    fn decides_every_row_of_the_table() {
        for (i, r) in ROWS.iter().enumerate() {
            let policy = AnalysisPolicy {
                count: r.count,
                failure_limit: r.failure_limit,
                consecutive_success_limit: r.streak,
                inconclusive: r.inconclusive,
                ..AnalysisPolicy::default()
            };
            assert_eq!(
                decide(&policy, r.outcomes, r.window_closed),
                r.expect,
                "row {i}: outcomes {:?}, window_closed {}",
                r.outcomes,
                r.window_closed
            );
        }
    }
}
