//! The driver's one way to read a paginated collection of its own HTTP
//! client (targets on the Admin API, `/health` on each serving node).
//! Kong's `next` link on nested collections carries only the offset
//! (<https://github.com/Kong/kong/blob/3.6.1/kong/api/endpoints.lua>), so
//! `size` is set on every page; a node that keeps sending new `next` links,
//! or one twice, is refused rather than followed for ever.

use super::KongUpstreamDriver;
use crate::kong::{set_page_size, MAX_PAGE_SIZE};
use crate::traffic::DriverError;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashSet;

/// Pages one read may follow (a million entities at Kong's largest page).
const MAX_PAGES: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    next: Option<String>,
}

impl KongUpstreamDriver {
    /// Every entity of the collection at `url`, on the Admin API at `base`
    /// (`endpoint` names it in errors).
    pub(super) async fn all_pages<T: DeserializeOwned>(
        &self,
        base: &Url,
        mut url: Url,
        endpoint: &str,
    ) -> Result<Vec<T>, DriverError> {
        let mut items = Vec::new();
        let mut followed = HashSet::new();
        loop {
            set_page_size(&mut url, MAX_PAGE_SIZE);
            if !followed.insert(url.to_string()) || followed.len() > MAX_PAGES {
                let detail = format!(
                    "pagination does not end ({} pages, or a `next` link sent twice)",
                    followed.len()
                );
                return Err(unexpected(endpoint, &url, detail));
            }
            let (status, body) = self.send(Method::GET, url.clone(), None).await?;
            if !status.is_success() {
                return Err(self.refused(format!("GET {}", url.path()), status, &body));
            }
            let page: Page<T> = serde_json::from_str(&body).map_err(|e| {
                let shown: String = body.chars().take(200).collect();
                unexpected(endpoint, &url, format!("{e}: {shown}"))
            })?;
            items.extend(page.data);
            match page.next.filter(|n| !n.is_empty()) {
                Some(next) => url = Self::link_on(base, &next),
                None => return Ok(items),
            }
        }
    }
}

fn unexpected(endpoint: &str, url: &Url, response: String) -> DriverError {
    DriverError::UnexpectedResponse {
        attribute: "admin_url",
        endpoint: endpoint.to_string(),
        request: format!("GET {}", url.path()),
        response,
    }
}
