//! Kong Enterprise's consumer-group membership as kongsim serves it: the
//! documented shapes and status codes from both sides, per workspace,
//! removal with the group, and no such paths on Kong OSS.

use crate::helpers::{http, node, postgres};
use serde_json::{json, Value};
use testbed::kongsim::KongSim;

fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = http().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn post(kong: &KongSim, path: &str, body: Value) -> (u16, Value) {
    call(
        reqwest::Method::POST,
        format!("{}{path}", kong.admin_url),
        Some(body),
    )
}

fn get(kong: &KongSim, path: &str) -> (u16, Value) {
    call(
        reqwest::Method::GET,
        format!("{}{path}", kong.admin_url),
        None,
    )
}

fn delete(kong: &KongSim, path: &str) -> u16 {
    call(
        reqwest::Method::DELETE,
        format!("{}{path}", kong.admin_url),
        None,
    )
    .0
}

/// The `field` of each entity in `list`, sorted (the reference documents
/// no order).
fn sorted<'v>(list: &'v Value, field: &str) -> Vec<&'v str> {
    let mut found: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e[field].as_str().unwrap_or_default())
        .collect();
    found.sort();
    found
}

fn usernames(list: &Value) -> Vec<&str> {
    sorted(list, "username")
}

fn names(list: &Value) -> Vec<&str> {
    sorted(list, "name")
}

#[test]
fn consumer_group_membership_follows_kongs_reference() {
    let pg = postgres();
    let oss = node("3.6.1")
        .postgres(&pg)
        .bootstrap()
        .start()
        .expect("OSS starts");
    post(&oss, "/consumers", json!({"username": "ann"}));
    assert_eq!(get(&oss, "/consumer_groups/gold/consumers").0, 404);
    assert_eq!(get(&oss, "/consumers/ann/consumer_groups").0, 404);
    drop(oss);

    let pg = postgres();
    let kong = node("3.6.1.0")
        .edition("enterprise")
        .postgres(&pg)
        .bootstrap()
        .start()
        .expect("Enterprise starts");
    let (_, gold) = post(&kong, "/consumer_groups", json!({"name": "gold"}));
    let (_, silver) = post(&kong, "/consumer_groups", json!({"name": "silver"}));
    let (_, ann) = post(&kong, "/consumers", json!({"username": "ann"}));
    post(&kong, "/consumers", json!({"username": "bob"}));

    assert_eq!(
        get(&kong, "/consumer_groups/gold/consumers"),
        (200, json!({"consumers": []}))
    );
    let (status, added) = post(
        &kong,
        "/consumer_groups/gold/consumers",
        json!({"consumer": "ann"}),
    );
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["consumer_group"], gold);
    assert_eq!(added["consumers"], json!([ann]));
    let id = gold["id"].as_str().unwrap();
    let (status, added) = post(
        &kong,
        &format!("/consumer_groups/{id}/consumers"),
        json!({"consumer": "bob"}),
    );
    assert_eq!(status, 201, "by id: {added}");
    assert_eq!(usernames(&added["consumers"]), ["ann", "bob"]);
    assert_eq!(
        post(
            &kong,
            "/consumer_groups/gold/consumers",
            json!({"consumer": "ann"})
        )
        .0,
        409,
        "already a member"
    );
    assert_eq!(
        post(
            &kong,
            "/consumer_groups/gold/consumers",
            json!({"consumer": "nobody"})
        )
        .0,
        404
    );
    assert_eq!(
        post(&kong, "/consumer_groups/gold/consumers", json!({})).0,
        400
    );

    let (status, added) = post(
        &kong,
        "/consumers/ann/consumer_groups",
        json!({"group": "silver"}),
    );
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["consumer"], ann);
    assert_eq!(names(&added["consumer_groups"]), ["gold", "silver"]);
    let (status, listed) = get(&kong, "/consumers/ann/consumer_groups");
    assert_eq!(
        (status, names(&listed["consumer_groups"])),
        (200, vec!["gold", "silver"])
    );

    assert_eq!(delete(&kong, "/consumer_groups/gold/consumers/bob"), 204);
    assert_eq!(
        usernames(&get(&kong, "/consumer_groups/gold/consumers").1["consumers"]),
        ["ann"]
    );
    assert_eq!(delete(&kong, "/consumers/ann/consumer_groups/silver"), 204);
    assert_eq!(
        names(&get(&kong, "/consumers/ann/consumer_groups").1["consumer_groups"]),
        ["gold"]
    );
    // Removing all of a group's members, then all of a consumer's groups.
    for (member, all, listed) in [
        ("bob", "/consumer_groups/silver/consumers", "consumers"),
        ("ann", "/consumers/ann/consumer_groups", "consumer_groups"),
    ] {
        let path = format!("/consumers/{member}/consumer_groups");
        assert_eq!(post(&kong, &path, json!({"group": "silver"})).0, 201);
        assert_eq!(delete(&kong, all), 204, "{all}");
        assert_eq!(get(&kong, all).1, json!({ listed: [] }), "{all}");
    }

    post(
        &kong,
        "/consumers/ann/consumer_groups",
        json!({"group": "silver"}),
    );
    assert_eq!(
        delete(
            &kong,
            &format!("/consumer_groups/{}", silver["id"].as_str().unwrap())
        ),
        204
    );
    assert_eq!(
        get(&kong, "/consumers/ann/consumer_groups").1,
        json!({"consumer_groups": []}),
        "the group's memberships go with it"
    );
    assert_eq!(get(&kong, "/consumers/ann").0, 200, "not its consumers");

    post(&kong, "/workspaces", json!({"name": "team-a"}));
    assert_eq!(
        post(
            &kong,
            "/team-a/consumer_groups",
            json!({"name": "platinum"})
        )
        .0,
        201
    );
    post(&kong, "/team-a/consumers", json!({"username": "cid"}));
    assert_eq!(
        post(
            &kong,
            "/team-a/consumer_groups/platinum/consumers",
            json!({"consumer": "ann"})
        )
        .0,
        404,
        "ann is in default"
    );
    assert_eq!(
        post(
            &kong,
            "/team-a/consumer_groups/platinum/consumers",
            json!({"consumer": "cid"})
        )
        .0,
        201
    );
    assert_eq!(
        usernames(&get(&kong, "/team-a/consumer_groups/platinum/consumers").1["consumers"]),
        ["cid"]
    );
    assert_eq!(
        usernames(&get(&kong, "/consumer_groups/gold/consumers").1["consumers"]),
        Vec::<&str>::new(),
        "each workspace its own"
    );
    assert_eq!(
        get(&kong, "/consumer_groups/platinum/consumers").0,
        404,
        "team-a's group is not served in default"
    );
}
