//! HTTP to one Kong Admin API.

use super::settings::AdminSettings;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

#[derive(Debug, thiserror::Error)]
pub enum KongError {
    #[error("{url:?} is not a valid Admin API URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid Admin API settings: {0}")]
    Settings(String),
    #[error("cannot reach the Kong Admin API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("TLS handshake with {url} failed: {reason}")]
    Tls { url: String, reason: String },
    #[error("the request to {url} timed out after {seconds}s (request_timeout)")]
    Timeout { url: String, seconds: u64 },
    #[error("Kong refused the request to {url} with {status}: {message}. Check admin_token (or KONG_ADMIN_TOKEN) and the RBAC permissions of that token.")]
    Unauthorized {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} answered {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} did not answer with JSON (status {status}, body starts with {snippet:?}); is this a Kong Admin API?")]
    NotJson {
        url: String,
        status: u16,
        snippet: String,
    },
    #[error("{url} does not look like a Kong Admin API: {reason}")]
    NotKong { url: String, reason: String },
    #[error("{url} answered with more than {limit_mib} MiB; the provider reads no larger answer")]
    TooLarge { url: String, limit_mib: usize },
    #[error("reading {url} page by page failed: {reason}")]
    Pagination { url: String, reason: String },
    #[error("reading {url} took longer than {seconds}s in all ({pages} pages read); is the Admin API overloaded?")]
    WalkTimeout {
        url: String,
        seconds: u64,
        pages: usize,
    },
}

impl KongError {
    /// What went wrong, in a few words: the summary of every diagnostic an
    /// Admin API failure becomes (`admin_api::error_diagnostic`), whichever
    /// resource or data source met it.
    pub fn summary(&self) -> &'static str {
        match self {
            KongError::InvalidUrl { .. } => "Invalid Admin API URL",
            KongError::Settings(_) => "Invalid Admin API settings",
            KongError::Unreachable { .. } | KongError::Timeout { .. } => {
                "Kong Admin API unreachable"
            }
            KongError::Tls { .. } => "TLS failure talking to the Kong Admin API",
            KongError::Unauthorized { .. } => "Kong Admin API refused the credentials",
            KongError::NotJson { .. } | KongError::NotKong { .. } => "Not a Kong Admin API",
            KongError::Http { .. } => "Kong Admin API error",
            KongError::TooLarge { .. } => "Kong Admin API answer too large",
            KongError::Pagination { .. } | KongError::WalkTimeout { .. } => {
                "Cannot read a Kong collection"
            }
        }
    }
}

/// The largest answer body the provider reads. A page of 1,000 large
/// entities stays below it; a page above it is asked again smaller.
pub const MAX_BODY_BYTES: usize = 8 << 20;

#[derive(Clone, Debug)]
pub struct KongClient {
    base: Url,
    http: reqwest::Client,
    timeout_seconds: u64,
    pub(super) walk_timeout: std::time::Duration,
}

impl KongClient {
    pub fn new(admin_url: &str, settings: &AdminSettings) -> Result<KongClient, KongError> {
        let base = parse_base_url(admin_url)?;
        let http = build_http_client(settings)?;
        Ok(KongClient {
            base,
            http,
            timeout_seconds: settings.request_timeout.as_secs(),
            walk_timeout: super::pages::DEFAULT_WALK_TIMEOUT,
        })
    }

