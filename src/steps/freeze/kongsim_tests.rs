//! The freeze against kongsim on PostgreSQL (no Terraform): every
//! collection a write can land in is seen, collections a version or
//! setting lacks are recorded absent, and large collections are read in
//! Kong's largest pages.

use super::*;
use serde_json::{json, Value};
use testbed::kongsim::KongSim;
use testbed::Postgres;

fn node(pg: &Postgres, version: &str, wasm_filters: Option<&std::path::Path>) -> KongSim {
    let mut builder = KongSim::builder(version).postgres(pg).bootstrap();
    if let Some(dir) = wasm_filters {
        builder = builder
            .env("KONG_WASM", "on")
            .env("KONG_WASM_FILTERS_PATH", dir.to_str().unwrap());
    }
    builder.start().unwrap()
}

fn enterprise_node(pg: &Postgres, version: &str) -> KongSim {
    KongSim::builder(version)
        .edition("enterprise")
        .postgres(pg)
        .bootstrap()
        .start()
        .unwrap()
}

async fn post(kong: &KongSim, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", kong.admin_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "POST {path}: {body}");
    body
}

/// A fresh fingerprint differs from `frozen` by exactly the `written`
/// entities (`collection/id`), all added.
async fn assert_added_exactly(kong: &KongSim, frozen: &Fingerprint, mut written: Vec<String>) {
    let now = take(&client(kong)).await.unwrap();
    let mut added = compare(frozen, &now).added;
    added.sort();
    written.sort();
    assert_eq!(added, written);
}

fn client(kong: &KongSim) -> KongClient {
    KongClient::new(&kong.admin_url, &crate::kong::AdminSettings::default()).unwrap()
}

/// A credential, an ACL and a filter chain written during the window are
/// each named.
#[tokio::test]
async fn writes_to_credentials_acls_and_filter_chains_are_named() {
    let pg = Postgres::start().unwrap();
    let filters = tempfile::tempdir().unwrap();
    std::fs::write(filters.path().join("probe.wasm"), b"\0asm").unwrap();
    let kong = node(&pg, "3.6.1", Some(filters.path()));
    let service = post(
        &kong,
        "/services",
        json!({"name": "s", "host": "s.internal"}),
    )
    .await;
    post(&kong, "/consumers", json!({"username": "alice"})).await;
    let frozen = take(&client(&kong)).await.unwrap();
    assert_eq!(frozen.collections["key-auths"], Some(BTreeMap::new()));
    assert_eq!(frozen.collections["filter-chains"], Some(BTreeMap::new()));

    let mut written = Vec::new();
    for (path, body, collection) in [
        ("/consumers/alice/key-auth", json!({}), "key-auths"),
        (
            "/consumers/alice/basic-auth",
            json!({"username": "a", "password": "p"}),
            "basic-auths",
        ),
        ("/consumers/alice/jwt", json!({}), "jwts"),
        (
            "/consumers/alice/hmac-auth",
            json!({"username": "a"}),
            "hmac-auths",
        ),
        ("/consumers/alice/oauth2", json!({"name": "app"}), "oauth2"),
        ("/consumers/alice/acls", json!({"group": "admins"}), "acls"),
        (
            "/filter-chains",
            json!({"service": {"id": service["id"]}, "filters": [{"name": "probe"}]}),
            "filter-chains",
        ),
    ] {
        let created = post(&kong, path, body).await;
        written.push(format!("{collection}/{}", created["id"].as_str().unwrap()));
    }
    assert_added_exactly(&kong, &frozen, written).await;
}

/// Before 3.4 there is no `/filter-chains` (404); with wasm off Kong
/// answers 400. Both are recorded absent, not as an error.
#[tokio::test]
async fn collections_a_node_lacks_are_recorded_absent() {
    let fp = fingerprint_of_one_service("3.6.1").await;
    assert_eq!(fp.collections["filter-chains"], None, "wasm off");
    assert_eq!(fp.collections["consumer_groups"], None, "Enterprise only");
    assert_eq!(
        fp.collections["key-auths"],
        Some(BTreeMap::new()),
        "no consumer, so no credential can exist: not asked"
    );
    assert_eq!(fp.collections["vaults-beta"], None, "renamed vaults in 3.0");
    assert_eq!(fp.collections["plugins"], Some(BTreeMap::new()));
    let fp = fingerprint_of_one_service("3.3.1").await;
    assert_eq!(fp.collections["filter-chains"], None, "before 3.4");
    assert!(
        !fp.collections.contains_key("workspaces"),
        "OSS runs every request in the default workspace: not asked"
    );
    let fp = fingerprint_of_one_service("2.8.4").await;
    assert_eq!(fp.collections["vaults-beta"], Some(BTreeMap::new()));
    for absent in ["vaults", "key-sets", "keys"] {
        assert_eq!(fp.collections[absent], None, "{absent} came after 2.8");
    }
}

