//! How to talk to an Admin API: token, TLS, extra headers, timeout.

use std::collections::BTreeMap;
use std::time::Duration;

/// Secrets (token, client key) use the crate-wide type, which never prints
/// its value.
pub use crate::migrations::Secret;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub ca_cert_pem: Option<String>,
    pub client_cert_pem: Option<String>,
    pub client_key_pem: Option<Secret>,
    pub insecure_skip_verify: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSettings {
    /// Sent as `Kong-Admin-Token` (Kong Enterprise RBAC).
    pub token: Option<Secret>,
    pub tls: TlsSettings,
    pub headers: BTreeMap<String, String>,
    pub request_timeout: Duration,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            token: None,
            tls: TlsSettings::default(),
            headers: BTreeMap::new(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl AdminSettings {
    /// These settings with a resource's own overrides applied on top.
    pub fn overridden_by(
        &self,
        token: Option<Secret>,
        headers: &BTreeMap<String, String>,
    ) -> AdminSettings {
        let mut out = self.clone();
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            out.token = Some(t);
        }
        out.headers
            .extend(headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        let settings = AdminSettings {
            token: Some(s),
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn overrides_replace_the_token_and_merge_headers() {
        let base = AdminSettings {
            token: Some(Secret::new("a")),
            headers: BTreeMap::from([("X-A".into(), "1".into())]),
            ..Default::default()
        };
        let o = base.overridden_by(
            Some(Secret::new("b")),
            &BTreeMap::from([("X-B".into(), "2".into())]),
        );
        assert_eq!(o.token.unwrap().expose(), "b");
        assert_eq!(o.headers.len(), 2);
        let kept = base.overridden_by(None, &BTreeMap::new());
        assert_eq!(kept.token.unwrap().expose(), "a");
    }
}
