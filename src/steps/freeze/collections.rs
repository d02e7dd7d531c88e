//! What the freeze reads: every Admin API collection a configuration write
//! can land in, walked page by page into small per-entity digests.
//!
//! Besides the core entities: consumer credentials and ACLs (the bundled
//! plugins' `daos.lua` name them `key-auths`, `basic-auths`, `jwts`,
//! `hmac-auths`, `oauth2`, `acls`), `filter-chains` (3.4+, answered only
//! when wasm is on), Kong Enterprise's `consumer_groups` with their
//! members, and on Kong Enterprise every workspace's collections under
//! `/{workspace}/`. Upstreams' targets and groups' members are read per
//! parent ([`NESTED`]).
//!
//! The node's own `GET /` says which of them it has (version, edition,
//! `wasm`, loaded plugins), so a collection it cannot serve is not asked;
//! when `GET /` cannot be read every collection is asked and a 404 (or
//! wasm off) is recorded as absent. Collections are read a few at a time.

use super::{updated_at, Collections, EntityHasher};
use crate::kong::{KongClient, KongError, NodeInfo, WalkSummary, PAGE_LIST};
use crate::version::Edition;
use futures::{StreamExt, TryStreamExt};
use std::collections::BTreeMap;

/// When a node serves a collection at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    Always,
    /// From this release on.
    Since(u32, u32),
    /// Before this release only (an entity a later release renamed).
    Before(u32, u32),
    /// While this bundled plugin is loaded (its `daos.lua`).
    WithPlugin(&'static str),
    /// From this release on, and only with `wasm = on`.
    WithWasmSince(u32, u32),
    /// Kong Enterprise only.
    Enterprise,
}

/// One Admin API collection the freeze reads.
#[derive(Clone, Copy, Debug)]
pub struct Collection {
    /// Path below the Admin API root (and below `/{workspace}/`).
    pub path: &'static str,
    /// Collections its entities must reference (any one of them): when all
    /// of these are empty it cannot hold an entity and is not asked.
    pub needs: &'static [&'static str],
    pub served: Served,
}

const fn top(path: &'static str) -> Collection {
    Collection {
        path,
        needs: &[],
        served: Served::Always,
    }
}

const fn of(path: &'static str, needs: &'static [&'static str]) -> Collection {
    Collection {
        path,
        needs,
        served: Served::Always,
    }
}

const fn served(collection: Collection, served: Served) -> Collection {
    Collection {
        served,
        ..collection
    }
}

const fn credential(path: &'static str, plugin: &'static str) -> Collection {
    served(of(path, &["consumers"]), Served::WithPlugin(plugin))
}

/// Every collection, referenced ones before those referencing them. Paths
/// are each schema's `admin_api_name` (else its `name`): `vaults-beta` in
/// 2.8 (`kong/db/schema/entities/vaults_beta.lua`), `vaults` from 3.0,
/// `key-sets` and `keys` from 3.1 (`key_sets.lua`, `keys.lua`).
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
    served(top("vaults-beta"), Served::Before(3, 0)),
    served(top("vaults"), Served::Since(3, 0)),
    served(top("key-sets"), Served::Since(3, 1)),
    served(top("keys"), Served::Since(3, 1)),
    served(
        of("filter-chains", &["routes", "services"]),
        Served::WithWasmSince(3, 4),
    ),
    served(top("consumer_groups"), Served::Enterprise),
    credential("key-auths", "key-auth"),
    credential("basic-auths", "basic-auth"),
    credential("jwts", "jwt"),
    credential("hmac-auths", "hmac-auth"),
    credential("oauth2", "oauth2"),
    credential("acls", "acl"),
];

/// Lists that hang off each entity of a collection and are no top-level
/// collection: an upstream's targets, a consumer group's members.
struct Nested {
    parent: &'static str,
    child: &'static str,
    /// Where the answer holds the entities when it is not Kong's paged
    /// `data` (see [`KongClient::walk_list`]).
    list: &'static str,
}

