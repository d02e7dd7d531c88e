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
    }
}

const fn since(field: Field, since: (u64, u64)) -> Field {
    Field { since, ..field }
}

pub struct EntityDef {
    /// Collection path and table name, e.g. `services`.
    pub name: &'static str,
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

pub const ALL: &[&EntityDef] = &[
    &SERVICES,
    &ROUTES,
    &CONSUMERS,
    &PLUGINS,
    &UPSTREAMS,
    &TARGETS,
    &CERTIFICATES,
];

pub fn by_name(name: &str) -> Option<&'static EntityDef> {
    ALL.iter().copied().find(|d| d.name == name)
}
