//! Resources: each file one resource type.

pub mod kong_migration_phase;
pub mod kong_traffic_split;
pub mod kong_upgrade;
mod observed_split;
pub mod test_wait;
