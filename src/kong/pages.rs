//! Walking Kong's paginated collections in bounded time and memory.
//!
//! Kong answers a collection with `{"data": [...], "next": "/path?offset=…"}`
//! (`kong/api/endpoints.lua`). Its `next` link drops `size` for nested
//! collections (and, before 3.3, for every collection), so every page
//! request here sets `size` itself. A walk hands each page to the caller and
//! forgets it, refuses a `next` it has already followed, an entity it has
//! already seen and an answer without a `data` list, and ends at a deadline.

#[cfg(test)]
use super::client::MAX_BODY_BYTES;
use super::client::{KongClient, KongError};
use reqwest::Url;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// Kong's largest page (`max_page_size` in `kong/api/endpoints.lua`,
/// <https://github.com/Kong/kong/blob/3.6.1/kong/api/endpoints.lua#L144>).
pub const MAX_PAGE_SIZE: u32 = 1000;

/// How long one walk over a collection may take in all, by default.
pub const DEFAULT_WALK_TIMEOUT: Duration = Duration::from_secs(600);

/// What a walk learnt besides the entities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkSummary {
    pub pages: usize,
    pub entities: usize,
    /// Kong's clock (the last page's `Date`, Unix seconds) when it answered.
    pub server_time: Option<i64>,
}

/// One decoded page: its entities and the link to the next one.
pub(crate) struct Page {
    pub data: Vec<serde_json::Value>,
    pub next: Option<String>,
    pub server_time: Option<i64>,
}

/// Sets a page request's `size`, whatever the link carried: Kong's `next`
/// links drop it in several places.
pub fn set_page_size(url: &mut Url, size: u32) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "size")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("size", &size.to_string());
}

impl KongClient {
    /// All entities of a paginated collection, collected. For collections
    /// that stay small (data planes, plugins of one node); large ones go
    /// through [`KongClient::walk`].
    pub async fn paginate(&self, path: &str) -> Result<Vec<serde_json::Value>, KongError> {
        let mut items = Vec::new();
        self.walk(path, |page| {
            items.extend(page);
            Ok(())
        })
        .await?;
        Ok(items)
    }

    /// Follows a collection page by page, giving each page's entities to
    /// `each` and keeping nothing of them.
    pub async fn walk<F>(&self, path: &str, each: F) -> Result<WalkSummary, KongError>
    where
        F: FnMut(Vec<serde_json::Value>) -> Result<(), KongError>,
    {
        self.walk_list(path, PAGE_LIST, each).await
    }

    /// [`KongClient::walk`] for a collection Kong may also answer as one
    /// unpaged list named `list` (Kong Enterprise documents
    /// `GET /consumer_groups/{group}/consumers` as `{"consumers": [...]}`):
    /// a page's `data`, else its `list`.
    pub async fn walk_list<F>(
        &self,
        path: &str,
        list: &str,
        mut each: F,
    ) -> Result<WalkSummary, KongError>
    where
        F: FnMut(Vec<serde_json::Value>) -> Result<(), KongError>,
    {
        let deadline = tokio::time::Instant::now() + self.walk_timeout;
        let mut seen_links = HashSet::new();
        let mut seen_ids = HashSet::new();
        let mut summary = WalkSummary::default();
        let mut next = Some(path.to_string());
        let mut size = MAX_PAGE_SIZE;
        while let Some(link) = next.take() {
            let url = self.page_url(&link, MAX_PAGE_SIZE)?;
            if !seen_links.insert(url.to_string()) {
                return Err(pagination_error(
                    path,
                    format!("Kong sent the page {link:?} twice; pagination would never end"),
                ));
            }
            let page = tokio::time::timeout_at(deadline, self.get_page(&link, &mut size, list))
                .await
                .map_err(|_| KongError::WalkTimeout {
                    url: path.to_string(),
                    seconds: self.walk_timeout.as_secs(),
                    pages: summary.pages,
                })??;
            check_unique_ids(path, &page.data, &mut seen_ids)?;
            summary.pages += 1;
            summary.entities += page.data.len();
            summary.server_time = page.server_time.or(summary.server_time);
            next = page.next;
            each(page.data)?;
        }
        Ok(summary)
    }

    /// `link` (a path, or Kong's `next`) with `size` set to `size`,
    /// whatever the link carried.
    fn page_url(&self, link: &str, size: u32) -> Result<Url, KongError> {
        let mut url = self.url(link)?;
        set_page_size(&mut url, size);
        Ok(url)
    }

