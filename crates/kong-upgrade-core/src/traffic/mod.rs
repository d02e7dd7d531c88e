//! Traffic weights and how they progress from X to Y.

pub mod progression;
pub mod weight;
