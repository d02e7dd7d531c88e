//! Traffic weights and how they progress from X to Y.

pub mod observed;
pub mod progression;
pub mod weight;
