//! The I/O side of the rollback decision: reads `schema_meta` and hands it,
//! with what Kong had pending right after `up`, to the pure
//! [`kong_upgrade_core::migrations::rollback::way_back`].

use super::{classify, read_schema_state, DatabaseConfig, KnownMigrations, KnownSource};
use super::{MigrationsError, SubsystemMigrations};
use kong_upgrade_core::migrations::rollback::way_back;
pub use kong_upgrade_core::migrations::rollback::WayBack;

/// Whether X can still run on `db`. `pending_after_up` is the record of
/// what Kong had pending right after `up` (`None`: none kept); `to_version`
/// only serves the fallback without a record. A version the catalog does
/// not know is judged from Kong's records alone: every recorded pending
/// migration counts (see `classify`).
pub async fn judge_way_back(
    db: &DatabaseConfig,
    pending_after_up: Option<&[SubsystemMigrations]>,
    to_version: &str,
) -> Result<WayBack, MigrationsError> {
    let meta = read_schema_state(db).await?;
    let known = KnownMigrations::from_catalog(to_version).unwrap_or_else(|e| {
        tracing::info!(error = %e, "no catalog preview for {to_version}; judging from schema_meta alone");
        KnownMigrations {
            kong_version: to_version.to_owned(),
            subsystems: Vec::new(),
            source: KnownSource::Catalog {
                provenance: "none: version unknown to the catalog".to_owned(),
            },
        }
    });
    let verdict = way_back(pending_after_up, &meta, &classify(&meta, &known));
    tracing::info!(?verdict, "way back to X judged");
    Ok(verdict)
}

/// Why the way back is closed, naming the torn-down migrations; `None`
/// when it is open.
pub fn why_closed(verdict: &WayBack) -> Option<String> {
    match verdict {
        WayBack::Open | WayBack::OpenBySchemaMetaAlone => None,
        WayBack::TornDown(migrations) => Some(format!(
            "Kong had these migrations pending right after `kong migrations up` and has run their teardown since: {}",
            super::describe(migrations)
        )),
        WayBack::ClosedBySchemaMetaAlone => Some(
            "No record of what Kong had pending right after `kong migrations up` was found in the upgrade journal, and \
             schema_meta shows every migration of to_version executed and none pending, so `kong migrations finish` is \
             taken to have run"
                .to_owned(),
        ),
    }
}

/// The warning for a way back judged open without the record of `up`.
pub const JUDGED_WITHOUT_RECORD: &str = "No record of what Kong had pending right after `kong migrations up` was found in \
     the upgrade journal (an upgrade run by hand or by an older provider): the way back to X is judged open because \
     schema_meta still shows migrations of to_version pending or new.";
