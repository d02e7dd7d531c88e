//! Terraform values and types, and their two wire encodings: msgpack
//! (DynamicValue, with unknowns as extension type 0) and JSON (state).
//!
//! Decoding is type-directed because msgpack cannot tell an object from a
//! map, a list from a set, or a number encoded as a string from a string.

use std::collections::BTreeMap;
use std::fmt;

/// A Terraform type constraint, as cty encodes it in JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `number`
    Number,
    /// `string`
    String,
    /// `dynamic`: any type, told with the value.
    Dynamic,
    /// `list(T)`
    List(Box<Type>),
    /// `set(T)`
    Set(Box<Type>),
    /// `map(T)`
    Map(Box<Type>),
    /// `object({...})`
    Object(BTreeMap<String, Type>),
    /// `tuple([...])`
    Tuple(Vec<Type>),
}

impl Type {
    /// `list(t)`
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }
    /// `set(t)`
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }
    /// `map(t)`
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }
    /// `object` of the given attribute types.
    pub fn object<I, K>(attrs: I) -> Type
    where
        I: IntoIterator<Item = (K, Type)>,
        K: Into<String>,
    {
        Type::Object(attrs.into_iter().map(|(k, t)| (k.into(), t)).collect())
    }

    /// The type's JSON encoding (`"string"`, `["list","string"]`, ...).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<_, _> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", attrs])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    /// Bytes as the protocol carries a type (`Schema.Attribute.type`).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Parses Terraform's JSON type notation (`"string"`, `["list","string"]`).
    pub fn from_json(v: &serde_json::Value) -> Result<Type, ValueError> {
        use serde_json::Value as J;
        let bad = || ValueError::new(format!("invalid type constraint {v}"));
        match v {
            J::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(bad()),
            },
            J::Array(parts) if parts.len() == 2 => {
                let kind = parts[0].as_str().ok_or_else(bad)?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(&parts[1])?)),
                    "set" => Ok(Type::set(Type::from_json(&parts[1])?)),
                    "map" => Ok(Type::map(Type::from_json(&parts[1])?)),
                    "object" => {
                        let attrs = parts[1].as_object().ok_or_else(bad)?;
                        let mut out = BTreeMap::new();
                        for (k, t) in attrs {
                            out.insert(k.clone(), Type::from_json(t)?);
                        }
                        Ok(Type::Object(out))
                    }
                    "tuple" => {
                        let elems = parts[1].as_array().ok_or_else(bad)?;
                        Ok(Type::Tuple(
                            elems
                                .iter()
                                .map(Type::from_json)
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    _ => Err(bad()),
                }
            }
            // Objects with optional attributes carry a third element; the
            // provider only ever receives concrete types, so refuse it.
            _ => Err(bad()),
        }
    }
}

/// A Terraform value. Collections and objects are ordered maps so that
/// encodings are deterministic.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    /// Not set.
    Null,
    /// Not known until apply.
    Unknown,
    /// A bool.
    Bool(bool),
    /// A number (Terraform's numbers are arbitrary precision; here f64).
    Number(f64),
    /// A string.
    String(String),
    /// A list.
    List(Vec<Value>),
    /// A set, in a deterministic order.
    Set(Vec<Value>),
    /// A map.
    Map(BTreeMap<String, Value>),
    /// An object.
    Object(BTreeMap<String, Value>),
    /// A tuple.
    Tuple(Vec<Value>),
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{0}")]
/// A value that does not fit its type, or cannot be decoded.
pub struct ValueError(pub String);

