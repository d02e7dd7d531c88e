//! Resources: each file one resource type.

pub mod test_wait;
