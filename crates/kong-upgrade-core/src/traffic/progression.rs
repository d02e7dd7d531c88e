//! The pure half of a shift: which weights an apply walks through.
//!
//! Known at plan time, so the plan can show the sequence, and so the
//! executor has nothing left to decide but whether gates pass.

use super::weight::TrafficWeight;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One explicit step of a `steps` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSpec {
    /// Cluster Y's share at this step.
    pub weight: TrafficWeight,
    /// How long to stay at this weight; gates measure during it.
    pub pause: Duration,
    /// Whether the gates run at this step.
    pub analysis: bool,
}

/// How to go up from the current weight to the desired one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Progression {
    /// Straight to the desired weight, then the gates.
    Direct,
    /// Explicit steps, strictly increasing. Steps at or below the current
    /// weight, or above the desired one, are skipped; the desired weight is
    /// always the last step.
    Steps(Vec<StepSpec>),
    /// `current + step_weight`, `current + 2 × step_weight`, … up to the
    /// desired weight; each step pauses `interval` with the gates running.
    Linear {
        step_weight: TrafficWeight,
        interval: Duration,
    },
}

/// What a gate failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// All traffic back to cluster X at once, then an error.
    #[default]
    Rollback,
    /// Back to the last weight whose gates passed (or the starting weight),
    /// then an error. For when going back to X is worse than stopping, e.g.
    /// after a database change X cannot read.
    Halt,
}

/// One step the executor will take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub weight: TrafficWeight,
    pub pause: Duration,
    pub analysis: bool,
}

/// The whole walk from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftPlan {
    pub from: TrafficWeight,
    pub to: TrafficWeight,
    pub steps: Vec<PlannedStep>,
    pub on_failure: OnFailure,
}

impl ShiftPlan {
    /// The weights the apply will set, in order (what the plan shows).
    pub fn weights(&self) -> Vec<TrafficWeight> {
        self.steps.iter().map(|s| s.weight).collect()
    }

