//! Reading what Kong records about its migrations: the `schema_meta` rows
//! and the `migrations` row of `locks` (Kong/kong `kong/db/strategies/postgres/connector.lua`).
//!
//! Read-only: one REPEATABLE READ, READ ONLY transaction, so the rows and the
//! lock are one consistent snapshot.

use super::database::{classify_query_error, connect, DatabaseConfig};
use super::error::MigrationsError;
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

    /// The Kong OSS release core's `last_executed` belongs to, if known.
    pub fn schema_level(&self) -> Option<&'static str> {
        super::known::schema_level(self.core_last_executed()?)
    }
}

/// Reads `schema_meta` and the migration lock of `cfg`'s database.
pub async fn read_schema_state(cfg: &DatabaseConfig) -> Result<SchemaMeta, MigrationsError> {
    let mut client = connect(cfg).await?;
    let query_err = |e: tokio_postgres::Error| classify_query_error(cfg, &e);
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(query_err)?;

    // Like Kong's connector, look only in the current schema, which the
    // configured `schema` (search_path) decides.
    let tables = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
                             WHERE schemaname = current_schema() AND tablename = 'schema_meta'), \
                    EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
                             WHERE schemaname = current_schema() AND tablename = 'locks')",
            &[],
        )
        .await
        .map_err(query_err)?;
    let has_schema_meta: bool = tables.get(0);
    let has_locks: bool = tables.get(1);

    let mut meta = SchemaMeta {
        needs_bootstrap: !has_schema_meta,
        ..SchemaMeta::default()
    };
    if has_schema_meta {
        meta.subsystems = read_rows(&tx).await.map_err(query_err)?;
    }
    if has_locks {
        meta.lock = read_lock(&tx).await.map_err(query_err)?;
    }
    tx.commit().await.map_err(query_err)?;
    tracing::debug!(
        address = %cfg.address(),
        needs_bootstrap = meta.needs_bootstrap,
        subsystems = meta.subsystems.len(),
        locked = meta.lock.is_some(),
        "read Kong schema state"
    );
    Ok(meta)
}

async fn read_rows(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<Vec<SubsystemRow>, tokio_postgres::Error> {
    let rows = tx
        .query(
            "SELECT subsystem, last_executed, executed, pending \
               FROM schema_meta WHERE key = 'schema_meta' ORDER BY subsystem",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SubsystemRow {
                subsystem: row.try_get(0)?,
                last_executed: row.try_get(1)?,
                executed: names(row.try_get(2)?),
                pending: names(row.try_get(3)?),
            })
        })
        .collect()
}

/// A TEXT[] that may be NULL or hold NULLs, as Kong treats it: absent
/// entries are no migration.
fn names(array: Option<Vec<Option<String>>>) -> Vec<String> {
    array.unwrap_or_default().into_iter().flatten().collect()
}

async fn read_lock(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<Option<MigrationLock>, tokio_postgres::Error> {
    let row = tx
        .query_opt(
            "SELECT owner, \
                    to_char(ttl AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    GREATEST(EXTRACT(EPOCH FROM (ttl - now())), 0)::float8 \
               FROM locks WHERE key = 'migrations' AND ttl > now()",
            &[],
        )
        .await?;
    row.map(|row| {
        let owner: Option<String> = row.try_get(0)?;
        let expires_in: f64 = row.try_get(2)?;
        Ok(MigrationLock {
            owner: owner.unwrap_or_default(),
            expires_at: row.try_get(1)?,
            // `ttl = 'infinity'` is possible when written by hand.
            expires_in: Duration::try_from_secs_f64(expires_in.max(0.0)).unwrap_or(Duration::MAX),
        })
    })
    .transpose()
}
