//! What the freeze reads: every Admin API collection a configuration write
//! can land in, walked page by page into small per-entity digests.
//!
//! Besides the core entities: consumer credentials and ACLs (the bundled
//! plugins' `daos.lua` name them `key-auths`, `basic-auths`, `jwts`,
//! `hmac-auths`, `oauth2`, `acls`), `filter-chains` (3.4+, answered only
//! when wasm is on), Kong Enterprise's `consumer_groups`, and on Kong
//! Enterprise every workspace's collections under `/{workspace}/`.
//! A collection a node does not have (404, or wasm off) is recorded as
//! absent, so every version and edition works.

use super::{entity_entry, updated_at, Collections};
use crate::kong::{KongClient, KongError, WalkSummary};
use std::collections::BTreeMap;

/// One Admin API collection the freeze reads.
#[derive(Clone, Copy, Debug)]
pub struct Collection {
    /// Path below the Admin API root (and below `/{workspace}/`).
    pub path: &'static str,
    /// Collections its entities must reference (any one of them): when all
    /// of these are empty it cannot hold an entity and is not asked.
    pub needs: &'static [&'static str],
}

const fn top(path: &'static str) -> Collection {
    Collection { path, needs: &[] }
}

const fn of(path: &'static str, needs: &'static [&'static str]) -> Collection {
    Collection { path, needs }
}

/// Every collection, referenced ones before those referencing them.
/// Credentials and ACLs require a consumer (`consumer` is `required` in
/// each plugin's `daos.lua`, e.g.
/// <https://github.com/Kong/kong/blob/3.6.1/kong/plugins/key-auth/daos.lua>),
/// SNIs a certificate (`kong/db/schema/entities/snis.lua`), and a filter
/// chain a route or a service (`at_least_one_of` in
/// <https://github.com/Kong/kong/blob/3.4.0/kong/db/schema/entities/filter_chains.lua>).
pub const COLLECTIONS: &[Collection] = &[
    top("services"),
    top("routes"),
    top("consumers"),
    top("plugins"),
    top("upstreams"),
    top("certificates"),
    top("ca_certificates"),
    of("snis", &["certificates"]),
    top("vaults"),
    top("key_sets"),
    top("keys"),
    of("filter-chains", &["routes", "services"]),
    top("consumer_groups"),
    of("key-auths", &["consumers"]),
    of("basic-auths", &["consumers"]),
    of("jwts", &["consumers"]),
    of("hmac-auths", &["consumers"]),
    of("oauth2", &["consumers"]),
    of("acls", &["consumers"]),
];

/// Kong's answer on `/filter-chains` when wasm is off
/// (<https://github.com/Kong/kong/blob/3.4.0/kong/api/routes/filter_chains.lua>).
const WASM_OFF: &str = "only available when wasm is enabled";

/// The workspace Kong serves without a prefix.
const DEFAULT_WORKSPACE: &str = "default";

/// Admin API requests made, for the benchmark's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub requests: usize,
    pub entities: usize,
}

/// Everything read, the newest `updated_at` seen and Kong's clock at the end.
pub struct Reading {
    pub collections: Collections,
    pub newest_write: Option<i64>,
    pub server_time: Option<i64>,
    pub stats: ReadStats,
}

/// Reads the workspaces, then every collection of each.
pub async fn read_all(client: &KongClient) -> Result<Reading, KongError> {
    let mut reading = Reading {
        collections: BTreeMap::new(),
        newest_write: None,
        server_time: None,
        stats: ReadStats::default(),
    };
    let workspaces = read_workspaces(client, &mut reading).await?;
    for workspace in &workspaces {
        read_workspace(client, workspace.as_deref(), &mut reading).await?;
    }
    Ok(reading)
}

/// `/workspaces` (which Kong also serves without Enterprise, listing only
/// `default`): fingerprinted itself, so a workspace created during the
/// freeze is a write. `None` stands for the unprefixed default workspace.
async fn read_workspaces(
    client: &KongClient,
    reading: &mut Reading,
) -> Result<Vec<Option<String>>, KongError> {
    let mut names = Vec::new();
    let found = read_collection(client, "workspaces", "workspaces", reading, |ws| {
        if let Some(name) = ws.get("name").and_then(|n| n.as_str()) {
            if name != DEFAULT_WORKSPACE {
                names.push(Some(name.to_string()));
            }
        }
    })
    .await?;
    if !found {
        reading.collections.insert("workspaces".into(), None);
    }
    names.insert(0, None);
    Ok(names)
}

