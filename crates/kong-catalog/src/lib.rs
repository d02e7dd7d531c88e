//! Kong Gateway OSS database migrations per release, as pure data.
//!
//! For a Kong OSS version this crate answers "which migrations does that
//! version's code know, in which order, and which of them have a teardown
//! step" — the same list `kong migrations list` compares against
//! `schema_meta`. Subsystems come in Kong's own order
//! (`kong/db/migrations/state.lua`): `core` first, then every bundled plugin
//! that ships a migrations module, sorted by name.
//!
//! Patch releases can differ: 3.6.1 added `opentelemetry/001_331_to_332`,
//! and three 3.6 migrations only gained their teardown in 3.7.0. So a
//! version resolves to the newest data at or below its own patch.
//!
//! This is a preview. The provider decides from what Kong records
//! (`schema_meta`) and reports; a version the catalog does not know is
//! reported as unknown so callers can fall back to asking Kong.
//!
//! Only Kong **OSS** is covered. Enterprise uses different core migration
//! names (e.g. `014_230_to_260`) and extra subsystems, so a four-part
//! Enterprise version is reported as unknown rather than answered wrongly.

mod data;

use data::CATALOG;
use std::fmt;

/// Where the data comes from: Kong's source at every OSS tag it covers.
pub const SOURCE: &str = "Kong OSS source at tags 2.8.0..3.9.3 and master: \
https://github.com/Kong/kong/blob/3.9.3/kong/db/migrations/core/init.lua, \
https://github.com/Kong/kong/tree/3.9.3/kong/plugins (each plugin's migrations/init.lua), \
teardown = the migration module's postgres.teardown at that tag";

/// A release as `(major, minor, patch)`.
pub type Release = (u64, u64, u64);

/// One migration as the Kong code of a release knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Migration {
    pub name: &'static str,
    /// Kong runs the teardown step in `kong migrations finish`, so after `up`
    /// such a migration is recorded in `schema_meta.pending`, not `executed`.
    pub has_teardown: bool,
}

/// A migrations namespace: `core` or one bundled plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subsystem {
    pub name: &'static str,
    pub migrations: Vec<Migration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogError {
    /// Not an OSS `MAJOR.MINOR[.PATCH]` version this catalog covers.
    UnknownVersion(String),
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::UnknownVersion(v) => write!(
                f,
                "unknown Kong OSS version {v:?}: the migration catalog covers {} (MAJOR.MINOR or MAJOR.MINOR.PATCH; Enterprise four-part versions are not covered)",
                covered_range()
            ),
        }
    }
}

impl std::error::Error for CatalogError {}

/// The release minors the catalog knows, oldest first. `(3, 10)` is Kong
/// master, never released as OSS.
pub fn supported_minors() -> &'static [(u64, u64)] {
    &[
        (2, 8),
        (3, 0),
        (3, 1),
        (3, 2),
        (3, 3),
        (3, 4),
        (3, 5),
        (3, 6),
        (3, 7),
        (3, 8),
        (3, 9),
        (3, 10),
    ]
}

/// The migrations the given Kong OSS version knows, per subsystem, in the
/// order Kong runs them. `MAJOR.MINOR` means `MAJOR.MINOR.0`; a patch newer
/// than any the catalog was checked against shares the newest data of its
/// minor.
pub fn subsystems_for(version: &str) -> Result<Vec<Subsystem>, CatalogError> {
    let release =
        parse_release(version).ok_or_else(|| CatalogError::UnknownVersion(version.to_string()))?;
    let mut out: Vec<Subsystem> = Vec::new();
    for entry in CATALOG.iter().filter(|e| e.since <= release) {
        let migration = Migration {
            name: entry.name,
            has_teardown: entry.teardown_since.is_some_and(|t| t <= release),
        };
        match out.iter_mut().find(|s| s.name == entry.subsystem) {
            Some(subsystem) => subsystem.migrations.push(migration),
            None => out.push(Subsystem {
                name: entry.subsystem,
                migrations: vec![migration],
            }),
        }
    }
    // Kong orders plugin subsystems by name after `core`; the table is
    // written grouped by subsystem, so a stable sort keeps migration order.
    out.sort_by(|a, b| subsystem_rank(a.name).cmp(&subsystem_rank(b.name)));
    Ok(out)
}

