//! Typed decoding of configuration values that keeps "unknown until apply"
//! apart from "not set": `read::<i64>(value, &path)` gives `Known::Unknown`
//! for an unknown, `Known::Null` for null and an error diagnostic on `path`
//! for a value of the wrong shape — a fractional or huge number is refused
//! as an integer, never read as unset.

use crate::diag::{AttrPath, Diagnostic};
use crate::value::Value;
use std::collections::BTreeMap;

/// A decoded value, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum Known<T> {
    /// Not set in the configuration.
    Null,
    /// Set, but known only at apply (it depends on another resource).
    Unknown,
    /// Set and known.
    Value(T),
}

impl<T> Known<T> {
    /// The value when known and set.
    pub fn value(self) -> Option<T> {
        match self {
            Known::Value(v) => Some(v),
            Known::Null | Known::Unknown => None,
        }
    }

    /// True while the value waits for apply.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Known::Unknown)
    }
}

/// A Rust type a wholly known, non-null Terraform value converts into.
pub trait FromValue: Sized {
    /// Converts, or says in one sentence what was expected instead.
    fn from_value(v: &Value) -> Result<Self, String>;
}

/// Decodes `value` (found at `path`) as a `T`. A collection holding an
/// unknown anywhere is `Known::Unknown` as a whole.
pub fn read<T: FromValue>(value: &Value, path: &AttrPath) -> Result<Known<T>, Diagnostic> {
    if value.is_null() {
        return Ok(Known::Null);
    }
    if !value.is_wholly_known() {
        return Ok(Known::Unknown);
    }
    T::from_value(value)
        .map(Known::Value)
        .map_err(|detail| Diagnostic::error(format!("Invalid {path}"), detail).at(path.clone()))
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(v.clone())
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("Expected a string, got {v}."))
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        v.as_bool()
            .ok_or_else(|| format!("Expected true or false, got {v}."))
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        v.as_f64()
            .ok_or_else(|| format!("Expected a number, got {v}."))
    }
}

/// Integers of every width refuse fractions and values out of their range.
macro_rules! whole_numbers {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                let n = f64::from_value(v)?;
                if n.fract() != 0.0 || !n.is_finite() {
                    return Err(format!("Expected a whole number, got {v}."));
                }
                if n < <$t>::MIN as f64 || n > <$t>::MAX as f64 {
                    return Err(format!(
                        "Expected a whole number from {} to {}, got {v}.",
                        <$t>::MIN,
                        <$t>::MAX
                    ));
                }
                Ok(n as $t)
            }
        }
    )*};
}

whole_numbers!(i64, u64, i32, u32, u16, u8);

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                items.iter().map(T::from_value).collect()
            }
            _ => Err(format!("Expected a list, got {v}.")),
        }
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Map(m) | Value::Object(m) => m
                .iter()
                .map(|(k, v)| T::from_value(v).map(|t| (k.clone(), t)))
                .collect(),
            _ => Err(format!("Expected a map, got {v}.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> AttrPath {
        AttrPath::root("step_weight")
    }

    #[test]
    fn integers_refuse_fractions_and_overflow_instead_of_reading_unset() {
        assert_eq!(
            read::<u8>(&Value::Number(10.0), &at()),
            Ok(Known::Value(10))
        );
        let half = read::<i64>(&Value::Number(0.5), &at()).unwrap_err();
        assert_eq!(half.path, Some(at()));
        assert!(half.detail.contains("whole number"), "{}", half.detail);
        assert!(read::<u8>(&Value::Number(256.0), &at()).is_err());
        assert!(read::<u8>(&Value::Number(-1.0), &at()).is_err());
        assert!(read::<i64>(&Value::Number(1e300), &at()).is_err());
    }

    #[test]
    fn unknown_and_null_stay_apart() {
        assert_eq!(read::<i64>(&Value::Null, &at()), Ok(Known::Null));
        assert_eq!(read::<i64>(&Value::Unknown, &at()), Ok(Known::Unknown));
        let partly = Value::List(vec![Value::from("a"), Value::Unknown]);
        assert!(read::<Vec<String>>(&partly, &at()).unwrap().is_unknown());
    }

    #[test]
    fn collections_decode_elementwise() {
        let m = Value::Map(
            [("a".to_string(), Value::Number(1.0))]
                .into_iter()
                .collect(),
        );
        let got = read::<BTreeMap<String, u32>>(&m, &at())
            .unwrap()
            .value()
            .unwrap();
        assert_eq!(got["a"], 1);
        assert!(read::<Vec<String>>(&Value::from("x"), &at()).is_err());
    }
}
