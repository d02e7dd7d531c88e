//! The entities kongsim serves and their fields, as Kong's schemas
//! (`kong/db/schema/entities/*.lua`, the bundled plugins' `daos.lua`) define them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Boolean,
    TextArray,
    /// A JSON object (or any JSON value for `sources`-like fields).
    Json,
    UuidArray,
    /// A reference to another entity collection, `{"id": ...}` in the API.
    Foreign(&'static str),
}

pub struct Field {
    pub name: &'static str,
    pub column: &'static str,
    pub kind: Kind,
    /// Kong's default as a JSON literal.
    pub default: &'static str,
    pub required: bool,
    /// First release whose schema has the field.
    pub since: (u64, u64),
    /// Kong generates a value when none is given (`auto = true`: keys,
    /// secrets, client ids).
    pub auto: bool,
}

const BASE: (u64, u64) = (2, 8);

const fn f(name: &'static str, kind: Kind, default: &'static str) -> Field {
    Field {
        name,
        column: name,
        kind,
        default,
        required: false,
        since: BASE,
        auto: false,
    }
}

const fn required(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        column: name,
        kind,
        default: "null",
        required: true,
        since: BASE,
        auto: false,
    }
}

const fn fk(name: &'static str, column: &'static str, target: &'static str) -> Field {
    Field {
        name,
        column,
        kind: Kind::Foreign(target),
        default: "null",
        required: false,
        since: BASE,
        auto: false,
    }
}

const fn since(field: Field, since: (u64, u64)) -> Field {
    Field { since, ..field }
}

const fn auto(name: &'static str) -> Field {
    Field {
        auto: true,
        ..f(name, Kind::Text, "null")
    }
}

/// Every credential's `consumer`: required, deleted with its consumer.
const CONSUMER: Field = Field {
    required: true,
    ..fk("consumer", "consumer_id", "consumers")
};

/// When a node serves an entity's collection at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From this release on (core entities).
    Since(u64, u64),
    /// While this bundled plugin is available (its `daos.lua`).
    WithPlugin(&'static str),
    /// From this release on, and only with `wasm = on`.
    WithWasmSince(u64, u64),
    /// Before this release only (an entity a later release renamed).
    Until(u64, u64),
    /// Kong Enterprise only (no such entity in Kong OSS's source).
    Enterprise,
}

/// Core entities that were there in every release kongsim models.
const ALWAYS: Served = Served::Since(2, 8);

pub struct EntityDef {
    /// Table name, e.g. `keyauth_credentials`.
    pub name: &'static str,
    /// Admin API collection (`admin_api_name`), e.g. `key-auths`.
    pub path: &'static str,
    /// The collection under a parent (`admin_api_nested_name`), e.g.
    /// `/consumers/{c}/key-auth`.
    pub nested_path: &'static str,
    pub served: Served,
    /// The unique field `/services/{name}` looks up when the key is not a UUID.
    pub endpoint_key: Option<&'static str>,
    pub fields: &'static [Field],
    /// First release with an `updated_at` column (`None`: never).
    pub updated_at_since: Option<(u64, u64)>,
    /// Targets keep millisecond timestamps and report them as floats.
    pub millisecond_timestamps: bool,
}

const UPSTREAM_HEALTHCHECKS: &str = r#"{"active":{"concurrency":10,"headers":null,"healthy":{"http_statuses":[200,302],"interval":0,"successes":0},"http_path":"/","https_sni":null,"https_verify_certificate":true,"timeout":1,"type":"http","unhealthy":{"http_failures":0,"http_statuses":[429,404,500,501,502,503,504,505],"interval":0,"tcp_failures":0,"timeouts":0}},"passive":{"healthy":{"http_statuses":[200,201,202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308],"successes":0},"type":"http","unhealthy":{"http_failures":0,"http_statuses":[429,500,503],"tcp_failures":0,"timeouts":0}},"threshold":0}"#;

