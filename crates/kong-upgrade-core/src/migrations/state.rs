//! Kong's classification of migrations, ported from
//! `kong/db/migrations/state.lua` (`State.load`), without I/O.
//!
//! For every migration the target code knows, in code order:
//! - named in the row's `executed`: executed;
//! - else named in `pending`: pending;
//! - else `new`, unless it sits at or before `last_executed` in code order
//!   *and* `last_executed` was already seen, which in Kong's loop only
//!   happens for `last_executed` itself: then `missing`.
//!
//! That last rule is narrower than "everything before `last_executed` is
//! missing": Kong sets its cursor only when the loop reaches
//! `last_executed`, so an unrecorded migration earlier in the list is
//! `new` and `up` runs it. We reproduce the code, not its comments.
//! A subsystem without a row has every migration `new`; rows the code does
//! not know are ignored (an older Kong sees nothing new on a newer DB).

use super::known::KnownMigrations;
use super::schema_meta::{SchemaMeta, SubsystemRow};

/// Names of one subsystem's migrations in one bucket, in code order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsystemMigrations {
    pub subsystem: String,
    pub migrations: Vec<String>,
}

/// One subsystem, classified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubsystemState {
    pub subsystem: String,
    pub last_executed: Option<String>,
    pub executed: Vec<String>,
    pub pending: Vec<String>,
    pub new: Vec<String>,
    pub missing: Vec<String>,
}

/// A database's migration state relative to one Kong version's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    pub kong_version: String,
    pub needs_bootstrap: bool,
    /// Every subsystem the code knows, in the code's order.
    pub subsystems: Vec<SubsystemState>,
    /// Subsystems with a row in the database that this code does not know
    /// (plugins removed or not bundled, a newer Kong's plugins).
    pub unknown_subsystems: Vec<String>,
    /// Migrations Kong records as pending that the list of known migrations
    /// lacks. The list is a preview (the catalog, or what `status` said);
    /// Kong's record is the truth, so they count as pending: `finish` has
    /// work, `completed` is not reached, X's way back is still open.
    pub unlisted_pending: Vec<SubsystemMigrations>,
}

/// Classifies `meta` against the migrations `known` by a Kong version.
pub fn classify(meta: &SchemaMeta, known: &KnownMigrations) -> SchemaState {
    let rows: &[SubsystemRow] = if meta.needs_bootstrap {
        &[]
    } else {
        &meta.subsystems
    };
    let subsystems = known
        .subsystems
        .iter()
        .map(|subsystem| {
            let names = subsystem.migrations.iter().map(|m| m.name.as_str());
            match rows.iter().find(|row| row.subsystem == subsystem.name) {
                None => SubsystemState {
                    subsystem: subsystem.name.clone(),
                    new: names.map(str::to_owned).collect(),
                    ..SubsystemState::default()
                },
                Some(row) => classify_subsystem(row, names),
            }
        })
        .collect();
    let unknown_subsystems = rows
        .iter()
        .filter(|row| known.subsystem(&row.subsystem).is_none())
        .map(|row| row.subsystem.clone())
        .collect();
    SchemaState {
        kong_version: known.kong_version.clone(),
        needs_bootstrap: meta.needs_bootstrap,
        subsystems,
        unknown_subsystems,
        unlisted_pending: unlisted_pending(rows, known),
    }
}

/// Pending names in `rows` that `known` does not list, per subsystem.
fn unlisted_pending(rows: &[SubsystemRow], known: &KnownMigrations) -> Vec<SubsystemMigrations> {
    rows.iter()
        .map(|row| SubsystemMigrations {
            subsystem: row.subsystem.clone(),
            migrations: row
                .pending
                .iter()
                .filter(|name| !known.knows(&row.subsystem, name))
                .cloned()
                .collect(),
        })
        .filter(|s| !s.migrations.is_empty())
        .collect()
}