    /// Bounds a whole walk over a collection (every page together).
    pub fn with_walk_timeout(mut self, timeout: std::time::Duration) -> KongClient {
        self.walk_timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub(super) fn url(&self, path: &str) -> Result<Url, KongError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| KongError::InvalidUrl {
                url: format!("{}{path}", self.base),
                reason: e.to_string(),
            })
    }

    /// GET a path and decode its JSON body. Non-2xx answers become typed
    /// errors carrying Kong's `message`.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, KongError> {
        self.send_json(reqwest::Method::GET, path, None).await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, KongError> {
        let url = self.url(path)?;
        tracing::debug!(method = %method, url = %url, "Admin API request");
        let mut req = self.http.request(method, url.clone());
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&url, &e))?;
        let status = resp.status();
        let text = self.read_capped(&url, resp).await?;
        decode_response(&url, status, &text)
    }

    /// GET a URL and decode its JSON body, with Kong's clock from `Date`.
    pub(super) async fn get_json_dated(
        &self,
        url: Url,
    ) -> Result<(serde_json::Value, Option<i64>), KongError> {
        tracing::debug!(url = %url, "Admin API request");
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.transport_error(&url, &e))?;
        let status = resp.status();
        let date = response_date(&resp);
        let text = self.read_capped(&url, resp).await?;
        Ok((decode_response(&url, status, &text)?, date))
    }

    /// The body as text, refused past [`MAX_BODY_BYTES`] before more of it
    /// is held.
    async fn read_capped(&self, url: &Url, resp: reqwest::Response) -> Result<String, KongError> {
        let body = read_body_capped(resp, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => KongError::TooLarge {
                    url: url.to_string(),
                    limit_mib: MAX_BODY_BYTES >> 20,
                },
                BodyError::Transport(e) => self.transport_error(url, &e),
            })?;
        // Kong answers UTF-8; only a body that is not is copied.
        Ok(String::from_utf8(body)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// Kong's own clock, in Unix seconds: the `Date` header of `GET /`
    /// (`None` when a proxy in front strips it or it does not parse).
    /// The Admin API stamps `updated_at` from the same clock.
    pub async fn server_time(&self) -> Result<Option<i64>, KongError> {
        let url = self.url("/")?;
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.transport_error(&url, &e))?;
        Ok(response_date(&resp))
    }

    fn transport_error(&self, url: &Url, e: &reqwest::Error) -> KongError {
        let reason = error_chain(e);
        if e.is_timeout() {
            KongError::Timeout {
                url: url.to_string(),
                seconds: self.timeout_seconds,
            }
        } else if is_tls_failure(e) || looks_like_tls_failure(&reason) {
            KongError::Tls {
                url: url.to_string(),
                reason,
            }
        } else {
            KongError::Unreachable {
                url: url.to_string(),
                reason: root_cause(e),
            }
        }
    }
}

fn parse_base_url(admin_url: &str) -> Result<Url, KongError> {
    let invalid = |reason: String| KongError::InvalidUrl {
        url: tfplug::url_for_messages(admin_url),
        reason,
    };
    tfplug::http_url(admin_url).map_err(invalid)?;
    let mut url = Url::parse(admin_url).map_err(|e| invalid(e.to_string()))?;
    // A base without a trailing slash would drop its last path segment on join.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A PEM CA certificate to trust, checked now: reqwest accepts any bytes
/// here and would only fail at the handshake. The error completes a
/// sentence that starts with the attribute's name.
pub(crate) fn parse_ca_pem(pem: &str) -> Result<reqwest::Certificate, String> {
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err("is not a PEM certificate (no BEGIN CERTIFICATE line)".into());
    }
    reqwest::Certificate::from_pem(pem.as_bytes())
        .map_err(|e| format!("is not a PEM certificate: {e}"))
}

fn build_http_client(settings: &AdminSettings) -> Result<reqwest::Client, KongError> {
    let mut headers = HeaderMap::new();
    for (k, v) in &settings.headers {
        let name = HeaderName::try_from(k.as_str())
            .map_err(|_| KongError::Settings(format!("invalid header name {k:?}")))?;
        let value = HeaderValue::try_from(v.as_str())
            .map_err(|_| KongError::Settings(format!("invalid value for header {k:?}")))?;
        headers.insert(name, value);
    }
    if let Some(token) = settings.token.as_ref().filter(|t| !t.is_empty()) {
        let mut value = HeaderValue::try_from(token.expose()).map_err(|_| {
            KongError::Settings("admin_token contains characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        headers.insert(HeaderName::from_static("kong-admin-token"), value);
    }
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .default_headers(headers)
        .timeout(settings.request_timeout)
        .connect_timeout(
            settings
                .request_timeout
                .min(std::time::Duration::from_secs(10)),
        )
        .tcp_nodelay(true)
        .user_agent(concat!(
            "terraform-provider-kong/",
            env!("CARGO_PKG_VERSION")
        ))
        .danger_accept_invalid_certs(settings.tls.insecure_skip_verify);
    if let Some(ca) = settings
        .tls
        .ca_cert_pem
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let cert = parse_ca_pem(ca)
            .map_err(|why| KongError::Settings(format!("tls.ca_cert_pem {why}")))?;
        builder = builder.add_root_certificate(cert);
    }
    match (&settings.tls.client_cert_pem, &settings.tls.client_key_pem) {
        (Some(cert), Some(key)) if !cert.is_empty() && !key.is_empty() => {
            let pem = format!("{cert}\n{}", key.expose());
            let identity = reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|_| KongError::Settings("tls.client_cert_pem / tls.client_key_pem are not a valid PEM certificate and key".into()))?;
            builder = builder.identity(identity);
        }
        (Some(c), None) if !c.is_empty() => {
            return Err(KongError::Settings(
                "tls.client_cert_pem is set but tls.client_key_pem is not".into(),
            ))
        }
        (None, Some(k)) if !k.is_empty() => {
            return Err(KongError::Settings(
                "tls.client_key_pem is set but tls.client_cert_pem is not".into(),
            ))
        }
        _ => {}
    }
    builder
        .build()
        .map_err(|e| KongError::Settings(error_chain(&e)))
}

fn decode_response(
    url: &Url,
    status: StatusCode,
    text: &str,
) -> Result<serde_json::Value, KongError> {
    let json: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let message = json
        .as_ref()
        .and_then(|j| j.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| snippet(text));
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            return Err(KongError::Unauthorized {
                url: url.to_string(),
                status: status.as_u16(),
                message,
            })
        }
        s if !s.is_success() => {
            return Err(KongError::Http {
                url: url.to_string(),
                status: s.as_u16(),
                message,
            })
        }
        _ => {}
    }
    json.ok_or_else(|| KongError::NotJson {
        url: url.to_string(),
        status: status.as_u16(),
        snippet: snippet(text),
    })
}