/// Targets: `GET /upstreams/{upstream}/targets`
/// (<https://github.com/Kong/kong/blob/3.6.1/kong/api/routes/upstreams.lua>).
/// Members (Kong Enterprise): `GET /consumer_groups/{group}/consumers`,
/// documented as `{"consumers": [...]}`
/// (<https://docs.konghq.com/gateway/3.3.x/admin-api/consumer-groups/reference/>).
/// Kong Enterprise's older per-group plugin overrides
/// (`/consumer_groups/{group}/overrides/plugins/rate-limiting-advanced`)
/// have no documented `GET`, so the freeze cannot read them; from 3.4 a
/// plugin scoped to a group is a `/plugins` entry, read with the plugins.
const NESTED: &[Nested] = &[
    Nested {
        parent: "upstreams",
        child: "targets",
        list: PAGE_LIST,
    },
    Nested {
        parent: "consumer_groups",
        child: "consumers",
        list: "consumers",
    },
];

/// Collections read at once: pages of different collections overlap, the
/// pages of one collection follow each other (each needs the last `next`).
const PARALLEL_READS: usize = 4;

/// Kong's answer on `/filter-chains` when wasm is off
/// (<https://github.com/Kong/kong/blob/3.4.0/kong/api/routes/filter_chains.lua>).
const WASM_OFF: &str = "only available when wasm is enabled";

/// The workspace Kong serves without a prefix.
const DEFAULT_WORKSPACE: &str = "default";

/// Admin API requests made, for the benchmark's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Every reading's requests.
    pub requests: usize,
    /// Readings made: more than one when Kong's clock had not yet passed
    /// the newest write (see `take_counted`).
    pub readings: usize,
    /// Requests of the last reading, the one the fingerprint is.
    pub last_reading: usize,
    /// Entities of the last reading.
    pub entities: usize,
}

impl ReadStats {
    /// Adds one more reading (whose own stats are `reading`).
    pub(super) fn count(&mut self, reading: &ReadStats) {
        self.requests += reading.requests;
        self.readings += 1;
        self.last_reading = reading.requests;
        self.entities = reading.entities;
    }
}

/// Everything read, the newest `updated_at` seen and Kong's clock at the end.
pub struct Reading {
    pub collections: Collections,
    pub newest_write: Option<i64>,
    pub server_time: Option<i64>,
    pub stats: ReadStats,
}

/// Reads what the node is, its workspaces, then every collection of each.
pub async fn read_all(client: &KongClient) -> Result<Reading, KongError> {
    let mut reading = Reading {
        collections: BTreeMap::new(),
        newest_write: None,
        server_time: None,
        stats: ReadStats::default(),
    };
    let node = read_node(client, &mut reading).await;
    let workspaces = if has_workspaces(node.as_ref()) {
        read_workspaces(client, &mut reading).await?
    } else {
        vec![None]
    };
    for workspace in &workspaces {
        read_workspace(client, node.as_ref(), workspace.as_deref(), &mut reading).await?;
    }
    Ok(reading)
}

/// `GET /`, or `None` when it cannot be read (every collection is then
/// asked, and what the node lacks answers 404).
async fn read_node(client: &KongClient, reading: &mut Reading) -> Option<NodeInfo> {
    reading.stats.requests += 1;
    match client.root_info().await {
        Ok(node) => Some(node),
        Err(e) => {
            tracing::warn!(error = %e, "GET / unreadable; the freeze asks every collection");
            None
        }
    }
}