fn classify_subsystem<'a>(
    row: &SubsystemRow,
    code_order: impl Iterator<Item = &'a str>,
) -> SubsystemState {
    let mut state = SubsystemState {
        subsystem: row.subsystem.clone(),
        last_executed: row.last_executed.clone(),
        ..SubsystemState::default()
    };
    // Kong's `n`: set to i + 1 when the loop meets `last_executed`.
    let mut cursor: Option<usize> = None;
    for (i, name) in code_order.enumerate() {
        if row.last_executed.as_deref() == Some(name) {
            cursor = Some(i + 1);
        }
        let bucket = if row.executed.iter().any(|n| n == name) {
            &mut state.executed
        } else if row.pending.iter().any(|n| n == name) {
            &mut state.pending
        } else if cursor.is_none_or(|n| i >= n) {
            &mut state.new
        } else {
            &mut state.missing
        };
        bucket.push(name.to_owned());
    }
    state
}

impl SchemaState {
    pub fn subsystem(&self, name: &str) -> Option<&SubsystemState> {
        self.subsystems.iter().find(|s| s.subsystem == name)
    }

    /// Kong's `executed_migrations`: non-empty subsystems only.
    pub fn executed(&self) -> Vec<SubsystemMigrations> {
        self.bucket(|s| &s.executed)
    }

    /// Everything Kong records as pending: the listed migrations in code
    /// order, then any the list lacks ([`Self::unlisted_pending`]).
    pub fn pending(&self) -> Vec<SubsystemMigrations> {
        let mut pending = self.bucket(|s| &s.pending);
        for unlisted in &self.unlisted_pending {
            match pending
                .iter_mut()
                .find(|s| s.subsystem == unlisted.subsystem)
            {
                Some(s) => s.migrations.extend(unlisted.migrations.iter().cloned()),
                None => pending.push(unlisted.clone()),
            }
        }
        pending
    }

    pub fn new_migrations(&self) -> Vec<SubsystemMigrations> {
        self.bucket(|s| &s.new)
    }

    pub fn missing(&self) -> Vec<SubsystemMigrations> {
        self.bucket(|s| &s.missing)
    }

    pub fn has_pending(&self) -> bool {
        self.subsystems.iter().any(|s| !s.pending.is_empty()) || !self.unlisted_pending.is_empty()
    }

    pub fn has_new(&self) -> bool {
        self.subsystems.iter().any(|s| !s.new.is_empty())
    }

    pub fn has_missing(&self) -> bool {
        self.subsystems.iter().any(|s| !s.missing.is_empty())
    }

    /// Kong's `State:is_up_to_date()`: bootstrapped and nothing new.
    /// Pending migrations are allowed (a node starts with them).
    pub fn is_up_to_date(&self) -> bool {
        !self.needs_bootstrap && !self.has_new()
    }

    fn bucket(&self, pick: impl Fn(&SubsystemState) -> &Vec<String>) -> Vec<SubsystemMigrations> {
        self.subsystems
            .iter()
            .filter(|s| !pick(s).is_empty())
            .map(|s| SubsystemMigrations {
                subsystem: s.subsystem.clone(),
                migrations: pick(s).clone(),
            })
            .collect()
    }
}

