//! The configuration freeze: Kong cannot stop Admin API writes during an
//! upgrade, but it can detect them. At freeze time the provider records a
//! fingerprint of every core entity collection; before cutover and before
//! `migrations finish` it reads them again and fails with what changed.

use crate::kong::{KongClient, KongError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Core entity collections of the Admin API. Collections a version does not
/// have (404) are recorded as absent, so 2.8 and 3.x nodes both work.
pub const COLLECTIONS: &[&str] = &[
    "services",
    "routes",
    "consumers",
    "plugins",
    "upstreams",
    "certificates",
    "ca_certificates",
    "snis",
    "vaults",
    "key_sets",
    "keys",
];

/// Per collection: item id → short content hash; `None` when the node has
/// no such collection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub collections: BTreeMap<String, Option<BTreeMap<String, String>>>,
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
/// are named `collection/id`.
pub fn compare(frozen: &Fingerprint, now: &Fingerprint) -> FreezeViolation {
    let mut v = FreezeViolation::default();
    let empty = BTreeMap::new();
    let names: std::collections::BTreeSet<&String> = frozen
        .collections
        .keys()
        .chain(now.collections.keys())
        .collect();
    for name in names {
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
        for (id, hash) in after {
            match before.get(id) {
                None => v.added.push(format!("{name}/{id}")),
                Some(h) if h != hash => v.changed.push(format!("{name}/{id}")),
                Some(_) => {}
            }
        }
        for id in before.keys().filter(|id| !after.contains_key(*id)) {
            v.removed.push(format!("{name}/{id}"));
        }
    }
    v
}

/// Reads every collection (paginated) and fingerprints it.
pub async fn take(client: &KongClient) -> Result<Fingerprint, KongError> {
    let mut collections = BTreeMap::new();
    for name in COLLECTIONS {
        let items = match client.paginate(&format!("/{name}?size=1000")).await {
            Ok(items) => items,
            Err(KongError::Http { status: 404, .. }) => {
                collections.insert(name.to_string(), None);
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut hashes = fingerprint_items(&items);
        // Targets hang off upstreams and are not a top-level collection.
        if *name == "upstreams" {
            for upstream in items
                .iter()
                .filter_map(|u| u.get("id").and_then(|i| i.as_str()))
            {
                let targets = client
                    .paginate(&format!("/upstreams/{upstream}/targets?size=1000"))
                    .await?;
                for (id, h) in fingerprint_items(&targets) {
                    hashes.insert(format!("{upstream}/targets/{id}"), h);
                }
            }
        }
        collections.insert(name.to_string(), Some(hashes));
    }
    Ok(Fingerprint { collections })
}

fn fingerprint_items(items: &[serde_json::Value]) -> BTreeMap<String, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = item
                .get("id")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{i}"));
            (id, item_hash(item))
        })
        .collect()
}

/// A short hash of an entity's canonical JSON (keys sorted at every level,
/// so the order Kong happens to emit does not matter).
fn item_hash(item: &serde_json::Value) -> String {
    let canonical = canonical_json(item);
    hex::encode(&Sha256::digest(canonical.as_bytes())[..8])
}

fn canonical_json(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::from(k.as_str()),
                        canonical_json(&m[k])
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        J::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fp(items: &[(&str, &[serde_json::Value])]) -> Fingerprint {
        Fingerprint {
            collections: items
                .iter()
                .map(|(n, v)| (n.to_string(), Some(fingerprint_items(v))))
                .collect(),
        }
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"id":"1","name":"a","tags":["x"]}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"tags":["x"],"name":"a","id":"1"}"#).unwrap();
        assert_eq!(item_hash(&a), item_hash(&b));
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
