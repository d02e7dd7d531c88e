//! Before a plan promises a `pg_dump`, the database it will back up is
//! checked the way the dump will use it: reachable, the login accepted, and
//! Kong's `schema_meta` there and sane. A plan that cannot be applied is
//! refused on the `database` attribute at fault, not discovered halfway
//! through an apply.

use super::config::Settings;
use crate::blocks::database::error_diagnostic;
use crate::migrations::{read_schema_state, MigrationsError, SchemaMeta};
use crate::planner::{BackupSource, Plan, StepKind};
use tfplug::{AttrPath, Diagnostic, Diagnostics, Value};

/// Checks X's database when `plan` backs it up; `config` is the resource's
/// configuration (for the attribute at fault).
pub async fn backup_database(plan: &Plan, settings: &Settings, config: &Value) -> Diagnostics {
    let dumps = plan.steps.iter().any(|s| {
        matches!(
            s.kind,
            StepKind::Backup {
                source: BackupSource::Database
            }
        )
    });
    let Some(db) = settings.database.as_ref().filter(|_| dumps) else {
        return Diagnostics::new();
    };
    let block = config.attr("database");
    let root = AttrPath::root("database");
    let found = match read_schema_state(db).await {
        Ok(meta) => insane(&meta),
        Err(e @ (MigrationsError::Query { .. } | MigrationsError::StatementTimeout { .. })) => {
            Some(format!("Kong's schema_meta cannot be read: {e}"))
        }
        Err(e) => return error_diagnostic(&e, block, root).into(),
    };
    match found {
        None => Diagnostics::new(),
        Some(why) => Diagnostic::error(
            "Not a Kong database",
            format!(
                "The backup would dump database \"{}\" on {}, but {why}. Point database at the database cluster X \
                 runs on (Kong's pg_database).",
                db.database,
                db.address()
            ),
        )
        .at(root.attr("database"))
        .into(),
    }
}

/// Why `meta` is not the `schema_meta` of a bootstrapped Kong database.
fn insane(meta: &SchemaMeta) -> Option<String> {
    if meta.needs_bootstrap {
        return Some("it has no schema_meta table: Kong was never bootstrapped there".into());
    }
    let Some(core) = meta.subsystem("core") else {
        return Some("its schema_meta has no row for Kong's core subsystem".into());
    };
    if core.executed.is_empty() {
        return Some("its schema_meta records no executed core migration".into());
    }
    if core.last_executed.is_none() {
        return Some("its schema_meta records no last executed core migration".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::SubsystemRow;

    fn core(executed: &[&str], last: Option<&str>) -> SchemaMeta {
        SchemaMeta {
            subsystems: vec![SubsystemRow {
                subsystem: "core".into(),
                last_executed: last.map(str::to_string),
                executed: executed.iter().map(|s| s.to_string()).collect(),
                pending: Vec::new(),
            }],
            ..SchemaMeta::default()
        }
    }

    #[test]
    fn only_a_bootstrapped_kong_schema_meta_is_sane() {
        assert!(insane(&core(&["000_base"], Some("000_base"))).is_none());
        assert!(insane(&SchemaMeta {
            needs_bootstrap: true,
            ..SchemaMeta::default()
        })
        .is_some());
        assert!(insane(&SchemaMeta::default()).is_some());
        assert!(insane(&core(&[], Some("000_base"))).is_some());
        assert!(insane(&core(&["000_base"], None)).is_some());
    }
}
