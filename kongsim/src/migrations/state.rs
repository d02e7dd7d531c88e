//! The schema state as `kong/db/migrations/state.lua` computes it: every
//! migration the running version knows is executed, pending, new or
//! missing, judged against the `schema_meta` rows.

use crate::pg::{escape_literal, Pg};
use kong_catalog::{Migration, Subsystem};

/// Migrations of one subsystem that share a classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub subsystem: &'static str,
    pub migrations: Vec<Migration>,
}

impl Group {
    /// The Lua module namespace Kong reports in `kong migrations status`.
    pub fn namespace(&self) -> String {
        if self.subsystem == "core" {
            "kong.db.migrations.core".to_string()
        } else {
            format!("kong.plugins.{}.migrations", self.subsystem)
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaState {
    pub needs_bootstrap: bool,
    pub executed: Vec<Group>,
    pub pending: Vec<Group>,
    pub new: Vec<Group>,
    pub missing: Vec<Group>,
}

impl SchemaState {
    /// Kong's `is_up_to_date`: pending migrations do not count.
    pub fn is_up_to_date(&self) -> bool {
        !self.needs_bootstrap && self.new.is_empty()
    }
}

/// One `schema_meta` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    pub subsystem: String,
    pub last_executed: Option<String>,
    pub executed: Vec<String>,
    pub pending: Vec<String>,
}

/// Classifies the catalog against the recorded rows (`None`: no
/// `schema_meta` table). Names in the database that the catalog does not
/// know are ignored, as Kong ignores them.
pub fn classify(catalog: &[Subsystem], recorded: Option<&[Recorded]>) -> SchemaState {
    let mut state = SchemaState {
        needs_bootstrap: recorded.is_none(),
        ..Default::default()
    };
    let rows = recorded.unwrap_or_default();
    for subsystem in catalog {
        let mut executed = Vec::new();
        let mut pending = Vec::new();
        let mut new = Vec::new();
        let mut missing = Vec::new();
        match rows.iter().find(|r| r.subsystem == subsystem.name) {
            None => new.extend(subsystem.migrations.iter().copied()),
            Some(row) => {
                // Index just past `last_executed`, known only once the loop
                // reaches it (as in state.lua): unrecorded migrations before
                // that point are new, and only `last_executed` itself can be
                // missing (recorded as last but absent from both arrays).
                let mut first_new: Option<usize> = None;
                for (i, migration) in subsystem.migrations.iter().enumerate() {
                    if row.last_executed.as_deref() == Some(migration.name) {
                        first_new = Some(i + 1);
                    }
                    if row.executed.iter().any(|n| n == migration.name) {
                        executed.push(*migration);
                    } else if row.pending.iter().any(|n| n == migration.name) {
                        pending.push(*migration);
                    } else if first_new.is_none_or(|n| i >= n) {
                        new.push(*migration);
                    } else {
                        missing.push(*migration);
                    }
                }
            }
        }
        push_group(&mut state.executed, subsystem.name, executed);
        push_group(&mut state.pending, subsystem.name, pending);
        push_group(&mut state.new, subsystem.name, new);
        push_group(&mut state.missing, subsystem.name, missing);
    }
    state
}

fn push_group(groups: &mut Vec<Group>, subsystem: &'static str, migrations: Vec<Migration>) {
    if !migrations.is_empty() {
        groups.push(Group {
            subsystem,
            migrations,
        });
    }
}

/// Kong's rendering of a migrations block: one line per subsystem, the name
/// right-aligned to the longest name in the block.
pub fn format_groups(groups: &[Group]) -> String {
    let width = groups.iter().map(|g| g.subsystem.len()).max().unwrap_or(0);
    groups
        .iter()
        .map(|g| {
            let names: Vec<&str> = g.migrations.iter().map(|m| m.name).collect();
            format!("{:>width$}: {}", g.subsystem, names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads `schema_meta` in the connection's schema. `Ok(None)` when the table
/// does not exist (the database needs bootstrapping).
pub async fn read_schema_meta(pg: &Pg) -> Result<Option<Vec<Recorded>>, String> {
    let exists = pg
        .query(
            "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'schema_meta'",
            &[&pg.schema],
        )
        .await
        .map_err(|e| e.to_string())?;
    if exists.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT subsystem, last_executed, executed, pending FROM {}.schema_meta WHERE key = 'schema_meta'",
        crate::pg::escape_identifier(&pg.schema)
    );
    let rows = pg.query(&sql, &[]).await.map_err(|e| e.to_string())?;
    Ok(Some(
        rows.iter()
            .map(|row| Recorded {
                subsystem: row.get::<_, Option<String>>(0).unwrap_or_default(),
                last_executed: row.get(1),
                executed: row.get::<_, Option<Vec<String>>>(2).unwrap_or_default(),
                pending: row.get::<_, Option<Vec<String>>>(3).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// `DB:schema_state()`, with Kong's error text.
pub async fn load(pg: &Pg, catalog: &[Subsystem]) -> Result<SchemaState, String> {
    let recorded = read_schema_meta(pg)
        .await
        .map_err(|e| format!("[PostgreSQL error] failed to check schema state: {e}"))?;
    Ok(classify(catalog, recorded.as_deref()))
}

/// `record_migration` of Kong's PostgreSQL connector, statement for
/// statement.
pub fn record_migration_sql(subsystem: &str, name: &str, state: RecordAs) -> String {
    let key = escape_literal("schema_meta");
    let subsystem = escape_literal(subsystem);
    let name = escape_literal(name);
    let name_array = format!("ARRAY[{name}]");
    match state {
        RecordAs::Executed => format!(
            "INSERT INTO schema_meta (key, subsystem, last_executed, executed)\n     VALUES ({key}, {subsystem}, {name}, {name_array})\nON CONFLICT (key, subsystem) DO UPDATE\n        SET last_executed = EXCLUDED.last_executed,\n            executed = ARRAY_APPEND(COALESCE(schema_meta.executed, ARRAY[]::TEXT[]), {name});"
        ),
        RecordAs::Pending => format!(
            "INSERT INTO schema_meta (key, subsystem, pending)\n     VALUES ({key}, {subsystem}, {name_array})\nON CONFLICT (key, subsystem) DO UPDATE\n        SET pending = ARRAY_APPEND(schema_meta.pending, {name});"
        ),
        RecordAs::Teardown => format!(
            "INSERT INTO schema_meta (key, subsystem, last_executed, executed)\n     VALUES ({key}, {subsystem}, {name}, {name_array})\nON CONFLICT (key, subsystem) DO UPDATE\n        SET last_executed = EXCLUDED.last_executed,\n            executed = ARRAY_APPEND(COALESCE(schema_meta.executed, ARRAY[]::TEXT[]), {name}),\n            pending  = ARRAY_REMOVE(COALESCE(schema_meta.pending,  ARRAY[]::TEXT[]), {name});"
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordAs {
    /// `up` of a migration without teardown.
    Executed,
    /// `up` of a migration with a teardown still to run.
    Pending,
    /// The teardown ran.
    Teardown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<Subsystem> {
        vec![Subsystem {
            name: "core",
            migrations: vec![
                Migration {
                    name: "a",
                    has_teardown: false,
                },
                Migration {
                    name: "b",
                    has_teardown: true,
                },
                Migration {
                    name: "c",
                    has_teardown: false,
                },
                Migration {
                    name: "d",
                    has_teardown: false,
                },
            ],
        }]
    }

    fn row(last: Option<&str>, executed: &[&str], pending: &[&str]) -> Recorded {
        Recorded {
            subsystem: "core".into(),
            last_executed: last.map(str::to_string),
            executed: executed.iter().map(|s| s.to_string()).collect(),
            pending: pending.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn names(groups: &[Group]) -> Vec<&'static str> {
        groups
            .iter()
            .flat_map(|g| g.migrations.iter().map(|m| m.name))
            .collect()
    }

    #[test]
    fn no_schema_meta_means_bootstrap_and_everything_new() {
        let state = classify(&catalog(), None);
        assert!(state.needs_bootstrap);
        assert_eq!(names(&state.new), ["a", "b", "c", "d"]);
        assert!(!state.is_up_to_date());
    }

    #[test]
    fn pending_does_not_move_last_executed() {
        let state = classify(&catalog(), Some(&[row(Some("a"), &["a"], &["b"])]));
        assert_eq!(names(&state.executed), ["a"]);
        assert_eq!(names(&state.pending), ["b"]);
        assert_eq!(names(&state.new), ["c", "d"]);
        assert!(state.missing.is_empty());
    }

    // state.lua only learns where `last_executed` is when its loop reaches
    // it, so an unrecorded migration *before* it still counts as new.
    #[test]
    fn a_gap_before_last_executed_is_new_as_in_kong() {
        let state = classify(&catalog(), Some(&[row(Some("c"), &["a", "c"], &[])]));
        assert!(state.missing.is_empty());
        assert_eq!(names(&state.new), ["b", "d"]);
    }

    #[test]
    fn last_executed_missing_from_executed_is_missing() {
        let state = classify(&catalog(), Some(&[row(Some("c"), &["a"], &["b"])]));
        assert_eq!(names(&state.missing), ["c"]);
        assert_eq!(names(&state.new), ["d"]);
    }

    #[test]
    fn names_unknown_to_the_code_are_ignored() {
        let state = classify(
            &catalog(),
            Some(&[row(Some("z"), &["a", "b", "c", "d", "z"], &[])]),
        );
        assert!(state.is_up_to_date());
        assert!(state.new.is_empty() && state.missing.is_empty());
    }

    #[test]
    fn subsystem_without_a_row_is_entirely_new() {
        let mut catalog = catalog();
        catalog.push(Subsystem {
            name: "acme",
            migrations: vec![Migration {
                name: "x",
                has_teardown: false,
            }],
        });
        let state = classify(
            &catalog,
            Some(&[row(Some("d"), &["a", "b", "c", "d"], &[])]),
        );
        assert_eq!(
            state.new,
            vec![Group {
                subsystem: "acme",
                migrations: vec![Migration {
                    name: "x",
                    has_teardown: false
                }]
            }]
        );
    }

    #[test]
    fn blocks_are_right_aligned_to_the_longest_subsystem_name() {
        let groups = vec![
            Group {
                subsystem: "core",
                migrations: vec![Migration {
                    name: "000_base",
                    has_teardown: false,
                }],
            },
            Group {
                subsystem: "rate-limiting",
                migrations: vec![
                    Migration {
                        name: "000_base_rate_limiting",
                        has_teardown: false,
                    },
                    Migration {
                        name: "003_10_to_112",
                        has_teardown: false,
                    },
                ],
            },
        ];
        assert_eq!(
            format_groups(&groups),
            "         core: 000_base\nrate-limiting: 000_base_rate_limiting, 003_10_to_112"
        );
    }
}
