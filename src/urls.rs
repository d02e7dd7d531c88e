//! Credentials never travel in a URL: the userinfo part (`user:password@`)
//! of an Admin API, status, proxy or gate URL would be shown in plans,
//! state and error messages. Such URLs are refused (credentials go in
//! `admin_token` or `headers`), and no message ever repeats the userinfo.

/// Whether `raw` carries a userinfo part, parseable as a URL or not.
pub fn has_userinfo(raw: &str) -> bool {
    match reqwest::Url::parse(raw) {
        Ok(url) => !url.username().is_empty() || url.password().is_some(),
        Err(_) => authority(raw).is_some_and(|a| a.contains('@')),
    }
}

/// `raw` as messages may show it: any userinfo replaced by `***`.
pub fn without_userinfo(raw: &str) -> String {
    let Some(auth) = authority(raw) else {
        return raw.to_string();
    };
    match auth.rfind('@') {
        Some(at) => raw.replacen(&auth[..at], "***", 1),
        None => raw.to_string(),
    }
}

/// The error text for a URL attribute `attribute` that carries userinfo.
pub fn userinfo_refused(attribute: &str) -> String {
    format!(
        "{attribute} carries credentials in its userinfo part (user:password@host). They would show in plans, state \
         and messages: remove them from the URL and use admin_token or headers (sensitive) instead. The URL is not \
         repeated here."
    )
}

/// The part between `scheme://` and the next `/`, `?` or `#`.
fn authority(raw: &str) -> Option<&str> {
    let rest = &raw[raw.find("://")? + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_found_and_never_shown() {
        for url in [
            "http://admin:s3cret@kong:8001",
            "https://s3cret@kong:8001/",
            "http://admin:s3cret@[bad host/",
        ] {
            assert!(has_userinfo(url), "{url}");
            assert!(!without_userinfo(url).contains("s3cret"), "{url}");
        }
        for url in ["http://kong:8001/a@b", "https://kong/?q=a@b", "not a url"] {
            assert!(!has_userinfo(url), "{url}");
            assert_eq!(without_userinfo(url), url);
        }
    }
}
