//! The statements of each migration kongsim runs, one constant per step
//! (`up`, or `up` and `teardown`). Which migration uses which constant is
//! [`super::step`]; what the statements model is said there.

pub(super) const CORE_000_BASE: &str = r#"
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

pub(super) const CORE_008: &str = r#"
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
pub(super) const CORE_009: &str = r#"
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

pub(super) const CORE_012: &str = r#"
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
pub(super) const CORE_013: &str = r#"
CREATE TABLE IF NOT EXISTS "parameters" (
  "key"         TEXT PRIMARY KEY,
  "value"       TEXT NOT NULL,
  "created_at"  TIMESTAMP WITH TIME ZONE
);
INSERT INTO parameters (key, value) VALUES ('cluster_id', gen_random_uuid()::text) ON CONFLICT DO NOTHING;
ALTER TABLE clustering_data_planes ADD COLUMN IF NOT EXISTS version TEXT,
                                   ADD COLUMN IF NOT EXISTS sync_status TEXT NOT NULL DEFAULT 'unknown';
"#;

pub(super) const CORE_014: &str = r#"
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
pub(super) const CORE_016_UP: &str = r#"
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

pub(super) const CORE_016_TEARDOWN: &str = r#"
DROP TABLE IF EXISTS vaults_beta;
UPDATE targets SET cache_key = CONCAT('targets:', upstream_id, ':', target, '::::', ws_id);
"#;

pub(super) const CORE_017: &str = r#"
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
pub(super) const CORE_019: &str = r#"
ALTER TABLE plugins         ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE targets         ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(3) AT TIME ZONE 'UTC');
ALTER TABLE consumers       ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE upstreams       ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE certificates    ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE snis            ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
ALTER TABLE ca_certificates ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC');
"#;

pub(super) const CORE_021: &str = r#"
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

pub(super) const CORE_024: &str = r#"
ALTER TABLE clustering_data_planes ADD COLUMN IF NOT EXISTS rpc_capabilities TEXT[];
CREATE TABLE IF NOT EXISTS clustering_sync_version (
  "version"  SERIAL PRIMARY KEY
);
"#;

pub(super) const ACL_000: &str = r#"
CREATE TABLE IF NOT EXISTS "acls" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "group"        TEXT,
  "cache_key"    TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS acls_consumer_id_idx ON acls (consumer_id);
"#;

pub(super) const ACME_000: &str = r#"
CREATE TABLE IF NOT EXISTS "acme_storage" (
  "id"          UUID PRIMARY KEY,
  "key"         TEXT UNIQUE,
  "value"       TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "ttl"         TIMESTAMP WITH TIME ZONE
);
"#;

pub(super) const ACME_002: &str = r#"
UPDATE plugins
   SET config = config || '{"account_key": {"key_id": null, "key_set": null}}'::jsonb
 WHERE name = 'acme' AND NOT (config ? 'account_key');
"#;

// 3.6 renamed the acme redis storage options; old nodes keep reading the old
// names until `finish` removes them.
pub(super) const ACME_003_UP: &str = r#"
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

pub(super) const ACME_003_TEARDOWN: &str = r#"
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

pub(super) const AI_PROXY_001_UP: &str = r#"
UPDATE plugins
   SET config = config || '{"max_request_body_size": 8192}'::jsonb
 WHERE name = 'ai-proxy' AND NOT (config ? 'max_request_body_size');
"#;

pub(super) const AI_PROXY_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'upstream_url' WHERE name = 'ai-proxy';
"#;

pub(super) const BASIC_AUTH_000: &str = r#"
CREATE TABLE IF NOT EXISTS "basicauth_credentials" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "username"     TEXT UNIQUE,
  "password"     TEXT
);
"#;

pub(super) const BOT_DETECTION_001: &str = r#"
UPDATE plugins
   SET config = (config - 'whitelist' - 'blacklist')
                || jsonb_build_object('allow', COALESCE(config -> 'allow', config -> 'whitelist'),
                                      'deny', COALESCE(config -> 'deny', config -> 'blacklist'))
 WHERE name = 'bot-detection' AND (config ? 'whitelist' OR config ? 'blacklist');
