//! Resources: each file one resource type.

pub mod test_wait;
pub mod kong_migration_phase;
pub mod kong_upgrade;
pub mod kong_traffic_split;
