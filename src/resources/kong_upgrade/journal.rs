//! The durable upgrade journal: every step is recorded before it starts and
//! after it ends somewhere that outlives the provider process, Terraform and
//! the loss of the state's private part (Terraform keeps no private state
//! for an apply whose provider died, and no object at all for a create).
//!
//! Where it lives:
//! - with a `database` block, in X's database, in a schema of the
//!   provider's own ([`SCHEMA`]), created on first use. Kong's tables are
//!   never touched and the schema is left out of `pg_dump` backups.
//! - without one (DB-less `rolling` upgrades), in a JSON-lines file in the
//!   `backup` directory: the one place the user already keeps what must
//!   survive the apply (the declarative-configuration backups), and a
//!   DB-less node has no database to hold it.
//! - with neither, nowhere: the checkpoint lives in private state only.
//!
//! Every row carries a snapshot of [`Private`] as it stood after the event;
//! the next plan adopts the newest snapshot when it is newer than the
//! private state Terraform handed back ([`Private::journal_seq`]). The
//! `complete` step compacts the journal to one `completed` row (so that a
//! kill between the compaction and Terraform saving the state still finds
//! the record); destroying the resource removes that row and the schema
//! once it holds nothing else.

use super::config::Settings;
use super::state::{HistoryEntry, Private};
use crate::migrations::{DatabaseConfig, MigrationsError, SubsystemMigrations};
use kong_upgrade_core::migrations::rollback;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

/// The provider's own schema in X's database.
pub const SCHEMA: &str = "terraform_provider_kong";

/// How `history` shows a step whose apply died before recording its end.
pub const STOPPED: &str = "interrupted: the provider stopped before the step's end was recorded";

/// What happened to a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// About to run: its effect may happen from here on.
    Started,
    Finished,
    Failed,
    /// The upgrade completed; the journal was compacted to this row.
    Completed,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Finished => "finished",
            Event::Failed => "failed",
            Event::Completed => "completed",
        }
    }

    fn parse(text: &str) -> Option<Event> {
        [
            Event::Started,
            Event::Finished,
            Event::Failed,
            Event::Completed,
        ]
        .into_iter()
        .find(|e| e.as_str() == text)
    }
}

/// One journal row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// Ascending within an upgrade; 0 until written.
    #[serde(default)]
    pub seq: i64,
    pub step: String,
    pub event: Event,
    pub at: String,
    #[serde(default)]
    pub backup_location: Option<String>,
    #[serde(default)]
    pub backup_sha256: Option<String>,
    /// What Kong had pending after `migrations up` (`subsystem:name,...`).
    #[serde(default)]
    pub pending_after_up: Option<String>,
    /// The history entries this row adds (all of them for `completed`).
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// [`Private`] after this event, JSON.
    pub snapshot: String,
}

