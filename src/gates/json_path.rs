//! The small JSON path subset gates need: `$.a.b[0].c` (or `a.b.0.c`).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A parsed path, checked once at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("json_path `{path}`: {reason} (expected something like `$.database.reachable` or `$.data[0].status`)")]
pub struct JsonPathError {
    pub path: String,
    pub reason: String,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, JsonPathError> {
        let fail = |reason: &str| JsonPathError {
            path: text.to_string(),
            reason: reason.to_string(),
        };
        let body = text.strip_prefix('$').unwrap_or(text);
        let body = body.strip_prefix('.').unwrap_or(body);
        let mut segments = Vec::new();
        for part in body.split('.') {
            if part.is_empty() {
                if body.is_empty() {
                    break; // `$` alone: the whole document.
                }
                return Err(fail("empty segment"));
            }
            let (key, indexes) = match part.find('[') {
                Some(i) => part.split_at(i),
                None => (part, ""),
            };
            if !key.is_empty() {
                segments.push(key_or_index(key));
            }
            segments.extend(parse_indexes(indexes).ok_or_else(|| fail("malformed [index]"))?);
        }
        Ok(JsonPath {
            text: text.to_string(),
            segments,
        })
    }

    /// The value at this path, or `None` when the document has no such value.
    pub fn select<'a>(&self, mut value: &'a Value) -> Option<&'a Value> {
        for segment in &self.segments {
            value = match (segment, value) {
                (Segment::Key(k), Value::Object(map)) => map.get(k)?,
                (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
                // `a.0` on an object with key "0".
                (Segment::Index(i), Value::Object(map)) => map.get(&i.to_string())?,
                _ => return None,
            };
        }
        Some(value)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn key_or_index(part: &str) -> Segment {
    match part.parse::<usize>() {
        Ok(i) => Segment::Index(i),
        Err(_) => Segment::Key(part.to_string()),
    }
}

/// `[0][12]` → indexes; `None` when malformed.
fn parse_indexes(mut rest: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        out.push(Segment::Index(inner[..close].trim().parse().ok()?));
        rest = &inner[close + 1..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_keys_and_indexes_in_both_spellings() {
        let doc =
            json!({"database": {"reachable": true}, "data": [{"status": "ok"}, {"status": "bad"}]});
        let select = |p: &str| JsonPath::parse(p).unwrap().select(&doc).cloned();
        assert_eq!(select("$.database.reachable"), Some(json!(true)));
        assert_eq!(select("database.reachable"), Some(json!(true)));
        assert_eq!(select("$.data[1].status"), Some(json!("bad")));
        assert_eq!(select("data.0.status"), Some(json!("ok")));
        assert_eq!(select("$"), Some(doc.clone()));
        assert_eq!(select("$.data[5]"), None);
        assert_eq!(select("$.database.reachable.deeper"), None);
    }

    #[test]
    fn rejects_malformed_paths() {
        assert!(JsonPath::parse("$.a..b").is_err());
        assert!(JsonPath::parse("$.a[x]").is_err());
        assert!(JsonPath::parse("$.a[0").is_err());
    }
}
