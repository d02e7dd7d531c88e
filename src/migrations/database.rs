//! How to reach a Kong datastore: the settings a user gives for
//! `database { ... }` and the one function that turns them into a live
//! PostgreSQL session, with typed errors a user can act on.

use super::error::MigrationsError;
use super::secret::Secret;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Default for [`DatabaseConfig::timeout`].
pub const DEFAULT_DATABASE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS policy towards PostgreSQL, with libpq's meanings.
///
/// `require` encrypts without checking the certificate, exactly as libpq and
/// Kong's default (`pg_ssl = on`, `pg_ssl_verify = off`) do; `verify-full`
/// also checks the chain and the host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 4] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether Kong must be told `pg_ssl = on`.
    pub fn kong_pg_ssl(self) -> bool {
        matches!(self, SslMode::Require | SslMode::VerifyFull)
    }

    /// Whether Kong must be told `pg_ssl_verify = on`.
    pub fn kong_pg_ssl_verify(self) -> bool {
        matches!(self, SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = MigrationsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SslMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                MigrationsError::InvalidConfig(format!(
                    "sslmode {s:?} is not one of disable, prefer, require, verify-full"
                ))
            })
    }
}

/// The settings of one Kong datastore (Kong's `pg_*` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub database: String,
    /// Kong's `pg_schema`; `None` means the server's `search_path`.
    pub schema: Option<String>,
    pub sslmode: SslMode,
    /// Extra CA certificates (PEM) trusted for `verify-full`, on top of the
    /// Web PKI roots.
    pub ssl_root_cert_pem: Option<String>,
    /// Bounds connecting and every statement we run.
    pub timeout: Duration,
}

impl DatabaseConfig {
    /// Settings with Kong's defaults for everything not given.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        password: Secret,
        database: impl Into<String>,
    ) -> Self {
        DatabaseConfig {
            host: host.into(),
            port,
            user: user.into(),
            password,
            database: database.into(),
            schema: None,
            sslmode: SslMode::default(),
            ssl_root_cert_pem: None,
            timeout: DEFAULT_DATABASE_TIMEOUT,
        }
    }

    /// `host:port`, as shown in every error.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Checks what can be checked without a network: used at plan time.
    pub fn validate(&self) -> Result<(), MigrationsError> {
        let invalid = |what: &str| Err(MigrationsError::InvalidConfig(what.to_owned()));
        if self.host.trim().is_empty() {
            return invalid("host must not be empty");
        }
        if self.port == 0 {
            return invalid("port must be between 1 and 65535");
        }
        if self.user.trim().is_empty() {
            return invalid("user must not be empty");
        }
        if self.database.trim().is_empty() {
            return invalid("database must not be empty");
        }
        if self.schema.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return invalid("schema must not be empty when set");
        }
        if self.timeout.is_zero() {
            return invalid("timeout must be positive");
        }
        Ok(())
    }
}

/// Opens a session on the configured database, with `search_path` set to
/// the configured schema (so unqualified names resolve as they do for Kong)
/// and `statement_timeout` set to the configured timeout.
pub async fn connect(cfg: &DatabaseConfig) -> Result<tokio_postgres::Client, MigrationsError> {
    cfg.validate()?;
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .password(cfg.password.expose())
        .dbname(&cfg.database)
        .application_name("terraform-provider-kong")
        .connect_timeout(cfg.timeout)
        .ssl_mode(match cfg.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
    let tls = MakeRustlsConnect::new(tls_config(cfg)?);
    // The socket connect has its own timeout; this one also bounds a server
    // that accepts the connection and then never answers the handshake.
    let connecting = tokio::time::timeout(cfg.timeout, pg.connect(tls)).await;
    let (client, connection) = match connecting {
        Err(_elapsed) => {
            return Err(MigrationsError::ConnectTimeout {
                address: cfg.address(),
                timeout: cfg.timeout,
            })
        }
        Ok(Err(e)) => return Err(classify_connect_error(cfg, &e)),
        Ok(Ok(pair)) => pair,
    };
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended with an error");
        }
    });
    let statement_timeout_ms = cfg.timeout.as_millis().max(1);
    let mut setup = format!("SET statement_timeout = {statement_timeout_ms};");
    if let Some(schema) = &cfg.schema {
        setup.push_str(&format!(" SET search_path TO {};", quote_ident(schema)));
    }
    client
        .batch_execute(&setup)
        .await
        .map_err(|e| classify_query_error(cfg, &e))?;
    Ok(client)
}

/// A PostgreSQL identifier, quoted.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn tls_config(cfg: &DatabaseConfig) -> Result<ClientConfig, MigrationsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| MigrationsError::InvalidConfig(format!("TLS setup: {e}")))?;
    let config = match cfg.sslmode {
        SslMode::VerifyFull => builder
            .with_root_certificates(root_store(cfg.ssl_root_cert_pem.as_deref())?)
            .with_no_client_auth(),
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptionOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

fn root_store(extra_pem: Option<&str>) -> Result<RootCertStore, MigrationsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| {
                MigrationsError::InvalidConfig(format!("ssl_root_cert is not valid PEM: {e}"))
            })?;
            roots.add(cert).map_err(|e| {
                MigrationsError::InvalidConfig(format!("ssl_root_cert is not a usable CA: {e}"))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(MigrationsError::InvalidConfig(
                "ssl_root_cert contains no PEM certificate".into(),
            ));
        }
    }
    Ok(roots)
}

