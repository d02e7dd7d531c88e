//! The subset of `terraform providers schema -json` the docs are made of.
//!
//! Maps are `BTreeMap`s so every listing comes out in name order, which is
//! what makes the generated docs deterministic.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The whole document `terraform providers schema -json` prints.
#[derive(Debug, Deserialize)]
pub struct ProvidersSchema {
    #[serde(default)]
    pub provider_schemas: BTreeMap<String, ProviderSchema>,
}

/// Everything one provider declares.
#[derive(Debug, Default, Deserialize)]
pub struct ProviderSchema {
    #[serde(default)]
    pub provider: Option<Schema>,
    #[serde(default)]
    pub resource_schemas: BTreeMap<String, Schema>,
    #[serde(default)]
    pub data_source_schemas: BTreeMap<String, Schema>,
    #[serde(default)]
    pub ephemeral_resource_schemas: BTreeMap<String, Schema>,
    #[serde(default)]
    pub functions: BTreeMap<String, Function>,
    #[serde(default)]
    pub action_schemas: BTreeMap<String, Schema>,
    #[serde(default)]
    pub resource_identity_schemas: BTreeMap<String, IdentitySchema>,
}

/// A resource, data source, action or provider configuration schema.
#[derive(Debug, Default, Deserialize)]
pub struct Schema {
    #[serde(default)]
    pub block: Block,
}

#[derive(Debug, Default, Deserialize)]
pub struct Block {
    #[serde(default)]
    pub attributes: BTreeMap<String, Attribute>,
    #[serde(default)]
    pub block_types: BTreeMap<String, BlockType>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Attribute {
    /// Absent when the attribute has `nested_type` instead.
    #[serde(rename = "type", default)]
    pub ty: Option<CtyType>,
    #[serde(default)]
    pub nested_type: Option<NestedType>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub computed: bool,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub write_only: bool,
}

/// Attributes nested inside an attribute (protocol 6 "nested attributes").
#[derive(Debug, Default, Deserialize)]
pub struct NestedType {
    #[serde(default)]
    pub attributes: BTreeMap<String, Attribute>,
    pub nesting_mode: NestingMode,
    #[serde(default)]
    pub min_items: u64,
    #[serde(default)]
    pub max_items: u64,
}

/// A nested block (`timeouts { ... }`).
#[derive(Debug, Default, Deserialize)]
pub struct BlockType {
    pub nesting_mode: NestingMode,
    #[serde(default)]
    pub block: Block,
    #[serde(default)]
    pub min_items: u64,
    #[serde(default)]
    pub max_items: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NestingMode {
    #[default]
    Single,
    Group,
    List,
    Set,
    Map,
}

/// A provider-defined function's signature.
#[derive(Debug, Deserialize)]
pub struct Function {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub summary: String,
    pub return_type: CtyType,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub variadic_parameter: Option<Parameter>,
    #[serde(default)]
    pub deprecation_message: String,
}

#[derive(Debug, Deserialize)]
pub struct Parameter {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "type")]
    pub ty: CtyType,
    #[serde(default)]
    pub is_nullable: bool,
}

/// The identity an `import` block can address a resource by (1.12+).
#[derive(Debug, Default, Deserialize)]
pub struct IdentitySchema {
    #[serde(default)]
    pub attributes: BTreeMap<String, IdentityAttribute>,
}

#[derive(Debug, Deserialize)]
pub struct IdentityAttribute {
    #[serde(rename = "type")]
    pub ty: CtyType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required_for_import: bool,
    #[serde(default)]
    pub optional_for_import: bool,
}

/// A value type in go-cty's JSON notation: `"string"`, `["list","number"]`,
/// `["object",{"a":"bool"}]`, ...
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub enum CtyType {
    String,
    Number,
    Bool,
    Dynamic,
    List(Box<CtyType>),
    Set(Box<CtyType>),
    Map(Box<CtyType>),
    Object(BTreeMap<String, CtyType>),
    Tuple(Vec<CtyType>),
}

#[derive(Debug, thiserror::Error)]
#[error("not a cty type: {0}")]
pub struct NotACtyType(String);

