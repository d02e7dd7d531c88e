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
//! - with neither (DB-less, backups through `upload_command`), in the same
//!   file in Terraform's data directory of the working directory
//!   (`TF_DATA_DIR`, by default `.terraform/`; a provider runs in
//!   Terraform's working directory). It survives a killed provider or
//!   Terraform on that machine, as the local state does; it does not
//!   survive an ephemeral runner (there, import the upgrade).
//!
//! Every row carries a snapshot of [`Private`] as it stood after the event,
//! less the freeze fingerprint (one hash per Kong entity: the bulk of the
//! private state on a large configuration). A row holds the fingerprint's
//! SHA-256; the fingerprint itself is written in full once, on the first
//! row an apply writes after it changed (and on the compacted row), and
//! reading puts it back ([`Recorded::newer_than`]). Rows written by a
//! provider before this split carry the fingerprint inside their snapshot
//! and are read as they are. The next plan adopts the newest snapshot when
//! it is newer than the private state Terraform handed back
//! ([`Private::journal_seq`]). The
//! `complete` step compacts the journal to one `completed` row (so that a
//! kill between the compaction and Terraform saving the state still finds
//! the record); destroying the resource removes that row and the schema
//! once it holds nothing else.

use super::config::Settings;
use super::state::{HistoryEntry, Private};
use crate::migrations::{DatabaseConfig, MigrationsError, SubsystemMigrations};
use file::{append_file_at, file_name, next_seq, read_file, terraform_data_dir};
use kong_upgrade_core::migrations::rollback;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

mod file;
mod table;

pub use table::latest_pending_after_up;

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
    /// [`Private`] after this event, JSON, without the fingerprint
    /// ([`Snapshot`]).
    pub snapshot: String,
    /// The freeze fingerprint in full (JSON), on the rows that carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What a row's `snapshot` holds: [`Private`] with the fingerprint
/// replaced by its digest. A snapshot written before the split parses too:
/// its fingerprint is inline and it has no digest.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    #[serde(flatten)]
    private: Private,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint_sha256: Option<String>,
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

