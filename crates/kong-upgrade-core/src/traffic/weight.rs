//! Traffic shares as percentages: the one unit every driver translates from.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A share of traffic in percent, 0..=100.
///
/// A newtype so that a percentage can never be confused with a
/// load-balancer-native weight (HAProxy's 0..=256, Kong's 0..=65535).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct TrafficWeight(u8);

/// A weight outside 0..=100, naming the attribute it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute} must be between 0 and 100 (a percentage), got {value}")]
pub struct WeightOutOfRange {
    pub attribute: String,
    pub value: i64,
}

impl TrafficWeight {
    pub const ZERO: TrafficWeight = TrafficWeight(0);
    pub const FULL: TrafficWeight = TrafficWeight(100);

    /// Validates `value` as the percentage held by `attribute` (e.g.
    /// `"weight_y"`, `"steps[2].weight"`), which the error names.
    pub fn for_attribute(attribute: &str, value: i64) -> Result<Self, WeightOutOfRange> {
        u8::try_from(value)
            .ok()
            .filter(|v| *v <= 100)
            .map(TrafficWeight)
            .ok_or_else(|| WeightOutOfRange {
                attribute: attribute.to_string(),
                value,
            })
    }

    /// Validates `value` as the `weight_y` attribute.
    pub fn new(value: i64) -> Result<Self, WeightOutOfRange> {
        Self::for_attribute("weight_y", value)
    }

    pub fn percent(self) -> u8 {
        self.0
    }

    /// The complementary share: what the other cluster receives.
    pub fn complement(self) -> TrafficWeight {
        TrafficWeight(100 - self.0)
    }

    /// `self + by`, saturating at 100.
    pub fn saturating_add(self, by: TrafficWeight) -> TrafficWeight {
        TrafficWeight(self.0.saturating_add(by.0).min(100))
    }

    /// The share `part` represents of `part + rest`, rounded to the nearest
    /// percent; `None` when both are zero (nothing receives traffic).
    pub fn share_of(part: u64, rest: u64) -> Option<TrafficWeight> {
        let total = part.checked_add(rest)?;
        if total == 0 {
            return None;
        }
        // Integer rounding: (100 * part + total / 2) / total, in u128 so that
        // any u64 inputs are safe.
        let rounded = (100 * u128::from(part) + u128::from(total) / 2) / u128::from(total);
        Some(TrafficWeight(rounded as u8))
    }
}

/// No traffic on Y: where every upgrade starts.
impl Default for TrafficWeight {
    fn default() -> Self {
        TrafficWeight::ZERO
    }
}

impl TryFrom<i64> for TrafficWeight {
    type Error = WeightOutOfRange;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        TrafficWeight::new(value)
    }
}

impl From<TrafficWeight> for i64 {
    fn from(w: TrafficWeight) -> i64 {
        i64::from(w.0)
    }
}

impl fmt::Display for TrafficWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// How traffic is split between cluster X (the current version) and
/// cluster Y (the new one).
///
/// Weights a driver *sets* always add up to 100. Weights it *reads* from a
/// load balancer may not: a hand edit can drain both servers, which reads as
/// `x = 0, y = 0` and shows up as drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Weights {
    pub x: TrafficWeight,
    pub y: TrafficWeight,
}

impl Weights {
    /// `y` to cluster Y, the rest to cluster X.
    pub fn with_y(y: TrafficWeight) -> Weights {
        Weights {
            x: y.complement(),
            y,
        }
    }

    /// Everything on cluster X: the known-good split.
    pub fn all_on_x() -> Weights {
        Weights::with_y(TrafficWeight::ZERO)
    }

    /// Splits by two load-balancer-native weights (any scale).
    pub fn from_native(x: u64, y: u64) -> Weights {
        match TrafficWeight::share_of(y, x) {
            Some(y_share) => Weights::with_y(y_share),
            None => Weights {
                x: TrafficWeight::ZERO,
                y: TrafficWeight::ZERO,
            },
        }
    }

    /// True when no server is meant to receive traffic.
    pub fn is_drained(self) -> bool {
        self.x == TrafficWeight::ZERO && self.y == TrafficWeight::ZERO
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X {} / Y {}", self.x, self.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_percent_range_and_names_the_attribute_otherwise() {
        assert_eq!(TrafficWeight::new(0).unwrap().percent(), 0);
        assert_eq!(TrafficWeight::new(100).unwrap().percent(), 100);
        let err = TrafficWeight::for_attribute("steps[1].weight", 101).unwrap_err();
        assert_eq!(
            err.to_string(),
            "steps[1].weight must be between 0 and 100 (a percentage), got 101"
        );
        assert_eq!(TrafficWeight::new(-1).unwrap_err().value, -1);
        assert!(TrafficWeight::new(i64::from(u8::MAX) + 1).is_err());
    }

    #[test]
    fn native_weights_round_to_the_nearest_percent() {
        assert_eq!(
            Weights::from_native(1, 1),
            Weights::with_y(TrafficWeight::new(50).unwrap())
        );
        assert_eq!(
            Weights::from_native(2, 1),
            Weights::with_y(TrafficWeight::new(33).unwrap())
        );
        assert_eq!(
            Weights::from_native(1, 2),
            Weights::with_y(TrafficWeight::new(67).unwrap())
        );
        assert_eq!(
            Weights::from_native(0, 256),
            Weights::with_y(TrafficWeight::FULL)
        );
        assert!(Weights::from_native(0, 0).is_drained());
    }

    #[test]
    fn deserializing_validates_the_range() {
        assert!(serde_json::from_str::<TrafficWeight>("100").is_ok());
        assert!(serde_json::from_str::<TrafficWeight>("101").is_err());
    }

    proptest! {
        #[test]
        fn percentages_survive_a_round_trip_through_native_weights(y in 0u8..=100, scale in 1u64..=655) {
            let y = TrafficWeight::new(i64::from(y)).unwrap();
            let w = Weights::with_y(y);
            let native = Weights::from_native(u64::from(w.x.percent()) * scale, u64::from(w.y.percent()) * scale);
            prop_assert_eq!(native, w);
        }
    }
}
