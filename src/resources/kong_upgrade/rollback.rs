//! `on_destroy = "rollback"` on a shared database: before any rollback step
//! runs, Kong's records must show no teardown since `up`. The checkpoint
//! alone cannot tell (a `kong migrations finish` run by hand, or by a
//! `kong_migration_phase`, leaves it untouched).

use super::config::{Intent, Settings};
use super::journal::Recorded;
use crate::migrations::{judge_way_back, why_closed, WayBack, JUDGED_WITHOUT_RECORD};
use crate::planner::{Checkpoint, MigrationDatabase, StepKind};
use tfplug::{AttrPath, Diagnostics};

/// Errors (on `on_destroy`) when a non-empty rollback plan would leave X on
/// a database it can no longer run on; a warning when judged without the
/// record of `up`. Nothing to judge before `up` ran on the shared database.
pub async fn check_way_back(
    intent: &Intent,
    settings: &Settings,
    recorded: &Recorded,
    checkpoint: &Checkpoint,
    diags: &mut Diagnostics,
) {
    let up_ran = checkpoint.is_done(
        &StepKind::MigrationsUp {
            database: MigrationDatabase::Shared,
        }
        .id(),
    );
    let Some(db) = settings.database.as_ref() else {
        return;
    };
    if !intent.strategy.shares_database() || !up_ran {
        return;
    }
    let pending_after_up = recorded.pending_after_up();
    let to = intent.to_version.to_string();
    let verdict = match judge_way_back(db, pending_after_up.as_deref(), &to).await {
        Ok(v) => v,
        Err(e) => {
            diags.error_at(
                AttrPath::root("database"),
                "Rollback refused: cannot read schema_meta",
                format!("{e}. Whether X can still run on this database is decided from Kong's records; nothing was changed."),
            );
            return;
        }
    };
    if verdict == WayBack::OpenBySchemaMetaAlone {
        diags.warning(
            "Rollback judged from schema_meta alone",
            JUDGED_WITHOUT_RECORD,
        );
    }
    if let Some(why) = why_closed(&verdict) {
        diags.error_at(
            AttrPath::root("on_destroy"),
            "Rollback refused: migrations finish has run",
            format!(
                "{why}. Cluster X cannot run against this database any more, so no traffic was sent back. The way back is \
                 restoring the backup (backup_location) into a database for X."
            ),
        );
    }
}
