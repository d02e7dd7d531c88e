//! Every optional attribute's description states its default: what applies
//! when the attribute is not set (`Default `30s``, `Default: none`, "the
//! default: ..."). Checked over the whole provider schema before any page
//! is written, so `make docs` and `make docs-check` fail on a new attribute
//! that does not say it.

use crate::schema::{Attribute, Block, ProviderSchema};

/// Dotted paths (`kong_upgrade.cluster_x.proxy_url`) of the optional
/// attributes whose description does not mention a default, sorted.
pub fn unstated_defaults(provider: &ProviderSchema) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(schema) = &provider.provider {
        walk(&schema.block, "provider", &mut found);
    }
    for objects in [
        &provider.resource_schemas,
        &provider.data_source_schemas,
        &provider.ephemeral_resource_schemas,
        &provider.action_schemas,
    ] {
        for (name, schema) in objects {
            walk(&schema.block, name, &mut found);
        }
    }
    found.sort();
    found
}

fn walk(block: &Block, path: &str, found: &mut Vec<String>) {
    for (name, attribute) in &block.attributes {
        check(attribute, &format!("{path}.{name}"), found);
    }
    for (name, child) in &block.block_types {
        walk(&child.block, &format!("{path}.{name}"), found);
    }
}

fn check(attribute: &Attribute, path: &str, found: &mut Vec<String>) {
    if attribute.optional && !states_default(&attribute.description) {
        found.push(path.to_owned());
    }
    if let Some(nested) = &attribute.nested_type {
        for (name, inner) in &nested.attributes {
            check(inner, &format!("{path}.{name}"), found);
        }
    }
}

fn states_default(description: &str) -> bool {
    description.to_lowercase().contains("default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_attributes_without_a_default_are_named_with_their_path() {
        let provider: ProviderSchema = serde_json::from_value(serde_json::json!({
            "provider": {"block": {"attributes": {
                "token": {"type": "string", "optional": true, "description": "A token. Default: none."},
            }}},
            "resource_schemas": {"kong_x": {"block": {
                "attributes": {
                    "name": {"type": "string", "required": true, "description": "Name."},
                    "port": {"type": "number", "optional": true, "description": "Port."},
                    "id": {"type": "string", "computed": true, "description": "Id."},
                },
                "block_types": {"tls": {"nesting_mode": "single", "block": {"attributes": {
                    "ca": {"type": "string", "optional": true, "description": "CA. The default is the system's."},
                    "insecure": {"type": "bool", "optional": true, "description": "Skip checks."},
                }}}},
            }}},
        }))
        .unwrap();
        assert_eq!(
            unstated_defaults(&provider),
            ["kong_x.port", "kong_x.tls.insecure"]
        );
    }
}