/// Every collection of one workspace. Keys are `services` in the default
/// workspace and `NAME/services` in workspace NAME.
async fn read_workspace(
    client: &KongClient,
    workspace: Option<&str>,
    reading: &mut Reading,
) -> Result<(), KongError> {
    let key = |path: &str| match workspace {
        Some(ws) => format!("{ws}/{path}"),
        None => path.to_string(),
    };
    for collection in COLLECTIONS {
        if cannot_hold_entities(collection, &reading.collections, &key) {
            reading
                .collections
                .insert(key(collection.path), Some(BTreeMap::new()));
            continue;
        }
        let name = key(collection.path);
        let path = format!("/{name}");
        let mut upstreams = Vec::new();
        let found = read_collection(client, &name, &path, reading, |item| {
            if collection.path == "upstreams" {
                if let Some(id) = item.get("id").and_then(|i| i.as_str()) {
                    upstreams.push(id.to_string());
                }
            }
        })
        .await?;
        if !found {
            reading.collections.insert(name, None);
            continue;
        }
        // Targets hang off upstreams and are not a top-level collection.
        for upstream in upstreams {
            read_targets(client, &name, &path, &upstream, reading).await?;
        }
    }
    Ok(())
}

/// True when every collection this one must reference was read empty.
fn cannot_hold_entities(
    collection: &Collection,
    read: &Collections,
    key: &dyn Fn(&str) -> String,
) -> bool {
    !collection.needs.is_empty()
        && collection.needs.iter().all(|need| {
            read.get(&key(need))
                .is_none_or(|c| c.as_ref().is_none_or(BTreeMap::is_empty))
        })
}

async fn read_targets(
    client: &KongClient,
    name: &str,
    upstreams_path: &str,
    upstream: &str,
    reading: &mut Reading,
) -> Result<(), KongError> {
    let path = format!("{upstreams_path}/{upstream}/targets");
    let mut entries = Vec::new();
    let mut newest = reading.newest_write;
    let summary = client
        .walk(&path, |page| {
            for item in &page {
                newest = newest.max(updated_at(item));
                let (id, entry) = entity_entry(item);
                entries.push((format!("{upstream}/targets/{id}"), entry));
            }
            Ok(())
        })
        .await?;
    reading.newest_write = newest;
    note(reading, &summary);
    if let Some(Some(hashes)) = reading.collections.get_mut(name) {
        hashes.extend(entries);
    }
    Ok(())
}

/// Walks one collection into `reading.collections[name]`, showing each
/// entity to `visit`. `false` when the node has no such collection.
async fn read_collection(
    client: &KongClient,
    name: &str,
    path: &str,
    reading: &mut Reading,
    mut visit: impl FnMut(&serde_json::Value),
) -> Result<bool, KongError> {
    let mut hashes = BTreeMap::new();
    let mut newest = reading.newest_write;
    let walked = client
        .walk(path, |page| {
            for item in &page {
                visit(item);
                newest = newest.max(updated_at(item));
                let (id, entry) = entity_entry(item);
                hashes.insert(id, entry);
            }
            Ok(())
        })
        .await;
    let summary = match walked {
        Ok(summary) => summary,
        Err(e) if is_absent(&e) => {
            reading.stats.requests += 1;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    reading.newest_write = newest;
    note(reading, &summary);
    reading.collections.insert(name.to_string(), Some(hashes));
    Ok(true)
}

fn note(reading: &mut Reading, summary: &WalkSummary) {
    reading.stats.requests += summary.pages;
    reading.stats.entities += summary.entities;
    reading.server_time = summary.server_time.or(reading.server_time);
}

/// A collection this node does not serve: unknown to its version or
/// edition (404), or `filter-chains` with wasm off (400).
fn is_absent(e: &KongError) -> bool {
    match e {
        KongError::Http { status: 404, .. } => true,
        KongError::Http {
            status: 400,
            message,
            ..
        } => message.contains(WASM_OFF),
        _ => false,
    }
}
