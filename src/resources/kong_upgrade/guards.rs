//! Plan-time guards: a plan the world makes unsafe is refused before any
//! step runs (backup tools that cannot serve the server, an upgrade already
//! under way that this resource has no record of).

use super::config::{Intent, Settings};
use super::state::Private;
use super::{import, UNTAINT_HINT};
use crate::planner::Plan;
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
    if !seen.checkpoint.shows_upgrade_in_progress() {
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
