//! One PostgreSQL connection, used the way Kong's connector uses pgmoon:
//! every operation bounded by `pg_timeout`, session in UTC, `pg_schema`
//! applied with `SET SCHEMA`, errors rendered as pgmoon renders them
//! ("ERROR: relation ... does not exist", "timeout", "connection refused").

use std::future::Future;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, SimpleQueryMessage};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    /// `pg_schema`; empty means the role's default `search_path`.
    pub schema: String,
    /// `pg_timeout`: bounds the connect and every query.
    pub timeout: Duration,
}

/// A PostgreSQL failure in pgmoon's words, with the SQLSTATE when the
/// server reported one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PgError {
    pub message: String,
    pub code: Option<String>,
}

impl PgError {
    pub fn timeout() -> Self {
        Self {
            message: "timeout".into(),
            code: None,
        }
    }

    fn from_driver(e: &tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            return Self {
                message: format!("{}: {}", db.severity(), db.message()),
                code: Some(db.code().code().to_string()),
            };
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                let message = match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                    std::io::ErrorKind::TimedOut => "timeout".to_string(),
                    _ => io.to_string(),
                };
                return Self {
                    message,
                    code: None,
                };
            }
            source = s.source();
        }
        Self {
            message: e.to_string(),
            code: None,
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        self.code.as_deref() == Some("23505")
    }

    pub fn is_foreign_key_violation(&self) -> bool {
        self.code.as_deref() == Some("23503")
    }
}

pub struct Pg {
    client: tokio_postgres::Client,
    /// The schema Kong's tables live in, resolved at connect time.
    pub schema: String,
    timeout: Duration,
    connection_task: tokio::task::JoinHandle<()>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.connection_task.abort();
    }
}

impl Pg {
    pub async fn connect(settings: &PgSettings) -> Result<Self, PgError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&settings.host)
            .port(settings.port)
            .user(&settings.user)
            .dbname(&settings.database)
            .application_name("kongsim")
            .connect_timeout(settings.timeout);
        if let Some(password) = &settings.password {
            config.password(password);
        }
        let (client, connection) = bounded(settings.timeout, async {
            config
                .connect(NoTls)
                .await
                .map_err(|e| PgError::from_driver(&e))
        })
        .await?;
        let connection_task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection closed");
            }
        });
        let mut pg = Pg {
            client,
            schema: String::new(),
            timeout: settings.timeout,
            connection_task,
        };
        pg.simple("SET TIME ZONE 'UTC';").await?;
        if settings.schema.is_empty() {
            let rows = pg
                .query("SELECT COALESCE(CURRENT_SCHEMA, '')::text", &[])
                .await?;
            pg.schema = rows
                .first()
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_default();
        } else {
            pg.simple(&format!("SET SCHEMA {};", escape_literal(&settings.schema)))
                .await?;
            pg.schema = settings.schema.clone();
        }
        Ok(pg)
    }

    /// A simple-protocol query: several statements, one round trip, the
    /// way pgmoon sends Kong's migration SQL.
    pub async fn simple(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, PgError> {
        bounded(self.timeout, async {
            self.client
                .simple_query(sql)
                .await
                .map_err(|e| PgError::from_driver(&e))
        })
        .await
    }

    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, PgError> {
        bounded(self.timeout, async {
            self.client
                .query(sql, params)
                .await
                .map_err(|e| PgError::from_driver(&e))
        })
        .await
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, PgError> {
        bounded(self.timeout, async {
            self.client
                .execute(sql, params)
                .await
                .map_err(|e| PgError::from_driver(&e))
        })
        .await
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

async fn bounded<T>(
    timeout: Duration,
    fut: impl Future<Output = Result<T, PgError>>,
) -> Result<T, PgError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result,
        Err(_) => Err(PgError::timeout()),
    }
}

pub fn escape_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn escape_identifier(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Affected-row counts of each statement of a simple query, in order.
pub fn command_counts(messages: &[SimpleQueryMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect()
}
