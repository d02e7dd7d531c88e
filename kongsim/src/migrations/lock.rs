//! The cluster mutex of `kong/db/init.lua` over the `locks` table: one
//! transaction deletes expired rows and inserts ours (ON CONFLICT DO
//! NOTHING); waiting polls from 0.1 s, tripling up to 2 s steps.

use crate::pg::{command_counts, escape_literal, Pg};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const MIGRATIONS_KEY: &str = "migrations";
const FIRST_WAIT_STEP: f64 = 0.1;
const MAX_WAIT_STEP: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// We hold the lock and must run the work.
    Yes,
    /// Another node holds (or held) it: Kong prints "aborted: ..." and exits 0.
    NotLeader,
}

#[derive(Debug, Clone, Copy)]
pub struct LockOptions {
    /// `--lock-timeout`: the TTL written into the row and the longest wait.
    pub ttl_secs: f64,
    /// `bootstrap`, `finish` and `reset` give up at once.
    pub no_wait: bool,
}

/// Takes the `migrations` lock for `owner`, or reports why not, with Kong's
/// error texts ("[PostgreSQL error] timeout" after waiting `ttl_secs`).
pub async fn acquire(pg: &Pg, owner: &str, opts: LockOptions) -> Result<Acquired, String> {
    let inserted = insert_lock(pg, owner, opts.ttl_secs)
        .await
        .map_err(|e| format!("[PostgreSQL error] failed to insert cluster lock: {e}"))?;
    if inserted {
        return Ok(Acquired::Yes);
    }
    if opts.no_wait {
        return Ok(Acquired::NotLeader);
    }
    // Kong counts nominal sleep time, not wall time.
    let mut step = FIRST_WAIT_STEP;
    let mut elapsed = 0.0;
    while elapsed < opts.ttl_secs {
        tokio::time::sleep(Duration::from_secs_f64(step)).await;
        elapsed += step;
        if elapsed >= opts.ttl_secs {
            break;
        }
        let held = read_lock(pg)
            .await
            .map_err(|e| format!("[PostgreSQL error] failed to read cluster lock: {e}"))?;
        if !held {
            // Released by its holder: that node did the work, so we don't.
            return Ok(Acquired::NotLeader);
        }
        step = (step * 3.0).min(MAX_WAIT_STEP);
    }
    Err("[PostgreSQL error] timeout".to_string())
}

/// Deletes our row; failures are ignored as Kong ignores them (the TTL
/// expires it anyway).
pub async fn release(pg: &Pg, owner: &str) {
    let sql = format!(
        "DELETE\n  FROM \"locks\"\n WHERE \"key\"   = {}\n   AND \"owner\" = {};",
        escape_literal(MIGRATIONS_KEY),
        escape_literal(owner)
    );
    if let Err(e) = pg.simple(&sql).await {
        tracing::debug!(error = %e, "could not remove the migrations lock");
    }
}

async fn insert_lock(pg: &Pg, owner: &str, ttl_secs: f64) -> Result<bool, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let sql = format!(
        "BEGIN;\n  DELETE FROM locks\n        WHERE ttl < CURRENT_TIMESTAMP AT TIME ZONE 'UTC';\n  INSERT INTO locks (key, owner, ttl)\n       VALUES ({}, {}, TO_TIMESTAMP({:.3}) AT TIME ZONE 'UTC')\n  ON CONFLICT DO NOTHING;\nCOMMIT;",
        escape_literal(MIGRATIONS_KEY),
        escape_literal(owner),
        now + ttl_secs
    );
    let messages = match pg.simple(&sql).await {
        Ok(m) => m,
        Err(e) => {
            let _ = pg.simple("ROLLBACK;").await;
            return Err(e.to_string());
        }
    };
    let counts = command_counts(&messages);
    if counts.len() != 4 {
        return Err("unexpected result".to_string());
    }
    Ok(counts[2] == 1)
}

async fn read_lock(pg: &Pg) -> Result<bool, String> {
    let sql = format!(
        "SELECT *\n  FROM locks\n WHERE key = {}\n   AND ttl >= CURRENT_TIMESTAMP AT TIME ZONE 'UTC'\n LIMIT 1;",
        escape_literal(MIGRATIONS_KEY)
    );
    let messages = pg.simple(&sql).await.map_err(|e| e.to_string())?;
    Ok(messages
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))))
}