pub const SERVICES: EntityDef = EntityDef {
    name: "services",
    path: "services",
    nested_path: "services",
    served: ALWAYS,
    endpoint_key: Some("name"),
    fields: &[
        f("name", Kind::Text, "null"),
        f("retries", Kind::Integer, "5"),
        f("protocol", Kind::Text, "\"http\""),
        required("host", Kind::Text),
        f("port", Kind::Integer, "80"),
        f("path", Kind::Text, "null"),
        f("connect_timeout", Kind::Integer, "60000"),
        f("write_timeout", Kind::Integer, "60000"),
        f("read_timeout", Kind::Integer, "60000"),
        f("tags", Kind::TextArray, "null"),
        fk(
            "client_certificate",
            "client_certificate_id",
            "certificates",
        ),
        f("tls_verify", Kind::Boolean, "null"),
        f("tls_verify_depth", Kind::Integer, "null"),
        f("ca_certificates", Kind::UuidArray, "null"),
        f("enabled", Kind::Boolean, "true"),
    ],
    updated_at_since: Some(BASE),
    millisecond_timestamps: false,
};

pub const ROUTES: EntityDef = EntityDef {
    name: "routes",
    path: "routes",
    nested_path: "routes",
    served: ALWAYS,
    endpoint_key: Some("name"),
    fields: &[
        f("name", Kind::Text, "null"),
        fk("service", "service_id", "services"),
        f("protocols", Kind::TextArray, "[\"http\",\"https\"]"),
        f("methods", Kind::TextArray, "null"),
        f("hosts", Kind::TextArray, "null"),
        f("paths", Kind::TextArray, "null"),
        f("headers", Kind::Json, "null"),
        f("snis", Kind::TextArray, "null"),
        f("sources", Kind::Json, "null"),
        f("destinations", Kind::Json, "null"),
        f("https_redirect_status_code", Kind::Integer, "426"),
        f("regex_priority", Kind::Integer, "0"),
        f("strip_path", Kind::Boolean, "true"),
        f("path_handling", Kind::Text, "\"v0\""),
        f("preserve_host", Kind::Boolean, "false"),
        f("request_buffering", Kind::Boolean, "true"),
        f("response_buffering", Kind::Boolean, "true"),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some(BASE),
    millisecond_timestamps: false,
};

pub const CONSUMERS: EntityDef = EntityDef {
    name: "consumers",
    path: "consumers",
    nested_path: "consumers",
    served: ALWAYS,
    endpoint_key: Some("username"),
    fields: &[
        f("username", Kind::Text, "null"),
        f("custom_id", Kind::Text, "null"),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 3)),
    millisecond_timestamps: false,
};

pub const PLUGINS: EntityDef = EntityDef {
    name: "plugins",
    path: "plugins",
    nested_path: "plugins",
    served: ALWAYS,
    endpoint_key: None,
    fields: &[
        required("name", Kind::Text),
        since(f("instance_name", Kind::Text, "null"), (3, 2)),
        f("config", Kind::Json, "{}"),
        f(
            "protocols",
            Kind::TextArray,
            "[\"grpc\",\"grpcs\",\"http\",\"https\"]",
        ),
        f("enabled", Kind::Boolean, "true"),
        f("tags", Kind::TextArray, "null"),
        fk("service", "service_id", "services"),
        fk("route", "route_id", "routes"),
        fk("consumer", "consumer_id", "consumers"),
    ],
    updated_at_since: Some((3, 3)),
    millisecond_timestamps: false,
};