/// The Kong release whose code last added a `core` migration the database
/// has run, given every core migration `schema_meta` records (`executed`
/// and `pending`: both mean that release's `up` ran).
///
/// Not `last_executed`: Kong's connector also sets it when it records a
/// teardown, so after a 2.8 → 3.4 `finish` it names `016_280_to_300`
/// (https://github.com/Kong/kong/blob/3.4.2/kong/db/strategies/postgres/connector.lua,
/// `record_migration` with state "teardown").
pub fn schema_level<'a>(
    core_migrations: impl IntoIterator<Item = &'a str>,
) -> Option<&'static str> {
    let recorded: Vec<&str> = core_migrations.into_iter().collect();
    CORE_LEVELS
        .iter()
        .rev()
        .find(|(name, _)| recorded.contains(name))
        .map(|(_, level)| *level)
}

/// Each release that added a core migration, with that migration; oldest
/// first. 3.8 added none and shares 3.7's.
const CORE_LEVELS: &[(&str, &str)] = &[
    ("015_270_to_280", "2.8"),
    ("016_280_to_300", "3.0"),
    ("017_300_to_310", "3.1"),
    ("018_310_to_320", "3.2"),
    ("019_320_to_330", "3.3"),
    ("020_330_to_340", "3.4"),
    ("021_340_to_350", "3.5"),
    ("022_350_to_360", "3.6"),
    ("023_360_to_370", "3.7"),
    ("024_380_to_390", "3.9"),
    ("025_390_to_3100", "3.10"),
];

fn covered_range() -> String {
    let minors = supported_minors();
    match (minors.first(), minors.last()) {
        (Some(first), Some(last)) => format!("{}.{} to {}.{}", first.0, first.1, last.0, last.1),
        _ => "nothing".to_string(),
    }
}

fn parse_release(version: &str) -> Option<Release> {
    let parts: Vec<&str> = version.split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in parts {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers.push(part.parse::<u64>().ok()?);
    }
    let release = (numbers[0], numbers[1], numbers.get(2).copied().unwrap_or(0));
    supported_minors()
        .contains(&(release.0, release.1))
        .then_some(release)
}