impl ValueError {
    fn new(msg: impl Into<String>) -> Self {
        ValueError(msg.into())
    }
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// An object value of the given attributes.
    pub fn object<I, K>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// True for null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True when unknown until apply.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True unless unknown (nested unknowns aside; see `is_wholly_known`).
    pub fn is_known(&self) -> bool {
        !self.is_unknown()
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// The attribute `name` of an object; `Null` when absent or when `self`
    /// is not an object (so lookups chain without ceremony), `Unknown` when
    /// the whole object is unknown.
    pub fn attr(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        static UNKNOWN: Value = Value::Unknown;
        match self {
            Value::Object(m) => m.get(name).unwrap_or(&NULL),
            Value::Unknown => &UNKNOWN,
            _ => &NULL,
        }
    }

    /// The attribute `name` of an object, for changing it.
    pub fn attr_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => m.get_mut(name),
            _ => None,
        }
    }

    /// Sets an attribute of an object value; no effect on other values.
    pub fn set_attr(&mut self, name: &str, v: Value) {
        if let Value::Object(m) = self {
            m.insert(name.to_string(), v);
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, when this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an integer, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
            _ => None,
        }
    }

    /// The elements of a list, set or tuple; empty otherwise.
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v,
            _ => &[],
        }
    }

    /// The entries of a map or object.
    pub fn entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// A wholly known value as plain JSON (for decoding into serde structs).
    /// Unknowns become JSON null; check `is_wholly_known` first where it
    /// matters.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null | Value::Unknown => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => J::String(s.clone()),
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                J::Array(v.iter().map(Value::to_json).collect())
            }
            Value::Map(m) | Value::Object(m) => {
                J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Builds a value of type `ty` from plain JSON. Object attributes missing
    /// from the JSON become null, so a serde struct may omit optional fields.
    pub fn from_json(json: &serde_json::Value, ty: &Type) -> Result<Value, ValueError> {
        use serde_json::Value as J;
        if json.is_null() {
            return Ok(Value::Null);
        }
        let mismatch = || {
            ValueError::new(format!(
                "JSON value {json} does not fit type {}",
                ty.to_json()
            ))
        };
        Ok(match ty {
            Type::Bool => Value::Bool(json.as_bool().ok_or_else(mismatch)?),
            Type::Number => match json {
                J::Number(n) => Value::Number(n.as_f64().ok_or_else(mismatch)?),
                J::String(s) => Value::Number(s.parse().map_err(|_| mismatch())?),
                _ => return Err(mismatch()),
            },
            Type::String => match json {
                J::String(s) => Value::String(s.clone()),
                J::Number(n) => Value::String(n.to_string()),
                J::Bool(b) => Value::String(b.to_string()),
                _ => return Err(mismatch()),
            },
            Type::Dynamic => dynamic_from_json(json),
            Type::List(t) | Type::Set(t) => {
                let items = json
                    .as_array()
                    .ok_or_else(mismatch)?
                    .iter()
                    .map(|j| Value::from_json(j, t))
                    .collect::<Result<Vec<_>, _>>()?;
                if matches!(ty, Type::List(_)) {
                    Value::List(items)
                } else {
                    Value::Set(items)
                }
            }
            Type::Tuple(ts) => {
                let items = json.as_array().ok_or_else(mismatch)?;
                if items.len() != ts.len() {
                    return Err(mismatch());
                }
                Value::Tuple(
                    items
                        .iter()
                        .zip(ts)
                        .map(|(j, t)| Value::from_json(j, t))
                        .collect::<Result<_, _>>()?,
                )
            }
            Type::Map(t) => Value::Map(
                json.as_object()
                    .ok_or_else(mismatch)?
                    .iter()
                    .map(|(k, j)| Ok((k.clone(), Value::from_json(j, t)?)))
                    .collect::<Result<_, ValueError>>()?,
            ),
            Type::Object(attrs) => {
                let obj = json.as_object().ok_or_else(mismatch)?;
                Value::Object(
                    attrs
                        .iter()
                        .map(|(k, t)| {
                            let v = match obj.get(k) {
                                Some(j) => Value::from_json(j, t)?,
                                None => Value::Null,
                            };
                            Ok((k.clone(), v))
                        })
                        .collect::<Result<_, ValueError>>()?,
                )
            }
        })
    }

    /// Deserializes a wholly known value into a serde type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, ValueError> {
        serde_json::from_value(self.to_json()).map_err(|e| ValueError::new(e.to_string()))
    }

    /// Serializes a serde type into a value of type `ty`.
    pub fn encode<T: serde::Serialize>(data: &T, ty: &Type) -> Result<Value, ValueError> {
        let json = serde_json::to_value(data).map_err(|e| ValueError::new(e.to_string()))?;
        Value::from_json(&json, ty)
    }

    /// Replaces every unknown inside `self` by null (for state written after a
    /// failed apply, which must be wholly known).
    pub fn unknowns_to_null(self) -> Value {
        match self {
            Value::Unknown => Value::Null,
            Value::List(v) => Value::List(v.into_iter().map(Value::unknowns_to_null).collect()),
            Value::Set(v) => Value::Set(v.into_iter().map(Value::unknowns_to_null).collect()),
            Value::Tuple(v) => Value::Tuple(v.into_iter().map(Value::unknowns_to_null).collect()),
            Value::Map(m) => Value::Map(
                m.into_iter()
                    .map(|(k, v)| (k, v.unknowns_to_null()))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k, v.unknowns_to_null()))
                    .collect(),
            ),
            other => other,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map(Into::into).unwrap_or(Value::Null)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unknown => f.write_str("(known after apply)"),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

