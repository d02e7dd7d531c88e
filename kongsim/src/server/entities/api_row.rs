//! A table row written out in Kong's API shape as JSON text, without
//! building a `serde_json::Value` per row: the values are spliced from
//! `row_to_json`'s text as they are. A page is 1,000 rows, and building,
//! reshaping and dropping a `Value` tree per row was most of kongsim's time
//! on a large read.

use serde_json::value::RawValue;
use std::collections::HashMap;

/// Where an API field takes its value from in the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The column's value as it is.
    Column(&'static str),
    /// A foreign key column, shown as `{"id": <column>}` (null stays null).
    Foreign(&'static str),
}

/// An entity's API fields in the order they are written (by name, as a
/// `serde_json::Map` orders them), each with where its value comes from.
pub(super) type Shape = Vec<(&'static str, Source)>;

/// Builds a [`Shape`] from fields in the order Kong's API lists them: a
/// later field of the same name replaces an earlier one, and a column read
/// a second time gives null (it was moved out by the first read).
pub(super) fn shape(fields: impl IntoIterator<Item = (&'static str, Source)>) -> Shape {
    let mut by_name = std::collections::BTreeMap::new();
    let mut read = std::collections::HashSet::new();
    for (name, source) in fields {
        let column = match source {
            Source::Column(c) | Source::Foreign(c) => c,
        };
        let source = if read.insert(column) {
            Some(source)
        } else {
            None
        };
        by_name.insert(name, source);
    }
    by_name
        .into_iter()
        .map(|(name, source)| (name, source.unwrap_or(Source::Column(""))))
        .collect()
}

/// One row in API shape: its JSON text and its `id` (for `offset`).
pub struct ApiRow {
    pub text: Box<RawValue>,
    pub id: Option<String>,
}

/// Writes `row` (`row_to_json` text keyed by column) in `shape`, with
/// `created_at` and `updated_at` taken from `epochs` (their epoch numbers
/// as text; absent or unreadable is null). `None` when the row is not a
/// JSON object.
pub(super) fn api_row(shape: &Shape, row: &str, epochs: [Option<&str>; 2]) -> Option<ApiRow> {
    let mut columns: HashMap<&str, &RawValue> = serde_json::from_str(row).ok()?;
    for (key, text) in ["created_at", "updated_at"].into_iter().zip(epochs) {
        match text.and_then(|t| serde_json::from_str::<&RawValue>(t).ok()) {
            Some(epoch) => columns.insert(key, epoch),
            None => columns.remove(key),
        };
    }
    let id = columns
        .get("id")
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
    let mut out = String::with_capacity(row.len() + 64);
    out.push('{');
    for (i, (name, source)) in shape.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        let (column, foreign) = match *source {
            Source::Column(c) => (c, false),
            Source::Foreign(c) => (c, true),
        };
        match columns.get(column).map(|raw| raw.get()) {
            None | Some("null") => out.push_str("null"),
            Some(value) if foreign => {
                out.push_str("{\"id\":");
                out.push_str(value);
                out.push('}');
            }
            Some(value) => push_compact(&mut out, value),
        }
    }
    out.push('}');
    Some(ApiRow {
        text: RawValue::from_string(out).ok()?,
        id,
    })
}

/// Appends a JSON value without the whitespace PostgreSQL's `jsonb` text
/// puts after `:` and `,`, so nested objects come out compact as Kong's
/// encoder writes them.
fn push_compact(out: &mut String, value: &str) {
    if !value.starts_with(['{', '[']) {
        out.push_str(value);
        return;
    }
    let (mut in_string, mut escaped) = (false, false);
    for c in value.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Kind, ALL};
    use super::*;
    use serde_json::{json, Map, Value};

    /// The reshaping kongsim did before rows were spliced as text: parse
    /// the row into a `Value`, put the epochs in, move each column to its
    /// field. Kept as the oracle the text path must agree with.
    fn old_to_api(
        fields: &[(&'static str, Source)],
        row: &str,
        epochs: [Option<&str>; 2],
    ) -> Value {
        let mut row: Value = serde_json::from_str(row).unwrap();
        let object = row.as_object_mut().unwrap();
        for (key, text) in ["created_at", "updated_at"].into_iter().zip(epochs) {
            let epoch = text
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(Value::Null);
            object.insert(key.to_string(), epoch);
        }
        let mut take = |column: &str| row.get_mut(column).map_or(Value::Null, Value::take);
        let mut out = Map::new();
        for (name, source) in fields {
            let value = match *source {
                Source::Foreign(c) => match take(c) {
                    Value::Null => Value::Null,
                    id => json!({ "id": id }),
                },
                Source::Column(c) => take(c),
            };
            out.insert(name.to_string(), value);
        }
        Value::Object(out)
    }

    /// A `row_to_json`-like text for `columns`, in PostgreSQL's own
    /// spacing for nested JSON, with one sample value per kind.
    fn sample_row(columns: &[(&'static str, Option<Kind>)], nulls: bool) -> String {
        let mut parts = vec![r#""id":"7f1c2c5e-2b52-4a44-9bb2-1f5e1f0b7a11""#.to_string()];
        parts.push(r#""created_at":"2024-01-02T03:04:05+00:00""#.to_string());
        parts.push(r#""ws_id":"0b6a3c1e-0000-4000-8000-000000000001""#.to_string());
        for (i, (column, kind)) in columns.iter().enumerate() {
            let value = match kind {
                _ if nulls && i % 2 == 0 => "null".to_string(),
                Some(Kind::Foreign(_)) => format!("\"00000000-0000-4000-8000-{i:012}\""),
                Some(Kind::Json) => r#"{"b": [1, 2.5, "x\"y"], "a": {"z": null}}"#.to_string(),
                _ if i % 3 == 0 => format!("[\"tag{i}\", \"é/\\u0001\"]"),
                _ if i % 3 == 1 => format!("{i}"),
                _ => format!("\"text {i}\""),
            };
            parts.push(format!("\"{column}\":{value}"));
        }
        format!("{{{}}}", parts.join(","))
    }

    #[test]
    fn every_entity_kind_comes_out_as_the_old_reshaping_gave_it() {
        let epoch_cases: [[Option<&str>; 2]; 4] = [
            [Some("1704164645"), Some("1704164699")],
            [Some("1704164645.120"), Some("1704164645.007")],
            [Some("1704164645"), None],
            [None, Some("not a number")],
        ];
        for def in ALL {
            let mut fields: Vec<(&'static str, Source)> = vec![
                ("id", Source::Column("id")),
                ("created_at", Source::Column("created_at")),
                ("updated_at", Source::Column("updated_at")),
            ];
            fields.extend(def.fields.iter().map(|f| {
                let source = match f.kind {
                    Kind::Foreign(_) => Source::Foreign(f.column),
                    _ => Source::Column(f.column),
                };
                (f.name, source)
            }));
            let columns: Vec<_> = def
                .fields
                .iter()
                .map(|f| (f.column, Some(f.kind)))
                .collect();
            let shape = shape(fields.iter().copied());
            for nulls in [false, true] {
                let row = sample_row(&columns, nulls);
                for epochs in epoch_cases {
                    let new = api_row(&shape, &row, epochs).expect("an object row");
                    let parsed: Value = serde_json::from_str(new.text.get()).unwrap();
                    assert_eq!(
                        parsed,
                        old_to_api(&fields, &row, epochs),
                        "{} (nulls: {nulls}, epochs: {epochs:?})",
                        def.name
                    );
                    assert_eq!(
                        new.id.as_deref(),
                        Some("7f1c2c5e-2b52-4a44-9bb2-1f5e1f0b7a11")
                    );
                }
            }
        }
    }

    #[test]
    fn a_column_read_twice_is_null_the_second_time() {
        let fields = [
            ("a", Source::Column("x")),
            ("b", Source::Foreign("x")),
            ("a", Source::Column("y")),
        ];
        let row = r#"{"x":"1","y":2}"#;
        let new = api_row(&shape(fields), row, [None, None]).unwrap();
        assert_eq!(new.text.get(), r#"{"a":2,"b":null}"#);
        assert_eq!(
            serde_json::from_str::<Value>(new.text.get()).unwrap(),
            old_to_api(&fields, row, [None, None])
        );
    }

    #[test]
    fn nested_json_is_written_compact_and_strings_kept_whole() {
        let row = r#"{"c":{"a": [1, {"b": "x, \"y\": z"}], "d": " "},"s":"a b"}"#;
        let shape = shape([("c", Source::Column("c")), ("s", Source::Column("s"))]);
        let new = api_row(&shape, row, [None, None]).unwrap();
        assert_eq!(
            new.text.get(),
            r#"{"c":{"a":[1,{"b":"x, \"y\": z"}],"d":" "},"s":"a b"}"#
        );
    }

    #[test]
    fn a_row_that_is_not_an_object_is_skipped() {
        assert!(api_row(&shape([]), "[1]", [None, None]).is_none());
        assert!(api_row(&shape([]), "not json", [None, None]).is_none());
    }
}