pub const UPSTREAMS: EntityDef = EntityDef {
    name: "upstreams",
    path: "upstreams",
    nested_path: "upstreams",
    served: ALWAYS,
    endpoint_key: Some("name"),
    fields: &[
        required("name", Kind::Text),
        f("algorithm", Kind::Text, "\"round-robin\""),
        f("hash_on", Kind::Text, "\"none\""),
        f("hash_fallback", Kind::Text, "\"none\""),
        f("hash_on_header", Kind::Text, "null"),
        f("hash_fallback_header", Kind::Text, "null"),
        f("hash_on_cookie", Kind::Text, "null"),
        f("hash_on_cookie_path", Kind::Text, "\"/\""),
        since(f("hash_on_query_arg", Kind::Text, "null"), (3, 0)),
        since(f("hash_fallback_query_arg", Kind::Text, "null"), (3, 0)),
        since(f("hash_on_uri_capture", Kind::Text, "null"), (3, 0)),
        since(f("hash_fallback_uri_capture", Kind::Text, "null"), (3, 0)),
        f("slots", Kind::Integer, "10000"),
        f("healthchecks", Kind::Json, UPSTREAM_HEALTHCHECKS),
        f("tags", Kind::TextArray, "null"),
        f("host_header", Kind::Text, "null"),
        fk(
            "client_certificate",
            "client_certificate_id",
            "certificates",
        ),
        f("use_srv_name", Kind::Boolean, "false"),
    ],
    updated_at_since: Some((3, 3)),
    millisecond_timestamps: false,
};

pub const TARGETS: EntityDef = EntityDef {
    name: "targets",
    path: "targets",
    nested_path: "targets",
    served: ALWAYS,
    endpoint_key: Some("target"),
    fields: &[
        fk("upstream", "upstream_id", "upstreams"),
        required("target", Kind::Text),
        f("weight", Kind::Integer, "100"),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 3)),
    millisecond_timestamps: true,
};

pub const CERTIFICATES: EntityDef = EntityDef {
    name: "certificates",
    path: "certificates",
    nested_path: "certificates",
    served: ALWAYS,
    endpoint_key: None,
    fields: &[
        required("cert", Kind::Text),
        required("key", Kind::Text),
        f("cert_alt", Kind::Text, "null"),
        f("key_alt", Kind::Text, "null"),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 3)),
    millisecond_timestamps: false,
};

/// A credential of a bundled auth plugin (`kong/plugins/NAME/daos.lua`):
/// no `updated_at`, created with its consumer.
const fn credential(
    name: &'static str,
    path: &'static str,
    nested_path: &'static str,
    plugin: &'static str,
    endpoint_key: &'static str,
    fields: &'static [Field],
) -> EntityDef {
    EntityDef {
        name,
        path,
        nested_path,
        served: Served::WithPlugin(plugin),
        endpoint_key: Some(endpoint_key),
        fields,
        updated_at_since: None,
        millisecond_timestamps: false,
    }
}

pub const KEY_AUTHS: EntityDef = credential(
    "keyauth_credentials",
    "key-auths",
    "key-auth",
    "key-auth",
    "key",
    &[CONSUMER, auto("key"), f("tags", Kind::TextArray, "null")],
);

pub const BASIC_AUTHS: EntityDef = credential(
    "basicauth_credentials",
    "basic-auths",
    "basic-auth",
    "basic-auth",
    "username",
    &[
        CONSUMER,
        required("username", Kind::Text),
        required("password", Kind::Text),
        f("tags", Kind::TextArray, "null"),
    ],
);

pub const JWTS: EntityDef = credential(
    "jwt_secrets",
    "jwts",
    "jwt",
    "jwt",
    "key",
    &[
        CONSUMER,
        auto("key"),
        auto("secret"),
        f("rsa_public_key", Kind::Text, "null"),
        f("algorithm", Kind::Text, "\"HS256\""),
        f("tags", Kind::TextArray, "null"),
    ],
);

pub const HMAC_AUTHS: EntityDef = credential(
    "hmacauth_credentials",
    "hmac-auths",
    "hmac-auth",
    "hmac-auth",
    "username",
    &[
        CONSUMER,
        required("username", Kind::Text),
        auto("secret"),
        f("tags", Kind::TextArray, "null"),
    ],
);

