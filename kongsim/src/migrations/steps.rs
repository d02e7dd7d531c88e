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

const CORE_000_BASE: &str = r#"
CREATE TABLE IF NOT EXISTS "cluster_events" (
  "id"         UUID PRIMARY KEY,
  "node_id"    UUID NOT NULL,
  "at"         TIMESTAMP WITH TIME ZONE NOT NULL,
  "nbf"        TIMESTAMP WITH TIME ZONE,
  "expire_at"  TIMESTAMP WITH TIME ZONE NOT NULL,
  "channel"    TEXT,
  "data"       TEXT
);
CREATE TABLE IF NOT EXISTS "services" (
  "id"               UUID PRIMARY KEY,
  "created_at"       TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "updated_at"       TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"             TEXT UNIQUE,
  "retries"          BIGINT,
  "protocol"         TEXT,
  "host"             TEXT,
  "port"             BIGINT,
  "path"             TEXT,
  "connect_timeout"  BIGINT,
  "write_timeout"    BIGINT,
  "read_timeout"     BIGINT,
  "tags"             TEXT[],
  "client_certificate_id" UUID
);
CREATE TABLE IF NOT EXISTS "routes" (
  "id"                          UUID PRIMARY KEY,
  "created_at"                  TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "updated_at"                  TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"                        TEXT UNIQUE,
  "service_id"                  UUID REFERENCES "services" ("id"),
  "protocols"                   TEXT[],
  "methods"                     TEXT[],
  "hosts"                       TEXT[],
  "paths"                       TEXT[],
  "snis"                        TEXT[],
  "sources"                     JSONB,
  "destinations"                JSONB,
  "regex_priority"              BIGINT,
  "strip_path"                  BOOLEAN,
  "preserve_host"               BOOLEAN,
  "tags"                        TEXT[],
  "https_redirect_status_code"  INTEGER,
  "headers"                     JSONB
);
CREATE TABLE IF NOT EXISTS "certificates" (
  "id"          UUID PRIMARY KEY,
  "created_at"  TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "cert"        TEXT,
  "key"         TEXT,
  "cert_alt"    TEXT,
  "key_alt"     TEXT,
  "tags"        TEXT[]
);
CREATE TABLE IF NOT EXISTS "snis" (
  "id"              UUID PRIMARY KEY,
  "created_at"      TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"            TEXT NOT NULL UNIQUE,
  "certificate_id"  UUID REFERENCES "certificates" ("id"),
  "tags"            TEXT[]
);
CREATE TABLE IF NOT EXISTS "consumers" (
  "id"          UUID PRIMARY KEY,
  "created_at"  TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "username"    TEXT UNIQUE,
  "custom_id"   TEXT UNIQUE,
  "tags"        TEXT[]
);
CREATE TABLE IF NOT EXISTS "plugins" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"         TEXT NOT NULL,
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "service_id"   UUID REFERENCES "services" ("id") ON DELETE CASCADE,
  "route_id"     UUID REFERENCES "routes" ("id") ON DELETE CASCADE,
  "config"       JSONB NOT NULL,
  "enabled"      BOOLEAN NOT NULL,
  "cache_key"    TEXT UNIQUE,
  "protocols"    TEXT[],
  "tags"         TEXT[]
);
CREATE TABLE IF NOT EXISTS "upstreams" (
  "id"                    UUID PRIMARY KEY,
  "created_at"            TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"                  TEXT UNIQUE,
  "hash_on"               TEXT,
  "hash_fallback"         TEXT,
  "hash_on_header"        TEXT,
  "hash_fallback_header"  TEXT,
  "hash_on_cookie"        TEXT,
  "hash_on_cookie_path"   TEXT,
  "slots"                 INTEGER NOT NULL,
  "healthchecks"          JSONB,
  "tags"                  TEXT[],
  "algorithm"             TEXT
);
CREATE TABLE IF NOT EXISTS "targets" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(3) AT TIME ZONE 'UTC'),
  "upstream_id"  UUID REFERENCES "upstreams" ("id") ON DELETE CASCADE,
  "target"       TEXT NOT NULL,
  "weight"       INTEGER NOT NULL,
  "tags"         TEXT[],
  UNIQUE ("upstream_id", "target")
);
"#;

