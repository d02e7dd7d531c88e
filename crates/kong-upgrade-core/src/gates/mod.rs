//! Gate measurements and the verdict an analysis draws from them.

pub mod decision;
pub mod measurement;
