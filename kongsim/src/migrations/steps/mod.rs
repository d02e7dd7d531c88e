//! The SQL each migration runs. Names, order and the presence of a teardown
//! step come from `kong-catalog`; the statements are modeled on what Kong's
//! migrations do (which tables and columns appear, which plugin configs are
//! rewritten, what a teardown drops) but trimmed to what kongsim serves.
//!
//! Where Kong's own SQL is known it is followed closely:
//! - `core/016_280_to_300`: `up` prefixes regex route paths with "~" (the
//!   3.0 router syntax) and creates `vaults`; `teardown` drops `vaults_beta`.
//! - `rate-limiting/006_350_to_360`, `response-ratelimiting/001_350_to_360`:
//!   `up` copies the flat `redis_*` config fields into a `redis` object;
//!   `teardown` deletes the flat fields (Kong's exact statements).
//! - `bot-detection`/`ip-restriction` `001_200_to_210`: whitelist/blacklist
//!   become allow/deny.
//!
//! Like Kong's, the statements are mostly safe to re-run (`IF NOT EXISTS`),
//! but not all of them: re-running a 3.6 redis `up` after its `teardown`
//! nulls the copied values, exactly as `kong migrations up -f` would.

mod sql;
use sql::*;

/// One migration's SQL, as the newest release ships it. Which steps a given
/// release runs is [`Step::as_in_release`].
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub up: &'static str,
    pub teardown: Option<&'static str>,
}

/// A migration's SQL as the release being run ships it.
#[derive(Debug, Clone)]
pub struct ReleaseStep {
    pub up: String,
    pub teardown: Option<&'static str>,
}

/// The teardown of the pre-2.8 migrations Kong gives one (the 2.1 workspace
/// data fixes, `ws_adjust_data`): kongsim's trimmed schema has no
/// workspace-prefixed values to adjust, so only the bookkeeping remains.
const NOTHING_TO_ADJUST: &str = "SELECT 1;";

impl Step {
    /// The steps of a release whose module has (or lacks) a teardown. A
    /// release without one runs the whole change in `up`: Kong 3.6's redis
    /// migrations copied and removed the flat fields in one statement, and
    /// 3.7.0 split the removal into a teardown.
    pub fn as_in_release(self, has_teardown: bool) -> ReleaseStep {
        match (has_teardown, self.teardown) {
            (true, teardown) => ReleaseStep {
                up: self.up.to_owned(),
                teardown: Some(teardown.unwrap_or(NOTHING_TO_ADJUST)),
            },
            (false, Some(teardown)) => ReleaseStep {
                up: format!("{}\n{}", terminated(self.up), teardown.trim()),
                teardown: None,
            },
            (false, None) => ReleaseStep {
                up: self.up.to_owned(),
                teardown: None,
            },
        }
    }
}

fn terminated(sql: &str) -> String {
    let sql = sql.trim();
    if sql.ends_with(';') {
        sql.to_owned()
    } else {
        format!("{sql};")
    }
}

const fn up(sql: &'static str) -> Step {
    Step {
        up: sql,
        teardown: None,
    }
}

const fn up_and_teardown(up: &'static str, teardown: &'static str) -> Step {
    Step {
        up,
        teardown: Some(teardown),
    }
}