pub const OAUTH2_CREDENTIALS: EntityDef = credential(
    "oauth2_credentials",
    "oauth2",
    "oauth2",
    "oauth2",
    "client_id",
    &[
        CONSUMER,
        required("name", Kind::Text),
        auto("client_id"),
        auto("client_secret"),
        f("hash_secret", Kind::Boolean, "false"),
        f("redirect_uris", Kind::TextArray, "null"),
        f("tags", Kind::TextArray, "null"),
        f("client_type", Kind::Text, "\"confidential\""),
    ],
);

pub const ACLS: EntityDef = EntityDef {
    endpoint_key: None,
    ..credential(
        "acls",
        "acls",
        "acls",
        "acl",
        "group",
        &[
            CONSUMER,
            required("group", Kind::Text),
            f("tags", Kind::TextArray, "null"),
        ],
    )
};

/// `kong/db/schema/entities/filter_chains.lua` (3.4+), served only with
/// wasm on (`kong/api/routes/filter_chains.lua`).
pub const FILTER_CHAINS: EntityDef = EntityDef {
    name: "filter_chains",
    path: "filter-chains",
    nested_path: "filter-chains",
    served: Served::WithWasmSince(3, 4),
    endpoint_key: Some("name"),
    fields: &[
        f("name", Kind::Text, "null"),
        f("enabled", Kind::Boolean, "true"),
        fk("route", "route_id", "routes"),
        fk("service", "service_id", "services"),
        required("filters", Kind::Json),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 4)),
    millisecond_timestamps: false,
};

/// `kong/db/schema/entities/workspaces.lua`: OSS Kong serves the
/// collection too (it lists `default`); kongsim's table has no
/// `updated_at`.
pub const WORKSPACES: EntityDef = EntityDef {
    name: "workspaces",
    path: "workspaces",
    nested_path: "workspaces",
    served: ALWAYS,
    endpoint_key: Some("name"),
    fields: &[
        required("name", Kind::Text),
        f("comment", Kind::Text, "null"),
        f("meta", Kind::Json, "{}"),
        f("config", Kind::Json, "{}"),
    ],
    updated_at_since: None,
    millisecond_timestamps: false,
};

/// `kong/db/schema/entities/snis.lua`: a name on a certificate.
pub const SNIS: EntityDef = EntityDef {
    name: "snis",
    path: "snis",
    nested_path: "snis",
    served: ALWAYS,
    endpoint_key: Some("name"),
    fields: &[
        required("name", Kind::Text),
        Field {
            required: true,
            ..fk("certificate", "certificate_id", "certificates")
        },
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 3)),
    millisecond_timestamps: false,
};

/// `kong/db/schema/entities/ca_certificates.lua`: not workspaceable;
/// `cert_digest` is derived from `cert` on every write.
pub const CA_CERTIFICATES: EntityDef = EntityDef {
    name: "ca_certificates",
    path: "ca_certificates",
    nested_path: "ca_certificates",
    served: ALWAYS,
    endpoint_key: None,
    fields: &[
        required("cert", Kind::Text),
        f("cert_digest", Kind::Text, "null"),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 3)),
    millisecond_timestamps: false,
};

const VAULT_FIELDS: &[Field] = &[
    required("prefix", Kind::Text),
    required("name", Kind::Text),
    f("description", Kind::Text, "null"),
    f("config", Kind::Json, "{}"),
    f("tags", Kind::TextArray, "null"),
];

/// `kong/db/schema/entities/vaults.lua` (3.0+, `admin_api_name = "vaults"`).
pub const VAULTS: EntityDef = EntityDef {
    name: "vaults",
    path: "vaults",
    nested_path: "vaults",
    served: Served::Since(3, 0),
    endpoint_key: Some("prefix"),
    fields: VAULT_FIELDS,
    updated_at_since: Some((3, 0)),
    millisecond_timestamps: false,
};