impl Entry {
    pub fn new(step: &str, event: Event, private: &Private) -> Entry {
        Entry {
            seq: 0,
            step: step.to_string(),
            event,
            at: crate::gates::now_rfc3339(),
            backup_location: private.checkpoint.backup_location.clone(),
            backup_sha256: None,
            pending_after_up: None,
            history: Vec::new(),
            snapshot: String::from_utf8(private.encode()).unwrap_or_default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Database(#[from] MigrationsError),
    #[error("the upgrade journal in schema {SCHEMA} on {address}: {detail}")]
    Query { address: String, detail: String },
    #[error("the upgrade journal file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl JournalError {
    /// The attribute naming where the journal lives.
    pub fn attribute(&self) -> &'static str {
        match self {
            JournalError::File { .. } => "backup.directory",
            _ => "database",
        }
    }
}

enum Place {
    Database(DatabaseConfig),
    File(PathBuf),
    Nowhere,
}

/// One upgrade's journal.
pub struct Journal {
    place: Place,
    upgrade_id: String,
}

/// What the journal says about an upgrade.
#[derive(Default)]
pub struct Recorded {
    pub entries: Vec<Entry>,
}

impl Recorded {
    /// Every history entry, in order. A step that started and never ended
    /// (its provider was killed) is shown as failed: its effect may have
    /// happened.
    pub fn history(&self) -> Vec<HistoryEntry> {
        let mut history = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            history.extend(entry.history.iter().cloned());
            let ended = self
                .entries
                .get(i + 1)
                .is_some_and(|next| next.step == entry.step && next.event != Event::Started);
            if entry.event == Event::Started && !ended {
                history.push(HistoryEntry {
                    step: entry.step.clone(),
                    action: String::new(),
                    started_at: entry.at.clone(),
                    finished_at: entry.at.clone(),
                    result: "failed".into(),
                    detail: format!(
                        "{STOPPED}; the next apply checks the world before running it again"
                    ),
                });
            }
        }
        history
    }

    /// What Kong had pending right after the newest `up` this journal
    /// recorded (`None`: no `up` recorded, or recorded by an older provider).
    pub fn pending_after_up(&self) -> Option<Vec<SubsystemMigrations>> {
        self.entries
            .iter()
            .rev()
            .find_map(|e| e.pending_after_up.as_deref())
            .map(rollback::parse_record)
    }

    /// The private state after the newest event, when it is newer than
    /// `private`'s.
    pub fn newer_than(&self, private: &Private) -> Option<Private> {
        let last = self.entries.last()?;
        if last.seq <= private.journal_seq {
            return None;
        }
        let mut adopted: Private = serde_json::from_str(&last.snapshot).ok()?;
        adopted.journal_seq = last.seq;
        // Facts read at a later plan are as good as the recorded ones.
        adopted.facts = adopted.facts.or_else(|| private.facts.clone());
        adopted.from_version = adopted.from_version.or(private.from_version);
        Some(adopted)
    }
}

impl Journal {
    pub fn for_upgrade(
        settings: &Settings,
        backup_dir: Option<&std::path::Path>,
        id: &str,
    ) -> Self {
        let place = match (&settings.database, backup_dir) {
            (Some(db), _) => Place::Database(db.clone()),
            (None, Some(dir)) => Place::File(dir.join(file_name(id))),
            (None, None) => Place::Nowhere,
        };
        Journal {
            place,
            upgrade_id: id.to_string(),
        }
    }

    /// Where the journal lives, for messages.
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Database(db) => format!(
                "schema {SCHEMA} of database \"{}\" on {}",
                db.database,
                db.address()
            ),
            Place::File(path) => path.display().to_string(),
            Place::Nowhere => "nowhere (no database and no backup directory)".into(),
        }
    }

    pub async fn read(&self) -> Result<Recorded, JournalError> {
        let entries = match &self.place {
            Place::Database(db) => self.read_table(db).await?,
            Place::File(path) => read_file(path)?,
            Place::Nowhere => Vec::new(),
        };
        Ok(Recorded { entries })
    }

    /// Appends `entry`; returns its sequence number.
    pub async fn append(&self, entry: &Entry) -> Result<i64, JournalError> {
        match &self.place {
            Place::Database(db) => self.insert(db, entry).await,
            Place::File(path) => {
                let seq = next_seq(path)?;
                append_file_at(path, entry, seq)
            }
            Place::Nowhere => Ok(0),
        }
    }

    /// Replaces every row of this upgrade by `last` (event `completed`,
    /// carrying the whole history), in one transaction.
    pub async fn compact(&self, last: &Entry) -> Result<i64, JournalError> {
        match &self.place {
            Place::Database(db) => self.compact_table(db, last).await,
            Place::File(path) => {
                let partial = path.with_extension("partial");
                let _ = std::fs::remove_file(&partial);
                let seq = next_seq(path)?;
                append_file_at(&partial, last, seq)?;
                std::fs::rename(&partial, path).map_err(|source| JournalError::File {
                    path: path.clone(),
                    source,
                })?;
                Ok(seq)
            }
            Place::Nowhere => Ok(0),
        }
    }

    /// Forgets this upgrade; drops the schema once it holds nothing else.
    pub async fn remove(&self) -> Result<(), JournalError> {
        match &self.place {
            Place::Database(db) => self.remove_rows(db).await,
            Place::File(path) => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(JournalError::File {
                    path: path.clone(),
                    source: e,
                }),
                _ => Ok(()),
            },
            Place::Nowhere => Ok(()),
        }
    }

    async fn read_table(&self, db: &DatabaseConfig) -> Result<Vec<Entry>, JournalError> {
        let client = crate::migrations::database::connect(db).await?;
        let err = query_error(db);
        if !table_exists(&client, db).await? {
            return Ok(Vec::new());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT seq, step, event, at, backup_location, backup_sha256, pending_after_up, history, snapshot \
                     FROM {SCHEMA}.upgrade_journal WHERE upgrade_id = $1 ORDER BY seq"
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
                })
            })
            .collect())
    }

    async fn insert(&self, db: &DatabaseConfig, entry: &Entry) -> Result<i64, JournalError> {
        let client = crate::migrations::database::connect(db).await?;
        create_table(&client, db).await?;
        insert_row(&client, db, &self.upgrade_id, entry).await
    }

    async fn compact_table(&self, db: &DatabaseConfig, last: &Entry) -> Result<i64, JournalError> {
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

    async fn remove_rows(&self, db: &DatabaseConfig) -> Result<(), JournalError> {
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
               snapshot text NOT NULL)"
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
                 (upgrade_id, step, event, at, backup_location, backup_sha256, pending_after_up, history, snapshot) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq"
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
            ],
        )
        .await
        .map_err(query_error(db))?;
    Ok(row.get(0))
}