/// `core: 000_base, 003_100_to_110; acme: 000_base_acme` — for messages.
pub fn describe(migrations: &[SubsystemMigrations]) -> String {
    migrations
        .iter()
        .map(|s| format!("{}: {}", s.subsystem, s.migrations.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{buckets, fresh, known, meta};
    use super::*;

    /// (case, known code, rows, executed, pending, new, missing)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [(
            &'static str,
            Option<&'static str>,
            &'static str,
            &'static str,
        )],
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );

    const CASES: &[Case] = &[
        (
            "up to date",
            &[("core", "000 001 002")],
            &[("core", Some("002"), "000 001 002", "")],
            "core: 000 001 002",
            "",
            "",
            "",
        ),
        (
            "newer code: the tail is new",
            &[("core", "000 001 002 003")],
            &[("core", Some("001"), "000 001", "")],
            "core: 000 001",
            "",
            "core: 002 003",
            "",
        ),
        (
            "up ran a migration with a teardown: pending, last_executed unchanged",
            &[("core", "000 001 002*")],
            &[("core", Some("001"), "000 001", "002")],
            "core: 000 001",
            "core: 002",
            "",
            "",
        ),
        (
            "subsystem without a row: everything new",
            &[("core", "000"), ("acme", "000_base_acme 001")],
            &[("core", Some("000"), "000", "")],
            "core: 000",
            "",
            "acme: 000_base_acme 001",
            "",
        ),
        (
            "gap before last_executed is new, not missing (Kong's cursor is set late)",
            &[("core", "000 001 002 003")],
            &[("core", Some("002"), "000 002", "")],
            "core: 000 002",
            "",
            "core: 001 003",
            "",
        ),
        (
            "last_executed itself unrecorded: missing",
            &[("core", "000 001 002")],
            &[("core", Some("001"), "000", "")],
            "core: 000",
            "",
            "core: 002",
            "core: 001",
        ),
        (
            "older code on a newer database: nothing new, unknown names ignored",
            &[("core", "000 001")],
            &[("core", Some("002"), "000 001 002", "")],
            "core: 000 001",
            "",
            "",
            "",
        ),
        (
            "NULL arrays and last_executed",
            &[("core", "000 001")],
            &[("core", None, "", "")],
            "",
            "",
            "core: 000 001",
            "",
        ),
        (
            "subsystem order follows the code, not the rows",
            &[("core", "000"), ("acme", "a1"), ("session", "s1")],
            &[
                ("session", Some("s1"), "s1", ""),
                ("core", Some("000"), "000", ""),
                ("acme", Some("a1"), "a1", ""),
            ],
            "core: 000; acme: a1; session: s1",
            "",
            "",
            "",
        ),
    ];

    #[test]
    fn classifies_like_kong_state_lua() {
        for (case, code, rows, executed, pending, new, missing) in CASES {
            let state = classify(&meta(rows), &known("9.9.9", code));
            assert_eq!(state.executed(), buckets(executed), "{case}: executed");
            assert_eq!(state.pending(), buckets(pending), "{case}: pending");
            assert_eq!(state.new_migrations(), buckets(new), "{case}: new");
            assert_eq!(state.missing(), buckets(missing), "{case}: missing");
            assert!(!state.needs_bootstrap, "{case}");
        }
    }

    #[test]
    fn a_database_without_schema_meta_needs_bootstrap_and_everything_is_new() {
        let state = classify(
            &fresh(),
            &known("3.4.2", &[("core", "000 001"), ("acme", "a")]),
        );
        assert!(state.needs_bootstrap);
        assert!(!state.is_up_to_date());
        assert_eq!(state.new_migrations(), buckets("core: 000 001; acme: a"));
    }

    #[test]
    fn up_to_date_allows_pending_but_not_new() {
        let code = known("3.6.1", &[("core", "000 001*")]);
        let pending = classify(&meta(&[("core", Some("000"), "000", "001")]), &code);
        assert!(pending.is_up_to_date());
        let new = classify(&meta(&[("core", Some("000"), "000", "")]), &code);
        assert!(!new.is_up_to_date());
    }

    #[test]
    fn rows_of_subsystems_the_code_does_not_know_are_reported_not_classified() {
        let state = classify(
            &meta(&[
                ("core", Some("000"), "000", ""),
                ("ai-proxy", Some("x"), "x", ""),
            ]),
            &known("3.6.1", &[("core", "000")]),
        );
        assert_eq!(state.unknown_subsystems, vec!["ai-proxy".to_owned()]);
        assert_eq!(state.executed(), buckets("core: 000"));
    }

    /// A migration Kong recorded as pending but the list lacks (3.6.1's
    /// opentelemetry one against a list made for 3.6.0) is still pending.
    #[test]
    fn pending_recorded_by_kong_counts_even_when_the_list_lacks_it() {
        let state = classify(
            &meta(&[
                ("core", Some("001"), "000 001", ""),
                ("acme", None, "", "a"),
                ("opentelemetry", None, "", "001_331_to_332"),
            ]),
            &known("3.6.1", &[("core", "000 001"), ("acme", "")]),
        );
        assert_eq!(
            state.unlisted_pending,
            buckets("acme: a; opentelemetry: 001_331_to_332")
        );
        assert!(state.has_pending());
        assert_eq!(
            state.pending(),
            buckets("acme: a; opentelemetry: 001_331_to_332")
        );
    }
}