/// Whether `node` can hold entities of `collection` at all; unknown node:
/// yes.
fn may_serve(collection: &Collection, node: Option<&NodeInfo>) -> bool {
    let Some(node) = node else {
        return true;
    };
    let at_least =
        |major: u32, minor: u32| (node.version.major(), node.version.minor()) >= (major, minor);
    match collection.served {
        Served::Always => true,
        Served::Since(major, minor) => at_least(major, minor),
        Served::Before(major, minor) => !at_least(major, minor),
        Served::WithPlugin(plugin) => node.plugins_available.iter().any(|p| p == plugin),
        Served::WithWasmSince(major, minor) => at_least(major, minor) && node.wasm_enabled,
        Served::Enterprise => node.edition == Edition::Enterprise,
    }
}

/// Whether workspaces other than `default` can hold anything on this node:
/// not on Kong Gateway OSS (`GET /` says `edition`, and before 3.6 its
/// version has no Enterprise build number). OSS serves `/workspaces` (every
/// schema gets generated endpoints,
/// <https://github.com/Kong/kong/blob/3.6.1/kong/api/init.lua>), but runs
/// every request in the default workspace and routes no `/{workspace}/`
/// prefix (`get_workspace_id` in
/// <https://github.com/Kong/kong/blob/3.6.1/kong/workspaces/init.lua>), and
/// a workspace's own fields (`meta`, `config`) are empty records
/// (<https://github.com/Kong/kong/blob/3.6.1/kong/db/schema/entities/workspaces.lua>):
/// a workspace written there changes nothing the node serves. Unknown
/// node: yes.
fn has_workspaces(node: Option<&NodeInfo>) -> bool {
    node.is_none_or(|n| n.edition == Edition::Enterprise)
}

/// `/workspaces`: fingerprinted itself, so a workspace created during the
/// freeze is a write. `None` stands for the unprefixed default workspace.
async fn read_workspaces(
    client: &KongClient,
    reading: &mut Reading,
) -> Result<Vec<Option<String>>, KongError> {
    let mut names = vec![None];
    let walked = walk_into(client, "/workspaces", PAGE_LIST, |ws| {
        if let Some(name) = ws.get("name").and_then(|n| n.as_str()) {
            if name != DEFAULT_WORKSPACE {
                names.push(Some(name.to_string()));
            }
        }
    })
    .await?;
    merge(reading, "workspaces".into(), walked);
    Ok(names)
}

/// What one collection read gave.
struct Walked {
    /// `None` when the node has no such collection.
    hashes: Option<BTreeMap<String, String>>,
    newest: Option<i64>,
    summary: WalkSummary,
}

/// Every collection of one workspace. Keys are `services` in the default
/// workspace and `NAME/services` in workspace NAME. Collections that
/// reference others are read once those are known.
async fn read_workspace(
    client: &KongClient,
    node: Option<&NodeInfo>,
    workspace: Option<&str>,
    reading: &mut Reading,
) -> Result<(), KongError> {
    let key = |path: &str| match workspace {
        Some(ws) => format!("{ws}/{path}"),
        None => path.to_string(),
    };
    let (independent, dependent): (Vec<&'static Collection>, Vec<&'static Collection>) =
        COLLECTIONS.iter().partition(|c| c.needs.is_empty());
    for group in [independent, dependent] {
        let mut to_read = Vec::new();
        for collection in group {
            let name = key(collection.path);
            if !may_serve(collection, node) {
                reading.collections.insert(name, None);
            } else if cannot_hold_entities(collection, node, workspace, &reading.collections, &key)
            {
                reading.collections.insert(name, Some(BTreeMap::new()));
            } else {
                to_read.push((name, collection));
            }
        }
        let reads: Vec<_> = to_read
            .into_iter()
            .map(|(name, collection)| read_collection(client, name, collection))
            .collect();
        let walked: Vec<(String, Walked)> = futures::stream::iter(reads)
            .buffer_unordered(PARALLEL_READS)
            .try_collect()
            .await?;
        for (name, walked) in walked {
            merge(reading, name, walked);
        }
    }
    Ok(())
}