/// The journal file of an upgrade: its id, made a safe file name.
fn file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("terraform-provider-kong-journal-{safe}.jsonl")
}

fn read_file(path: &std::path::Path) -> Result<Vec<Entry>, JournalError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(JournalError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn next_seq(path: &std::path::Path) -> Result<i64, JournalError> {
    Ok(read_file(path)?.last().map_or(0, |e| e.seq) + 1)
}

/// Appends one line numbered `seq` and syncs it to disk before returning.
fn append_file_at(path: &std::path::Path, entry: &Entry, seq: i64) -> Result<i64, JournalError> {
    let file_err = |source| JournalError::File {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_err)?;
    }
    let mut entry = entry.clone();
    entry.seq = seq;
    let mut line = serde_json::to_string(&entry).unwrap_or_default();
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(file_err)?;
    file.write_all(line.as_bytes()).map_err(file_err)?;
    file.sync_all().map_err(file_err)?;
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::StepKind;

    fn journal_in(dir: &std::path::Path) -> Journal {
        Journal {
            place: Place::File(dir.join(file_name("blue_green:http://x:8001:3.6.1"))),
            upgrade_id: "blue_green:http://x:8001:3.6.1".into(),
        }
    }

    #[tokio::test]
    async fn the_newest_snapshot_is_adopted_only_when_newer_than_private_state() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        let private = Private {
            in_flight: Some(StepKind::WaitReady),
            ..Default::default()
        };
        journal
            .append(&Entry::new("wait_ready_y", Event::Started, &private))
            .await
            .unwrap();
        let recorded = journal.read().await.unwrap();
        let adopted = recorded.newer_than(&Private::default()).unwrap();
        assert_eq!(adopted.in_flight, Some(StepKind::WaitReady));
        assert_eq!(adopted.journal_seq, 1);
        assert!(recorded.newer_than(&adopted).is_none());
    }

    #[tokio::test]
    async fn compaction_keeps_one_row_with_the_whole_history() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        let private = Private::default();
        let entry = |step: &str| {
            let mut e = Entry::new(step, Event::Finished, &private);
            e.history = vec![HistoryEntry {
                step: step.into(),
                action: String::new(),
                started_at: String::new(),
                finished_at: String::new(),
                result: "ok".into(),
                detail: String::new(),
            }];
            e
        };
        journal.append(&entry("freeze")).await.unwrap();
        journal.append(&entry("backup")).await.unwrap();
        let mut last = entry("complete");
        last.event = Event::Completed;
        last.history = journal.read().await.unwrap().history();
        journal.compact(&last).await.unwrap();
        let recorded = journal.read().await.unwrap();
        assert_eq!(recorded.entries.len(), 1);
        assert_eq!(recorded.history().len(), 2);
        journal.remove().await.unwrap();
        assert!(journal.read().await.unwrap().entries.is_empty());
    }
}
