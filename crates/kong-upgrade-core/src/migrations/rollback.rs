//! Whether cluster X can still run on a database Y's `up` migrated: the
//! way back is open while no teardown has run since `up`.
//!
//! Kong records a migration with a teardown as `pending` after `up` and
//! moves it to `executed` when `finish` runs its teardown; one without a
//! teardown goes straight to `executed` at `up` (the `record_migration`
//! states "up" and "teardown" in
//! https://github.com/Kong/kong/blob/3.6.1/kong/db/strategies/postgres/connector.lua).
//! So what Kong had pending right after `up` (recorded by the provider)
//! against what `schema_meta` has pending now says exactly which
//! teardowns ran. An upgrade whose migrations have no teardown at all
//! (3.5.0 → 3.6.0) leaves nothing pending, and its way back stays open.

use super::schema_meta::SchemaMeta;
use super::state::{SchemaState, SubsystemMigrations};

/// The verdict, and what it was judged from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayBack {
    /// Nothing Kong had pending right after `up` has been torn down.
    Open,
    /// Pending right after `up`, executed now: their teardown ran.
    TornDown(Vec<SubsystemMigrations>),
    /// Nothing was recorded after `up` (an upgrade recorded by an older
    /// provider, or `up` run by hand): `schema_meta` shows migrations of
    /// the target still new or pending, so `finish` has not completed.
    OpenBySchemaMetaAlone,
    /// Nothing was recorded after `up`, and `schema_meta` shows every
    /// migration of the target executed and none pending: `finish` ran,
    /// or the target needed none (which schema_meta alone cannot tell).
    ClosedBySchemaMetaAlone,
}

impl WayBack {
    pub fn is_open(&self) -> bool {
        matches!(self, WayBack::Open | WayBack::OpenBySchemaMetaAlone)
    }

    /// False when judged without the record of what `up` left pending.
    pub fn from_record(&self) -> bool {
        matches!(self, WayBack::Open | WayBack::TornDown(_))
    }
}

/// Judges the way back. `pending_after_up` is what Kong had pending right
/// after `up` (`None`: nothing recorded); `now` is `schema_meta` as it is;
/// `target` classifies `now` against the target's migrations, for the
/// fallback when nothing was recorded.
pub fn way_back(
    pending_after_up: Option<&[SubsystemMigrations]>,
    now: &SchemaMeta,
    target: &SchemaState,
) -> WayBack {
    let Some(recorded) = pending_after_up else {
        let finished = !target.needs_bootstrap && !target.has_new() && !target.has_pending();
        return if finished {
            WayBack::ClosedBySchemaMetaAlone
        } else {
            WayBack::OpenBySchemaMetaAlone
        };
    };
    let torn_down: Vec<SubsystemMigrations> = recorded
        .iter()
        .filter_map(|bucket| {
            let row = now.subsystem(&bucket.subsystem)?;
            let migrations: Vec<String> = bucket
                .migrations
                .iter()
                .filter(|m| !row.pending.contains(m) && row.executed.contains(m))
                .cloned()
                .collect();
            (!migrations.is_empty()).then(|| SubsystemMigrations {
                subsystem: bucket.subsystem.clone(),
                migrations,
            })
        })
        .collect();
    if torn_down.is_empty() {
        WayBack::Open
    } else {
        WayBack::TornDown(torn_down)
    }
}

/// What `schema_meta` has pending, in the buckets [`way_back`] takes.
pub fn pending_in(meta: &SchemaMeta) -> Vec<SubsystemMigrations> {
    meta.subsystems
        .iter()
        .filter(|row| !row.pending.is_empty())
        .map(|row| SubsystemMigrations {
            subsystem: row.subsystem.clone(),
            migrations: row.pending.clone(),
        })
        .collect()
}

