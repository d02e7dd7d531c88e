//! Admin API settings as Terraform sees them: the provider-level defaults
//! (with environment fallbacks) and the per-resource overrides.

use crate::kong::{AdminSettings, KongError, Secret, TlsSettings};
use std::collections::BTreeMap;
use std::time::Duration;
use tfplug::{AttrPath, Attribute, Block, Check, Diagnostic, NestedBlock, PemKind, Type, Value};

pub const ENV_TOKEN: &str = "KONG_ADMIN_TOKEN";
pub const ENV_HEADERS: &str = "KONG_ADMIN_HEADERS";
pub const ENV_TIMEOUT: &str = "KONG_ADMIN_REQUEST_TIMEOUT";
pub const ENV_CA_CERT: &str = "KONG_ADMIN_CA_CERT_PEM";
pub const ENV_CLIENT_CERT: &str = "KONG_ADMIN_CLIENT_CERT_PEM";
pub const ENV_CLIENT_KEY: &str = "KONG_ADMIN_CLIENT_KEY_PEM";
pub const ENV_INSECURE: &str = "KONG_ADMIN_INSECURE_SKIP_VERIFY";

/// The provider block's Admin API attributes.
pub fn provider_block() -> Block {
    Block::new()
        .describe(
            "The Kong provider runs Kong Gateway upgrades as Terraform resources. The settings here are the \
             defaults every resource and data source uses to talk to a Kong Admin API, unless it overrides them. \
             Each setting falls back to an environment variable.",
        )
        .attr(token_attribute().describe(&format!(
            "RBAC token sent as the `Kong-Admin-Token` header (Kong Enterprise). Environment: `{ENV_TOKEN}`. Default: none (no header)."
        )))
        .attr(headers_attribute().describe(&format!(
            "Extra HTTP headers sent with every Admin API request. Environment: `{ENV_HEADERS}` as a JSON object. Default: none."
        )))
        .attr(Attribute::string("request_timeout").optional().check(Check::Duration).describe(&format!(
            "Time limit of one Admin API request, as a Go duration. Default `30s`. Environment: `{ENV_TIMEOUT}`."
        )))
        .block(NestedBlock::single(
            "tls",
            Block::new()
                .describe("TLS settings for `https://` Admin API URLs.")
                .attr(Attribute::string("ca_cert_pem").optional().check(Check::Pem(PemKind::Certificate)).describe(&format!(
                    "PEM CA certificate that signs the Admin API's certificate. Environment: `{ENV_CA_CERT}`. Default: the Web PKI roots."
                )))
                .attr(Attribute::string("client_cert_pem").optional().check(Check::Pem(PemKind::Certificate)).describe(&format!(
                    "PEM client certificate for mutual TLS. Environment: `{ENV_CLIENT_CERT}`. Default: none (no client certificate)."
                )))
                .attr(Attribute::string("client_key_pem").optional().sensitive().check(Check::Pem(PemKind::PrivateKey)).describe(&format!(
                    "PEM private key of `client_cert_pem`. Environment: `{ENV_CLIENT_KEY}`. Default: none."
                )))
                .attr(Attribute::bool("insecure_skip_verify").optional().describe(&format!(
                    "Skip verification of the Admin API's certificate. For tests only. Environment: `{ENV_INSECURE}`. Default `false`."
                ))),
        ))
}

fn token_attribute() -> Attribute {
    Attribute::string("admin_token").optional().sensitive()
}

fn headers_attribute() -> Attribute {
    Attribute::map_of("headers", Type::String)
        .optional()
        .check(Check::HttpHeaders)
        .sensitive()
}

/// `admin_token` and `headers` on a resource, overriding the provider's.
pub fn override_attributes() -> Vec<Attribute> {
    vec![
        token_attribute().describe("Overrides the provider's `admin_token` for this Admin API. Default: the provider's."),
        headers_attribute()
            .describe("Extra headers for this Admin API, merged over the provider's `headers`. Default: none beyond the provider's."),
    ]
}

/// Reads the provider block, falling back to the environment.
pub fn settings_from_provider_config(config: &Value) -> Result<AdminSettings, Diagnostic> {
    let tls = config.attr("tls");
    let request_timeout = match string_or_env(config.attr("request_timeout"), ENV_TIMEOUT) {
        None => Duration::from_secs(30),
        Some(text) => tfplug::timeouts::parse_duration(&text).map_err(|e| {
            Diagnostic::error("Invalid request_timeout", e).at(AttrPath::root("request_timeout"))
        })?,
    };
    let headers = match config.attr("headers") {
        v if !v.is_null() => string_map(v),
        _ => headers_from_env()?,
    };
    Ok(AdminSettings {
        token: string_or_env(config.attr("admin_token"), ENV_TOKEN).map(Secret::new),
        tls: TlsSettings {
            ca_cert_pem: string_or_env(tls.attr("ca_cert_pem"), ENV_CA_CERT),
            client_cert_pem: string_or_env(tls.attr("client_cert_pem"), ENV_CLIENT_CERT),
            client_key_pem: string_or_env(tls.attr("client_key_pem"), ENV_CLIENT_KEY)
                .map(Secret::new),
            insecure_skip_verify: tls
                .attr("insecure_skip_verify")
                .as_bool()
                .or_else(|| {
                    std::env::var(ENV_INSECURE)
                        .ok()
                        .map(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "yes"))
                })
                .unwrap_or(false),
        },
        headers,
        request_timeout,
    })
}

/// The provider's settings with a resource's `admin_token`/`headers` applied.
pub fn with_overrides(base: &AdminSettings, v: &Value) -> AdminSettings {
    let token = v.attr("admin_token").as_str().map(Secret::new);
    base.overridden_by(token, &string_map(v.attr("headers")))
}

fn string_or_env(v: &Value, env: &str) -> Option<String> {
    v.as_str()
        .map(str::to_string)
        .or_else(|| std::env::var(env).ok())
        .filter(|s| !s.is_empty())
}

fn headers_from_env() -> Result<BTreeMap<String, String>, Diagnostic> {
    let Ok(raw) = std::env::var(ENV_HEADERS) else {
        return Ok(BTreeMap::new());
    };
    if raw.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    serde_json::from_str(&raw).map_err(|e| {
        Diagnostic::error(
            "Invalid KONG_ADMIN_HEADERS",
            format!(
                "{ENV_HEADERS} must be a JSON object of strings, e.g. {{\"X-Team\":\"edge\"}}: {e}"
            ),
        )
        .at(AttrPath::root("headers"))
    })
}

/// A map(string) value as a BTreeMap; nulls and non-strings are skipped.
pub fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.entries()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// An Admin API failure as a diagnostic on `at` (the `admin_url` of the
/// block that named the node): the one mapping every resource, data source
/// and upgrade step uses.
pub fn error_diagnostic(at: AttrPath, e: &KongError) -> Diagnostic {
    Diagnostic::error(e.summary(), e.to_string()).at(at)
}