    /// Going down: one ungated step, because returning towards known-good
    /// must never be slowed down.
    pub fn is_fast_path(&self) -> bool {
        self.to < self.from
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgressionError {
    #[error("steps[{index}].weight ({weight}) must be greater than steps[{}].weight ({previous})", index - 1)]
    StepsNotIncreasing {
        index: usize,
        weight: TrafficWeight,
        previous: TrafficWeight,
    },
    #[error("step_weight must be at least 1 (percent)")]
    ZeroStepWeight,
}

impl ProgressionError {
    /// The attribute a diagnostic should point at.
    pub fn attribute(&self) -> String {
        match self {
            ProgressionError::StepsNotIncreasing { index, .. } => format!("steps[{index}].weight"),
            ProgressionError::ZeroStepWeight => "step_weight".to_string(),
        }
    }
}

impl Progression {
    pub fn validate(&self) -> Result<(), ProgressionError> {
        match self {
            Progression::Direct => Ok(()),
            Progression::Linear { step_weight, .. } if *step_weight == TrafficWeight::ZERO => {
                Err(ProgressionError::ZeroStepWeight)
            }
            Progression::Linear { .. } => Ok(()),
            Progression::Steps(steps) => steps
                .windows(2)
                .enumerate()
                .find(|(_, pair)| pair[1].weight <= pair[0].weight)
                .map_or(Ok(()), |(i, pair)| {
                    Err(ProgressionError::StepsNotIncreasing {
                        index: i + 1,
                        weight: pair[1].weight,
                        previous: pair[0].weight,
                    })
                }),
        }
    }
}

impl Progression {
    /// One step further than `current` (the `kong_promote` action): the
    /// next explicit step above it, or `current + step_weight`, never past
    /// `max`. `Direct` goes straight to `max`.
    pub fn next_after(&self, current: TrafficWeight, max: TrafficWeight) -> TrafficWeight {
        let next = match self {
            Progression::Direct => max,
            Progression::Steps(steps) => steps
                .iter()
                .map(|s| s.weight)
                .find(|w| *w > current)
                .unwrap_or(max),
            Progression::Linear { step_weight, .. } => current.saturating_add(*step_weight),
        };
        next.min(max)
    }
}

/// Plans the walk from the current weight `from` to the desired `to`.
pub fn plan_shift(
    from: TrafficWeight,
    to: TrafficWeight,
    progression: &Progression,
    on_failure: OnFailure,
) -> Result<ShiftPlan, ProgressionError> {
    progression.validate()?;
    let steps = if to < from {
        vec![PlannedStep {
            weight: to,
            pause: Duration::ZERO,
            analysis: false,
        }]
    } else if to == from {
        Vec::new()
    } else {
        upward_steps(from, to, progression)
    };
    Ok(ShiftPlan {
        from,
        to,
        steps,
        on_failure,
    })
}

fn upward_steps(
    from: TrafficWeight,
    to: TrafficWeight,
    progression: &Progression,
) -> Vec<PlannedStep> {
    let last = |pause| PlannedStep {
        weight: to,
        pause,
        analysis: true,
    };
    match progression {
        Progression::Direct => vec![last(Duration::ZERO)],
        Progression::Steps(specs) => {
            let mut steps: Vec<PlannedStep> = specs
                .iter()
                .filter(|s| s.weight > from && s.weight <= to)
                .map(|s| PlannedStep {
                    weight: s.weight,
                    pause: s.pause,
                    analysis: s.analysis,
                })
                .collect();
            if steps.last().map(|s| s.weight) != Some(to) {
                steps.push(last(Duration::ZERO));
            }
            steps
        }
        Progression::Linear {
            step_weight,
            interval,
        } => {
            let mut steps = Vec::new();
            let mut weight = from.saturating_add(*step_weight);
            while weight < to {
                steps.push(PlannedStep {
                    weight,
                    pause: *interval,
                    analysis: true,
                });
                weight = weight.saturating_add(*step_weight);
            }
            steps.push(last(*interval));
            steps
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn w(v: i64) -> TrafficWeight {
        TrafficWeight::new(v).unwrap()
    }

    fn steps(weights: &[i64]) -> Progression {
        Progression::Steps(
            weights
                .iter()
                .map(|v| StepSpec {
                    weight: w(*v),
                    pause: Duration::from_secs(60),
                    analysis: true,
                })
                .collect(),
        )
    }

    fn weights_of(from: i64, to: i64, progression: &Progression) -> Vec<u8> {
        plan_shift(w(from), w(to), progression, OnFailure::Rollback)
            .unwrap()
            .weights()
            .into_iter()
            .map(TrafficWeight::percent)
            .collect()
    }

    #[test]
    fn next_after_steps_once_and_caps() {
        let linear = Progression::Linear {
            step_weight: w(25),
            interval: Duration::from_secs(1),
        };
        let cases: &[(&Progression, i64, i64, i64)] = &[
            (&linear, 0, 100, 25),
            (&linear, 90, 100, 100),
            (&linear, 25, 40, 40),
            (&Progression::Direct, 10, 100, 100),
            (&Progression::Direct, 10, 60, 60),
            (&steps(&[10, 30, 60]), 0, 100, 10),
            (&steps(&[10, 30, 60]), 30, 100, 60),
            (&steps(&[10, 30, 60]), 60, 100, 100),
            (&steps(&[10, 30, 60]), 20, 25, 25),
            // Already at the cap: the caller sees no move.
            (&linear, 40, 40, 40),
        ];
        for (progression, current, max, next) in cases {
            assert_eq!(
                progression.next_after(w(*current), w(*max)),
                w(*next),
                "{progression:?} after {current} capped at {max}"
            );
        }
    }

    #[test]
    fn sequences_for_each_progression() {
        let ten_thirty_sixty = steps(&[10, 30, 60, 100]);
        let cases: &[(i64, i64, &Progression, &[u8])] = &[
            (0, 100, &ten_thirty_sixty, &[10, 30, 60, 100]),
            // Resuming after a halt at 30 skips what is done.
            (30, 100, &ten_thirty_sixty, &[60, 100]),
            // A desired weight between steps is reached as the last step.
            (0, 45, &ten_thirty_sixty, &[10, 30, 45]),
            (0, 100, &steps(&[10, 50]), &[10, 50, 100]),
            (0, 100, &Progression::Direct, &[100]),
            (
                0,
                100,
                &Progression::Linear {
                    step_weight: w(25),
                    interval: Duration::from_secs(1),
                },
                &[25, 50, 75, 100],
            ),
            (
                10,
                100,
                &Progression::Linear {
                    step_weight: w(40),
                    interval: Duration::from_secs(1),
                },
                &[50, 90, 100],
            ),
            (
                0,
                100,
                &Progression::Linear {
                    step_weight: w(100),
                    interval: Duration::from_secs(1),
                },
                &[100],
            ),
            // Down: one step, whatever the progression.
            (60, 0, &ten_thirty_sixty, &[0]),
            (
                100,
                30,
                &Progression::Linear {
                    step_weight: w(5),
                    interval: Duration::from_secs(1),
                },
                &[30],
            ),
            (40, 40, &ten_thirty_sixty, &[]),
        ];
        for (from, to, progression, expected) in cases {
            assert_eq!(
                &weights_of(*from, *to, progression),
                expected,
                "{from} → {to} by {progression:?}"
            );
        }
    }

    #[test]
    fn explicit_steps_keep_their_pause_and_analysis_and_the_added_last_step_is_gated() {
        let progression = Progression::Steps(vec![
            StepSpec {
                weight: w(10),
                pause: Duration::from_secs(5),
                analysis: false,
            },
            StepSpec {
                weight: w(50),
                pause: Duration::from_secs(7),
                analysis: true,
            },
        ]);
        let plan = plan_shift(w(0), w(80), &progression, OnFailure::Halt).unwrap();
        assert_eq!(
            plan.steps,
            vec![
                PlannedStep {
                    weight: w(10),
                    pause: Duration::from_secs(5),
                    analysis: false
                },
                PlannedStep {
                    weight: w(50),
                    pause: Duration::from_secs(7),
                    analysis: true
                },
                PlannedStep {
                    weight: w(80),
                    pause: Duration::ZERO,
                    analysis: true
                },
            ]
        );
        let down = plan_shift(w(80), w(0), &progression, OnFailure::Halt).unwrap();
        assert!(down.is_fast_path());
        assert_eq!(
            down.steps,
            vec![PlannedStep {
                weight: w(0),
                pause: Duration::ZERO,
                analysis: false
            }]
        );
    }

    #[test]
    fn invalid_progressions_name_the_attribute() {
        let e = plan_shift(w(0), w(100), &steps(&[10, 30, 30]), OnFailure::Rollback).unwrap_err();
        assert_eq!(e.attribute(), "steps[2].weight");
        assert_eq!(
            e.to_string(),
            "steps[2].weight (30%) must be greater than steps[1].weight (30%)"
        );
        let e = Progression::Linear {
            step_weight: w(0),
            interval: Duration::from_secs(1),
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.attribute(), "step_weight");
    }

    fn any_progression() -> impl Strategy<Value = Progression> {
        prop_oneof![
            Just(Progression::Direct),
            (1u8..=100).prop_map(|s| Progression::Linear {
                step_weight: w(i64::from(s)),
                interval: Duration::from_secs(1)
            }),
            proptest::collection::btree_set(0u8..=100, 0..8).prop_map(|set| {
                let ws: Vec<i64> = set.into_iter().map(i64::from).collect();
                steps(&ws)
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_plan_moves_monotonically_and_ends_at_the_target(
            from in 0u8..=100, to in 0u8..=100, progression in any_progression()
        ) {
            let (from, to) = (w(i64::from(from)), w(i64::from(to)));
            let plan = plan_shift(from, to, &progression, OnFailure::Rollback).unwrap();
            let weights = plan.weights();
            prop_assert_eq!(weights.last().copied().unwrap_or(from), to);
            if to > from {
                prop_assert!(weights.windows(2).all(|p| p[0] < p[1]), "strictly increasing: {:?}", weights);
                prop_assert!(weights.iter().all(|x| *x > from && *x <= to));
                prop_assert!(plan.steps.last().unwrap().analysis, "the target weight is always gated");
                if let Progression::Linear { step_weight, .. } = progression {
                    let mut previous = from.percent();
                    for x in &weights {
                        prop_assert!(x.percent() - previous <= step_weight.percent());
                        previous = x.percent();
                    }
                }
            } else if to < from {
                prop_assert_eq!(plan.steps, vec![PlannedStep { weight: to, pause: Duration::ZERO, analysis: false }]);
            } else {
                prop_assert!(plan.steps.is_empty());
            }
        }
    }
}