/// True when the node itself says the collection is empty: every
/// collection it must reference was read empty, or (plugins of the
/// default workspace) `GET /` lists no plugin in use.
fn cannot_hold_entities(
    collection: &Collection,
    node: Option<&NodeInfo>,
    workspace: Option<&str>,
    read: &Collections,
    key: &dyn Fn(&str) -> String,
) -> bool {
    if collection.path == "plugins" && workspace.is_none() {
        return node.is_some_and(|n| n.plugins_enabled.is_empty());
    }
    !collection.needs.is_empty()
        && collection.needs.iter().all(|need| {
            read.get(&key(need))
                .is_none_or(|c| c.as_ref().is_none_or(BTreeMap::is_empty))
        })
}

/// One collection, with what hangs off each of its entities ([`NESTED`]),
/// keyed `PARENT_ID/CHILD/ID` (`UPSTREAM/targets/ID`,
/// `GROUP/consumers/CONSUMER_ID`): one request (or walk) per parent.
async fn read_collection(
    client: &KongClient,
    name: String,
    collection: &'static Collection,
) -> Result<(String, Walked), KongError> {
    let path = format!("/{name}");
    let nested = NESTED.iter().find(|n| n.parent == collection.path);
    let mut parents = Vec::new();
    let mut walked = walk_into(client, &path, PAGE_LIST, |item| {
        if nested.is_some() {
            if let Some(id) = item.get("id").and_then(|i| i.as_str()) {
                parents.push(id.to_string());
            }
        }
    })
    .await?;
    let Some(nested) = nested else {
        return Ok((name, walked));
    };
    for parent in parents {
        let child_path = format!("{path}/{parent}/{}", nested.child);
        let children = walk_into(client, &child_path, nested.list, |_| {}).await?;
        walked.newest = walked.newest.max(children.newest);
        add_summary(&mut walked.summary, &children.summary);
        if let (Some(hashes), Some(found)) = (walked.hashes.as_mut(), children.hashes) {
            hashes.extend(
                found
                    .into_iter()
                    .map(|(id, entry)| (format!("{parent}/{}/{id}", nested.child), entry)),
            );
        }
    }
    Ok((name, walked))
}

/// Walks one collection into per-entity entries, showing each entity to
/// `visit`; `list` as in [`KongClient::walk_list`]. A collection the node
/// does not serve counts one request and reads as absent.
async fn walk_into(
    client: &KongClient,
    path: &str,
    list: &str,
    mut visit: impl FnMut(&serde_json::Value),
) -> Result<Walked, KongError> {
    let mut hashes = BTreeMap::new();
    let mut newest = None;
    let mut hasher = EntityHasher::default();
    let walked = client
        .walk_list(path, list, |page| {
            for item in &page {
                visit(item);
                newest = newest.max(updated_at(item));
                let (id, entry) = hasher.entry(item);
                hashes.insert(id, entry);
            }
            Ok(())
        })
        .await;
    match walked {
        Ok(summary) => Ok(Walked {
            hashes: Some(hashes),
            newest,
            summary,
        }),
        Err(e) if is_absent(&e) => Ok(Walked {
            hashes: None,
            newest: None,
            summary: WalkSummary {
                pages: 1,
                ..WalkSummary::default()
            },
        }),
        Err(e) => Err(e),
    }
}

fn add_summary(total: &mut WalkSummary, more: &WalkSummary) {
    total.pages += more.pages;
    total.entities += more.entities;
    total.server_time = total.server_time.max(more.server_time);
}

/// Records one collection. Kong's clock is the latest `Date` of any page:
/// pages are read concurrently, and the latest was answered after all the
/// others' entities were.
fn merge(reading: &mut Reading, name: String, walked: Walked) {
    reading.stats.requests += walked.summary.pages;
    reading.stats.entities += walked.summary.entities;
    reading.server_time = reading.server_time.max(walked.summary.server_time);
    reading.newest_write = reading.newest_write.max(walked.newest);
    reading.collections.insert(name, walked.hashes);
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