/// libpq's `sslmode=require`: the session is encrypted and the handshake
/// signatures are checked, but the certificate itself is not validated.
#[derive(Debug)]
struct EncryptionOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptionOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The message of an error and of all its causes, secrets redacted.
fn error_chain(cfg: &DatabaseConfig, e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        source = cause.source();
    }
    cfg.password.redact_in(&parts.join(": "))
}

fn io_cause(e: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = cause.source();
    }
    None
}

fn classify_connect_error(cfg: &DatabaseConfig, e: &tokio_postgres::Error) -> MigrationsError {
    if let Some(db) = e.as_db_error() {
        return classify_db_error(cfg, db.code(), cfg.password.redact_in(db.message()));
    }
    let detail = error_chain(cfg, e);
    let text = e.to_string();
    // rustls reports through io::Error too; the TLS kind must win.
    if text.contains("TLS") {
        return MigrationsError::Tls {
            address: cfg.address(),
            sslmode: cfg.sslmode,
            detail,
        };
    }
    if let Some(io) = io_cause(e) {
        if io.kind() == std::io::ErrorKind::TimedOut {
            return MigrationsError::ConnectTimeout {
                address: cfg.address(),
                timeout: cfg.timeout,
            };
        }
        return MigrationsError::Unreachable {
            address: cfg.address(),
            detail,
        };
    }
    if text.contains("timeout") {
        return MigrationsError::ConnectTimeout {
            address: cfg.address(),
            timeout: cfg.timeout,
        };
    }
    if text.contains("authentication") {
        return MigrationsError::AuthenticationFailed {
            address: cfg.address(),
            user: cfg.user.clone(),
            detail,
        };
    }
    MigrationsError::Unreachable {
        address: cfg.address(),
        detail,
    }
}

pub(crate) fn classify_query_error(
    cfg: &DatabaseConfig,
    e: &tokio_postgres::Error,
) -> MigrationsError {
    match e.as_db_error() {
        Some(db) => classify_db_error(cfg, db.code(), cfg.password.redact_in(db.message())),
        None if e.is_closed() || io_cause(e).is_some() => MigrationsError::Unreachable {
            address: cfg.address(),
            detail: error_chain(cfg, e),
        },
        None => MigrationsError::Query {
            address: cfg.address(),
            detail: error_chain(cfg, e),
        },
    }
}

fn classify_db_error(cfg: &DatabaseConfig, code: &SqlState, detail: String) -> MigrationsError {
    if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        MigrationsError::AuthenticationFailed {
            address: cfg.address(),
            user: cfg.user.clone(),
            detail,
        }
    } else if *code == SqlState::INVALID_CATALOG_NAME {
        MigrationsError::DatabaseNotFound {
            address: cfg.address(),
            database: cfg.database.clone(),
        }
    } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        MigrationsError::PermissionDenied {
            address: cfg.address(),
            user: cfg.user.clone(),
            detail,
        }
    } else if *code == SqlState::QUERY_CANCELED {
        MigrationsError::StatementTimeout {
            address: cfg.address(),
            timeout: cfg.timeout,
        }
    } else if *code == SqlState::TOO_MANY_CONNECTIONS || *code == SqlState::CANNOT_CONNECT_NOW {
        MigrationsError::Unreachable {
            address: cfg.address(),
            detail,
        }
    } else {
        MigrationsError::Query {
            address: cfg.address(),
            detail: format!("{detail} (SQLSTATE {})", code.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_round_trips_through_its_name() {
        for mode in SslMode::ALL {
            assert_eq!(mode.as_str().parse::<SslMode>().unwrap(), mode);
        }
        assert!("verify-ca".parse::<SslMode>().is_err());
    }

    #[test]
    fn debug_output_never_contains_the_password() {
        let cfg = DatabaseConfig::new("db", 5432, "kong", Secret::new("s3cr3t-pw"), "kong");
        let dump = format!("{cfg:?}");
        assert!(!dump.contains("s3cr3t-pw"), "{dump}");
        assert!(dump.contains("(sensitive)"));
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let mut cfg = DatabaseConfig::new("", 5432, "kong", Secret::new("x"), "kong");
        assert!(cfg.validate().unwrap_err().to_string().contains("host"));
        cfg.host = "db".into();
        cfg.schema = Some(" ".into());
        assert!(cfg.validate().unwrap_err().to_string().contains("schema"));
    }

    #[test]
    fn identifiers_are_quoted_with_doubled_quotes() {
        assert_eq!(quote_ident("kong"), "\"kong\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn ipv6_addresses_are_bracketed() {
        let cfg = DatabaseConfig::new("::1", 5432, "kong", Secret::new("x"), "kong");
        assert_eq!(cfg.address(), "[::1]:5432");
    }
}
