//! The configuration freeze: Kong cannot stop Admin API writes during an
//! upgrade, but it can detect them. At freeze time the provider records a
//! fingerprint of every core entity collection; before cutover and before
//! `migrations finish` it reads them again and fails with what changed.
//!
//! A write is recognised by the entity's `updated_at`, which Kong sets on
//! every Admin API write, not by its content alone: `kong migrations up`
//! rewrites rows X still serves (3.6's rate-limiting `up` adds a `redis`
//! object to every rate-limiting plugin), and that is not a configuration
//! change. Timestamps have one-second resolution, so the freeze settles:
//! it is taken once Kong's clock (the Admin API's `Date`) has passed every
//! recorded `updated_at`, and any later write then carries a newer one.
//! Content decides for entities without `updated_at` (2.8) and when Kong's
//! clock cannot be read.

mod collections;

pub use collections::{ReadStats, COLLECTIONS};

use crate::kong::{KongClient, KongError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub type Collections = BTreeMap<String, Option<BTreeMap<String, String>>>;

/// Per collection: item id → `UPDATED_AT:HASH` (or `HASH` for entities
/// without `updated_at`); `None` when the node has no such collection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub collections: Collections,
    /// Kong's clock had passed every recorded `updated_at` when the
    /// fingerprint was taken: a later write must carry a newer one.
    #[serde(default)]
    pub settled: bool,
}

/// One entity's fingerprint entry, split.
struct Entry<'a> {
    updated_at: Option<i64>,
    hash: &'a str,
}

impl<'a> Entry<'a> {
    fn parse(text: &'a str) -> Entry<'a> {
        match text.split_once(':') {
            Some((at, hash)) => Entry {
                updated_at: at.parse().ok(),
                hash,
            },
            None => Entry {
                updated_at: None,
                hash: text,
            },
        }
    }
}

/// Whether an entity changed through a write since the freeze. Same
/// timestamp, new content, settled freeze: a migration rewrote the row.
fn written_since(frozen: &str, now: &str, settled: bool) -> bool {
    let (before, after) = (Entry::parse(frozen), Entry::parse(now));
    if before.hash == after.hash {
        return false;
    }
    match (before.updated_at, after.updated_at) {
        (Some(b), Some(a)) if settled => a != b,
        _ => true,
    }
}

impl Fingerprint {
    /// One hash over everything, for the `config_fingerprint` attribute.
    pub fn digest(&self) -> String {
        let canonical = serde_json::to_string(&self.collections).unwrap_or_default();
        hex::encode(&Sha256::digest(canonical.as_bytes())[..16])
    }