/// A write to each of the other collections a 3.6.1 node serves during
/// the window is named: the core entities, targets, SNIs, CA
/// certificates, vaults, key sets and keys, and a plugin (while none
/// existed `GET /` said so and `/plugins` was not asked).
#[tokio::test]
async fn writes_to_every_core_collection_are_named() {
    let pg = Postgres::start().unwrap();
    let kong = node(&pg, "3.6.1", None);
    let frozen = take(&client(&kong)).await.unwrap();
    assert_eq!(frozen.collections["plugins"], Some(BTreeMap::new()));

    let leaf = rcgen::generate_simple_self_signed(vec!["a.example".into()]).unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["ca.example".into()]).unwrap();
    let mut written = Vec::new();
    let mut write = async |path: &str, body: Value, collection: &str| {
        let created = post(&kong, path, body).await;
        let id = created["id"].as_str().unwrap().to_string();
        written.push(format!("{collection}/{id}"));
        id
    };
    let service = write(
        "/services",
        json!({"name": "s", "host": "s.internal"}),
        "services",
    )
    .await;
    write(
        "/routes",
        json!({"paths": ["/"], "service": {"id": service}}),
        "routes",
    )
    .await;
    write("/consumers", json!({"username": "bob"}), "consumers").await;
    write("/plugins", json!({"name": "cors"}), "plugins").await;
    let upstream = write("/upstreams", json!({"name": "u"}), "upstreams").await;
    write(
        &format!("/upstreams/{upstream}/targets"),
        json!({"target": "10.0.0.1:80"}),
        &format!("upstreams/{upstream}/targets"),
    )
    .await;
    let certificate = write(
        "/certificates",
        json!({"cert": leaf.cert.pem(), "key": leaf.key_pair.serialize_pem()}),
        "certificates",
    )
    .await;
    write(
        "/snis",
        json!({"name": "a.example", "certificate": {"id": certificate}}),
        "snis",
    )
    .await;
    write(
        "/ca_certificates",
        json!({"cert": ca.cert.pem()}),
        "ca_certificates",
    )
    .await;
    write(
        "/vaults",
        json!({"prefix": "my-env", "name": "env"}),
        "vaults",
    )
    .await;
    let set = write("/key-sets", json!({"name": "ks"}), "key-sets").await;
    write(
        "/keys",
        json!({"kid": "k1", "jwk": "{\"kid\":\"k1\"}", "set": {"id": set}}),
        "keys",
    )
    .await;

    assert_added_exactly(&kong, &frozen, written).await;
}

/// Kong Enterprise: a workspace's entities live under `/{workspace}/`
/// only, and a write there during the window is named with its workspace.
#[tokio::test]
async fn a_write_in_a_non_default_workspace_is_named() {
    let pg = Postgres::start().unwrap();
    let kong = enterprise_node(&pg, "3.4.3.5");
    post(&kong, "/workspaces", json!({"name": "team-a"})).await;
    post(
        &kong,
        "/team-a/services",
        json!({"name": "a", "host": "a.internal"}),
    )
    .await;
    let frozen = take(&client(&kong)).await.unwrap();
    assert_eq!(frozen.collections["services"], Some(BTreeMap::new()));
    assert_eq!(
        frozen.collections["team-a/services"]
            .as_ref()
            .map(BTreeMap::len),
        Some(1)
    );

    let route = post(
        &kong,
        "/team-a/routes",
        json!({"name": "r", "paths": ["/a"]}),
    )
    .await;
    let now = take(&client(&kong)).await.unwrap();
    let violation = compare(&frozen, &now);
    assert_eq!(
        violation.added,
        vec![format!("team-a/routes/{}", route["id"].as_str().unwrap())]
    );
    assert!(violation.changed.is_empty() && violation.removed.is_empty());
}

/// Kong Enterprise's consumer groups: a group created during the window,
/// in the default workspace or another, is named. Kong OSS has no such
/// collection (404).
#[tokio::test]
async fn a_consumer_group_written_on_enterprise_is_named() {
    let pg = Postgres::start().unwrap();
    let oss = node(&pg, "3.6.1", None);
    let status = reqwest::get(format!("{}/consumer_groups", oss.admin_url))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "Kong OSS serves no consumer groups");

    let pg = Postgres::start().unwrap();
    let kong = enterprise_node(&pg, "3.6.1.0");
    post(&kong, "/workspaces", json!({"name": "team-a"})).await;
    let frozen = take(&client(&kong)).await.unwrap();
    assert_eq!(frozen.collections["consumer_groups"], Some(BTreeMap::new()));
    assert_eq!(
        frozen.collections["team-a/consumer_groups"],
        Some(BTreeMap::new())
    );

    let gold = post(&kong, "/consumer_groups", json!({"name": "gold"})).await;
    let silver = post(&kong, "/team-a/consumer_groups", json!({"name": "silver"})).await;
    let now = take(&client(&kong)).await.unwrap();
    let mut added = compare(&frozen, &now).added;
    added.sort();
    assert_eq!(
        added,
        vec![
            format!("consumer_groups/{}", gold["id"].as_str().unwrap()),
            format!("team-a/consumer_groups/{}", silver["id"].as_str().unwrap()),
        ]
    );
}

