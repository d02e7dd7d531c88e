//! The provider's own upgrade lock: one upgrade at a time per database,
//! separate from Kong's migration lock. A PostgreSQL session-level advisory
//! lock held for the whole apply: it cannot outlive a crashed provider, and
//! its holder is visible in `pg_stat_activity` by application name.

use crate::migrations::{DatabaseConfig, MigrationsError};

/// Advisory lock key: a fixed 64-bit number ("kongupgr" in ASCII).
pub const LOCK_KEY: i64 = 0x6b6f_6e67_7570_6772;

#[derive(Debug, thiserror::Error)]
pub enum UpgradeLockError {
    #[error(transparent)]
    Database(#[from] MigrationsError),
    #[error("another upgrade holds the upgrade lock on {database}: {holder}. Only one upgrade may run against a database at a time; wait for it to finish")]
    Held { database: String, holder: String },
    #[error("cannot take the upgrade lock on {database}: {detail}")]
    Query { database: String, detail: String },
}

/// Held until dropped (the session closes and PostgreSQL releases it).
pub struct UpgradeLock {
    _client: tokio_postgres::Client,
}

/// Takes the lock without waiting; `owner` names this upgrade for others.
pub async fn acquire(db: &DatabaseConfig, owner: &str) -> Result<UpgradeLock, UpgradeLockError> {
    let query_err = |e: tokio_postgres::Error| UpgradeLockError::Query {
        database: db.address(),
        detail: e.to_string(),
    };
    let client = crate::migrations::database::connect(db).await?;
    let app = application_name(owner);
    client
        .execute("SELECT set_config('application_name', $1, false)", &[&app])
        .await
        .map_err(query_err)?;
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(query_err)?
        .get(0);
    if got {
        return Ok(UpgradeLock { _client: client });
    }
    let holder = describe_holder(&client)
        .await
        .unwrap_or_else(|| "unknown session".into());
    Err(UpgradeLockError::Held {
        database: db.address(),
        holder,
    })
}

/// What a loser sees of the holder in `pg_stat_activity`: this process
/// and machine first, since PostgreSQL keeps only 63 bytes.
fn application_name(owner: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown host".into());
    let mut name = format!(
        "terraform-provider-kong pid {}@{host} {owner}",
        std::process::id()
    );
    if name.len() > 63 {
        let cut = (0..=63)
            .rev()
            .find(|i| name.is_char_boundary(*i))
            .unwrap_or(0);
        name.truncate(cut);
    }
    name
}

async fn describe_holder(client: &tokio_postgres::Client) -> Option<String> {
    let row = client
        .query_opt(
            "SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), a.pid, \
                    coalesce(to_char(a.backend_start, 'YYYY-MM-DD\"T\"HH24:MI:SSOF'), '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted \
               AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 LIMIT 1",
            &[&LOCK_KEY],
        )
        .await
        .ok()??;
    let (app, addr, pid, since): (String, String, i32, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    Some(format!(
        "\"{app}\" (pid {pid} from {addr}, connected since {since})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL keeps 63 bytes of `application_name`: who and where come
    /// first, so a loser can always name the holder's process and host.
    #[test]
    fn the_application_name_fits_and_names_this_process_first() {
        let name = application_name(&"x".repeat(200));
        assert!(name.len() <= 63, "{name}");
        assert!(
            name.starts_with(&format!(
                "terraform-provider-kong pid {}@",
                std::process::id()
            )),
            "{name}"
        );
        assert!(application_name("up").ends_with(" up"));
    }
}