fn dynamic_from_json(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or_default()),
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::Tuple(a.iter().map(dynamic_from_json).collect()),
        J::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), dynamic_from_json(v)))
                .collect(),
        ),
    }
}

/// The type of a value decoded as `dynamic` (used to tag it on the wire).
fn implied_type(v: &Value) -> Type {
    match v {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(v) => Type::list(v.first().map(implied_type).unwrap_or(Type::Dynamic)),
        Value::Set(v) => Type::set(v.first().map(implied_type).unwrap_or(Type::Dynamic)),
        Value::Tuple(v) => Type::Tuple(v.iter().map(implied_type).collect()),
        Value::Map(m) => Type::map(m.values().next().map(implied_type).unwrap_or(Type::Dynamic)),
        Value::Object(m) => Type::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), implied_type(v)))
                .collect(),
        ),
    }
}

// ---------------------------------------------------------------- msgpack

/// Decodes a msgpack DynamicValue of type `ty`.
pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    let mut cursor = bytes;
    let raw = rmpv::decode::read_value(&mut cursor)
        .map_err(|e| ValueError::new(format!("invalid msgpack: {e}")))?;
    from_rmpv(raw, ty)
}

/// Encodes `v` (of type `ty`) as a msgpack DynamicValue.
pub fn to_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let raw = to_rmpv(v, ty)?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &raw)
        .map_err(|e| ValueError::new(format!("msgpack encoding failed: {e}")))?;
    Ok(out)
}

