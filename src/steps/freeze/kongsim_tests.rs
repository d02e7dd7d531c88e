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
    let now = take(&client(&kong)).await.unwrap();
    let mut added = compare(&frozen, &now).added;
    added.sort();
    written.sort();
    assert_eq!(added, written);
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
    let fp = fingerprint_of_one_service("3.3.1").await;
    assert_eq!(fp.collections["filter-chains"], None, "before 3.4");
    assert!(fp.collections["workspaces"].is_some());
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
    // Past the seed's second, so the first reading settles.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (fp, stats) = take_counted(&client(&kong)).await.unwrap();
    assert_eq!(fp.collections["services"].as_ref().unwrap().len(), 2500);
    assert_eq!(
        stats.entities, 2501,
        "2,500 services and the default workspace"
    );
    // workspaces 1 + services 3 + 11 other collections, each one page or a
    // 404; credentials and SNIs not asked (nothing they could reference).
    assert_eq!(stats.requests, 15, "{stats:?}");
}
