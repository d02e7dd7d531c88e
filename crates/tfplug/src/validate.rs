//! Checks declared on the schema: validators on attributes (`Check`) and
//! constraints between the attributes of a block (`Constraint`), run by
//! `Schema::validate` at `ValidateResourceConfig`, `ValidateDataResourceConfig`,
//! `ValidateProviderConfig` and `ValidateActionConfig`, so `terraform
//! validate` reports them. Each one also describes itself, and the schema
//! appends that sentence to the attribute's description (as
//! terraform-plugin-framework's validators do), so the docs cannot drift
//! from what is enforced.
//!
//! Unknown and null values are never judged: unknowns are checked again
//! once known (Terraform validates again at plan and apply), and presence is
//! Terraform's own check (`required`).

use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::value::Value;

/// A validator on one attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// A whole number between `min` and `max` inclusive: `0.5` or `1e300`
    /// is refused, never read as unset.
    WholeNumber {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A number (fractions allowed) between `min` and `max` inclusive.
    Range {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// One of the listed strings, compared exactly.
    OneOf(Vec<String>),
    /// An `http://` or `https://` URL with a host and no userinfo
    /// (credentials belong in sensitive attributes, not in a URL that is
    /// shown in plans and errors).
    HttpUrl,
    /// A Go duration (`30s`, `1m30s`, `250ms`) greater than zero.
    Duration,
    /// A Go duration that may be zero (`0s`): a pause that may be skipped.
    DurationOrZero,
    /// PEM text holding at least one block of this kind, and nothing
    /// undecodable.
    Pem(PemKind),
    /// A map of HTTP headers: every key an RFC 9110 field name, every value
    /// free of control characters (a newline would inject a header).
    HttpHeaders,
}

/// What a `Check::Pem` expects inside the PEM text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemKind {
    /// `CERTIFICATE` blocks.
    Certificate,
    /// A PKCS#1, PKCS#8 or SEC1 private key.
    PrivateKey,
}

/// A rule between the attributes of one block.
#[derive(Clone, Debug, PartialEq)]
pub enum Constraint {
    /// Exactly one of these attributes is set.
    ExactlyOneOf(Vec<String>),
    /// At most one of these attributes is set.
    Conflicting(Vec<String>),
}

impl Check {
    /// `OneOf` the names, as an enum's parser spells them (one list serves
    /// the parser and the check).
    pub fn one_of<S: ToString>(names: impl IntoIterator<Item = S>) -> Check {
        Check::OneOf(names.into_iter().map(|n| n.to_string()).collect())
    }

    /// One Markdown sentence for the attribute's description.
    pub fn describe(&self) -> String {
        match self {
            Check::WholeNumber { min, max } => {
                format!("Must be a whole number from `{min}` to `{max}`.")
            }
            Check::Range { min, max } => format!("Must be a number from `{min}` to `{max}`."),
            Check::OneOf(options) => format!("Must be one of {}.", quoted_list(options)),
            Check::HttpUrl => {
                "Must be an `http://` or `https://` URL with a host and without credentials."
                    .to_string()
            }
            Check::Duration => {
                "Must be a duration greater than zero, such as `30s`, `1m30s` or `250ms`."
                    .to_string()
            }
            Check::DurationOrZero => {
                "Must be a duration, such as `0s`, `30s` or `1m30s`.".to_string()
            }
            Check::Pem(PemKind::Certificate) => "Must be PEM-encoded certificates.".to_string(),
            Check::Pem(PemKind::PrivateKey) => "Must be a PEM-encoded private key.".to_string(),
            Check::HttpHeaders => {
                "Header names must be HTTP field names; values must not contain control characters."
                    .to_string()
            }
        }
    }

    /// Judges a known, non-null value found at `path`. On a list or set of
    /// plain values (`node_admin_urls`), each element is judged on its own
    /// path, so one check serves an attribute and a list of them.
    pub fn check(&self, value: &Value, path: &AttrPath, diags: &mut Diagnostics) {
        if let Value::List(items) | Value::Set(items) = value {
            for (i, item) in items.iter().enumerate() {
                let at = match value {
                    Value::List(_) => path.clone().index(i as i64),
                    _ => path.clone(),
                };
                if item.is_known() && !item.is_null() {
                    self.check(item, &at, diags);
                }
            }
            return;
        }
        let fault = match self {
            Check::WholeNumber { min, max } => whole_number(value, *min, *max),
            Check::Range { min, max } => number_in_range(value, *min, *max),
            Check::OneOf(options) => one_of(value, options),
            Check::HttpUrl => string(value).and_then(http_url),
            Check::Duration => string(value).and_then(positive_duration),
            Check::DurationOrZero => {
                string(value).and_then(|text| crate::timeouts::parse_duration(text).map(drop))
            }
            Check::Pem(kind) => string(value).and_then(|text| pem(text, *kind)),
            Check::HttpHeaders => return http_headers(value, path, diags),
        };
        if let Err(detail) = fault {
            diags.push(Diagnostic::error(summary(path), detail).at(path.clone()));
        }
    }
}

impl Constraint {
    /// One Markdown sentence for the block's description.
    pub fn describe(&self) -> String {
        match self {
            Constraint::ExactlyOneOf(names) => {
                format!("Exactly one of {} must be set.", quoted_list(names))
            }
            Constraint::Conflicting(names) => {
                format!("At most one of {} may be set.", quoted_list(names))
            }
        }
    }