fn from_rmpv(raw: rmpv::Value, ty: &Type) -> Result<Value, ValueError> {
    use rmpv::Value as M;
    let mismatch = |raw: &M| {
        ValueError::new(format!(
            "msgpack value {raw} does not fit type {}",
            ty.to_json()
        ))
    };
    match raw {
        M::Nil => return Ok(Value::Null),
        // Extension 0 is cty's unknown; Terraform ≥ 1.6 sends unknowns with
        // refinements (e.g. "not null", a string prefix) as extension 12. A
        // provider may ignore the refinements.
        M::Ext(0 | 12, _) => return Ok(Value::Unknown),
        _ => {}
    }
    Ok(match ty {
        Type::Bool => match raw {
            M::Boolean(b) => Value::Bool(b),
            other => return Err(mismatch(&other)),
        },
        Type::Number => match raw {
            M::Integer(i) => Value::Number(i.as_f64().ok_or_else(|| mismatch(&M::Integer(i)))?),
            M::F32(f) => Value::Number(f as f64),
            M::F64(f) => Value::Number(f),
            // Numbers too large for msgpack's native types travel as strings.
            M::String(s) => {
                let text = s.as_str().unwrap_or_default().to_string();
                Value::Number(
                    text.parse()
                        .map_err(|_| ValueError::new(format!("invalid number {text:?}")))?,
                )
            }
            other => return Err(mismatch(&other)),
        },
        Type::String => match raw {
            M::String(s) => Value::String(
                s.into_str()
                    .ok_or_else(|| ValueError::new("string is not valid UTF-8"))?,
            ),
            other => return Err(mismatch(&other)),
        },
        Type::Dynamic => match raw {
            // cty encodes a dynamic value as [type JSON bytes, value].
            M::Array(mut parts) if parts.len() == 2 => {
                let value = parts.pop().unwrap_or(M::Nil);
                let type_bytes = match parts.pop() {
                    Some(M::Binary(b)) => b,
                    Some(M::String(s)) => s.into_bytes(),
                    _ => return Err(ValueError::new("invalid dynamic value encoding")),
                };
                let json: serde_json::Value = serde_json::from_slice(&type_bytes)
                    .map_err(|e| ValueError::new(format!("invalid dynamic type: {e}")))?;
                from_rmpv(value, &Type::from_json(&json)?)?
            }
            other => return Err(mismatch(&other)),
        },
        Type::List(t) | Type::Set(t) => match raw {
            M::Array(items) => {
                let items = items
                    .into_iter()
                    .map(|i| from_rmpv(i, t))
                    .collect::<Result<Vec<_>, _>>()?;
                if matches!(ty, Type::List(_)) {
                    Value::List(items)
                } else {
                    Value::Set(items)
                }
            }
            other => return Err(mismatch(&other)),
        },
        Type::Tuple(ts) => match raw {
            M::Array(items) if items.len() == ts.len() => Value::Tuple(
                items
                    .into_iter()
                    .zip(ts)
                    .map(|(i, t)| from_rmpv(i, t))
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(mismatch(&other)),
        },
        Type::Map(t) => match raw {
            M::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| Ok((map_key(k)?, from_rmpv(v, t)?)))
                    .collect::<Result<_, ValueError>>()?,
            ),
            other => return Err(mismatch(&other)),
        },
        Type::Object(attrs) => match raw {
            M::Map(entries) => {
                let mut got: BTreeMap<String, rmpv::Value> = BTreeMap::new();
                for (k, v) in entries {
                    got.insert(map_key(k)?, v);
                }
                let mut out = BTreeMap::new();
                for (name, t) in attrs {
                    let v = match got.remove(name) {
                        Some(raw) => from_rmpv(raw, t)?,
                        None => Value::Null,
                    };
                    out.insert(name.clone(), v);
                }
                Value::Object(out)
            }
            other => return Err(mismatch(&other)),
        },
    })
}

fn map_key(k: rmpv::Value) -> Result<String, ValueError> {
    match k {
        rmpv::Value::String(s) => s
            .into_str()
            .ok_or_else(|| ValueError::new("map key is not UTF-8")),
        other => Err(ValueError::new(format!("map key {other} is not a string"))),
    }
}