/// The record's text form (`subsystem:name,subsystem:name`; empty when
/// nothing was pending), as the upgrade journal stores it.
pub fn record_text(pending: &[SubsystemMigrations]) -> String {
    pending
        .iter()
        .flat_map(|s| {
            s.migrations
                .iter()
                .map(move |m| format!("{}:{m}", s.subsystem))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads [`record_text`] back; entries without a `:` are skipped.
pub fn parse_record(text: &str) -> Vec<SubsystemMigrations> {
    let mut buckets: Vec<SubsystemMigrations> = Vec::new();
    for (subsystem, name) in text
        .split(',')
        .filter_map(|item| item.trim().split_once(':'))
    {
        match buckets.iter_mut().find(|b| b.subsystem == subsystem) {
            Some(b) => b.migrations.push(name.to_owned()),
            None => buckets.push(SubsystemMigrations {
                subsystem: subsystem.to_owned(),
                migrations: vec![name.to_owned()],
            }),
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{buckets, known, meta};
    use super::super::state::classify;
    use super::*;

    type Row = (
        &'static str,
        Option<&'static str>,
        &'static str,
        &'static str,
    );

    /// (case, recorded after up, schema_meta now, target's code, verdict)
    type Case = (
        &'static str,
        Option<&'static str>,
        &'static [Row],
        &'static [(&'static str, &'static str)],
        WayBack,
    );

    fn torn(spec: &str) -> WayBack {
        WayBack::TornDown(buckets(spec))
    }

    fn cases() -> Vec<Case> {
        vec![
            (
                "3.5.0 -> 3.6.0 after up: nothing had a teardown, nothing pending, open",
                Some(""),
                &[("core", Some("022"), "000 021 022", "")],
                &[("core", "000 021 022")],
                WayBack::Open,
            ),
            (
                "3.5.0 -> 3.6.0 after a finish with nothing to do: still open",
                Some(""),
                &[("core", Some("022"), "000 021 022", "")],
                &[("core", "000 021 022")],
                WayBack::Open,
            ),
            (
                "3.5.0 -> 3.6.1 after up: opentelemetry still pending, open",
                Some("opentelemetry:001_331_to_332"),
                &[
                    ("core", Some("022"), "000 021 022", ""),
                    ("opentelemetry", None, "", "001_331_to_332"),
                ],
                &[
                    ("core", "000 021 022"),
                    ("opentelemetry", "001_331_to_332*"),
                ],
                WayBack::Open,
            ),
            (
                "3.5.0 -> 3.6.1 after finish: the opentelemetry teardown ran",
                Some("opentelemetry:001_331_to_332"),
                &[
                    ("core", Some("022"), "000 021 022", ""),
                    (
                        "opentelemetry",
                        Some("001_331_to_332"),
                        "001_331_to_332",
                        "",
                    ),
                ],
                &[
                    ("core", "000 021 022"),
                    ("opentelemetry", "001_331_to_332*"),
                ],
                torn("opentelemetry: 001_331_to_332"),
            ),
            (
                "a finish that stopped half-way: only the torn-down one is named",
                Some("core:023,core:024,acme:003"),
                &[
                    ("core", Some("024"), "000 023 024", ""),
                    ("acme", Some("002"), "000 002", "003"),
                ],
                &[("core", "000 023* 024*"), ("acme", "000 002 003*")],
                torn("core: 023 024"),
            ),
            (
                "a migration the target's list lacks is judged all the same",
                Some("core:999_extra"),
                &[("core", Some("999_extra"), "000 999_extra", "")],
                &[("core", "000")],
                torn("core: 999_extra"),
            ),
            (
                "pending now but not right after up (a later up): no teardown ran",
                Some(""),
                &[("core", Some("022"), "000 022", "023")],
                &[("core", "000 022 023*")],
                WayBack::Open,
            ),
            (
                "recorded pending gone from schema_meta (the backup was restored): no teardown",
                Some("core:023"),
                &[("core", Some("022"), "000 022", "")],
                &[("core", "000 022 023*")],
                WayBack::Open,
            ),
            (
                "nothing recorded, schema_meta has pending: open, by schema_meta alone",
                None,
                &[("opentelemetry", None, "", "001_331_to_332")],
                &[("opentelemetry", "001_331_to_332*")],
                WayBack::OpenBySchemaMetaAlone,
            ),
            (
                "nothing recorded, nothing new nor pending: closed, by schema_meta alone",
                None,
                &[("core", Some("022"), "000 021 022", "")],
                &[("core", "000 021 022")],
                WayBack::ClosedBySchemaMetaAlone,
            ),
            (
                "nothing recorded, up not run yet: open, by schema_meta alone",
                None,
                &[("core", Some("021"), "000 021", "")],
                &[("core", "000 021 022")],
                WayBack::OpenBySchemaMetaAlone,
            ),
        ]
    }

    #[test]
    fn way_back_is_judged_from_the_record_of_up() {
        for (case, recorded, rows, code, expected) in cases() {
            let now = meta(rows);
            let target = classify(&now, &known("3.6.1", code));
            let recorded = recorded.map(parse_record);
            let verdict = way_back(recorded.as_deref(), &now, &target);
            assert_eq!(verdict, expected, "{case}");
            assert_eq!(verdict.from_record(), recorded.is_some(), "{case}");
        }
    }

    #[test]
    fn the_record_reads_back_what_was_written() {
        let meta = meta(&[
            ("acme", Some("002"), "000 002", "003"),
            ("core", Some("022"), "000 022", "023 024"),
            ("key-auth", Some("003"), "000 003", ""),
        ]);
        let pending = pending_in(&meta);
        let text = record_text(&pending);
        assert_eq!(text, "acme:003,core:023,core:024");
        assert_eq!(parse_record(&text), pending);
        assert_eq!(parse_record(""), Vec::new());
        assert_eq!(parse_record("junk, core:1"), buckets("core: 1"));
    }
}
