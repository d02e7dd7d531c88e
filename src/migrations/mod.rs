//! Kong's migration bookkeeping in PostgreSQL: reading it, classifying it
//! the way Kong does, planning a phase, and verifying the phase happened.
//!
//! The edge is [`read_schema_state`] (the only I/O here, read-only); the
//! rest is pure: [`classify`] ports `kong/db/migrations/state.lua`,
//! [`plan_phase`] decides what `kong migrations bootstrap|up|finish` would
//! do and what it would refuse, [`verify_phase`] checks the re-read state.
//! Running the phase is the job of [`crate::runner`].

pub(crate) mod database;
mod error;
use kong_upgrade_core::migrations::{known, phase, state};
mod schema_meta;
mod secret;
mod verify;
mod way_back;

#[cfg(test)]
use kong_upgrade_core::migrations::fixtures;
#[cfg(test)]
mod tests;

pub use database::{connect, DatabaseConfig, SslMode, DEFAULT_DATABASE_TIMEOUT};
pub use error::MigrationsError;
pub use known::{
    schema_level, KnownMigration, KnownMigrations, KnownSource, KnownSubsystem, UnknownVersion,
};
pub use phase::{
    plan_phase, AheadSubsystem, MigrationPhase, MigrationStep, NoopReason, PhasePlan, PlanError,
    PlanWarning, PlannedMigration, PlannedSubsystem, PostConditions, UnknownPhase,
};
pub use schema_meta::{read_schema_state, MigrationLock, SchemaMeta, SubsystemRow};
pub use secret::{Secret, REDACTED};
pub use state::{classify, describe, SchemaState, SubsystemMigrations, SubsystemState};
pub use verify::{verify_phase, PhaseNotApplied};
pub use way_back::{judge_way_back, why_closed, WayBack, JUDGED_WITHOUT_RECORD};
