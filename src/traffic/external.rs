//! External driver: the provider computes the split and runs the gates;
//! something else in the configuration (an ALB listener, weighted DNS
//! records) applies `weight_x`/`weight_y`. With `observe`, the gates of a
//! step are judged in the next apply, once the load balancer is observed
//! carrying its weight (see [`super::observe`]).

use super::observe::Observe;
use super::{DriverError, TrafficDriver, Weights};
use std::sync::Mutex;

/// Remembers the split the shift decided on. "Read" returns what was last
/// set: there is no load balancer to ask, so Terraform state is the truth.
#[derive(Debug)]
pub struct ExternalDriver {
    weights: Mutex<Weights>,
    observe: Option<Observe>,
}

impl ExternalDriver {
    /// Starts from the split recorded in state (all on X for a new resource).
    pub fn new(applied: Weights) -> ExternalDriver {
        ExternalDriver {
            weights: Mutex::new(applied),
            observe: None,
        }
    }

    /// Reads the live share back through `observe`.
    pub fn with_observe(self, observe: Observe) -> ExternalDriver {
        ExternalDriver {
            observe: Some(observe),
            ..self
        }
    }

    /// How the live share is read back, when configured.
    pub fn observe(&self) -> Option<&Observe> {
        self.observe.as_ref()
    }

    /// The split to expose as `weight_x` / `weight_y`.
    pub fn weights(&self) -> Weights {
        // A poisoned lock only means a panic elsewhere; the value is still whole.
        *self
            .weights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TrafficDriver for ExternalDriver {
    fn kind(&self) -> &'static str {
        "external"
    }

    async fn read_weights(&self) -> Result<Weights, DriverError> {
        Ok(self.weights())
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), DriverError> {
        *self
            .weights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = weights;
        Ok(())
    }
}
