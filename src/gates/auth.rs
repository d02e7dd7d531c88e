//! How a `prometheus` or `http` gate authenticates and which TLS it
//! trusts: extra headers, a bearer token, HTTP basic auth, a CA bundle,
//! or no verification at all. Every credential is a [`Secret`]: sent as a
//! sensitive header value, never logged, never in a measurement.

use super::GateConfigError;
use crate::migrations::Secret;
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GateAuth {
    /// Sent with every request (`X-Scope-OrgID`, an API key...).
    pub headers: BTreeMap<String, Secret>,
    /// `Authorization: Bearer <token>`.
    pub bearer_token: Option<Secret>,
    /// The token came from the write-only `bearer_token_wo`: diagnostics
    /// name that attribute.
    pub bearer_token_write_only: bool,
    /// `Authorization: Basic ...`.
    pub basic_auth: Option<BasicAuth>,
    /// PEM certificates trusted on top of the Web PKI roots.
    pub ca_cert_pem: Option<String>,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

impl GateAuth {
    /// Checks headers, the exclusivity of the `Authorization` sources and
    /// the CA bundle, without any I/O. `kind` is the gate's block name.
    pub fn validate(&self, kind: &str) -> Result<(), GateConfigError> {
        let fail = |attribute: String, message: String| {
            Err(GateConfigError {
                attribute,
                gate_index: None,
                message,
            })
        };
        let mut authorization_sources = Vec::new();
        for (name, value) in &self.headers {
            if HeaderName::try_from(name.as_str()).is_err() {
                return fail(
                    format!("{kind}.headers"),
                    format!("{name:?} is not a valid HTTP header name"),
                );
            }
            if HeaderValue::try_from(value.expose()).is_err() {
                return fail(
                    format!("{kind}.headers"),
                    format!("the value of header {name:?} contains characters not allowed in a header (line breaks, control characters)"),
                );
            }
            if name.eq_ignore_ascii_case("authorization") {
                authorization_sources.push(("headers", "headers[\"Authorization\"]"));
            }
        }
        if let Some(token) = &self.bearer_token {
            let attribute = self.bearer_attribute();
            if token.is_empty() || HeaderValue::try_from(token.expose()).is_err() {
                return fail(
                    format!("{kind}.{attribute}"),
                    "must be a non-empty token without line breaks or control characters".into(),
                );
            }
            authorization_sources.push((attribute, attribute));
        }
        if let Some(basic) = &self.basic_auth {
            if basic.username.contains(':') {
                return fail(
                    format!("{kind}.basic_auth.username"),
                    "must not contain ':' (HTTP basic auth separates user and password with it)"
                        .into(),
                );
            }
            authorization_sources.push(("basic_auth", "basic_auth"));
        }
        if let [(_, first), (attribute, second), ..] = authorization_sources[..] {
            return fail(
                format!("{kind}.{attribute}"),
                format!("{first} and {second} both set the Authorization header; keep one"),
            );
        }
        if let Some(ca) = &self.ca_cert_pem {
            if let Err(why) = crate::kong::parse_ca_pem(ca) {
                return fail(format!("{kind}.ca_cert_pem"), why);
            }
            if self.insecure_skip_verify {
                return fail(
                    format!("{kind}.insecure_skip_verify"),
                    "conflicts with ca_cert_pem: either verify against that CA or skip verification"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// The attribute the bearer token was set with.
    fn bearer_attribute(&self) -> &'static str {
        if self.bearer_token_write_only {
            "bearer_token_wo"
        } else {
            "bearer_token"
        }
    }

    /// The client to measure with: the shared one, or one of its own when
    /// the gate trusts another CA or skips verification.
    pub fn client<'a>(
        &self,
        shared: &'a reqwest::Client,
    ) -> Result<Cow<'a, reqwest::Client>, String> {
        if self.ca_cert_pem.is_none() && !self.insecure_skip_verify {
            return Ok(Cow::Borrowed(shared));
        }
        let mut builder =
            base_client_builder().danger_accept_invalid_certs(self.insecure_skip_verify);
        if let Some(ca) = &self.ca_cert_pem {
            builder = builder.add_root_certificate(crate::kong::parse_ca_pem(ca)?);
        }
        builder
            .build()
            .map(Cow::Owned)
            .map_err(|e| format!("cannot build the gate's HTTP client: {e}"))
    }

    /// The request's credentials, every value marked sensitive.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut insert = |name: HeaderName, value: &str| {
            if let Ok(mut value) = HeaderValue::try_from(value) {
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        };
        for (name, value) in &self.headers {
            if let Ok(name) = HeaderName::try_from(name.as_str()) {
                insert(name, value.expose());
            }
        }
        if let Some(token) = &self.bearer_token {
            insert(AUTHORIZATION, &format!("Bearer {}", token.expose()));
        }
        if let Some(basic) = &self.basic_auth {
            let pair = format!("{}:{}", basic.username, basic.password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            insert(AUTHORIZATION, &format!("Basic {encoded}"));
        }
        headers
    }

    /// Removes every credential from text we did not write (a response
    /// body an endpoint may echo).
    pub fn redact(&self, text: &str) -> String {
        self.headers
            .values()
            .chain(&self.bearer_token)
            .chain(self.basic_auth.as_ref().map(|b| &b.password))
            .filter(|s| !s.is_empty())
            .fold(text.to_owned(), |text, secret| secret.redact_in(&text))
    }
}

/// The client settings every gate shares: rustls, no proxy from the
/// environment (gates talk to loopback and in-cluster endpoints).
pub(super) fn base_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_rustls_tls().no_proxy()
}