fn to_rmpv(v: &Value, ty: &Type) -> Result<rmpv::Value, ValueError> {
    use rmpv::Value as M;
    let mismatch = || ValueError::new(format!("value {v} does not fit type {}", ty.to_json()));
    Ok(match (v, ty) {
        (Value::Null, _) => M::Nil,
        (Value::Unknown, _) => M::Ext(0, vec![0]),
        (_, Type::Dynamic) => {
            let actual = implied_type(v);
            M::Array(vec![
                M::Binary(actual.to_json_bytes()),
                to_rmpv(v, &actual)?,
            ])
        }
        (Value::Bool(b), Type::Bool) => M::Boolean(*b),
        (Value::Number(n), Type::Number) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                M::from(*n as i64)
            } else {
                M::F64(*n)
            }
        }
        (Value::String(s), Type::String) => M::from(s.as_str()),
        (Value::List(items) | Value::Set(items), Type::List(t) | Type::Set(t)) => M::Array(
            items
                .iter()
                .map(|i| to_rmpv(i, t))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Tuple(items), Type::Tuple(ts)) if items.len() == ts.len() => M::Array(
            items
                .iter()
                .zip(ts)
                .map(|(i, t)| to_rmpv(i, t))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Map(m) | Value::Object(m), Type::Map(t)) => M::Map(
            m.iter()
                .map(|(k, v)| Ok((M::from(k.as_str()), to_rmpv(v, t)?)))
                .collect::<Result<_, ValueError>>()?,
        ),
        (Value::Object(m), Type::Object(attrs)) => M::Map(
            attrs
                .iter()
                .map(|(k, t)| {
                    let v = m.get(k).unwrap_or(&Value::Null);
                    Ok((M::from(k.as_str()), to_rmpv(v, t)?))
                })
                .collect::<Result<_, ValueError>>()?,
        ),
        _ => return Err(mismatch()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_type() -> Type {
        Type::object([
            ("name", Type::String),
            ("count", Type::Number),
            ("on", Type::Bool),
            ("tags", Type::list(Type::String)),
            ("labels", Type::map(Type::String)),
            ("nested", Type::object([("a", Type::String)])),
        ])
    }

    #[test]
    fn msgpack_round_trips_every_kind_including_unknown_and_null() {
        let v = Value::object([
            ("name", Value::from("x")),
            ("count", Value::from(3i64)),
            ("on", Value::Unknown),
            ("tags", Value::List(vec!["a".into(), Value::Unknown])),
            ("labels", Value::Null),
            ("nested", Value::object([("a", Value::from("b"))])),
        ]);
        let ty = sample_type();
        let bytes = to_msgpack(&v, &ty).unwrap();
        assert_eq!(from_msgpack(&bytes, &ty).unwrap(), v);
    }

    #[test]
    fn unknown_is_encoded_as_extension_zero_like_terraform() {
        let bytes = to_msgpack(&Value::Unknown, &Type::String).unwrap();
        assert_eq!(bytes, vec![0xd4, 0x00, 0x00]);
        // Terraform ≥ 1.6 sends refined unknowns as extension 12 with a payload.
        let refined = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3];
        assert_eq!(
            from_msgpack(&refined, &Type::String).unwrap(),
            Value::Unknown
        );
    }

    #[test]
    fn object_attributes_missing_on_the_wire_decode_as_null() {
        let mut raw = Vec::new();
        rmpv::encode::write_value(
            &mut raw,
            &rmpv::Value::Map(vec![("name".into(), "x".into())]),
        )
        .unwrap();
        let v = from_msgpack(&raw, &sample_type()).unwrap();
        assert_eq!(v.attr("name").as_str(), Some("x"));
        assert!(v.attr("count").is_null());
    }

    #[test]
    fn numbers_sent_as_strings_decode() {
        let mut raw = Vec::new();
        rmpv::encode::write_value(&mut raw, &rmpv::Value::from("12345678901234567890")).unwrap();
        assert_eq!(
            from_msgpack(&raw, &Type::Number).unwrap().as_f64(),
            Some(1.2345678901234567e19)
        );
    }

    #[test]
    fn a_type_mismatch_is_an_error_not_a_panic() {
        let bytes = to_msgpack(&Value::from("x"), &Type::String).unwrap();
        assert!(from_msgpack(&bytes, &Type::Bool).is_err());
        assert!(
            from_msgpack(&[0x92, 0xc3], &Type::list(Type::Bool)).is_err(),
            "truncated input"
        );
        assert!(to_msgpack(&Value::from(true), &Type::String).is_err());
    }

    #[test]
    fn json_state_decodes_by_type_and_fills_missing_attributes() {
        let json = serde_json::json!({"name": "n", "count": 2, "tags": ["a"], "extra": 1});
        let v = Value::from_json(&json, &sample_type()).unwrap();
        assert_eq!(v.attr("count").as_i64(), Some(2));
        assert!(v.attr("nested").is_null());
        assert_eq!(v.to_json()["tags"], serde_json::json!(["a"]));
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let v = Value::object([("a", Value::from("b"))]);
        let bytes = to_msgpack(&v, &Type::Dynamic).unwrap();
        assert_eq!(from_msgpack(&bytes, &Type::Dynamic).unwrap(), v);
    }

    #[test]
    fn type_json_round_trips() {
        let ty = sample_type();
        assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
    }
}