"#;

pub(super) const HMAC_AUTH_000: &str = r#"
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
pub(super) const HTTP_LOG_001_TEARDOWN: &str = r#"
UPDATE plugins
   SET config = jsonb_set(config, '{headers}',
                  (SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'array' THEN v -> 0 ELSE v END)
                     FROM jsonb_each(config -> 'headers') AS e(k, v)))
 WHERE name = 'http-log'
   AND jsonb_typeof(config -> 'headers') = 'object'
   AND config -> 'headers' <> '{}'::jsonb;
"#;

pub(super) const IP_RESTRICTION_001: &str = r#"
UPDATE plugins
   SET config = (config - 'whitelist' - 'blacklist')
                || jsonb_build_object('allow', COALESCE(config -> 'allow', config -> 'whitelist'),
                                      'deny', COALESCE(config -> 'deny', config -> 'blacklist'))
 WHERE name = 'ip-restriction' AND (config ? 'whitelist' OR config ? 'blacklist');
"#;

pub(super) const JWT_000: &str = r#"
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

pub(super) const KEY_AUTH_000: &str = r#"
CREATE TABLE IF NOT EXISTS "keyauth_credentials" (
  "id"           UUID PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "key"          TEXT UNIQUE
);
"#;

pub(super) const OAUTH2_000: &str = r#"
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

pub(super) const OTEL_001_UP: &str = r#"
UPDATE plugins
   SET config = config || jsonb_build_object('traces_endpoint', config -> 'endpoint')
 WHERE name = 'opentelemetry' AND config ? 'endpoint' AND NOT (config ? 'traces_endpoint');
"#;

pub(super) const OTEL_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'endpoint' WHERE name = 'opentelemetry';
"#;

// 3.0 removed the `functions` field of the serverless plugins in favour of
// the per-phase `access` array.
pub(super) const PRE_FUNCTION_001_UP: &str = r#"
UPDATE plugins
   SET config = config || jsonb_build_object('access', config -> 'functions')
 WHERE name = 'pre-function'
   AND jsonb_typeof(config -> 'functions') = 'array' AND jsonb_array_length(config -> 'functions') > 0
   AND COALESCE(jsonb_array_length(config -> 'access'), 0) = 0;
"#;

pub(super) const PRE_FUNCTION_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'functions' WHERE name = 'pre-function';
"#;

pub(super) const POST_FUNCTION_001_UP: &str = r#"
UPDATE plugins
   SET config = config || jsonb_build_object('access', config -> 'functions')
 WHERE name = 'post-function'
   AND jsonb_typeof(config -> 'functions') = 'array' AND jsonb_array_length(config -> 'functions') > 0
   AND COALESCE(jsonb_array_length(config -> 'access'), 0) = 0;
"#;

pub(super) const POST_FUNCTION_001_TEARDOWN: &str = r#"
UPDATE plugins SET config = config - 'functions' WHERE name = 'post-function';
"#;

pub(super) const RATE_LIMITING_000: &str = r#"
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
pub(super) const RATE_LIMITING_006_UP: &str = r#"
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

pub(super) const RATE_LIMITING_006_TEARDOWN: &str = r#"
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

pub(super) const RESPONSE_RATELIMITING_000: &str = r#"
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

pub(super) const RESPONSE_RATELIMITING_001_UP: &str = r#"
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

pub(super) const RESPONSE_RATELIMITING_001_TEARDOWN: &str = r#"
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

pub(super) const SESSION_000: &str = r#"
CREATE TABLE IF NOT EXISTS "sessions" (
  "id"          UUID PRIMARY KEY,
  "session_id"  TEXT UNIQUE,
  "expires"     INTEGER,
  "data"        TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "ttl"         TIMESTAMP WITH TIME ZONE
);
"#;

pub(super) const SESSION_002: &str = r#"
CREATE TABLE IF NOT EXISTS "session_metadatas" (
  "id"          UUID PRIMARY KEY,
  "session_id"  UUID REFERENCES "sessions" ("id") ON DELETE CASCADE,
  "sid"         TEXT,
  "subject"     TEXT,
  "audience"    TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE
);
"#;
