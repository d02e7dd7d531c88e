//! `provider::kong::version_compare(a, b)`: -1, 0 or 1, comparing Kong
//! versions the way Kong numbers them (4-part Enterprise builds included).

use super::version_arg;
use crate::planner;
use tfplug::{Function, FunctionError, FunctionParam, FunctionSignature, Type, Value};

pub struct VersionCompare;

impl Function for VersionCompare {
    fn name(&self) -> &'static str {
        "version_compare"
    }

    fn signature(&self) -> FunctionSignature {
        let param = |name: &str, d: &str| FunctionParam {
            name: name.into(),
            ty: Type::String,
            description: d.into(),
            allow_null: false,
        };
        FunctionSignature {
            params: vec![param("a", "A Kong version, e.g. `3.4.2` or `3.10.0.1`."), param("b", "The version to compare `a` with.")],
            returns: Type::Number,
            summary: "Compare two Kong Gateway versions".into(),
            description: "Returns `-1` when `a` is older than `b`, `0` when they are the same release, `1` when `a` is newer. \
                          Accepts `kong/3.9.1`, `3.4.2`, Enterprise `3.10.0.1` and `2.8.1.1-enterprise-edition` spellings."
                .into(),
        }
    }

    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let (a, b) = (version_arg(args, 0)?, version_arg(args, 1)?);
        Ok(Value::from(planner::version_compare(&a, &b) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_points_at_the_bad_argument() {
        let call = |a: &str, b: &str| VersionCompare.call(&[a.into(), b.into()]);
        assert_eq!(call("3.4.2", "3.10.0.1").unwrap().as_i64(), Some(-1));
        assert_eq!(call("kong/3.9.1", "3.9.1").unwrap().as_i64(), Some(0));
        assert_eq!(call("3.10.0.1", "3.9.3").unwrap().as_i64(), Some(1));
        assert_eq!(call("3.4", "3.4.2").unwrap_err().argument, Some(0));
        assert_eq!(call("3.4.2", "x").unwrap_err().argument, Some(1));
    }
}