    /// Judges the object `block` found at `path`. Undecided while any of the
    /// attributes is unknown.
    pub fn check(&self, block: &Value, path: &AttrPath, diags: &mut Diagnostics) {
        let (Constraint::ExactlyOneOf(names) | Constraint::Conflicting(names)) = self;
        if names.iter().any(|n| block.attr(n).is_unknown()) {
            return;
        }
        let set: Vec<&String> = names.iter().filter(|n| !block.attr(n).is_null()).collect();
        let wrong = match self {
            Constraint::ExactlyOneOf(_) => set.len() != 1,
            Constraint::Conflicting(_) => set.len() > 1,
        };
        if !wrong {
            return;
        }
        // Point at the second attribute set (the one in conflict), or at the
        // first candidate when none is set.
        let at = set.get(1).or(set.first()).copied().unwrap_or(&names[0]);
        let detail = if set.is_empty() {
            format!("{} Neither is set.", self.describe())
        } else {
            format!("{} Set here: {}.", self.describe(), quoted_list(&set))
        };
        diags.push(
            Diagnostic::error("Invalid combination of attributes", detail)
                .at(path.clone().attr(at)),
        );
    }
}

fn summary(path: &AttrPath) -> String {
    format!("Invalid {path}")
}

fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("Expected a string, got {value}."))
}

fn whole_number(value: &Value, min: i64, max: i64) -> Result<(), String> {
    let n = value
        .as_f64()
        .ok_or_else(|| format!("Expected a number, got {value}."))?;
    if n.fract() != 0.0 || !n.is_finite() {
        return Err(format!("Must be a whole number; {value} is not."));
    }
    if n < min as f64 || n > max as f64 {
        return Err(format!("Must be from {min} to {max}; got {value}."));
    }
    Ok(())
}

fn number_in_range(value: &Value, min: f64, max: f64) -> Result<(), String> {
    let n = value
        .as_f64()
        .ok_or_else(|| format!("Expected a number, got {value}."))?;
    if !(min..=max).contains(&n) {
        return Err(format!("Must be from {min} to {max}; got {value}."));
    }
    Ok(())
}

fn one_of(value: &Value, options: &[String]) -> Result<(), String> {
    let s = string(value)?;
    if options.iter().any(|o| o == s) {
        Ok(())
    } else {
        Err(format!("{s:?} is not one of {}.", quoted_list(options)))
    }
}

/// The one judgement of a URL (`Check::HttpUrl`), also for URLs that
/// reach a client another way (environment, resources' own parsing): an
/// `http://` or `https://` URL with a host and no userinfo. The reason
/// never repeats the URL, whose userinfo may hold a password.
pub fn http_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("Not a URL ({e})."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "The scheme must be http or https, not {:?}.",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The URL has no host.".to_string());
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The URL is not echoed: its userinfo may hold a password.
        return Err(
            "The URL carries credentials (user:password@); put them in a sensitive attribute instead."
                .to_string(),
        );
    }
    Ok(())
}

/// `raw` as messages may show it: any userinfo (`user:password@`) replaced
/// by `***`, whether `raw` parses as a URL or not.
pub fn url_for_messages(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{}***{}", &raw[..start], &raw[start + at..]),
        None => raw.to_string(),
    }
}

fn positive_duration(text: &str) -> Result<(), String> {
    match crate::timeouts::parse_duration(text)? {
        d if d.is_zero() => Err(format!(
            "{text:?} is zero; a duration greater than zero is needed."
        )),
        _ => Ok(()),
    }
}

fn pem(text: &str, kind: PemKind) -> Result<(), String> {
    use rustls_pemfile::Item;
    let mut found = 0;
    for item in rustls_pemfile::read_all(&mut text.as_bytes()) {
        let item = item.map_err(|e| format!("The PEM text cannot be decoded ({e:?})."))?;
        let wanted = match kind {
            PemKind::Certificate => matches!(item, Item::X509Certificate(_)),
            PemKind::PrivateKey => {
                matches!(
                    item,
                    Item::Pkcs1Key(_) | Item::Pkcs8Key(_) | Item::Sec1Key(_)
                )
            }
        };
        found += usize::from(wanted);
    }
    match (found, kind) {
        (0, PemKind::Certificate) => {
            Err("No PEM `-----BEGIN CERTIFICATE-----` block found.".to_string())
        }
        (0, PemKind::PrivateKey) => Err("No PEM private key block found.".to_string()),
        _ => Ok(()),
    }
}

fn http_headers(value: &Value, path: &AttrPath, diags: &mut Diagnostics) {
    let Some(entries) = value.entries() else {
        return;
    };
    for (name, v) in entries {
        let at = path.clone().key(name);
        if !is_field_name(name) {
            diags.push(
                Diagnostic::error(
                    "Invalid header name",
                    format!(
                        "{name:?} is not an HTTP field name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces."
                    ),
                )
                .at(at.clone()),
            );
        }
        if v.as_str()
            .is_some_and(|s| s.chars().any(is_forbidden_in_value))
        {
            // The value is not echoed: headers often carry keys.
            diags.push(
                Diagnostic::error(
                    "Invalid header value",
                    format!("The value of header {name:?} contains a control character (such as a newline)."),
                )
                .at(at),
            );
        }
    }
}

/// RFC 9110 §5.6.2 `token`.
fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 9110 §5.5: a field value is visible characters, spaces and tabs.
fn is_forbidden_in_value(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
