//! Moving user traffic from cluster X to cluster Y.
//!
//! - [`TrafficWeight`] / [`Weights`]: the split, in percent.
//! - [`TrafficDriver`]: reads and sets the split on one load balancer
//!   ([`HaproxyDriver`], [`NginxDriver`], [`KongUpstreamDriver`],
//!   [`ExternalDriver`]; [`Driver`] picks one at run time).
//! - [`SplitLocator`]: a split's id, enough to find its load balancer again
//!   and read it through a [`SplitReader`] (which cannot set weights).
//! - [`plan_shift`]: the pure part. Which weights an apply walks through,
//!   computable at plan time.
//! - [`TrafficMove`]: the one traffic move every caller uses (read, plan,
//!   refuse a walk the plan did not show, shift, hand back what to record),
//!   with one typed [`MoveError`] and one diagnostic per cause.
//! - [`shift`]: the executor. Walks a [`ShiftPlan`], runs the gates at each
//!   step, rolls back or halts on failure, stops on cancellation, and always
//!   returns the split reached and the history, so state can be saved.
//!
//! Invariants: the planner does no I/O; going down never waits for gates;
//! after a failure the load balancer is at a known-good split (all on X, or
//! the last step whose gates passed) unless the driver itself failed, which
//! the error then says.

mod error;
mod executor;
mod external;
mod haproxy;
mod kong_upstream;
mod locator;
mod movement;
mod nginx;
mod observe;
mod observed_shift;
use kong_upgrade_core::traffic::{observed, progression};
#[cfg(test)]
mod scenario_tests;
#[cfg(test)]
mod test_support;
use kong_upgrade_core::traffic::weight;

pub use error::DriverError;
pub use executor::{
    shift, Reaction, ShiftEnd, ShiftError, ShiftEvent, ShiftFailure, ShiftOutcome, StepKind,
    StepRecord,
};
pub use external::ExternalDriver;
pub use haproxy::{HaproxyDriver, RuntimeApiAddress};
pub use kong_upstream::KongUpstreamDriver;
pub use locator::{LocatorError, SplitCheckError, SplitLocator, SplitReader};
pub use movement::{
    Bounds, Destination, MoveCause, MoveError, Moved, TrafficMove, SHIFT_INTERRUPTED,
};
pub use nginx::NginxDriver;
pub use observe::{wait_until_carried, HttpSource, Observe, ObserveError, ObserveSource};
pub use observed::{observed_move, Judge, ObservedMove};
pub use observed_shift::{shift_observed, ObservedApply, ObservedFailure};
pub use progression::{
    plan_shift, OnFailure, PlannedStep, Progression, ProgressionError, ShiftPlan, StepSpec,
};
pub use weight::{TrafficWeight, WeightOutOfRange, Weights};

use std::future::Future;

/// A load balancer that splits traffic between cluster X and cluster Y.
pub trait TrafficDriver: Send + Sync {
    /// The driver block's name (`haproxy`, `nginx`, `kong_upstream`, `external`).
    fn kind(&self) -> &'static str;

    /// The split the load balancer applies right now (drift shows here).
    fn read_weights(&self) -> impl Future<Output = Result<Weights, DriverError>> + Send;

    /// Applies `weights`. Implementations never leave both clusters at 0
    /// while going from one split to another.
    fn set_weights(&self, weights: Weights)
        -> impl Future<Output = Result<(), DriverError>> + Send;
}

/// Any driver, chosen from configuration at run time.
#[derive(Debug)]
pub enum Driver {
    Haproxy(HaproxyDriver),
    Nginx(NginxDriver),
    KongUpstream(KongUpstreamDriver),
    External(ExternalDriver),
}

impl Driver {
    /// Where this split lives (its `kong_traffic_split` id).
    pub fn locator(&self) -> SplitLocator {
        match self {
            Driver::Haproxy(d) => d.locator(),
            Driver::Nginx(d) => d.locator(),
            Driver::KongUpstream(d) => d.locator(),
            Driver::External(_) => SplitLocator::External,
        }
    }
}

impl TrafficDriver for Driver {
    fn kind(&self) -> &'static str {
        match self {
            Driver::Haproxy(d) => d.kind(),
            Driver::Nginx(d) => d.kind(),
            Driver::KongUpstream(d) => d.kind(),
            Driver::External(d) => d.kind(),
        }
    }

    async fn read_weights(&self) -> Result<Weights, DriverError> {
        match self {
            Driver::Haproxy(d) => d.read_weights().await,
            Driver::Nginx(d) => d.read_weights().await,
            Driver::KongUpstream(d) => d.read_weights().await,
            Driver::External(d) => d.read_weights().await,
        }
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), DriverError> {
        match self {
            Driver::Haproxy(d) => d.set_weights(weights).await,
            Driver::Nginx(d) => d.set_weights(weights).await,
            Driver::KongUpstream(d) => d.set_weights(weights).await,
            Driver::External(d) => d.set_weights(weights).await,
        }
    }
}