pub fn step(subsystem: &str, name: &str) -> Option<Step> {
    let step = match (subsystem, name) {
        ("core", "000_base") => up(CORE_000_BASE),
        ("core", "003_100_to_110") => up("CREATE INDEX IF NOT EXISTS routes_service_id_idx ON routes (service_id);"),
        ("core", "004_110_to_120") => up("CREATE INDEX IF NOT EXISTS plugins_name_idx ON plugins (name);"),
        ("core", "005_120_to_130") => up("CREATE INDEX IF NOT EXISTS targets_upstream_id_idx ON targets (upstream_id);"),
        ("core", "006_130_to_140") => up("ALTER TABLE upstreams ADD COLUMN IF NOT EXISTS host_header TEXT;"),
        ("core", "007_140_to_150") => {
            up("ALTER TABLE routes ADD COLUMN IF NOT EXISTS path_handling TEXT DEFAULT 'v0';")
        }
        ("core", "008_150_to_200") => up(CORE_008),
        ("core", "009_200_to_210") => up(CORE_009),
        ("core", "010_210_to_211") => up(
            "ALTER TABLE routes ADD COLUMN IF NOT EXISTS request_buffering BOOLEAN, ADD COLUMN IF NOT EXISTS response_buffering BOOLEAN;",
        ),
        ("core", "011_212_to_213") => up("ALTER TABLE upstreams ADD COLUMN IF NOT EXISTS client_certificate_id UUID;"),
        ("core", "012_213_to_220") => up(CORE_012),
        ("core", "013_220_to_230") => up(CORE_013),
        ("core", "014_230_to_270") => up(CORE_014),
        ("core", "015_270_to_280") => {
            up("ALTER TABLE upstreams ADD COLUMN IF NOT EXISTS use_srv_name BOOLEAN DEFAULT false;")
        }
        ("core", "016_280_to_300") => up_and_teardown(CORE_016_UP, CORE_016_TEARDOWN),
        ("core", "017_300_to_310") => up(CORE_017),
        ("core", "018_310_to_320") => up("ALTER TABLE plugins ADD COLUMN IF NOT EXISTS instance_name TEXT UNIQUE;"),
        ("core", "019_320_to_330") => up(CORE_019),
        ("core", "020_330_to_340") => up(
            "ALTER TABLE clustering_data_planes ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');",
        ),
        ("core", "021_340_to_350") => up(CORE_021),
        ("core", "022_350_to_360") => up(
            "ALTER TABLE clustering_data_planes ADD COLUMN IF NOT EXISTS labels JSONB, ADD COLUMN IF NOT EXISTS cert_details JSONB;",
        ),
        ("core", "023_360_to_370") => up("CREATE INDEX IF NOT EXISTS routes_paths_idx ON routes USING GIN (paths);"),
        ("core", "024_380_to_390") => up(CORE_024),
        ("core", "025_390_to_3100") => up(
            "CREATE INDEX IF NOT EXISTS clustering_data_planes_version_idx ON clustering_data_planes (version);",
        ),

        ("acl", "000_base_acl") => up(ACL_000),
        ("acl", "002_130_to_140") => up("ALTER TABLE acls ADD COLUMN IF NOT EXISTS tags TEXT[];"),
        ("acl", "003_200_to_210") => up("ALTER TABLE acls ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id);"),
        ("acl", "004_212_to_213") => up(
            "UPDATE acls SET cache_key = CONCAT('acls:', consumer_id, ':', \"group\", '::::', ws_id) WHERE cache_key IS NULL;",
        ),

        ("acme", "000_base_acme") => up(ACME_000),
        ("acme", "001_280_to_300") => up("CREATE INDEX IF NOT EXISTS acme_storage_ttl_idx ON acme_storage (ttl);"),
        ("acme", "002_320_to_330") => up(ACME_002),
        ("acme", "003_350_to_360") => up_and_teardown(ACME_003_UP, ACME_003_TEARDOWN),

        ("ai-proxy", "001_360_to_370") => up_and_teardown(AI_PROXY_001_UP, AI_PROXY_001_TEARDOWN),

        ("basic-auth", "000_base_basic_auth") => up(BASIC_AUTH_000),
        ("basic-auth", "002_130_to_140") => up("ALTER TABLE basicauth_credentials ADD COLUMN IF NOT EXISTS tags TEXT[];"),
        ("basic-auth", "003_200_to_210") => up(
            "ALTER TABLE basicauth_credentials ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id);",
        ),

        ("bot-detection", "001_200_to_210") => up(BOT_DETECTION_001),

        ("hmac-auth", "000_base_hmac_auth") => up(HMAC_AUTH_000),
        ("hmac-auth", "002_130_to_140") => up("ALTER TABLE hmacauth_credentials ADD COLUMN IF NOT EXISTS tags TEXT[];"),
        ("hmac-auth", "003_200_to_210") => up(
            "ALTER TABLE hmacauth_credentials ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id);",
        ),

        ("http-log", "001_280_to_300") => up_and_teardown("", HTTP_LOG_001_TEARDOWN),

        ("ip-restriction", "001_200_to_210") => up(IP_RESTRICTION_001),

        ("jwt", "000_base_jwt") => up(JWT_000),
        ("jwt", "002_130_to_140") => up("ALTER TABLE jwt_secrets ADD COLUMN IF NOT EXISTS tags TEXT[];"),
        ("jwt", "003_200_to_210") => up("ALTER TABLE jwt_secrets ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id);"),

        ("key-auth", "000_base_key_auth") => up(KEY_AUTH_000),
        ("key-auth", "002_130_to_140") => up("ALTER TABLE keyauth_credentials ADD COLUMN IF NOT EXISTS tags TEXT[];"),
        ("key-auth", "003_200_to_210") => up(
            "ALTER TABLE keyauth_credentials ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id);",
        ),
        ("key-auth", "004_320_to_330") => up(
            "ALTER TABLE keyauth_credentials ADD COLUMN IF NOT EXISTS ttl TIMESTAMP WITH TIME ZONE;\nCREATE INDEX IF NOT EXISTS keyauth_credentials_ttl_idx ON keyauth_credentials (ttl);",
        ),

        ("oauth2", "000_base_oauth2") => up(OAUTH2_000),
        ("oauth2", "003_130_to_140") => up(
            "ALTER TABLE oauth2_credentials ADD COLUMN IF NOT EXISTS tags TEXT[];\nALTER TABLE oauth2_tokens ADD COLUMN IF NOT EXISTS tags TEXT[];",
        ),
        ("oauth2", "004_200_to_210") => up(
            "ALTER TABLE oauth2_credentials ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id);\nALTER TABLE oauth2_tokens ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id);",
        ),
        ("oauth2", "005_210_to_211") => up(
            "ALTER TABLE oauth2_credentials ADD COLUMN IF NOT EXISTS client_type TEXT, ADD COLUMN IF NOT EXISTS hash_secret BOOLEAN;",
        ),
        ("oauth2", "006_320_to_330") => up(
            "ALTER TABLE oauth2_authorization_codes ADD COLUMN IF NOT EXISTS plugin_id UUID REFERENCES plugins (id) ON DELETE CASCADE;",
        ),
        ("oauth2", "007_320_to_330") => up(
            "CREATE INDEX IF NOT EXISTS oauth2_authorization_codes_plugin_id_idx ON oauth2_authorization_codes (plugin_id);",
        ),

        ("opentelemetry", "001_331_to_332") => up_and_teardown(OTEL_001_UP, OTEL_001_TEARDOWN),

        ("post-function", "001_280_to_300") => up_and_teardown(POST_FUNCTION_001_UP, POST_FUNCTION_001_TEARDOWN),
        ("pre-function", "001_280_to_300") => up_and_teardown(PRE_FUNCTION_001_UP, PRE_FUNCTION_001_TEARDOWN),

        ("rate-limiting", "000_base_rate_limiting") => up(RATE_LIMITING_000),
        ("rate-limiting", "003_10_to_112") => up(
            "CREATE INDEX IF NOT EXISTS ratelimiting_metrics_idx ON ratelimiting_metrics (service_id, route_id, period_date, period);",
        ),
        ("rate-limiting", "004_200_to_210") => up(
            "CREATE INDEX IF NOT EXISTS ratelimiting_metrics_period_date_idx ON ratelimiting_metrics (period_date);",
        ),
        ("rate-limiting", "005_320_to_330") => up(
            "ALTER TABLE ratelimiting_metrics ADD COLUMN IF NOT EXISTS ttl TIMESTAMP WITH TIME ZONE;\nCREATE INDEX IF NOT EXISTS ratelimiting_metrics_ttl_idx ON ratelimiting_metrics (ttl);",
        ),
        ("rate-limiting", "006_350_to_360") => up_and_teardown(RATE_LIMITING_006_UP, RATE_LIMITING_006_TEARDOWN),

        ("response-ratelimiting", "000_base_response_rate_limiting") => up(RESPONSE_RATELIMITING_000),
        ("response-ratelimiting", "001_350_to_360") => {
            up_and_teardown(RESPONSE_RATELIMITING_001_UP, RESPONSE_RATELIMITING_001_TEARDOWN)
        }

        ("session", "000_base_session") => up(SESSION_000),
        ("session", "001_add_ttl_index") => up("CREATE INDEX IF NOT EXISTS sessions_ttl_idx ON sessions (ttl);"),
        ("session", "002_320_to_330") => up(SESSION_002),
        ("session", "003_330_to_3100") => {
            up("CREATE INDEX IF NOT EXISTS session_metadatas_sid_idx ON session_metadatas (sid);")
        }
        _ => return None,
    };
    Some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every migration of every release has SQL, and a teardown in SQL
    /// belongs to a migration whose newest release has one.
    #[test]
    fn every_catalog_migration_has_sql_with_a_matching_teardown() {
        let newest = kong_catalog::subsystems_for("3.10.0").unwrap();
        for minor in kong_catalog::supported_minors() {
            for patch in 0..=5 {
                let version = format!("{}.{}.{patch}", minor.0, minor.1);
                for subsystem in kong_catalog::subsystems_for(&version).unwrap() {
                    for migration in subsystem.migrations {
                        let step = step(subsystem.name, migration.name).unwrap_or_else(|| {
                            panic!("no SQL for {}/{}", subsystem.name, migration.name)
                        });
                        let has_teardown_at_last = newest
                            .iter()
                            .find(|s| s.name == subsystem.name)
                            .and_then(|s| s.migrations.iter().find(|m| m.name == migration.name))
                            .is_some_and(|m| m.has_teardown);
                        assert!(
                            step.teardown.is_none() || has_teardown_at_last,
                            "{}/{}",
                            subsystem.name,
                            migration.name
                        );
                        let in_release = step.as_in_release(migration.has_teardown);
                        assert_eq!(in_release.teardown.is_some(), migration.has_teardown);
                    }
                }
            }
        }
    }
}