/// Kong Enterprise's group membership: a consumer added to an existing
/// group during the window is named `GROUP/consumers/CONSUMER` (one request
/// per group), and so is one removed, in any workspace.
#[tokio::test]
async fn a_consumer_group_membership_written_on_enterprise_is_named() {
    let pg = Postgres::start().unwrap();
    let kong = enterprise_node(&pg, "3.6.1.0");
    post(&kong, "/workspaces", json!({"name": "team-a"})).await;
    let gold = post(&kong, "/consumer_groups", json!({"name": "gold"})).await;
    let ann = post(&kong, "/consumers", json!({"username": "ann"})).await;
    let bob = post(&kong, "/consumers", json!({"username": "bob"})).await;
    let silver = post(&kong, "/team-a/consumer_groups", json!({"name": "silver"})).await;
    let cid = post(&kong, "/team-a/consumers", json!({"username": "cid"})).await;
    post(
        &kong,
        "/consumer_groups/gold/consumers",
        json!({"consumer": "bob"}),
    )
    .await;
    let frozen = take(&client(&kong)).await.unwrap();
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let bob_in_gold = format!("consumer_groups/{}/consumers/{}", id(&gold), id(&bob));
    assert!(
        frozen.collections["consumer_groups"]
            .as_ref()
            .is_some_and(|c| c.contains_key(&format!("{}/consumers/{}", id(&gold), id(&bob)))),
        "members are fingerprinted: {:?}",
        frozen.collections["consumer_groups"]
    );

    post(
        &kong,
        "/consumers/ann/consumer_groups",
        json!({"group": "gold"}),
    )
    .await;
    post(
        &kong,
        "/team-a/consumer_groups/silver/consumers",
        json!({"consumer": "cid"}),
    )
    .await;
    let removed = reqwest::Client::new()
        .delete(format!(
            "{}/consumer_groups/gold/consumers/bob",
            kong.admin_url
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(removed, 204);
    let now = take(&client(&kong)).await.unwrap();
    let mut violation = compare(&frozen, &now);
    violation.added.sort();
    assert_eq!(
        violation.added,
        vec![
            format!("consumer_groups/{}/consumers/{}", id(&gold), id(&ann)),
            format!(
                "team-a/consumer_groups/{}/consumers/{}",
                id(&silver),
                id(&cid)
            ),
        ]
    );
    assert_eq!(violation.removed, vec![bob_in_gold]);
    assert!(violation.changed.is_empty(), "{:?}", violation.changed);
}

async fn fingerprint_of_one_service(version: &str) -> Fingerprint {
    let pg = Postgres::start().unwrap();
    let kong = node(&pg, version, None);
    post(
        &kong,
        "/services",
        json!({"name": "s", "host": "s.internal"}),
    )
    .await;
    take(&client(&kong)).await.unwrap()
}

/// 2,500 services are read in three pages of 1,000 (Kong's `next` for 3.x
/// keeps `size` only from 3.3; the walk sets it on every page anyway).
#[tokio::test]
async fn a_large_collection_is_read_in_the_largest_pages() {
    let pg = Postgres::start().unwrap();
    let kong = node(&pg, "3.2.2", None);
    assert_eq!(
        kong.seed("services", 2500, r#"{"host":"seed.internal","name":"svc"}"#),
        Ok(2500)
    );
    // Past the seed's second, so the first reading settles and the count
    // below is of one reading. The timestamps are `CURRENT_TIMESTAMP(0)`,
    // which PostgreSQL rounds: a seed at x.6 s is stamped x+1, so 1.1 s
    // later Kong's clock could still read x+1 (the test flaked). 2.1 s
    // later it reads at least x+2.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (fp, stats) = take_counted(&client(&kong)).await.unwrap();
    assert_eq!(fp.collections["services"].as_ref().unwrap().len(), 2500);
    assert_eq!(stats.entities, 2500);
    // The requests of the reading the fingerprint is: under load Kong's
    // clock may not have passed the seed's second at the first reading,
    // and the freeze then reads again (`take_counted`'s settle loop).
    assert!(fp.settled, "{stats:?}");
    // `GET /` 1 + services 3 + the 8 other collections 3.2 has (routes,
    // consumers, upstreams, certificates, ca_certificates, vaults,
    // key-sets, keys), one page each. Not asked: what 3.2 or OSS lacks
    // (vaults-beta, filter-chains, consumer_groups), workspaces (OSS),
    // plugins (`GET /` lists none in use), credentials and SNIs (nothing
    // to reference).
    assert_eq!(stats.last_reading, 12, "{stats:?}");
    assert_eq!(stats.requests, 12 * stats.readings, "{stats:?}");
}
