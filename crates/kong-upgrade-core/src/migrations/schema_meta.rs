//! What Kong records about its migrations, as data: the `schema_meta` rows
//! and the `migrations` row of `locks`. Reading them from PostgreSQL is the
//! provider's job (`migrations::read_schema_state`).

use std::time::Duration;

/// One `schema_meta` row (key `schema_meta`): what one subsystem ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsystemRow {
    pub subsystem: String,
    pub last_executed: Option<String>,
    /// In the order they completed.
    pub executed: Vec<String>,
    /// Up step done, teardown not yet.
    pub pending: Vec<String>,
}

/// The cluster mutex Kong takes while changing the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationLock {
    /// `kong.node.get_id()` of the holder: a fresh UUID per CLI run.
    pub owner: String,
    /// When the row expires, RFC 3339 UTC, as the database computes it.
    pub expires_at: String,
    /// Time left, by the database's clock (so local clock skew is moot).
    pub expires_in: Duration,
}

/// Kong's migration bookkeeping as found in one database.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaMeta {
    /// No `schema_meta` table in the current schema: Kong's `needs_bootstrap`.
    pub needs_bootstrap: bool,
    /// Ordered by subsystem name.
    pub subsystems: Vec<SubsystemRow>,
    /// The `migrations` lock if it is held and not expired.
    pub lock: Option<MigrationLock>,
}

impl SchemaMeta {
    pub fn subsystem(&self, name: &str) -> Option<&SubsystemRow> {
        self.subsystems.iter().find(|row| row.subsystem == name)
    }

    /// `core`'s last executed migration: the only trace of the Kong release
    /// that last migrated this database (Kong stores no version).
    pub fn core_last_executed(&self) -> Option<&str> {
        self.subsystem("core")?.last_executed.as_deref()
    }

    /// The newest Kong OSS release whose `up` ran on this database, judged
    /// from every core migration recorded (executed or pending), if known.
    /// Not from `last_executed`, which a teardown also sets.
    pub fn schema_level(&self) -> Option<&'static str> {
        let core = self.subsystem("core")?;
        super::known::schema_level(
            core.executed
                .iter()
                .chain(&core.pending)
                .map(String::as_str),
        )
    }
}
