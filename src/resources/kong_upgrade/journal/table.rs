//! The journal's place in X's database: a table in the provider's own
//! schema ([`SCHEMA`]), created on first write.

use super::{Entry, Event, Journal, JournalError, SCHEMA};
use crate::migrations::{DatabaseConfig, SubsystemMigrations};
use kong_upgrade_core::migrations::rollback;

impl Journal {
    pub(super) async fn read_table(&self, db: &DatabaseConfig) -> Result<Vec<Entry>, JournalError> {
        let client = crate::migrations::database::connect(db).await?;
        let err = query_error(db);
        if !table_exists(&client, db).await? {
            return Ok(Vec::new());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT seq, step, event, at, backup_location, backup_sha256, pending_after_up, history, snapshot, \
                            to_jsonb(j) ->> 'fingerprint' \
                     FROM {SCHEMA}.upgrade_journal j WHERE upgrade_id = $1 ORDER BY seq"
                ),
                &[&self.upgrade_id],
            )
            .await
            .map_err(&err)?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(Entry {
                    seq: row.get(0),
                    step: row.get(1),
                    event: Event::parse(row.get(2))?,
                    at: row.get(3),
                    backup_location: row.get(4),
                    backup_sha256: row.get(5),
                    pending_after_up: row.get(6),
                    history: serde_json::from_str(row.get(7)).unwrap_or_default(),
                    snapshot: row.get(8),
                    fingerprint: row.get(9),
                })
            })
            .collect())
    }

    pub(super) async fn insert(
        &self,
        db: &DatabaseConfig,
        entry: &Entry,
    ) -> Result<i64, JournalError> {
        let client = crate::migrations::database::connect(db).await?;
        create_table(&client, db).await?;
        insert_row(&client, db, &self.upgrade_id, entry).await
    }

    pub(super) async fn compact_table(
        &self,
        db: &DatabaseConfig,
        last: &Entry,
    ) -> Result<i64, JournalError> {
        let mut client = crate::migrations::database::connect(db).await?;
        create_table(&client, db).await?;
        let err = query_error(db);
        let tx = client.transaction().await.map_err(&err)?;
        tx.execute(
            &format!("DELETE FROM {SCHEMA}.upgrade_journal WHERE upgrade_id = $1"),
            &[&self.upgrade_id],
        )
        .await
        .map_err(&err)?;
        let seq = insert_row(&tx, db, &self.upgrade_id, last).await?;
        tx.commit().await.map_err(&err)?;
        Ok(seq)
    }

    pub(super) async fn remove_rows(&self, db: &DatabaseConfig) -> Result<(), JournalError> {
        let client = crate::migrations::database::connect(db).await?;
        let err = query_error(db);
        if !table_exists(&client, db).await? {
            return Ok(());
        }
        client
            .execute(
                &format!("DELETE FROM {SCHEMA}.upgrade_journal WHERE upgrade_id = $1"),
                &[&self.upgrade_id],
            )
            .await
            .map_err(&err)?;
        let left: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {SCHEMA}.upgrade_journal"),
                &[],
            )
            .await
            .map_err(&err)?
            .get(0);
        if left == 0 {
            client
                .batch_execute(&format!("DROP SCHEMA {SCHEMA} CASCADE"))
                .await
                .map_err(&err)?;
        }
        Ok(())
    }
}

/// What Kong had pending right after the newest `up` any upgrade recorded
/// in `db`'s journal (`None`: none recorded). For `kong_abort`, which
/// knows the database but not the upgrade. Rows of a completed or
/// destroyed upgrade hold no such record (compaction and removal drop it).
pub async fn latest_pending_after_up(
    db: &DatabaseConfig,
) -> Result<Option<Vec<SubsystemMigrations>>, JournalError> {
    let client = crate::migrations::database::connect(db).await?;
    if !table_exists(&client, db).await? {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!(
                "SELECT pending_after_up FROM {SCHEMA}.upgrade_journal \
                 WHERE pending_after_up IS NOT NULL ORDER BY seq DESC LIMIT 1"
            ),
            &[],
        )
        .await
        .map_err(query_error(db))?;
    Ok(row.map(|r| rollback::parse_record(r.get(0))))
}

fn query_error(db: &DatabaseConfig) -> impl Fn(tokio_postgres::Error) -> JournalError + '_ {
    move |e| JournalError::Query {
        address: db.address(),
        detail: e.to_string(),
    }
}

/// Whether the journal's table exists (it is created on first write).
async fn table_exists(
    client: &tokio_postgres::Client,
    db: &DatabaseConfig,
) -> Result<bool, JournalError> {
    Ok(client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{SCHEMA}.upgrade_journal")],
        )
        .await
        .map_err(query_error(db))?
        .get(0))
}

async fn create_table(
    client: &tokio_postgres::Client,
    db: &DatabaseConfig,
) -> Result<(), JournalError> {
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {SCHEMA}; \
             CREATE TABLE IF NOT EXISTS {SCHEMA}.upgrade_journal ( \
               seq bigserial PRIMARY KEY, \
               upgrade_id text NOT NULL, \
               step text NOT NULL, \
               event text NOT NULL, \
               at text NOT NULL, \
               backup_location text, \
               backup_sha256 text, \
               pending_after_up text, \
               history text NOT NULL, \
               snapshot text NOT NULL); \
             ALTER TABLE {SCHEMA}.upgrade_journal ADD COLUMN IF NOT EXISTS fingerprint text"
        ))
        .await
        .map_err(query_error(db))
}

async fn insert_row(
    client: &impl tokio_postgres::GenericClient,
    db: &DatabaseConfig,
    upgrade_id: &str,
    entry: &Entry,
) -> Result<i64, JournalError> {
    let history = serde_json::to_string(&entry.history).unwrap_or_else(|_| "[]".into());
    let row = client
        .query_one(
            &format!(
                "INSERT INTO {SCHEMA}.upgrade_journal \
                 (upgrade_id, step, event, at, backup_location, backup_sha256, pending_after_up, history, snapshot, fingerprint) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq"
            ),
            &[
                &upgrade_id,
                &entry.step,
                &entry.event.as_str(),
                &entry.at,
                &entry.backup_location,
                &entry.backup_sha256,
                &entry.pending_after_up,
                &history,
                &entry.snapshot,
                &entry.fingerprint,
            ],
        )
        .await
        .map_err(query_error(db))?;
    Ok(row.get(0))
}