impl Entry {
    pub fn new(step: &str, event: Event, private: &Private) -> Entry {
        let fingerprint = private
            .fingerprint
            .as_ref()
            .and_then(|f| serde_json::to_string(f).ok());
        let snapshot = Snapshot {
            private: Private {
                fingerprint: None,
                ..private.clone()
            },
            fingerprint_sha256: fingerprint.as_deref().map(sha256_hex),
        };
        Entry {
            seq: 0,
            step: step.to_string(),
            event,
            at: crate::gates::now_rfc3339(),
            backup_location: private.checkpoint.backup_location.clone(),
            backup_sha256: None,
            pending_after_up: None,
            history: Vec::new(),
            snapshot: serde_json::to_string(&snapshot).unwrap_or_default(),
            fingerprint,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Database(#[from] MigrationsError),
    #[error("the upgrade journal in schema {SCHEMA} on {address}: {detail}")]
    Query { address: String, detail: String },
    #[error("the upgrade journal's newest row (seq {seq}) refers to a freeze fingerprint (sha256 {sha256}) that no row of the journal holds; it was altered outside the provider")]
    MissingFingerprint { seq: i64, sha256: String },
    #[error("the upgrade journal's newest row (seq {seq}) is unreadable: {detail}")]
    Unreadable { seq: i64, detail: String },
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
    /// No working directory to be found (a test harness, not Terraform).
    Nowhere,
}

/// One upgrade's journal.
pub struct Journal {
    place: Place,
    upgrade_id: String,
    /// The digest of the fingerprint the journal already holds in full, as
    /// far as this process knows (read or written): rows after it carry
    /// the digest only.
    fingerprint_written: std::sync::Mutex<Option<String>>,
}

/// What the journal says about an upgrade.
#[derive(Default)]
pub struct Recorded {
    pub entries: Vec<Entry>,
}

impl Recorded {
    /// What Kong had pending right after the newest `up` this journal
    /// recorded (`None`: no `up` recorded, or recorded by an older provider).
    pub fn pending_after_up(&self) -> Option<Vec<SubsystemMigrations>> {
        self.entries
            .iter()
            .rev()
            .find_map(|e| e.pending_after_up.as_deref())
            .map(rollback::parse_record)
    }

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

    /// The private state after the newest event, when it is newer than
    /// `private`'s, with its fingerprint put back from the row that holds
    /// it in full.
    pub fn newer_than(&self, private: &Private) -> Result<Option<Private>, JournalError> {
        let Some(last) = self.entries.last() else {
            return Ok(None);
        };
        if last.seq <= private.journal_seq {
            return Ok(None);
        }
        let unreadable = |e: serde_json::Error| JournalError::Unreadable {
            seq: last.seq,
            detail: e.to_string(),
        };
        let snapshot: Snapshot = serde_json::from_str(&last.snapshot).map_err(unreadable)?;
        let mut adopted = snapshot.private;
        if let Some(sha256) = snapshot.fingerprint_sha256 {
            let full = self
                .fingerprint_with(&sha256)
                .ok_or(JournalError::MissingFingerprint {
                    seq: last.seq,
                    sha256,
                })?;
            adopted.fingerprint = Some(serde_json::from_str(full).map_err(unreadable)?);
        }
        adopted.journal_seq = last.seq;
        // Facts read at a later plan are as good as the recorded ones.
        adopted.facts = adopted.facts.or_else(|| private.facts.clone());
        adopted.from_version = adopted.from_version.or(private.from_version);
        Ok(Some(adopted))
    }

    /// The newest fingerprint written in full whose digest is `sha256`.
    fn fingerprint_with(&self, sha256: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .filter_map(|e| e.fingerprint.as_deref())
            .find(|f| sha256_hex(f) == sha256)
    }

    /// The digest of the newest fingerprint written in full.
    fn last_fingerprint_sha256(&self) -> Option<String> {
        self.entries
            .iter()
            .rev()
            .find_map(|e| e.fingerprint.as_deref())
            .map(sha256_hex)
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
            (None, None) => match terraform_data_dir() {
                Some(dir) => Place::File(dir.join(file_name(id))),
                None => Place::Nowhere,
            },
        };
        Journal {
            place,
            upgrade_id: id.to_string(),
            fingerprint_written: Default::default(),
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
            Place::Nowhere => {
                "nowhere (no database, no backup directory, no working directory)".into()
            }
        }
    }

    pub async fn read(&self) -> Result<Recorded, JournalError> {
        let entries = match &self.place {
            Place::Database(db) => self.read_table(db).await?,
            Place::File(path) => read_file(path)?,
            Place::Nowhere => Vec::new(),
        };
        let recorded = Recorded { entries };
        self.remember_fingerprint(recorded.last_fingerprint_sha256());
        Ok(recorded)
    }

    fn remember_fingerprint(&self, sha256: Option<String>) {
        if let Ok(mut written) = self.fingerprint_written.lock() {
            *written = sha256;
        }
    }

    /// `entry` without its fingerprint when the journal already holds that
    /// one in full; otherwise as it is.
    fn slimmed(&self, entry: &Entry) -> Entry {
        let mut entry = entry.clone();
        let written = self
            .fingerprint_written
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default();
        if written.is_some() && written == entry.fingerprint.as_deref().map(sha256_hex) {
            entry.fingerprint = None;
        }
        entry
    }

    /// Appends `entry`; returns its sequence number.
    pub async fn append(&self, entry: &Entry) -> Result<i64, JournalError> {
        let entry = &self.slimmed(entry);
        let seq = match &self.place {
            Place::Database(db) => self.insert(db, entry).await?,
            Place::File(path) => append_file_at(path, entry, next_seq(path)?)?,
            Place::Nowhere => 0,
        };
        if let Some(full) = &entry.fingerprint {
            self.remember_fingerprint(Some(sha256_hex(full)));
        }
        Ok(seq)
    }

    /// Replaces every row of this upgrade by `last` (event `completed`,
    /// carrying the whole history and the fingerprint in full), in one
    /// transaction.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::StepKind;

    fn journal_in(dir: &std::path::Path) -> Journal {
        Journal {
            place: Place::File(dir.join(file_name("blue_green:http://x:8001:3.6.1"))),
            upgrade_id: "blue_green:http://x:8001:3.6.1".into(),
            fingerprint_written: Default::default(),
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
        let adopted = recorded.newer_than(&Private::default()).unwrap().unwrap();
        assert_eq!(adopted.in_flight, Some(StepKind::WaitReady));
        assert_eq!(adopted.journal_seq, 1);
        assert!(recorded.newer_than(&adopted).unwrap().is_none());
    }

    fn frozen(entities: usize) -> Private {
        let services = (0..entities)
            .map(|i| (format!("service-{i}"), format!("1700000000:{i:064x}")))
            .collect();
        Private {
            fingerprint: Some(crate::steps::freeze::Fingerprint {
                collections: [("services".to_string(), Some(services))].into(),
                settled: true,
            }),
            ..Default::default()
        }
    }

    /// The fingerprint is written in full once; later rows carry its digest
    /// and reading puts it back, also in a process that did not write it.
    #[tokio::test]
    async fn the_fingerprint_is_stored_once_and_read_back_into_every_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        let mut private = frozen(2000);
        for step in ["freeze", "backup", "migrations_up", "start_y"] {
            journal
                .append(&Entry::new(step, Event::Finished, &private))
                .await
                .unwrap();
        }
        let recorded = journal_in(dir.path()).read().await.unwrap();
        let full: Vec<bool> = recorded
            .entries
            .iter()
            .map(|e| e.fingerprint.is_some())
            .collect();
        assert_eq!(full, [true, false, false, false]);
        let first = recorded.entries[0].snapshot.len()
            + recorded.entries[0].fingerprint.as_ref().unwrap().len();
        assert!(
            recorded.entries[3].snapshot.len() * 50 < first,
            "a later row is small"
        );
        let adopted = recorded.newer_than(&Private::default()).unwrap().unwrap();
        assert_eq!(adopted.fingerprint, private.fingerprint);

        // A new freeze is written in full again, by a process that read first.
        let again = journal_in(dir.path());
        again.read().await.unwrap();
        private = frozen(3);
        again
            .append(&Entry::new("freeze", Event::Finished, &private))
            .await
            .unwrap();
        again
            .append(&Entry::new("backup", Event::Finished, &private))
            .await
            .unwrap();
        let recorded = again.read().await.unwrap();
        assert_eq!(
            recorded
                .entries
                .iter()
                .filter(|e| e.fingerprint.is_some())
                .count(),
            2
        );
        let adopted = recorded.newer_than(&Private::default()).unwrap().unwrap();
        assert_eq!(adopted.fingerprint, private.fingerprint);
    }

    /// A row written before the split holds the fingerprint inside its
    /// snapshot: it is read as it is.
    #[tokio::test]
    async fn a_row_of_an_older_provider_is_read_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        let private = frozen(3);
        let mut old = Entry::new("freeze", Event::Finished, &private);
        old.snapshot = String::from_utf8(private.encode()).unwrap();
        old.fingerprint = None;
        journal.append(&old).await.unwrap();
        let adopted = journal
            .read()
            .await
            .unwrap()
            .newer_than(&Private::default())
            .unwrap()
            .unwrap();
        assert_eq!(adopted.fingerprint, private.fingerprint);
    }

    /// A digest no row resolves is refused, never read as "no fingerprint"
    /// (which would let the freeze check pass unchecked).
    #[tokio::test]
    async fn a_fingerprint_no_row_holds_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        let mut entry = Entry::new("backup", Event::Finished, &frozen(3));
        entry.fingerprint = None;
        journal.append(&entry).await.unwrap();
        let err = journal
            .read()
            .await
            .unwrap()
            .newer_than(&Private::default())
            .unwrap_err();
        assert!(
            matches!(err, JournalError::MissingFingerprint { seq: 1, .. }),
            "{err}"
        );
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