impl TryFrom<serde_json::Value> for CtyType {
    type Error = NotACtyType;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        use serde_json::Value;
        let invalid = |v: &Value| NotACtyType(v.to_string());
        match &value {
            Value::String(name) => match name.as_str() {
                "string" => Ok(CtyType::String),
                "number" => Ok(CtyType::Number),
                "bool" => Ok(CtyType::Bool),
                "dynamic" => Ok(CtyType::Dynamic),
                _ => Err(invalid(&value)),
            },
            Value::Array(parts) => {
                let kind = parts
                    .first()
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&value))?;
                let arg = parts.get(1).cloned().ok_or_else(|| invalid(&value))?;
                match kind {
                    "list" => Ok(CtyType::List(Box::new(CtyType::try_from(arg)?))),
                    "set" => Ok(CtyType::Set(Box::new(CtyType::try_from(arg)?))),
                    "map" => Ok(CtyType::Map(Box::new(CtyType::try_from(arg)?))),
                    "object" => match arg {
                        // A third element lists optional attributes; the
                        // docs do not distinguish them.
                        Value::Object(fields) => fields
                            .into_iter()
                            .map(|(k, v)| Ok((k, CtyType::try_from(v)?)))
                            .collect::<Result<_, _>>()
                            .map(CtyType::Object),
                        _ => Err(invalid(&value)),
                    },
                    "tuple" => match arg {
                        Value::Array(items) => items
                            .into_iter()
                            .map(CtyType::try_from)
                            .collect::<Result<_, _>>()
                            .map(CtyType::Tuple),
                        _ => Err(invalid(&value)),
                    },
                    _ => Err(invalid(&value)),
                }
            }
            _ => Err(invalid(&value)),
        }
    }
}

impl CtyType {
    /// The element type of a list, set or map.
    pub fn element(&self) -> Option<&CtyType> {
        match self {
            CtyType::List(e) | CtyType::Set(e) | CtyType::Map(e) => Some(e),
            _ => None,
        }
    }

    /// go-cty's `FriendlyName`, as Terraform prints types in signatures:
    /// `string`, `list of number`, `object`.
    pub fn friendly_name(&self) -> String {
        match self {
            CtyType::String => "string".into(),
            CtyType::Number => "number".into(),
            CtyType::Bool => "bool".into(),
            CtyType::Dynamic => "dynamic".into(),
            CtyType::List(e) => format!("list of {}", e.friendly_name()),
            CtyType::Set(e) => format!("set of {}", e.friendly_name()),
            CtyType::Map(e) => format!("map of {}", e.friendly_name()),
            CtyType::Object(_) => "object".into(),
            CtyType::Tuple(_) => "tuple".into(),
        }
    }
}

/// The capitalised type name the Registry docs use: `String`,
/// `List of Number`, `Object`, `Dynamic`.
impl fmt::Display for CtyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtyType::String => f.write_str("String"),
            CtyType::Number => f.write_str("Number"),
            CtyType::Bool => f.write_str("Boolean"),
            CtyType::Dynamic => f.write_str("Dynamic"),
            CtyType::List(e) => write!(f, "List of {e}"),
            CtyType::Set(e) => write!(f, "Set of {e}"),
            CtyType::Map(e) => write!(f, "Map of {e}"),
            CtyType::Object(_) => f.write_str("Object"),
            CtyType::Tuple(_) => f.write_str("Tuple"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(v: serde_json::Value) -> CtyType {
        CtyType::try_from(v).unwrap()
    }

    #[test]
    fn cty_json_types_parse_and_print_like_the_registry_and_terraform() {
        let cases = [
            (json!("string"), "String", "string"),
            (json!("bool"), "Boolean", "bool"),
            (json!("dynamic"), "Dynamic", "dynamic"),
            (
                json!(["list", "number"]),
                "List of Number",
                "list of number",
            ),
            (
                json!(["set", ["map", "string"]]),
                "Set of Map of String",
                "set of map of string",
            ),
            (json!(["object", {"a": "bool"}]), "Object", "object"),
            (json!(["object", {"a": "bool"}, ["a"]]), "Object", "object"),
            (
                json!(["list", ["object", {"a": "bool"}]]),
                "List of Object",
                "list of object",
            ),
            (json!(["tuple", ["string", "number"]]), "Tuple", "tuple"),
        ];
        for (json, registry, friendly) in cases {
            let parsed = ty(json.clone());
            assert_eq!(parsed.to_string(), registry, "{json}");
            assert_eq!(parsed.friendly_name(), friendly, "{json}");
        }
    }

    #[test]
    fn malformed_types_are_rejected_not_guessed() {
        for bad in [
            json!("int"),
            json!(["list"]),
            json!(["object", "x"]),
            json!(3),
        ] {
            assert!(CtyType::try_from(bad.clone()).is_err(), "{bad}");
        }
    }
}
