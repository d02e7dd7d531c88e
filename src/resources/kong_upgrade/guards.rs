//! Plan-time guards: a plan the world makes unsafe is refused before any
//! step runs (backup tools that cannot serve the server, an upgrade already
//! under way that this resource has no record of).

use super::config::{Intent, Settings};
use super::state::Private;
use super::{import, UNTAINT_HINT};
use crate::planner::Checkpoint;
use crate::planner::{self, MigrationDatabase, Plan};
use tfplug::{AttrPath, Diagnostics};

/// A plan that dumps (or restores) the database needs a `pg_dump` and a
/// `pg_restore` that exist and are no older than the server: found out
/// now, not with X frozen half-way through an apply.
pub(super) async fn refuse_unusable_backup_tools(
    intent: &Intent,
    settings: &Settings,
    plan: &Plan,
) -> Option<Diagnostics> {
    use crate::planner::{BackupSource, StepKind};
    let dumps = plan.steps.iter().any(|s| {
        matches!(
            s.kind,
            StepKind::Backup {
                source: BackupSource::Database
            } | StepKind::RestoreIntoNewDatabase
        )
    });
    let (true, Some(backup), Some(db)) = (dumps, &intent.backup, &settings.database) else {
        return None;
    };
    let e = crate::steps::pg_tools::check(&backup.pg_tools, db)
        .await
        .err()?;
    Some(
        tfplug::Diagnostic::error("Backup tools cannot serve this database", e.to_string())
            .at(AttrPath::root("backup").attr(e.attribute()))
            .into(),
    )
}

/// A new kong_upgrade whose upgrade the world shows already in progress.
/// Most often this is the replacement Terraform plans for a tainted upgrade
/// (its first apply was interrupted): starting over would lose the
/// checkpoint and the freeze, so it is refused with the ways out.
pub(super) async fn refuse_if_under_way(
    intent: &Intent,
    settings: &Settings,
) -> Option<Diagnostics> {
    let mut seen = Private::default();
    import::infer_checkpoint(intent, settings, &mut seen)
        .await
        .ok()?;
    if !shows_upgrade_in_progress(&seen.checkpoint) {
        return None;
    }
    let mut d = Diagnostics::new();
    d.error_at(
        AttrPath::root("to_version"),
        "Upgrade already under way",
        format!(
            "The upgrade to {} is already partly done here (schema_meta, cluster Y or the load balancer show it), but this kong_upgrade has no record of it.\n\n\
             {UNTAINT_HINT}\n\n\
             To take over an upgrade started elsewhere, or one whose first apply was killed before Terraform recorded it, import it (the import reads the provider's upgrade journal when there is one): terraform import ADDRESS '{},{},{},{}'.",
            intent.to_version,
            intent.strategy,
            intent.to_version,
            settings.cluster_x.admin_url,
            settings.cluster_y.admin_url,
        ),
    );
    Some(d)
}

/// Signs only an upgrade in progress leaves: Y on the target version, a
/// restored new database, `up` run but not finished, traffic on Y. (A
/// database with nothing new to run is not one: it may just be ahead.)
fn shows_upgrade_in_progress(seen: &Checkpoint) -> bool {
    let done = |kind: planner::StepKind| seen.is_done(&kind.id());
    let up_pending_finish = [MigrationDatabase::Shared, MigrationDatabase::New]
        .into_iter()
        .any(|database| {
            done(planner::StepKind::MigrationsUp { database })
                && !done(planner::StepKind::MigrationsFinish { database })
        });
    done(planner::StepKind::StartClusterY { hook: None })
        || done(planner::StepKind::RestoreIntoNewDatabase)
        || up_pending_finish
        || seen.weight_y != planner::TrafficWeight::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::StepKind;

    fn seen(kinds: &[StepKind], weight_y: u8) -> Checkpoint {
        Checkpoint {
            completed: kinds.iter().map(StepKind::id).collect(),
            weight_y: planner::TrafficWeight::new(i64::from(weight_y)).unwrap(),
            backup_location: None,
        }
    }

    #[test]
    fn only_signs_of_an_upgrade_in_progress_count() {
        let shared = MigrationDatabase::Shared;
        let up = StepKind::MigrationsUp { database: shared };
        let finish = StepKind::MigrationsFinish { database: shared };
        // Nothing, or a database with nothing new to run (it may be ahead).
        assert!(!shows_upgrade_in_progress(&seen(&[], 0)));
        assert!(!shows_upgrade_in_progress(&seen(&[up.clone(), finish], 0)));
        // `up` ran and awaits finish; Y runs the target; traffic on Y.
        assert!(shows_upgrade_in_progress(&seen(&[up], 0)));
        assert!(shows_upgrade_in_progress(&seen(
            &[StepKind::StartClusterY { hook: None }],
            0
        )));
        assert!(shows_upgrade_in_progress(&seen(&[], 10)));
        assert!(shows_upgrade_in_progress(&seen(
            &[StepKind::RestoreIntoNewDatabase],
            0
        )));
    }
}