fn subsystem_rank(name: &str) -> (bool, &str) {
    (name != "core", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(subsystems: &[Subsystem], subsystem: &str) -> Vec<&'static str> {
        subsystems
            .iter()
            .find(|s| s.name == subsystem)
            .map(|s| s.migrations.iter().map(|m| m.name).collect())
            .unwrap_or_default()
    }

    fn core_last(version: &str) -> &'static str {
        let subsystems = subsystems_for(version).unwrap();
        subsystems[0].migrations.last().unwrap().name
    }

    #[test]
    fn core_comes_first_then_plugins_by_name() {
        let subsystems = subsystems_for("3.9.1").unwrap();
        assert_eq!(subsystems[0].name, "core");
        let plugins: Vec<&str> = subsystems[1..].iter().map(|s| s.name).collect();
        let mut sorted = plugins.clone();
        sorted.sort_unstable();
        assert_eq!(plugins, sorted);
    }

    /// Kong 3.6.0 and 3.6.1 ship the redis migrations with `up` only;
    /// their teardowns came in 3.7.0.
    #[test]
    fn the_3_6_redis_migrations_gain_a_teardown_in_3_7() {
        for (version, expected) in [("3.6.0", false), ("3.6.1", false), ("3.7.0", true)] {
            let subsystems = subsystems_for(version).unwrap();
            for (subsystem, name) in [
                ("acme", "003_350_to_360"),
                ("rate-limiting", "006_350_to_360"),
                ("response-ratelimiting", "001_350_to_360"),
            ] {
                let migration = subsystems
                    .iter()
                    .find(|s| s.name == subsystem)
                    .and_then(|s| s.migrations.iter().find(|m| m.name == name))
                    .unwrap();
                assert_eq!(migration.has_teardown, expected, "{version} {subsystem}");
            }
        }
    }

    /// A patch release can add a migration: 3.6.1's opentelemetry one.
    #[test]
    fn opentelemetry_arrives_in_3_6_1() {
        assert!(names(&subsystems_for("3.6.0").unwrap(), "opentelemetry").is_empty());
        assert_eq!(
            names(&subsystems_for("3.6.1").unwrap(), "opentelemetry"),
            ["001_331_to_332"]
        );
    }

    #[test]
    fn last_core_migration_per_release() {
        let cases = [
            ("2.8.5", "015_270_to_280"),
            ("3.0.0", "016_280_to_300"),
            ("3.3.1", "019_320_to_330"),
            ("3.4.2", "020_330_to_340"),
            ("3.7.1", "023_360_to_370"),
            ("3.8.0", "023_360_to_370"),
            ("3.9.3", "024_380_to_390"),
            ("3.10", "025_390_to_3100"),
        ];
        for (version, last) in cases {
            assert_eq!(core_last(version), last, "{version}");
        }
    }

    #[test]
    fn three_eight_adds_no_core_migration() {
        let v37 = subsystems_for("3.7.0").unwrap();
        let v38 = subsystems_for("3.8.0").unwrap();
        assert_eq!(names(&v37, "core"), names(&v38, "core"));
    }

    #[test]
    fn subsystems_absent_before_their_first_migration() {
        let v28 = subsystems_for("2.8.0").unwrap();
        for absent in [
            "http-log",
            "pre-function",
            "post-function",
            "ai-proxy",
            "opentelemetry",
        ] {
            assert!(
                names(&v28, absent).is_empty(),
                "{absent} must be absent in 2.8"
            );
        }
        let v37 = subsystems_for("3.7.0").unwrap();
        assert_eq!(names(&v37, "ai-proxy"), ["001_360_to_370"]);
    }

    #[test]
    fn unknown_and_malformed_versions_are_errors() {
        for bad in [
            "9.9.9",
            "2.7.0",
            "3.11.0",
            "3.4.3.5",
            "3",
            "",
            "3.x.1",
            "v3.4.2",
            "3.4.2-rc1",
        ] {
            assert_eq!(
                subsystems_for(bad),
                Err(CatalogError::UnknownVersion(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn schema_levels() {
        assert_eq!(
            schema_level(["015_270_to_280", "020_330_to_340"]),
            Some("3.4")
        );
        assert_eq!(schema_level(["023_360_to_370"]), Some("3.7"));
        assert_eq!(schema_level(["025_390_to_3100"]), Some("3.10"));
        assert_eq!(schema_level(["000_base"]), None);
    }

    /// After a 2.8 → 3.4 `finish`, core's `last_executed` is the torn-down
    /// `016_280_to_300`; the level comes from everything recorded.
    #[test]
    fn schema_level_ignores_the_order_teardowns_were_recorded_in() {
        let core = names(&subsystems_for("3.4.2").unwrap(), "core");
        let mut recorded: Vec<&str> = core
            .into_iter()
            .filter(|m| *m != "016_280_to_300")
            .collect();
        recorded.push("016_280_to_300");
        assert_eq!(schema_level(recorded), Some("3.4"));
    }

    #[test]
    fn every_core_level_names_a_catalog_migration_of_that_release() {
        for (name, level) in CORE_LEVELS {
            let core = names(&subsystems_for(level).unwrap(), "core");
            assert_eq!(core.last(), Some(name), "{level}");
            assert_eq!(schema_level(core), Some(*level), "{level}");
        }
    }

    #[test]
    fn migration_names_are_unique_within_a_subsystem() {
        for subsystem in subsystems_for("3.10.0").unwrap() {
            let mut names: Vec<&str> = subsystem.migrations.iter().map(|m| m.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(
                names.len(),
                subsystem.migrations.len(),
                "{}",
                subsystem.name
            );
        }
    }
}
