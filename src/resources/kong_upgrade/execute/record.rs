//! How the executor writes the upgrade journal around each step.

use super::super::journal::{Entry, Event, JournalError};
use super::super::state::{HistoryEntry, Private};
use super::{Executor, StepFailure};
use crate::migrations::read_schema_state;
use crate::planner::{MigrationDatabase, PlannedStep, StepKind};
use kong_upgrade_core::migrations::rollback;

impl Executor<'_> {
    /// Appends `entry` to the journal; the private state remembers it.
    pub(super) async fn write(
        &self,
        entry: Entry,
        private: &mut Private,
    ) -> Result<(), JournalError> {
        private.journal_seq = self.journal.append(&entry).await?;
        Ok(())
    }

    /// Records a finished step with what it left behind: the backup's
    /// checksum, what Kong has pending after `up`. `complete` compacts the
    /// journal to one row holding the whole history.
    pub(super) async fn record_finished(
        &self,
        step: &PlannedStep,
        entry: HistoryEntry,
        history: &[HistoryEntry],
        private: &mut Private,
    ) -> Result<(), JournalError> {
        let mut finished = Entry::new(step.id.as_str(), Event::Finished, private);
        finished.history = vec![entry];
        match &step.kind {
            StepKind::Backup { .. } => {
                finished.backup_sha256 = match &private.checkpoint.backup_location {
                    Some(location) => sha256_of(location).await,
                    None => None,
                };
            }
            StepKind::MigrationsUp { database } => {
                finished.pending_after_up = self.pending(*database).await;
            }
            StepKind::Complete => {
                finished.event = Event::Completed;
                finished.history = history.to_vec();
                private.journal_seq = self.journal.compact(&finished).await?;
                return Ok(());
            }
            _ => {}
        }
        self.write(finished, private).await
    }

    /// What Kong's `schema_meta` has pending on `which`, in the journal's
    /// record form ([`rollback::record_text`]).
    async fn pending(&self, which: MigrationDatabase) -> Option<String> {
        let db = self.database(which).ok()?;
        let meta = read_schema_state(db).await.ok()?;
        Some(rollback::record_text(&rollback::pending_in(&meta)))
    }

    pub(super) fn journal_failure(&self, e: &JournalError) -> StepFailure {
        StepFailure::new(
            Some(e.attribute()),
            "cannot write the upgrade journal",
            format!(
                "{e}. Every step is recorded in the journal ({}) before it starts and after it ends, so that an upgrade \
                 survives a killed provider; nothing is run unrecorded.",
                self.journal.describe()
            ),
        )
    }
}

/// The backup file's SHA-256 (hex), read off the async runtime.
async fn sha256_of(location: &str) -> Option<String> {
    let path = std::path::PathBuf::from(location);
    tokio::task::spawn_blocking(move || {
        use sha2::Digest;
        let mut file = std::fs::File::open(path).ok()?;
        let mut hasher = sha2::Sha256::new();
        std::io::copy(&mut file, &mut hasher).ok()?;
        Some(hex::encode(hasher.finalize()))
    })
    .await
    .ok()
    .flatten()
}
