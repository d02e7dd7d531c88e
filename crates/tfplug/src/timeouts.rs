//! The conventional `timeouts` block (`create`, `update`, `delete`, `read`)
//! with Go duration strings such as "30m" or "1h30m".

use crate::diag::{AttrPath, Diagnostic};
use crate::schema::{Attribute, Block, NestedBlock};
use crate::value::Value;
use std::time::Duration;

/// A `timeouts { ... }` block offering the given operations, each
/// documented with `default`, the limit when it is not set.
pub fn block(operations: &[&str], default: Duration) -> NestedBlock {
    let mut b = Block::new().describe(
        "How long each operation may take, as a Go duration (\"30s\", \"10m\", \"1h30m\").",
    );
    for op in operations {
        b = b.attr(
            Attribute::string(op)
                .optional()
                .check(crate::validate::Check::Duration)
                .describe(&format!(
                    "Time limit for {op}. Default `{}`.",
                    go_duration(default)
                )),
        );
    }
    NestedBlock::single("timeouts", b)
}

/// `default` in Go's duration syntax, largest units first: "1h", "30m",
/// "1h30m", "45s".
fn go_duration(default: Duration) -> String {
    let total = default.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let mut text = String::new();
    for (amount, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
        if amount > 0 {
            text.push_str(&format!("{amount}{unit}"));
        }
    }
    if text.is_empty() {
        text.push_str("0s");
    }
    text
}

/// The timeout for `operation` from a value holding a `timeouts` block,
/// or `default` when unset.
pub fn timeout(value: &Value, operation: &str, default: Duration) -> Result<Duration, Diagnostic> {
    match value.attr("timeouts").attr(operation).as_str() {
        None => Ok(default),
        Some(text) => parse_duration(text).map_err(|e| {
            Diagnostic::error("Invalid timeout", e).at(AttrPath::root("timeouts").attr(operation))
        }),
    }
}

/// Parses Go's duration syntax: a sequence of numbers with units
/// ns, us, µs, ms, s, m, h (e.g. "1h30m", "1.5s", "250ms").
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (examples: \"30s\", \"10m\", \"1h30m\")");
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * seconds;
        rest = &rest[unit_len..];
    }
    // A huge number ("99999999999999999999h") overflows a Duration.
    Duration::try_from_secs_f64(total).map_err(|_| format!("{text:?} is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_in_gos_duration_syntax() {
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(go_duration(Duration::from_secs(30 * 60)), "30m");
        assert_eq!(go_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        for text in ["1h", "30m", "1h30m", "45s"] {
            assert_eq!(go_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn a_bad_timeout_points_at_its_attribute() {
        let v = Value::object([("timeouts", Value::object([("create", Value::from("soon"))]))]);
        let d = timeout(&v, "create", Duration::from_secs(1)).unwrap_err();
        assert_eq!(d.path.unwrap().to_string(), "timeouts.create");
        assert_eq!(
            timeout(&Value::Null, "create", Duration::from_secs(7)).unwrap(),
            Duration::from_secs(7)
        );
    }
}
