//! Kong Gateway OSS database migrations per release, as pure data.
//!
//! For a Kong OSS version this crate answers "which migrations does that
//! version's code know, in which order, and which of them have a teardown
//! step" — the same list `kong migrations list` compares against
//! `schema_meta`. Subsystems come in Kong's own order
//! (`kong/db/migrations/state.lua`): `core` first, then every bundled plugin
//! that ships a migrations module, sorted by name.
//!
//! Only Kong **OSS** is covered. Enterprise uses different core migration
//! names (e.g. `014_230_to_260`) and extra subsystems, so a four-part
//! Enterprise version is reported as unknown rather than answered wrongly.

use std::fmt;

/// Where the data comes from.
pub const SOURCE: &str = "Kong/kong OSS: kong/db/migrations/core/init.lua and kong/plugins/*/migrations/init.lua \
(module lists of kong-2.8.1-0.rockspec and kong-3.9.1-0.rockspec, kong/db/migrations/state.lua for ordering), \
per-release additions and teardown flags for 3.0-3.9 and master (3.10.0) read from the Kong/kong repository \
at tags 2.8.0..3.9.3; teardown flags of migrations older than 2.8 are not verified and recorded as false";

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
/// order Kong runs them. Patch versions share their minor's list (no OSS
/// patch release has added a migration).
pub fn subsystems_for(version: &str) -> Result<Vec<Subsystem>, CatalogError> {
    let minor =
        parse_minor(version).ok_or_else(|| CatalogError::UnknownVersion(version.to_string()))?;
    let mut out: Vec<Subsystem> = Vec::new();
    for entry in CATALOG.iter().filter(|e| e.since <= minor) {
        let migration = Migration {
            name: entry.name,
            has_teardown: entry.has_teardown,
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

/// The Kong release whose code last added the given `core` migration, i.e.
/// the schema level a database has when that is its `core.last_executed`.
/// `023_360_to_370` answers "3.7": 3.8 added no core migration and shares it.
pub fn schema_level(core_last_executed: &str) -> Option<&'static str> {
    CORE_LEVELS
        .iter()
        .find(|(name, _)| *name == core_last_executed)
        .map(|(_, level)| *level)
}

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

fn parse_minor(version: &str) -> Option<(u64, u64)> {
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
    let minor = (numbers[0], numbers[1]);
    supported_minors().contains(&minor).then_some(minor)
}

fn subsystem_rank(name: &str) -> (bool, &str) {
    (name != "core", name)
}

struct Entry {
    subsystem: &'static str,
    name: &'static str,
    has_teardown: bool,
    /// First release minor whose code knows the migration; `BASE` for
    /// everything already present in 2.8.
    since: (u64, u64),
}

const BASE: (u64, u64) = (2, 8);

const fn m(
    subsystem: &'static str,
    name: &'static str,
    since: (u64, u64),
    has_teardown: bool,
) -> Entry {
    Entry {
        subsystem,
        name,
        has_teardown,
        since,
    }
}

const CATALOG: &[Entry] = &[
    // core
    m("core", "000_base", BASE, false),
    m("core", "003_100_to_110", BASE, false),
    m("core", "004_110_to_120", BASE, false),
    m("core", "005_120_to_130", BASE, false),
    m("core", "006_130_to_140", BASE, false),
    m("core", "007_140_to_150", BASE, false),
    m("core", "008_150_to_200", BASE, false),
    m("core", "009_200_to_210", BASE, false),
    m("core", "010_210_to_211", BASE, false),
    m("core", "011_212_to_213", BASE, false),
    m("core", "012_213_to_220", BASE, false),
    m("core", "013_220_to_230", BASE, false),
    m("core", "014_230_to_270", BASE, false),
    m("core", "015_270_to_280", BASE, false),
    m("core", "016_280_to_300", (3, 0), true),
    m("core", "017_300_to_310", (3, 1), false),
    m("core", "018_310_to_320", (3, 2), false),
    m("core", "019_320_to_330", (3, 3), false),
    m("core", "020_330_to_340", (3, 4), false),
    m("core", "021_340_to_350", (3, 5), false),
    m("core", "022_350_to_360", (3, 6), false),
    m("core", "023_360_to_370", (3, 7), false),
    m("core", "024_380_to_390", (3, 9), false),
    m("core", "025_390_to_3100", (3, 10), false),
    // acl
    m("acl", "000_base_acl", BASE, false),
    m("acl", "002_130_to_140", BASE, false),
    m("acl", "003_200_to_210", BASE, false),
    m("acl", "004_212_to_213", BASE, false),
    // acme
    m("acme", "000_base_acme", BASE, false),
    m("acme", "001_280_to_300", (3, 0), false),
    m("acme", "002_320_to_330", (3, 3), false),
    m("acme", "003_350_to_360", (3, 6), true),
    // ai-proxy
    m("ai-proxy", "001_360_to_370", (3, 7), true),
    // basic-auth
    m("basic-auth", "000_base_basic_auth", BASE, false),
    m("basic-auth", "002_130_to_140", BASE, false),
    m("basic-auth", "003_200_to_210", BASE, false),
    // bot-detection
    m("bot-detection", "001_200_to_210", BASE, false),
    // hmac-auth
    m("hmac-auth", "000_base_hmac_auth", BASE, false),
    m("hmac-auth", "002_130_to_140", BASE, false),
    m("hmac-auth", "003_200_to_210", BASE, false),
    // http-log
    m("http-log", "001_280_to_300", (3, 0), true),
    // ip-restriction
    m("ip-restriction", "001_200_to_210", BASE, false),
    // jwt
    m("jwt", "000_base_jwt", BASE, false),
    m("jwt", "002_130_to_140", BASE, false),
    m("jwt", "003_200_to_210", BASE, false),
    // key-auth
    m("key-auth", "000_base_key_auth", BASE, false),
    m("key-auth", "002_130_to_140", BASE, false),
    m("key-auth", "003_200_to_210", BASE, false),
    m("key-auth", "004_320_to_330", (3, 3), false),
    // oauth2
    m("oauth2", "000_base_oauth2", BASE, false),
    m("oauth2", "003_130_to_140", BASE, false),
    m("oauth2", "004_200_to_210", BASE, false),
    m("oauth2", "005_210_to_211", BASE, false),
    m("oauth2", "006_320_to_330", (3, 3), false),
    m("oauth2", "007_320_to_330", (3, 3), false),
    // opentelemetry
    m("opentelemetry", "001_331_to_332", (3, 7), true),
    // post-function
    m("post-function", "001_280_to_300", (3, 0), true),
    // pre-function
    m("pre-function", "001_280_to_300", (3, 0), true),
    // rate-limiting
    m("rate-limiting", "000_base_rate_limiting", BASE, false),
    m("rate-limiting", "003_10_to_112", BASE, false),
    m("rate-limiting", "004_200_to_210", BASE, false),
    m("rate-limiting", "005_320_to_330", (3, 3), false),
    m("rate-limiting", "006_350_to_360", (3, 6), true),
    // response-ratelimiting
    m(
        "response-ratelimiting",
        "000_base_response_rate_limiting",
        BASE,
        false,
    ),
    m("response-ratelimiting", "001_350_to_360", (3, 6), true),
    // session
    m("session", "000_base_session", BASE, false),
    m("session", "001_add_ttl_index", BASE, false),
    m("session", "002_320_to_330", (3, 3), false),
    m("session", "003_330_to_3100", (3, 10), false),
];

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

    #[test]
    fn acme_in_3_6_has_a_teardown_step() {
        let subsystems = subsystems_for("3.6.1").unwrap();
        let acme = subsystems.iter().find(|s| s.name == "acme").unwrap();
        let last = acme.migrations.last().unwrap();
        assert_eq!(last.name, "003_350_to_360");
        assert!(last.has_teardown);
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
    fn teardowns_are_exactly_the_documented_ones_since_2_8() {
        let with_teardown: Vec<(&str, &str)> = subsystems_for("3.10.0")
            .unwrap()
            .iter()
            .flat_map(|s| {
                s.migrations
                    .iter()
                    .filter(|m| m.has_teardown)
                    .map(move |m| (s.name, m.name))
            })
            .collect();
        assert_eq!(
            with_teardown,
            [
                ("core", "016_280_to_300"),
                ("acme", "003_350_to_360"),
                ("ai-proxy", "001_360_to_370"),
                ("http-log", "001_280_to_300"),
                ("opentelemetry", "001_331_to_332"),
                ("post-function", "001_280_to_300"),
                ("pre-function", "001_280_to_300"),
                ("rate-limiting", "006_350_to_360"),
                ("response-ratelimiting", "001_350_to_360"),
            ]
        );
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
        assert_eq!(schema_level("020_330_to_340"), Some("3.4"));
        assert_eq!(schema_level("023_360_to_370"), Some("3.7"));
        assert_eq!(schema_level("025_390_to_3100"), Some("3.10"));
        assert_eq!(schema_level("000_base"), None);
    }

    #[test]
    fn every_core_level_names_a_catalog_migration_of_that_release() {
        for (name, level) in CORE_LEVELS {
            let core = names(&subsystems_for(level).unwrap(), "core");
            assert_eq!(core.last(), Some(name), "{level}");
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