const CORE_008: &str = r#"
CREATE TABLE IF NOT EXISTS "ca_certificates" (
  "id"          UUID PRIMARY KEY,
  "created_at"  TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "cert"        TEXT NOT NULL,
  "cert_digest" TEXT UNIQUE,
  "tags"        TEXT[]
);
ALTER TABLE services ADD COLUMN IF NOT EXISTS tls_verify BOOLEAN,
                     ADD COLUMN IF NOT EXISTS tls_verify_depth SMALLINT,
                     ADD COLUMN IF NOT EXISTS ca_certificates UUID[];
"#;

// 2.1 introduced workspaces: every core entity gets a `ws_id` pointing at
// the `default` workspace.
const CORE_009: &str = r#"
CREATE TABLE IF NOT EXISTS "workspaces" (
  "id"          UUID PRIMARY KEY,
  "name"        TEXT UNIQUE,
  "comment"     TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "meta"        JSONB,
  "config"      JSONB
);
INSERT INTO workspaces (id, name) VALUES (gen_random_uuid(), 'default') ON CONFLICT (name) DO NOTHING;
DO $$
DECLARE
  t TEXT;
  default_ws UUID;
BEGIN
  SELECT id INTO default_ws FROM workspaces WHERE name = 'default';
  FOREACH t IN ARRAY ARRAY['services', 'routes', 'plugins', 'upstreams', 'targets', 'consumers', 'certificates', 'snis', 'ca_certificates'] LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS ws_id UUID REFERENCES workspaces (id)', t);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN ws_id SET DEFAULT %L', t, default_ws);
    EXECUTE format('UPDATE %I SET ws_id = %L WHERE ws_id IS NULL', t, default_ws);
  END LOOP;
END$$;
"#;

const CORE_012: &str = r#"
CREATE TABLE IF NOT EXISTS "clustering_data_planes" (
  "id"           UUID PRIMARY KEY,
  "hostname"     TEXT NOT NULL,
  "ip"           TEXT NOT NULL,
  "last_seen"    TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "config_hash"  TEXT NOT NULL,
  "ttl"          TIMESTAMP WITH TIME ZONE
);
CREATE INDEX IF NOT EXISTS clustering_data_planes_ttl_idx ON clustering_data_planes (ttl);
"#;

// `parameters` holds the cluster id in OSS (kong/pdk/cluster.lua).
const CORE_013: &str = r#"
CREATE TABLE IF NOT EXISTS "parameters" (
  "key"         TEXT PRIMARY KEY,
  "value"       TEXT NOT NULL,
  "created_at"  TIMESTAMP WITH TIME ZONE
);
INSERT INTO parameters (key, value) VALUES ('cluster_id', gen_random_uuid()::text) ON CONFLICT DO NOTHING;
ALTER TABLE clustering_data_planes ADD COLUMN IF NOT EXISTS version TEXT,
                                   ADD COLUMN IF NOT EXISTS sync_status TEXT NOT NULL DEFAULT 'unknown';
"#;

const CORE_014: &str = r#"
CREATE TABLE IF NOT EXISTS "vaults_beta" (
  "id"           UUID PRIMARY KEY,
  "ws_id"        UUID REFERENCES workspaces (id),
  "prefix"       TEXT UNIQUE,
  "name"         TEXT NOT NULL,
  "description"  TEXT,
  "config"       JSONB NOT NULL,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "updated_at"   TIMESTAMP WITH TIME ZONE,
  "tags"         TEXT[]
);
ALTER TABLE services ADD COLUMN IF NOT EXISTS enabled BOOLEAN DEFAULT true;
"#;

