//! The catalog's data: every migration Kong OSS 2.8.0 to master knows, the
//! release that added it and the release from which it has a teardown.
//!
//! Checked against Kong's source at every tag 2.8.0..3.9.3 and master
//! (`kong/db/migrations/core/init.lua`, `kong/plugins/NAME/migrations/`,
//! and whether each module's `postgres` part defines `teardown`); the
//! catalog's tests compare it with `tests/migrations-at-tags.txt`, which
//! `scripts/kong-migration-facts.py` prints from a Kong checkout.

use crate::Release;

pub(crate) struct Entry {
    pub subsystem: &'static str,
    pub name: &'static str,
    /// First release whose code knows the migration; `BASE` for everything
    /// already present in 2.8.0.
    pub since: Release,
    /// First release whose module defines a teardown step, if any. Later
    /// than `since` where Kong added the teardown in a later release (the
    /// 3.6 redis migrations got theirs in 3.7.0).
    pub teardown_since: Option<Release>,
}

const BASE: Release = (2, 8, 0);

/// A migration with only an `up` step in every release that knows it.
const fn up(subsystem: &'static str, name: &'static str, since: Release) -> Entry {
    Entry {
        subsystem,
        name,
        since,
        teardown_since: None,
    }
}

/// A migration with a teardown step from its first release on.
const fn td(subsystem: &'static str, name: &'static str, since: Release) -> Entry {
    td_from(subsystem, name, since, since)
}

/// A migration that gained its teardown step in a later release.
const fn td_from(
    subsystem: &'static str,
    name: &'static str,
    since: Release,
    teardown_since: Release,
) -> Entry {
    Entry {
        subsystem,
        name,
        since,
        teardown_since: Some(teardown_since),
    }
}

/// Grouped by subsystem, migrations in Kong's order within each.
pub(crate) const CATALOG: &[Entry] = &[
    // core
    up("core", "000_base", BASE),
    up("core", "003_100_to_110", BASE),
    up("core", "004_110_to_120", BASE),
    td("core", "005_120_to_130", BASE),
    up("core", "006_130_to_140", BASE),
    up("core", "007_140_to_150", BASE),
    td("core", "008_150_to_200", BASE),
    td("core", "009_200_to_210", BASE),
    up("core", "010_210_to_211", BASE),
    up("core", "011_212_to_213", BASE),
    td("core", "012_213_to_220", BASE),
    up("core", "013_220_to_230", BASE),
    up("core", "014_230_to_270", BASE),
    up("core", "015_270_to_280", BASE),
    td("core", "016_280_to_300", (3, 0, 0)),
    up("core", "017_300_to_310", (3, 1, 0)),
    up("core", "018_310_to_320", (3, 2, 0)),
    up("core", "019_320_to_330", (3, 3, 0)),
    up("core", "020_330_to_340", (3, 4, 0)),
    up("core", "021_340_to_350", (3, 5, 0)),
    up("core", "022_350_to_360", (3, 6, 0)),
    up("core", "023_360_to_370", (3, 7, 0)),
    up("core", "024_380_to_390", (3, 9, 0)),
    up("core", "025_390_to_3100", (3, 10, 0)),
    // acl
    up("acl", "000_base_acl", BASE),
    up("acl", "002_130_to_140", BASE),
    td("acl", "003_200_to_210", BASE),
    td("acl", "004_212_to_213", BASE),
    // acme
    up("acme", "000_base_acme", BASE),
    up("acme", "001_280_to_300", (3, 0, 0)),
    up("acme", "002_320_to_330", (3, 3, 0)),
    td_from("acme", "003_350_to_360", (3, 6, 0), (3, 7, 0)),
    // ai-proxy
    td("ai-proxy", "001_360_to_370", (3, 7, 0)),
    // basic-auth
    up("basic-auth", "000_base_basic_auth", BASE),
    up("basic-auth", "002_130_to_140", BASE),
    td("basic-auth", "003_200_to_210", BASE),
    // bot-detection
    td("bot-detection", "001_200_to_210", BASE),
    // hmac-auth
    up("hmac-auth", "000_base_hmac_auth", BASE),
    up("hmac-auth", "002_130_to_140", BASE),
    td("hmac-auth", "003_200_to_210", BASE),
    // http-log
    td("http-log", "001_280_to_300", (3, 0, 0)),
    // ip-restriction
    td("ip-restriction", "001_200_to_210", BASE),
    // jwt
    up("jwt", "000_base_jwt", BASE),
    up("jwt", "002_130_to_140", BASE),
    td("jwt", "003_200_to_210", BASE),
    // key-auth
    up("key-auth", "000_base_key_auth", BASE),
    up("key-auth", "002_130_to_140", BASE),
    td("key-auth", "003_200_to_210", BASE),
    up("key-auth", "004_320_to_330", (3, 3, 0)),
    // oauth2
    up("oauth2", "000_base_oauth2", BASE),
    up("oauth2", "003_130_to_140", BASE),
    td("oauth2", "004_200_to_210", BASE),
    up("oauth2", "005_210_to_211", BASE),
    up("oauth2", "006_320_to_330", (3, 3, 0)),
    up("oauth2", "007_320_to_330", (3, 3, 0)),
    // opentelemetry
    td("opentelemetry", "001_331_to_332", (3, 6, 1)),
    // post-function
    td("post-function", "001_280_to_300", (3, 0, 0)),
    // pre-function
    td("pre-function", "001_280_to_300", (3, 0, 0)),
    // rate-limiting
    up("rate-limiting", "000_base_rate_limiting", BASE),
    up("rate-limiting", "003_10_to_112", BASE),
    up("rate-limiting", "004_200_to_210", BASE),
    up("rate-limiting", "005_320_to_330", (3, 3, 0)),
    td_from("rate-limiting", "006_350_to_360", (3, 6, 0), (3, 7, 0)),
    // response-ratelimiting
    up(
        "response-ratelimiting",
        "000_base_response_rate_limiting",
        BASE,
    ),
    td_from(
        "response-ratelimiting",
        "001_350_to_360",
        (3, 6, 0),
        (3, 7, 0),
    ),
    // session
    up("session", "000_base_session", BASE),
    up("session", "001_add_ttl_index", BASE),
    up("session", "002_320_to_330", (3, 3, 0)),
    up("session", "003_330_to_3100", (3, 10, 0)),
];