fn snippet(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The error and its causes, joined: reqwest's top-level message alone
/// ("error sending request") hides the useful part.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The innermost cause ("Connection refused (os error 111)"): for an
/// unreachable host the wrappers around it only repeat the URL.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// True when a rustls error sits anywhere in the cause chain (directly or
/// inside an `io::Error`), e.g. an `https://` URL pointing at a plain-HTTP port.
fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

fn looks_like_tls_failure(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "invalid peer",
        // rustls' message when the other end does not speak TLS at all.
        "corrupt message",
        "received fatal alert",
    ]
    .iter()
    .any(|k| r.contains(k))
}

/// Why a body was not read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Longer than the limit (declared, or seen while reading).
    TooLarge,
    Transport(reqwest::Error),
}

/// A response body, refused past `limit` bytes before more of it is held
/// (a declared length past it is refused at once). The one capped read of
/// an HTTP answer: the Admin API client and `observe` use it.
pub(crate) async fn read_body_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_keep_their_path_prefix() {
        let c = KongClient::new("http://127.0.0.1:8001/admin", &AdminSettings::default()).unwrap();
        assert_eq!(
            c.url("/status").unwrap().as_str(),
            "http://127.0.0.1:8001/admin/status"
        );
        assert!(matches!(
            KongClient::new("ftp://x", &AdminSettings::default()),
            Err(KongError::InvalidUrl { .. })
        ));
        assert!(matches!(
            KongClient::new("not a url", &AdminSettings::default()),
            Err(KongError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn responses_map_to_typed_errors() {
        let url = Url::parse("http://k/").unwrap();
        let unauthorized = decode_response(
            &url,
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Invalid credentials"}"#,
        );
        assert!(
            matches!(unauthorized, Err(KongError::Unauthorized { ref message, .. }) if message == "Invalid credentials")
        );
        assert!(matches!(
            decode_response(&url, StatusCode::OK, "<html>"),
            Err(KongError::NotJson { .. })
        ));
        assert!(matches!(
            decode_response(&url, StatusCode::NOT_FOUND, "{}"),
            Err(KongError::Http { status: 404, .. })
        ));
        assert_eq!(
            decode_response(&url, StatusCode::OK, r#"{"a":1}"#).unwrap()["a"],
            1
        );
    }

    #[test]
    fn bad_tls_material_is_a_settings_error() {
        let mut s = AdminSettings::default();
        s.tls.ca_cert_pem = Some("not pem".into());
        assert!(matches!(
            KongClient::new("https://k", &s),
            Err(KongError::Settings(_))
        ));
        let mut s = AdminSettings::default();
        s.tls.client_cert_pem = Some("x".into());
        assert!(matches!(
            KongClient::new("https://k", &s),
            Err(KongError::Settings(_))
        ));
    }
}

/// The answer's `Date` in Unix seconds (`None` when a proxy in front
/// strips it or it does not parse).
fn response_date(resp: &reqwest::Response) -> Option<i64> {
    resp.headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(parse_http_date)
}

/// An HTTP `Date` (`Wed, 25 Nov 2026 03:05:00 GMT`) in Unix seconds.
fn parse_http_date(text: &str) -> Option<i64> {
    let rfc2822 = text.trim().replace(" GMT", " +0000");
    time::OffsetDateTime::parse(&rfc2822, &time::format_description::well_known::Rfc2822)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod http_date_tests {
    #[test]
    fn parses_the_date_header() {
        assert_eq!(
            super::parse_http_date("Wed, 25 Nov 2026 03:05:00 GMT"),
            Some(1_795_575_900)
        );
        assert_eq!(super::parse_http_date("yesterday"), None);
    }
}