    /// One page of `size` entities. A page whose body passes the size cap
    /// is asked again with half as many (and the rest of the walk keeps the
    /// smaller size), so a collection of large entities (certificate
    /// chains, big plugin configurations) still reads.
    async fn get_page(&self, link: &str, size: &mut u32, list: &str) -> Result<Page, KongError> {
        loop {
            let attempt = self.page_url(link, *size)?;
            match self.get_json_dated(attempt.clone()).await {
                Ok((body, server_time)) => return decode_page(&attempt, body, server_time, list),
                Err(KongError::TooLarge { .. }) if *size > 1 => *size /= 2,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Where Kong's pages hold their entities.
pub const PAGE_LIST: &str = "data";

/// Kong's page shape: a `data` list (else the `list` the caller expects)
/// and a `next` that is a link or null. Anything else is not Kong
/// (`{"hello":"world"}` is not zero entities).
fn decode_page(
    url: &Url,
    mut body: serde_json::Value,
    server_time: Option<i64>,
    list: &str,
) -> Result<Page, KongError> {
    let not_kong = |reason: &str| KongError::NotKong {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let next = match body.get("next") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(link)) => Some(link.clone()),
        Some(_) => return Err(not_kong("its \"next\" is neither a link nor null")),
    };
    let listed = match body.get(PAGE_LIST) {
        Some(_) => PAGE_LIST,
        None => list,
    };
    let data = match body.get_mut(listed).map(serde_json::Value::take) {
        Some(serde_json::Value::Array(data)) => data,
        // Kong encodes an empty Lua table as `{}`.
        Some(serde_json::Value::Object(o)) if o.is_empty() => Vec::new(),
        _ if list == PAGE_LIST => {
            return Err(not_kong(
                "the answer has no \"data\" list, so it is not a page of a Kong collection",
            ))
        }
        _ => {
            return Err(not_kong(&format!(
            "the answer has neither a \"data\" nor a {list:?} list, so it is not a Kong collection"
        )))
        }
    };
    Ok(Page {
        data,
        next,
        server_time,
    })
}

/// An entity's `id` may appear once in a whole walk: twice means the
/// pagination is broken or the collection moved under it, and either way
/// what was read is not the collection.
fn check_unique_ids(
    path: &str,
    data: &[serde_json::Value],
    seen: &mut HashSet<u64>,
) -> Result<(), KongError> {
    for id in data
        .iter()
        .filter_map(|e| e.get("id").and_then(|i| i.as_str()))
    {
        if !seen.insert(short_hash(id)) {
            return Err(pagination_error(
                path,
                format!("the entity {id} came twice; the collection changed during the walk or its pagination is broken"),
            ));
        }
    }
    Ok(())
}

/// 8 bytes per entity instead of the id itself: the set stays small at
/// 50,000 entities.
fn short_hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

fn pagination_error(path: &str, reason: String) -> KongError {
    KongError::Pagination {
        url: path.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    //! Each failure against a real HTTP server that lies in one way.
    use super::*;
    use crate::kong::AdminSettings;
    use axum::extract::{Query, State};
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    type Params = HashMap<String, String>;
    type Handler = Arc<dyn Fn(&Params) -> Value + Send + Sync>;

    /// Serves `GET /things` with `answer(query)`, recording every query.
    async fn lying_server(answer: Handler) -> (KongClient, Arc<Mutex<Vec<Params>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = (answer, log.clone());
        let app = Router::new()
            .route(
                "/things",
                get(
                    |State((answer, log)): State<(Handler, Arc<Mutex<Vec<Params>>>)>,
                     Query(q): Query<Params>| async move {
                        log.lock().unwrap().push(q.clone());
                        Json(answer(&q))
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (
            KongClient::new(&url, &AdminSettings::default()).unwrap(),
            log,
        )
    }

    /// Kong's pagination over `total` numbered entities, honouring `size`
    /// (default 100) and, like Kong's nested collections, dropping it from
    /// `next`.
    fn kong_like(total: usize) -> Handler {
        Arc::new(move |q: &Params| {
            let size: usize = q.get("size").and_then(|s| s.parse().ok()).unwrap_or(100);
            let from: usize = q.get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
            let to = (from + size).min(total);
            let data: Vec<Value> = (from..to).map(|i| json!({"id": format!("e{i}")})).collect();
            let next = (to < total).then(|| format!("/things?offset={to}"));
            json!({"data": data, "next": next})
        })
    }

    fn asked_sizes(log: &Mutex<Vec<Params>>) -> Vec<String> {
        log.lock()
            .unwrap()
            .iter()
            .map(|q| q["size"].clone())
            .collect()
    }

    #[tokio::test]
    async fn every_page_keeps_the_largest_size() {
        let (client, log) = lying_server(kong_like(2500)).await;
        let all = client.paginate("/things").await.unwrap();
        assert_eq!(all.len(), 2500);
        let sizes = asked_sizes(&log);
        assert_eq!(
            sizes,
            ["1000", "1000", "1000"],
            "three pages of 1000, not 1 + 15 of 100"
        );
    }

    #[tokio::test]
    async fn a_next_that_repeats_is_refused() {
        let (client, log) = lying_server(Arc::new(
            |_: &Params| json!({"data": [], "next": "/things?offset=again"}),
        ))
        .await;
        let err = client.paginate("/things").await.unwrap_err();
        assert!(matches!(err, KongError::Pagination { .. }), "{err}");
        assert!(err.to_string().contains("twice"), "{err}");
        assert_eq!(log.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_entity_on_two_pages_is_refused() {
        let (client, _) = lying_server(Arc::new(|q: &Params| {
            let next = q.get("offset").is_none().then_some("/things?offset=1");
            json!({"data": [{"id": "same"}], "next": next})
        }))
        .await;
        let err = client.paginate("/things").await.unwrap_err();
        assert!(matches!(err, KongError::Pagination { .. }), "{err}");
        assert!(
            err.to_string().contains("the entity same came twice"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_walk_that_never_ends_is_bounded_in_time() {
        let (client, _) = lying_server(Arc::new(|q: &Params| {
            std::thread::sleep(Duration::from_millis(50));
            let n: u64 = q.get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
            json!({"data": [], "next": format!("/things?offset={}", n + 1)})
        }))
        .await;
        let client = client.with_walk_timeout(Duration::from_millis(400));
        let started = std::time::Instant::now();
        let err = client.paginate("/things").await.unwrap_err();
        assert!(matches!(err, KongError::WalkTimeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_non_kong_answer_is_an_error_not_an_empty_collection() {
        let (client, _) = lying_server(Arc::new(|_: &Params| json!({"hello": "world"}))).await;
        let err = client.paginate("/things").await.unwrap_err();
        assert!(matches!(err, KongError::NotKong { .. }), "{err}");
        let (client, _) = lying_server(Arc::new(|_: &Params| json!({"data": [], "next": 7}))).await;
        assert!(matches!(
            client.paginate("/things").await,
            Err(KongError::NotKong { .. })
        ));
        // Kong's own empty collection (`data` as an empty Lua table).
        let (client, _) =
            lying_server(Arc::new(|_: &Params| json!({"data": {}, "next": null}))).await;
        assert!(client.paginate("/things").await.unwrap().is_empty());
    }

    /// 100 MB drove the provider to ~400 MiB; now it stops at the cap.
    #[tokio::test]
    async fn an_oversized_answer_is_refused_at_the_cap() {
        let (client, log) = lying_server(Arc::new(|_: &Params| {
            json!({"data": [{"id": "x", "blob": "a".repeat(MAX_BODY_BYTES + 1)}], "next": null})
        }))
        .await;
        let err = client.paginate("/things").await.unwrap_err();
        assert!(matches!(err, KongError::TooLarge { .. }), "{err}");
        // Asked again smaller (1000, 500, ... 1) before giving up.
        assert_eq!(log.lock().unwrap().len(), 10);
    }

    #[tokio::test]
    async fn a_page_of_large_entities_is_asked_again_smaller() {
        let (client, log) = lying_server(Arc::new(|q: &Params| {
            let size: usize = q["size"].parse().unwrap();
            let from: usize = q.get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
            let to = (from + size).min(600);
            let big = "c".repeat(20_000);
            let data: Vec<Value> = (from..to)
                .map(|i| json!({"id": format!("c{i}"), "cert": big}))
                .collect();
            let next = (to < 600).then(|| format!("/things?offset={to}"));
            json!({"data": data, "next": next})
        }))
        .await;
        let all = client.paginate("/things").await.unwrap();
        assert_eq!(all.len(), 600);
        let sizes = asked_sizes(&log);
        assert_eq!(sizes, ["1000", "500", "250", "250", "250"]);
    }

    /// Kong Enterprise documents some nested lists unpaged
    /// (`{"consumers": [...]}`): read where the caller names that list,
    /// as are Kong's paged `data`; any other shape, or that list where it
    /// was not named, is not Kong.
    #[tokio::test]
    async fn a_named_list_is_read_only_where_the_caller_expects_it() {
        let listed = |body: Value| -> Handler { Arc::new(move |_: &Params| body.clone()) };
        let read = |client: KongClient, list: &'static str| async move {
            let mut ids = Vec::new();
            let walked = client
                .walk_list("/things", list, |page| {
                    ids.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_string()));
                    Ok(())
                })
                .await;
            walked.map(|_| ids)
        };
        let (client, _) =
            lying_server(listed(json!({"consumers": [{"id": "a"}, {"id": "b"}]}))).await;
        assert_eq!(read(client, "consumers").await.unwrap(), ["a", "b"]);
        let (client, _) = lying_server(listed(json!({"consumers": {}}))).await;
        assert!(read(client, "consumers").await.unwrap().is_empty());
        let (client, _) = lying_server(kong_like(1500)).await;
        assert_eq!(
            read(client, "consumers").await.unwrap().len(),
            1500,
            "paged"
        );
        let (client, _) = lying_server(listed(json!({"members": [{"id": "a"}]}))).await;
        let err = read(client, "consumers").await.unwrap_err();
        assert!(matches!(err, KongError::NotKong { .. }), "{err}");
        assert!(err.to_string().contains("\"consumers\""), "{err}");
        let (client, _) = lying_server(listed(json!({"consumers": [{"id": "a"}]}))).await;
        assert!(matches!(
            client.paginate("/things").await,
            Err(KongError::NotKong { .. })
        ));
    }
}
