//! Errors of the PostgreSQL edge: each says what went wrong in terms a
//! user can act on, names the server, and never contains the password.

use super::database::SslMode;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MigrationsError {
    #[error("invalid database settings: {0}")]
    InvalidConfig(String),

    #[error("cannot reach PostgreSQL at {address}: {detail}")]
    Unreachable { address: String, detail: String },

    #[error("PostgreSQL at {address} did not answer within {}s (check host, port and firewalls, or raise the timeout)", timeout.as_secs_f64())]
    ConnectTimeout { address: String, timeout: Duration },

    #[error("PostgreSQL at {address} rejected the login of role \"{user}\": {detail} (check user and password)")]
    AuthenticationFailed {
        address: String,
        user: String,
        detail: String,
    },

    #[error("database \"{database}\" does not exist on PostgreSQL at {address}")]
    DatabaseNotFound { address: String, database: String },

    #[error("role \"{user}\" may not read Kong's migration tables on {address}: {detail}")]
    PermissionDenied {
        address: String,
        user: String,
        detail: String,
    },

    #[error("TLS to PostgreSQL at {address} failed (sslmode {sslmode}): {detail}")]
    Tls {
        address: String,
        sslmode: SslMode,
        detail: String,
    },

    #[error("a statement on PostgreSQL at {address} ran longer than {}s", timeout.as_secs_f64())]
    StatementTimeout { address: String, timeout: Duration },

    #[error("reading Kong's migration state on {address} failed: {detail}")]
    Query { address: String, detail: String },
}
