//! Bundled plugins per release, as `GET /` lists them in
//! `plugins.available_on_server`. Priorities are those of Kong 3.x handlers
//! (approximate for a few); the release a plugin arrived in is taken from
//! Kong's rockspecs for the migration-bearing ones and from release notes
//! for the AI plugins (3.6), standard-webhooks (3.8) and redirect (3.9).

use crate::version::KongVersion;

pub struct BundledPlugin {
    pub name: &'static str,
    pub priority: i64,
    pub since: (u64, u64),
}

const BASE: (u64, u64) = (2, 8);

const fn p(name: &'static str, priority: i64, since: (u64, u64)) -> BundledPlugin {
    BundledPlugin {
        name,
        priority,
        since,
    }
}

pub const BUNDLED: &[BundledPlugin] = &[
    p("acl", 950, BASE),
    p("acme", 1705, BASE),
    p("ai-prompt-decorator", 772, (3, 6)),
    p("ai-prompt-guard", 771, (3, 6)),
    p("ai-prompt-template", 773, (3, 6)),
    p("ai-proxy", 770, (3, 6)),
    p("ai-request-transformer", 777, (3, 6)),
    p("ai-response-transformer", 768, (3, 6)),
    p("aws-lambda", 750, BASE),
    p("azure-functions", 749, BASE),
    p("basic-auth", 1100, BASE),
    p("bot-detection", 2500, BASE),
    p("correlation-id", 100001, BASE),
    p("cors", 2000, BASE),
    p("datadog", 10, BASE),
    p("file-log", 9, BASE),
    p("grpc-gateway", 998, BASE),
    p("grpc-web", 3, BASE),
    p("hmac-auth", 1030, BASE),
    p("http-log", 12, BASE),
    p("ip-restriction", 990, BASE),
    p("jwt", 1450, BASE),
    p("key-auth", 1250, BASE),
    p("ldap-auth", 1200, BASE),
    p("loggly", 6, BASE),
    p("oauth2", 1400, BASE),
    p("opentelemetry", 14, (3, 0)),
    p("post-function", -1000, BASE),
    p("pre-function", 1_000_000, BASE),
    p("prometheus", 13, BASE),
    p("proxy-cache", 100, BASE),
    p("rate-limiting", 910, BASE),
    p("redirect", 779, (3, 9)),
    p("request-size-limiting", 951, BASE),
    p("request-termination", 2, BASE),
    p("request-transformer", 801, BASE),
    p("response-ratelimiting", 900, BASE),
    p("response-transformer", 800, BASE),
    p("session", 1900, BASE),
    p("standard-webhooks", 760, (3, 8)),
    p("statsd", 11, BASE),
    p("syslog", 4, BASE),
    p("tcp-log", 7, BASE),
    p("udp-log", 8, BASE),
    p("zipkin", 100000, BASE),
];

pub fn available(version: &KongVersion) -> impl Iterator<Item = &'static BundledPlugin> + '_ {
    BUNDLED
        .iter()
        .filter(move |p| version.at_least(p.since.0, p.since.1))
}

pub fn is_available(version: &KongVersion, name: &str) -> bool {
    available(version).any(|p| p.name == name)
}

/// `plugins.available_on_server`: 3.x maps names to `{version, priority}`,
/// 2.8 maps them to `true`.
pub fn available_on_server(version: &KongVersion, reported_version: &str) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = available(version)
        .map(|p| {
            let value = if version.major >= 3 {
                serde_json::json!({ "version": reported_version, "priority": p.priority })
            } else {
                serde_json::Value::Bool(true)
            };
            (p.name.to_string(), value)
        })
        .collect();
    serde_json::Value::Object(map)
}