/// 2.8's `kong/db/schema/entities/vaults_beta.lua`
/// (`admin_api_name = "vaults-beta"`); 3.0 renamed it `vaults`.
pub const VAULTS_BETA: EntityDef = EntityDef {
    name: "vaults_beta",
    path: "vaults-beta",
    nested_path: "vaults-beta",
    served: Served::Until(3, 0),
    endpoint_key: Some("prefix"),
    fields: VAULT_FIELDS,
    updated_at_since: Some(BASE),
    millisecond_timestamps: false,
};

/// `kong/db/schema/entities/key_sets.lua` (3.1+, `admin_api_name = "key-sets"`).
pub const KEY_SETS: EntityDef = EntityDef {
    name: "key_sets",
    path: "key-sets",
    nested_path: "key-sets",
    served: Served::Since(3, 1),
    endpoint_key: Some("name"),
    fields: &[
        f("name", Kind::Text, "null"),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 1)),
    millisecond_timestamps: false,
};

/// `kong/db/schema/entities/keys.lua` (3.1+): a JWK or a PEM pair,
/// optionally in a key set (`/key-sets/{set}/keys`).
pub const KEYS: EntityDef = EntityDef {
    name: "keys",
    path: "keys",
    nested_path: "keys",
    served: Served::Since(3, 1),
    endpoint_key: Some("name"),
    fields: &[
        fk("set", "set_id", "key_sets"),
        f("name", Kind::Text, "null"),
        required("kid", Kind::Text),
        f("jwk", Kind::Text, "null"),
        f("pem", Kind::Json, "null"),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some((3, 1)),
    millisecond_timestamps: false,
};

/// Kong Enterprise's consumer groups (`/consumer_groups`, per workspace:
/// <https://developer.konghq.com/gateway/entities/consumer-group/>): a
/// named group with tags. Kong OSS has no such entity (no file of that
/// name in any tag of github.com/Kong/kong). Membership
/// (`/consumer_groups/{group}/consumers`) is served by `memberships.rs`;
/// group-scoped plugin overrides are not modelled.
pub const CONSUMER_GROUPS: EntityDef = EntityDef {
    name: "consumer_groups",
    path: "consumer_groups",
    nested_path: "consumer_groups",
    served: Served::Enterprise,
    endpoint_key: Some("name"),
    fields: &[
        required("name", Kind::Text),
        f("tags", Kind::TextArray, "null"),
    ],
    updated_at_since: Some(BASE),
    millisecond_timestamps: false,
};

pub const ALL: &[&EntityDef] = &[
    &SERVICES,
    &ROUTES,
    &CONSUMERS,
    &PLUGINS,
    &UPSTREAMS,
    &TARGETS,
    &CERTIFICATES,
    &SNIS,
    &CA_CERTIFICATES,
    &VAULTS,
    &VAULTS_BETA,
    &KEY_SETS,
    &KEYS,
    &KEY_AUTHS,
    &BASIC_AUTHS,
    &JWTS,
    &HMAC_AUTHS,
    &OAUTH2_CREDENTIALS,
    &ACLS,
    &FILTER_CHAINS,
    &CONSUMER_GROUPS,
    &WORKSPACES,
];

impl EntityDef {
    /// Whether Kong keeps the entity per workspace (`workspaceable = true`
    /// in its schema): every entity kongsim serves but workspaces
    /// themselves and CA certificates.
    pub fn workspaceable(&self) -> bool {
        self.name != WORKSPACES.name && self.name != CA_CERTIFICATES.name
    }
}

/// The entity stored in `table`.
pub fn by_name(table: &str) -> Option<&'static EntityDef> {
    ALL.iter().copied().find(|d| d.name == table)
}

/// The entity whose top-level collection is `/path`.
pub fn by_path(path: &str) -> Option<&'static EntityDef> {
    ALL.iter().copied().find(|d| d.path == path)
}

/// The entity served as `/{parent}/{key}/{nested}`.
pub fn by_nested_path(nested: &str) -> Option<&'static EntityDef> {
    ALL.iter().copied().find(|d| d.nested_path == nested)
}