// Kong 3.0's router takes a path as a regex only when it starts with "~";
// 2.x guessed. `up` rewrites every path 2.x would have treated as a regex
// (anything outside [a-zA-Z0-9._~/%-]) so the meaning is kept.
const CORE_016_UP: &str = r#"
CREATE TABLE IF NOT EXISTS "vaults" (
  "id"           UUID PRIMARY KEY,
  "ws_id"        UUID REFERENCES workspaces (id),
  "prefix"       TEXT UNIQUE,
  "name"         TEXT NOT NULL,
  "description"  TEXT,
  "config"       JSONB NOT NULL,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "updated_at"   TIMESTAMP WITH TIME ZONE,
  "tags"         TEXT[]
);
DO $$
BEGIN
  INSERT INTO vaults (id, ws_id, prefix, name, description, config, created_at, updated_at, tags)
       SELECT id, ws_id, prefix, name, description, config, created_at, updated_at, tags FROM vaults_beta
  ON CONFLICT DO NOTHING;
EXCEPTION WHEN UNDEFINED_TABLE THEN
  -- vaults_beta already dropped by a previous teardown
END$$;
UPDATE routes
   SET paths = (SELECT array_agg(CASE WHEN p ~ '^[a-zA-Z0-9._~/%-]*$' OR p LIKE '~%' THEN p ELSE '~' || p END
                                 ORDER BY ord)
                  FROM unnest(paths) WITH ORDINALITY AS u(p, ord))
 WHERE paths IS NOT NULL AND cardinality(paths) > 0;
ALTER TABLE upstreams ADD COLUMN IF NOT EXISTS hash_on_query_arg TEXT,
                      ADD COLUMN IF NOT EXISTS hash_fallback_query_arg TEXT,
                      ADD COLUMN IF NOT EXISTS hash_on_uri_capture TEXT,
                      ADD COLUMN IF NOT EXISTS hash_fallback_uri_capture TEXT;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS cache_key TEXT UNIQUE;
"#;

const CORE_016_TEARDOWN: &str = r#"
DROP TABLE IF EXISTS vaults_beta;
UPDATE targets SET cache_key = CONCAT('targets:', upstream_id, ':', target, '::::', ws_id);
"#;

const CORE_017: &str = r#"
CREATE TABLE IF NOT EXISTS "key_sets" (
  "id"          UUID PRIMARY KEY,
  "name"        TEXT UNIQUE,
  "tags"        TEXT[],
  "ws_id"       UUID REFERENCES workspaces (id),
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "updated_at"  TIMESTAMP WITH TIME ZONE
);
CREATE TABLE IF NOT EXISTS "keys" (
  "id"          UUID PRIMARY KEY,
  "set_id"      UUID REFERENCES key_sets (id) ON DELETE CASCADE,
  "name"        TEXT UNIQUE,
  "cache_key"   TEXT UNIQUE,
  "ws_id"       UUID REFERENCES workspaces (id),
  "kid"         TEXT,
  "jwk"         TEXT,
  "pem"         JSONB,
  "tags"        TEXT[],
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "updated_at"  TIMESTAMP WITH TIME ZONE
);
"#;

// Entities that had no `updated_at` column get one.
const CORE_019: &str = r#"
ALTER TABLE plugins         ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE targets         ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(3) AT TIME ZONE 'UTC');
ALTER TABLE consumers       ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE upstreams       ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE certificates    ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE snis            ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE ca_certificates ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
"#;

const CORE_021: &str = r#"
CREATE TABLE IF NOT EXISTS "filter_chains" (
  "id"          UUID PRIMARY KEY,
  "name"        TEXT UNIQUE,
  "enabled"     BOOLEAN DEFAULT TRUE,
  "route_id"    UUID REFERENCES routes (id) ON DELETE CASCADE,
  "service_id"  UUID REFERENCES services (id) ON DELETE CASCADE,
  "ws_id"       UUID REFERENCES workspaces (id),
  "cache_key"   TEXT UNIQUE,
  "filters"     JSONB[],
  "tags"        TEXT[],
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "updated_at"  TIMESTAMP WITH TIME ZONE
);
"#;

const CORE_024: &str = r#"
ALTER TABLE clustering_data_planes ADD COLUMN IF NOT EXISTS rpc_capabilities TEXT[];
CREATE TABLE IF NOT EXISTS clustering_sync_version (
  "version"  SERIAL PRIMARY KEY
);
"#;

const ACL_000: &str = r#"
CREATE TABLE IF NOT EXISTS "acls" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "group"        TEXT,
  "cache_key"    TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS acls_consumer_id_idx ON acls (consumer_id);
"#;