    pub fn entity_count(&self) -> usize {
        self.collections.values().flatten().map(BTreeMap::len).sum()
    }
}

/// What differs between two fingerprints, collection by collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreezeViolation {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl FreezeViolation {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl std::fmt::Display for FreezeViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (label, items) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !items.is_empty() {
                let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
                let more = items.len().saturating_sub(10);
                let suffix = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                parts.push(format!("{label}: {}{suffix}", shown.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

/// Compares the fingerprint taken at freeze time with a fresh one. Entities
/// are named `collection/id`. Only collections both read are compared: a
/// freeze recorded by an older provider did not read every collection this
/// one does, and what it did not read it cannot vouch for; this provider
/// does not read what the node says cannot change what it serves
/// (`/workspaces` on Kong Gateway OSS), which an older one did. (A
/// collection the node lacks was read, as `None`; a new workspace is itself
/// an added `workspaces` entity.)
pub fn compare(frozen: &Fingerprint, now: &Fingerprint) -> FreezeViolation {
    let mut v = FreezeViolation::default();
    let empty = BTreeMap::new();
    let read_by_both = frozen
        .collections
        .keys()
        .filter(|name| now.collections.contains_key(*name));
    for name in read_by_both {
        let before = frozen
            .collections
            .get(name)
            .and_then(Option::as_ref)
            .unwrap_or(&empty);
        let after = now
            .collections
            .get(name)
            .and_then(Option::as_ref)
            .unwrap_or(&empty);
        for (id, entry) in after {
            match before.get(id) {
                None => v.added.push(format!("{name}/{id}")),
                Some(frozen_entry) if written_since(frozen_entry, entry, frozen.settled) => {
                    v.changed.push(format!("{name}/{id}"))
                }
                Some(_) => {}
            }
        }
        for id in before.keys().filter(|id| !after.contains_key(*id)) {
            v.removed.push(format!("{name}/{id}"));
        }
    }
    v
}

/// How often the freeze waits for Kong's clock to pass the newest write
/// before settling for content comparison.
const SETTLE_ATTEMPTS: usize = 3;

/// Reads every collection (paginated) and fingerprints it, settled when
/// Kong's clock allows (see the module comment).
pub async fn take(client: &KongClient) -> Result<Fingerprint, KongError> {
    take_counted(client).await.map(|(fp, _)| fp)
}

/// [`take`], also saying how many Admin API requests it made.
pub async fn take_counted(client: &KongClient) -> Result<(Fingerprint, ReadStats), KongError> {
    let mut stats = ReadStats::default();
    for _ in 0..SETTLE_ATTEMPTS {
        let reading = collections::read_all(client).await?;
        stats.count(&reading.stats);
        // Kong's clock is the last page's `Date`: taken after every entity.
        let settled = match (reading.newest_write, reading.server_time) {
            (None, _) => Some(true),
            (Some(newest), Some(now)) if newest < now => Some(true),
            (Some(_), Some(_)) => None,
            (Some(_), None) => Some(false),
        };
        if let Some(settled) = settled {
            let fp = Fingerprint {
                collections: reading.collections,
                settled,
            };
            return Ok((fp, stats));
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    // Writes keep landing in Kong's current second: let content decide.
    let reading = collections::read_all(client).await?;
    stats.count(&reading.stats);
    let fp = Fingerprint {
        collections: reading.collections,
        settled: false,
    };
    Ok((fp, stats))
}

fn updated_at(item: &serde_json::Value) -> Option<i64> {
    let at = item.get("updated_at")?;
    at.as_i64().or_else(|| at.as_f64().map(|f| f as i64))
}

/// Fingerprints entities one after another, writing each one's canonical
/// text into the same buffer and hashing it in one pass: at 50,000
/// entities per freeze, small writes into the hasher and a buffer per
/// entity were most of the provider's own time.
#[derive(Default)]
struct EntityHasher {
    canonical: Vec<u8>,
}

impl EntityHasher {
    /// An entity's id and its fingerprint entry: `UPDATED_AT:HASH`, or
    /// `HASH` for entities without `updated_at`. An entity without an id
    /// (none of Kong's) is named by its hash.
    fn entry(&mut self, item: &serde_json::Value) -> (String, String) {
        let hash = self.hash(item);
        let id = item
            .get("id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{hash}"));
        let entry = match updated_at(item) {
            Some(at) => format!("{at}:{hash}"),
            None => hash,
        };
        (id, entry)
    }

    /// A short hash of an entity's canonical JSON (keys sorted at every
    /// level, so the order Kong happens to emit does not matter).
    fn hash(&mut self, item: &serde_json::Value) -> String {
        self.canonical.clear();
        // Writing into a Vec cannot fail.
        let _ = write_canonical(item, &mut self.canonical);
        hex::encode(&Sha256::digest(&self.canonical)[..8])
    }
}

fn write_canonical(v: &serde_json::Value, out: &mut impl std::io::Write) -> std::io::Result<()> {
    use serde_json::Value as J;
    match v {
        // serde_json's map already iterates in key order (unless its
        // `preserve_order` feature is on): sort only when it does not, and
        // save a vector per object on 50,000 entities.
        J::Object(m) if m.keys().is_sorted() => write_members(m.iter(), out),
        J::Object(m) => {
            let mut entries: Vec<(&String, &J)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            write_members(entries.into_iter(), out)
        }
        J::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(item, out)?;
            }
            out.write_all(b"]")
        }
        other => Ok(serde_json::to_writer(out, other)?),
    }
}

/// An object's members, in the order given, as canonical text.
fn write_members<'v>(
    members: impl Iterator<Item = (&'v String, &'v serde_json::Value)>,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    out.write_all(b"{")?;
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b":")?;
        write_canonical(value, out)?;
    }
    out.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fp(items: &[(&str, &[serde_json::Value])]) -> Fingerprint {
        Fingerprint {
            collections: items
                .iter()
                .map(|(n, v)| {
                    let mut hasher = EntityHasher::default();
                    (
                        n.to_string(),
                        Some(v.iter().map(|e| hasher.entry(e)).collect()),
                    )
                })
                .collect(),
            settled: true,
        }
    }

    /// `kong migrations up` adding a field to a row X serves is not a write.
    #[test]
    fn a_migration_rewriting_a_row_is_not_a_write() {
        let plugin = json!({"id": "p1", "updated_at": 100, "config": {"redis_host": "r"}});
        let newer = json!({"id": "s1", "updated_at": 200});
        let before = fp(&[
            ("plugins", &[plugin]),
            ("services", std::slice::from_ref(&newer)),
        ]);
        let migrated = json!({"id": "p1", "updated_at": 100, "config": {"redis_host": "r", "redis": {"host": "r"}}});
        let after = fp(&[("plugins", &[migrated]), ("services", &[newer])]);
        assert!(compare(&before, &after).is_empty());
    }

    #[test]
    fn a_write_moves_updated_at() {
        let before = fp(&[(
            "plugins",
            &[json!({"id": "p1", "updated_at": 100, "enabled": true})],
        )]);
        let after = fp(&[(
            "plugins",
            &[json!({"id": "p1", "updated_at": 160, "enabled": false})],
        )]);
        assert_eq!(compare(&before, &after).changed, vec!["plugins/p1"]);
    }

    /// Unsettled (Kong's clock unknown): a write in the freeze's own second
    /// may keep `updated_at`, so content decides.
    #[test]
    fn an_unsettled_freeze_compares_content() {
        let service = |host: &str| json!({"id": "s1", "updated_at": 100, "host": host});
        let mut before = fp(&[("services", &[service("a")])]);
        before.settled = false;
        let after = fp(&[("services", &[service("b")])]);
        assert_eq!(compare(&before, &after).changed, vec!["services/s1"]);
    }

    /// The hash fingerprints recorded by earlier releases hold: an upgrade
    /// in flight across a provider update compares like with like.
    #[test]
    fn the_canonical_hash_is_stable() {
        let v = json!({"id": "1", "name": "a \"q\"", "tags": ["x"], "n": 100, "b": true, "z": null, "o": {"y": 1, "a": [1, 2]}});
        assert_eq!(EntityHasher::default().hash(&v), "3269e3db6929c416");
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"id":"1","name":"a","tags":["x"]}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"tags":["x"],"name":"a","id":"1"}"#).unwrap();
        let mut hasher = EntityHasher::default();
        assert_eq!(hasher.hash(&a), hasher.hash(&b));
    }

    /// A freeze an older provider took on Kong Gateway OSS holds
    /// `workspaces`, which this provider no longer reads there: not a
    /// removal. A collection the node lacks (`None`) is still compared.
    #[test]
    fn only_collections_both_fingerprints_read_are_compared() {
        let workspace = json!({"id": "w1", "name": "default"});
        let service = json!({"id": "s1", "updated_at": 100});
        let frozen = fp(&[
            ("workspaces", &[workspace]),
            ("services", std::slice::from_ref(&service)),
        ]);
        let mut now = fp(&[("services", &[service])]);
        assert!(compare(&frozen, &now).is_empty());
        now.collections.insert("workspaces".into(), None);
        assert_eq!(compare(&frozen, &now).removed, vec!["workspaces/w1"]);
    }

    #[test]
    fn reports_added_removed_and_changed_entities() {
        let before = fp(&[(
            "services",
            &[json!({"id": "s1", "host": "a"}), json!({"id": "s2"})],
        )]);
        let after = fp(&[(
            "services",
            &[json!({"id": "s1", "host": "b"}), json!({"id": "s3"})],
        )]);
        let v = compare(&before, &after);
        assert_eq!(v.added, vec!["services/s3"]);
        assert_eq!(v.removed, vec!["services/s2"]);
        assert_eq!(v.changed, vec!["services/s1"]);
        assert_eq!(
            v.to_string(),
            "added: services/s3; removed: services/s2; changed: services/s1"
        );
        assert!(compare(&before, &before).is_empty());
        assert_ne!(before.digest(), after.digest());
    }
}

#[cfg(test)]
mod kongsim_tests;
