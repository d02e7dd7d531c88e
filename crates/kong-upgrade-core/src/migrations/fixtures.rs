//! Compact builders for table-driven tests.
//!
//! Known migrations: `("core", "000_base 016_280_to_300* 017")`, where a
//! trailing `*` marks a migration with a teardown. Rows:
//! `("core", Some(last_executed), "executed names", "pending names")`.

use super::known::{KnownMigration, KnownMigrations, KnownSource, KnownSubsystem};
use super::schema_meta::{SchemaMeta, SubsystemRow};
use super::state::SubsystemMigrations;

pub fn known(version: &str, subsystems: &[(&str, &str)]) -> KnownMigrations {
    KnownMigrations {
        kong_version: version.to_owned(),
        subsystems: subsystems
            .iter()
            .map(|(name, migrations)| KnownSubsystem {
                name: (*name).to_owned(),
                migrations: migrations
                    .split_whitespace()
                    .map(|m| KnownMigration {
                        name: m.trim_end_matches('*').to_owned(),
                        has_teardown: Some(m.ends_with('*')),
                    })
                    .collect(),
            })
            .collect(),
        source: KnownSource::Catalog {
            provenance: "test table".into(),
        },
    }
}

pub fn meta(rows: &[(&str, Option<&str>, &str, &str)]) -> SchemaMeta {
    SchemaMeta {
        needs_bootstrap: false,
        subsystems: rows
            .iter()
            .map(|(subsystem, last, executed, pending)| SubsystemRow {
                subsystem: (*subsystem).to_owned(),
                last_executed: last.map(str::to_owned),
                executed: words(executed),
                pending: words(pending),
            })
            .collect(),
        lock: None,
    }
}

pub fn fresh() -> SchemaMeta {
    SchemaMeta {
        needs_bootstrap: true,
        ..SchemaMeta::default()
    }
}

/// `"core: a b; acme: c"` → buckets.
pub fn buckets(spec: &str) -> Vec<SubsystemMigrations> {
    spec.split(';')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (subsystem, names) = part.split_once(':').unwrap_or((part, ""));
            SubsystemMigrations {
                subsystem: subsystem.trim().to_owned(),
                migrations: words(names),
            }
        })
        .collect()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}
