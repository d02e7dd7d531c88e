//! `provider::kong::upgrade_path(from, to)`: whether Kong supports the jump,
//! and the stops to take when it does not.

use super::version_arg;
use crate::planner::{self, PathAnswer};
use tfplug::{Function, FunctionError, FunctionParam, FunctionSignature, Type, Value};

pub struct UpgradePath;

/// The object type both the function and `data "kong_upgrade_path"` return.
pub fn answer_type() -> Type {
    Type::object([
        ("supported", Type::Bool),
        ("kind", Type::String),
        ("hops", Type::list(Type::String)),
        ("warnings", Type::list(Type::String)),
        ("summary", Type::String),
    ])
}

pub fn answer_value(a: &PathAnswer) -> Value {
    let strings = |v: Vec<String>| Value::List(v.into_iter().map(Value::from).collect());
    let kind = serde_json::to_value(a.kind)
        .ok()
        .and_then(|k| k.as_str().map(str::to_string))
        .unwrap_or_default();
    Value::object([
        ("supported", Value::from(a.supported)),
        ("kind", Value::from(kind)),
        (
            "hops",
            strings(a.hops.iter().map(ToString::to_string).collect()),
        ),
        (
            "warnings",
            strings(
                a.refusals
                    .iter()
                    .map(|r| format!("refused: {}", r.message))
                    .chain(a.warnings.iter().map(|w| w.message.clone()))
                    .collect(),
            ),
        ),
        ("summary", Value::from(a.summary())),
    ])
}

impl Function for UpgradePath {
    fn name(&self) -> &'static str {
        "upgrade_path"
    }

    fn signature(&self) -> FunctionSignature {
        let param = |name: &str, d: &str| FunctionParam {
            name: name.into(),
            ty: Type::String,
            description: d.into(),
            allow_null: false,
        };
        FunctionSignature {
            params: vec![param("from", "The version running now."), param("to", "The version to upgrade to.")],
            returns: answer_type(),
            summary: "Check a Kong Gateway upgrade path".into(),
            description: "Returns `{supported, kind, hops, warnings, summary}` for an upgrade from `from` to `to`, following \
                          Kong's documented paths (patch, adjacent minor, LTS pairs 2.8→3.4→3.10→3.14). When the jump is not \
                          supported, `hops` lists the releases to go through first, e.g. `[\"2.8.x\"]` for 2.6.0 → 3.4.2."
                .into(),
        }
    }

    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let (from, to) = (version_arg(args, 0)?, version_arg(args, 1)?);
        Ok(answer_value(&planner::upgrade_path(&from, &to)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_jumps_name_their_hops() {
        let v = UpgradePath.call(&["2.6.0".into(), "3.4.2".into()]).unwrap();
        assert_eq!(v.attr("supported").as_bool(), Some(false));
        assert_eq!(v.attr("hops").elements()[0].as_str(), Some("2.8.x"));
        assert!(v
            .attr("summary")
            .as_str()
            .unwrap()
            .contains("go through 2.8.x first"));
        let ok = UpgradePath.call(&["3.4.2".into(), "3.5.0".into()]).unwrap();
        assert_eq!(ok.attr("supported").as_bool(), Some(true));
        tfplug::value::to_msgpack(&ok, &answer_type()).expect("the value fits the declared type");
    }
}