const ACME_000: &str = r#"
CREATE TABLE IF NOT EXISTS "acme_storage" (
  "id"          UUID PRIMARY KEY,
  "key"         TEXT UNIQUE,
  "value"       TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "ttl"         TIMESTAMP WITH TIME ZONE
);
"#;

const ACME_002: &str = r#"
UPDATE plugins
   SET config = config || '{"account_key": {"key_id": null, "key_set": null}}'::jsonb
 WHERE name = 'acme' AND NOT (config ? 'account_key');
"#;

// 3.6 renamed the acme redis storage options; old nodes keep reading the old
// names until `finish` removes them.
const ACME_003_UP: &str = r#"
DO $$
BEGIN
  UPDATE plugins
     SET config = jsonb_set(config, '{storage_config,redis}',
                    (config #> '{storage_config,redis}')
                    || jsonb_build_object(
                         'password', config #> '{storage_config,redis,auth}',
                         'server_name', config #> '{storage_config,redis,ssl_server_name}',
                         'extra_options', jsonb_build_object(
                           'namespace', config #> '{storage_config,redis,namespace}',
                           'scan_count', config #> '{storage_config,redis,scan_count}')))
   WHERE name = 'acme' AND jsonb_typeof(config #> '{storage_config,redis}') = 'object';
EXCEPTION WHEN UNDEFINED_COLUMN OR UNDEFINED_TABLE THEN
  -- Do nothing, accept existing state
END$$;
"#;

const ACME_003_TEARDOWN: &str = r#"
DO $$
BEGIN
  UPDATE plugins
     SET config = jsonb_set(config, '{storage_config,redis}',
                    (config #> '{storage_config,redis}') - 'auth' - 'ssl_server_name' - 'namespace' - 'scan_count')
   WHERE name = 'acme' AND jsonb_typeof(config #> '{storage_config,redis}') = 'object';
EXCEPTION WHEN UNDEFINED_COLUMN OR UNDEFINED_TABLE THEN
  -- Do nothing, accept existing state
END$$;
"#;

const AI_PROXY_001_UP: &str = r#"
UPDATE plugins
   SET config = config || '{"max_request_body_size": 8192}'::jsonb
 WHERE name = 'ai-proxy' AND NOT (config ? 'max_request_body_size');
"#;

const AI_PROXY_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'upstream_url' WHERE name = 'ai-proxy';
"#;

const BASIC_AUTH_000: &str = r#"
CREATE TABLE IF NOT EXISTS "basicauth_credentials" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "username"     TEXT UNIQUE,
  "password"     TEXT
);
"#;

const BOT_DETECTION_001: &str = r#"
UPDATE plugins
   SET config = (config - 'whitelist' - 'blacklist')
                || jsonb_build_object('allow', COALESCE(config -> 'allow', config -> 'whitelist'),
                                      'deny', COALESCE(config -> 'deny', config -> 'blacklist'))
 WHERE name = 'bot-detection' AND (config ? 'whitelist' OR config ? 'blacklist');
"#;

const HMAC_AUTH_000: &str = r#"
CREATE TABLE IF NOT EXISTS "hmacauth_credentials" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "username"     TEXT UNIQUE,
  "secret"       TEXT
);
"#;

// 3.0 made header values plain strings; the array form 2.x accepted is
// collapsed to its first element once no 2.x node reads it any more.
const HTTP_LOG_001_TEARDOWN: &str = r#"
UPDATE plugins
   SET config = jsonb_set(config, '{headers}',
                  (SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'array' THEN v -> 0 ELSE v END)
                     FROM jsonb_each(config -> 'headers') AS e(k, v)))
 WHERE name = 'http-log'
   AND jsonb_typeof(config -> 'headers') = 'object'
   AND config -> 'headers' <> '{}'::jsonb;
"#;

const IP_RESTRICTION_001: &str = r#"
UPDATE plugins
   SET config = (config - 'whitelist' - 'blacklist')
                || jsonb_build_object('allow', COALESCE(config -> 'allow', config -> 'whitelist'),
                                      'deny', COALESCE(config -> 'deny', config -> 'blacklist'))
 WHERE name = 'ip-restriction' AND (config ? 'whitelist' OR config ? 'blacklist');
"#;

const JWT_000: &str = r#"
CREATE TABLE IF NOT EXISTS "jwt_secrets" (
  "id"              UUID PRIMARY KEY,
  "created_at"      TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"     UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "key"             TEXT UNIQUE,
  "secret"          TEXT,
  "algorithm"       TEXT,
  "rsa_public_key"  TEXT
);
"#;

const KEY_AUTH_000: &str = r#"
CREATE TABLE IF NOT EXISTS "keyauth_credentials" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "key"          TEXT UNIQUE
);
"#;

const OAUTH2_000: &str = r#"
CREATE TABLE IF NOT EXISTS "oauth2_credentials" (
  "id"             UUID PRIMARY KEY,
  "created_at"     TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"           TEXT,
  "consumer_id"    UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "client_id"      TEXT UNIQUE,
  "client_secret"  TEXT,
  "redirect_uris"  TEXT[]
);
CREATE TABLE IF NOT EXISTS "oauth2_authorization_codes" (
  "id"                    UUID PRIMARY KEY,
  "created_at"            TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "credential_id"         UUID REFERENCES "oauth2_credentials" ("id") ON DELETE CASCADE,
  "service_id"            UUID REFERENCES "services" ("id") ON DELETE CASCADE,
  "code"                  TEXT UNIQUE,
  "authenticated_userid"  TEXT,
  "scope"                 TEXT,
  "ttl"                   TIMESTAMP WITH TIME ZONE
);
CREATE TABLE IF NOT EXISTS "oauth2_tokens" (
  "id"                    UUID PRIMARY KEY,
  "created_at"            TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "credential_id"         UUID REFERENCES "oauth2_credentials" ("id") ON DELETE CASCADE,
  "service_id"            UUID REFERENCES "services" ("id") ON DELETE CASCADE,
  "access_token"          TEXT UNIQUE,
  "refresh_token"         TEXT UNIQUE,
  "token_type"            TEXT,
  "expires_in"            INTEGER,
  "authenticated_userid"  TEXT,
  "scope"                 TEXT,
  "ttl"                   TIMESTAMP WITH TIME ZONE
);
"#;

const OTEL_001_UP: &str = r#"
UPDATE plugins
   SET config = config || jsonb_build_object('traces_endpoint', config -> 'endpoint')
 WHERE name = 'opentelemetry' AND config ? 'endpoint' AND NOT (config ? 'traces_endpoint');
"#;

const OTEL_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'endpoint' WHERE name = 'opentelemetry';
"#;

// 3.0 removed the `functions` field of the serverless plugins in favour of
// the per-phase `access` array.
const PRE_FUNCTION_001_UP: &str = r#"
UPDATE plugins
   SET config = config || jsonb_build_object('access', config -> 'functions')
 WHERE name = 'pre-function'
   AND jsonb_typeof(config -> 'functions') = 'array' AND jsonb_array_length(config -> 'functions') > 0
   AND COALESCE(jsonb_array_length(config -> 'access'), 0) = 0;
"#;

const PRE_FUNCTION_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'functions' WHERE name = 'pre-function';
"#;

const POST_FUNCTION_001_UP: &str = r#"
UPDATE plugins
   SET config = config || jsonb_build_object('access', config -> 'functions')
 WHERE name = 'post-function'
   AND jsonb_typeof(config -> 'functions') = 'array' AND jsonb_array_length(config -> 'functions') > 0
   AND COALESCE(jsonb_array_length(config -> 'access'), 0) = 0;
"#;

const POST_FUNCTION_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'functions' WHERE name = 'post-function';
"#;

const RATE_LIMITING_000: &str = r#"
CREATE TABLE IF NOT EXISTS "ratelimiting_metrics" (
  "identifier"   TEXT NOT NULL,
  "period"       TEXT NOT NULL,
  "period_date"  TIMESTAMP WITH TIME ZONE NOT NULL,
  "service_id"   UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::uuid,
  "route_id"     UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::uuid,
  "value"        INTEGER,
  PRIMARY KEY ("identifier", "period", "period_date", "service_id", "route_id")
);
"#;

// Kong's own statements for 3.6 (kong/plugins/rate-limiting/migrations/006_350_to_360.lua).
const RATE_LIMITING_006_UP: &str = r#"
DO $$
BEGIN
  UPDATE plugins
  SET config =
    config::jsonb
    || jsonb_build_object(
        'redis',
        jsonb_build_object(
            'host', config->'redis_host',
            'port', config->'redis_port',
            'password', config->'redis_password',
            'username', config->'redis_username',
            'ssl', config->'redis_ssl',
            'ssl_verify', config->'redis_ssl_verify',
            'server_name', config->'redis_server_name',
            'timeout', config->'redis_timeout',
            'database', config->'redis_database'
        )
    )
    WHERE name = 'rate-limiting';
EXCEPTION WHEN UNDEFINED_COLUMN OR UNDEFINED_TABLE THEN
  -- Do nothing, accept existing state
END$$;
"#;

const RATE_LIMITING_006_TEARDOWN: &str = r#"
DO $$
BEGIN
  UPDATE plugins
  SET config =
    config::jsonb
      - 'redis_host'
      - 'redis_port'
      - 'redis_password'
      - 'redis_username'
      - 'redis_ssl'
      - 'redis_ssl_verify'
      - 'redis_server_name'
      - 'redis_timeout'
      - 'redis_database'
  WHERE name = 'rate-limiting';
EXCEPTION WHEN UNDEFINED_COLUMN OR UNDEFINED_TABLE THEN
  -- Do nothing, accept existing state
END$$;
"#;

const RESPONSE_RATELIMITING_000: &str = r#"
CREATE TABLE IF NOT EXISTS "response_ratelimiting_metrics" (
  "identifier"   TEXT NOT NULL,
  "period"       TEXT NOT NULL,
  "period_date"  TIMESTAMP WITH TIME ZONE NOT NULL,
  "service_id"   UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::uuid,
  "route_id"     UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::uuid,
  "value"        INTEGER,
  PRIMARY KEY ("identifier", "period", "period_date", "service_id", "route_id")
);
"#;

const RESPONSE_RATELIMITING_001_UP: &str = r#"
DO $$
BEGIN
  UPDATE plugins
  SET config =
    config::jsonb
    || jsonb_build_object(
        'redis',
        jsonb_build_object(
            'host', config->'redis_host',
            'port', config->'redis_port',
            'password', config->'redis_password',
            'username', config->'redis_username',
            'ssl', config->'redis_ssl',
            'ssl_verify', config->'redis_ssl_verify',
            'server_name', config->'redis_server_name',
            'timeout', config->'redis_timeout',
            'database', config->'redis_database'
        )
    )
    WHERE name = 'response-ratelimiting';
EXCEPTION WHEN UNDEFINED_COLUMN OR UNDEFINED_TABLE THEN
  -- Do nothing, accept existing state
END$$;
"#;

const RESPONSE_RATELIMITING_001_TEARDOWN: &str = r#"
DO $$
BEGIN
  UPDATE plugins
  SET config =
    config::jsonb
      - 'redis_host'
      - 'redis_port'
      - 'redis_password'
      - 'redis_username'
      - 'redis_ssl'
      - 'redis_ssl_verify'
      - 'redis_server_name'
      - 'redis_timeout'
      - 'redis_database'
  WHERE name = 'response-ratelimiting';
EXCEPTION WHEN UNDEFINED_COLUMN OR UNDEFINED_TABLE THEN
  -- Do nothing, accept existing state
END$$;
"#;

const SESSION_000: &str = r#"
CREATE TABLE IF NOT EXISTS "sessions" (
  "id"          UUID PRIMARY KEY,
  "session_id"  TEXT UNIQUE,
  "expires"     INTEGER,
  "data"        TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "ttl"         TIMESTAMP WITH TIME ZONE
);
"#;

const SESSION_002: &str = r#"
CREATE TABLE IF NOT EXISTS "session_metadatas" (
  "id"          UUID PRIMARY KEY,
  "session_id"  UUID REFERENCES "sessions" ("id") ON DELETE CASCADE,
  "sid"         TEXT,
  "subject"     TEXT,
  "audience"    TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE
);
"#;

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
