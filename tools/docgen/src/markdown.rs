//! Schema → Markdown in the layout the Terraform Registry's own generator
//! (tfplugindocs) uses: `### Required` / `### Optional` / `### Read-Only`
//! lists, then one `### Nested Schema for ...` section per nested block,
//! nested attribute or object, each with an anchor the parent links to.
//!
//! Pure functions of the schema: no I/O, names always in sorted order.

use crate::schema::{
    Attribute, Block, BlockType, CtyType, IdentityAttribute, IdentitySchema, NestedType,
    NestingMode,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const WRITE_ONLY_LINK: &str =
    "[Write-only](https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments)";
const WRITE_ONLY_NOTE: &str = "> **NOTE**: [Write-only arguments](https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments) are supported in Terraform 1.11 and later.\n\n";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("attribute or block `{0}` is neither required, optional nor read-only; an optional block whose children are all computed must itself be computed")]
    Ungroupable(String),
    #[error("identity attribute `{0}` must be required_for_import or optional_for_import")]
    IdentityAttributeUnmarked(String),
}

/// Which list an attribute or block is documented in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Required,
    Optional,
    ReadOnly,
}

impl Group {
    const ALL: [Group; 3] = [Group::Required, Group::Optional, Group::ReadOnly];

    fn top_level_title(self) -> &'static str {
        match self {
            Group::Required => "### Required",
            Group::Optional => "### Optional",
            Group::ReadOnly => "### Read-Only",
        }
    }

    fn nested_title(self) -> &'static str {
        match self {
            Group::Required => "Required:",
            Group::Optional => "Optional:",
            Group::ReadOnly => "Read-Only:",
        }
    }

    fn holds_attribute(self, attr: &Attribute) -> bool {
        match self {
            Group::Required => attr.required,
            Group::Optional => attr.optional,
            Group::ReadOnly => attr.computed && !attr.optional && !attr.required,
        }
    }

    fn holds_block(self, block: &BlockType) -> bool {
        match self {
            Group::Required => block.min_items > 0,
            Group::Optional => block_is_optional(block),
            Group::ReadOnly => block_is_read_only(block),
        }
    }
}

/// Optional: not required, and either empty or with something to set.
fn block_is_optional(block: &BlockType) -> bool {
    if block.min_items > 0 {
        return false;
    }
    let inner = &block.block;
    (inner.block_types.is_empty() && inner.attributes.is_empty())
        || inner
            .block_types
            .values()
            .any(|b| Group::Required.holds_block(b) || block_is_optional(b))
        || inner
            .attributes
            .values()
            .any(|a| Group::Required.holds_attribute(a) || Group::Optional.holds_attribute(a))
}

/// Read-only: every leaf inside is read-only.
fn block_is_read_only(block: &BlockType) -> bool {
    block.min_items == 0
        && block.max_items == 0
        && block.block.block_types.values().all(block_is_read_only)
        && block
            .block
            .attributes
            .values()
            .all(|a| Group::ReadOnly.holds_attribute(a))
}

fn block_contains_write_only(block: &BlockType) -> bool {
    block.block.attributes.values().any(|a| a.write_only)
        || block
            .block
            .block_types
            .values()
            .any(block_contains_write_only)
}

/// A section to render after the list that links to it.
struct Nested<'a> {
    anchor: String,
    path: Vec<String>,
    kind: NestedKind<'a>,
    group: Group,
}

enum NestedKind<'a> {
    Block(&'a Block),
    Object(&'a BTreeMap<String, CtyType>),
    Attributes(&'a NestedType),
}

/// `## Schema` and everything under it for a resource, data source, action
/// or the provider configuration.
pub fn schema_markdown(block: &Block) -> Result<String, RenderError> {
    let mut out = String::from("## Schema\n\n");
    write_block_children(&mut out, &[], block, true)?;
    Ok(out)
}

/// `### Identity Schema` for a resource that supports import by identity.
pub fn identity_markdown(identity: &IdentitySchema) -> Result<String, RenderError> {
    let mut required = Vec::new();
    let mut optional = Vec::new();
    for (name, attr) in &identity.attributes {
        if attr.required_for_import {
            required.push((name, attr));
        } else if attr.optional_for_import {
            optional.push((name, attr));
        } else {
            return Err(RenderError::IdentityAttributeUnmarked(name.clone()));
        }
    }
    let mut out = String::from("### Identity Schema\n\n");
    for (title, attrs) in [
        ("#### Required for Import", required),
        ("#### Optional for Import", optional),
    ] {
        if attrs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}\n");
        for (name, attr) in attrs {
            out.push_str(&identity_attribute_line(name, attr));
        }
        out.push('\n');
    }
    Ok(out)
}

fn identity_attribute_line(name: &str, attr: &IdentityAttribute) -> String {
    let desc = description_suffix(&attr.description);
    format!("- `{name}` ({}){desc}\n", attr.ty)
}

fn write_block_children(
    out: &mut String,
    parents: &[String],
    block: &Block,
    root: bool,
) -> Result<(), RenderError> {
    let mut groups: [Vec<String>; 3] = Default::default();
    // Blocks first so a name used by both (invalid anyway) documents once.
    for (name, child) in &block.block_types {
        let index = Group::ALL
            .iter()
            .position(|g| g.holds_block(child))
            .ok_or_else(|| RenderError::Ungroupable(dotted(parents, name)))?;
        groups[index].push(name.clone());
    }
    for (name, attr) in &block.attributes {
        if block.block_types.contains_key(name) {
            continue;
        }
        // An undocumented top-level `id` is the conventional read-only id.
        let index = if is_conventional_id(parents, name, attr) {
            2
        } else {
            Group::ALL
                .iter()
                .position(|g| g.holds_attribute(attr))
                .ok_or_else(|| RenderError::Ungroupable(dotted(parents, name)))?
        };
        groups[index].push(name.clone());
    }

    let mut nested = Vec::new();
    for (group, names) in Group::ALL.into_iter().zip(groups.iter_mut()) {
        if names.is_empty() {
            continue;
        }
        names.sort();
        let title = if root {
            group.top_level_title()
        } else {
            group.nested_title()
        };
        let _ = writeln!(out, "{title}\n");
        let any_write_only = names.iter().any(|name| match block.block_types.get(name) {
            Some(child) => block_contains_write_only(child),
            None => block.attributes.get(name).is_some_and(|a| a.write_only),
        });
        if any_write_only {
            out.push_str(WRITE_ONLY_NOTE);
        }
        for name in names.iter() {
            let path = child_path(parents, name);
            if let Some(child) = block.block_types.get(name) {
                nested.push(write_block_type(out, path, child, group));
            } else if let Some(attr) = block.attributes.get(name) {
                let conventional_id = is_conventional_id(parents, name, attr);
                nested.extend(write_attribute(out, path, attr, group, conventional_id));
            }
        }
        out.push('\n');
    }
    write_nested(out, nested)
}

fn is_conventional_id(parents: &[String], name: &str, attr: &Attribute) -> bool {
    parents.is_empty() && name.eq_ignore_ascii_case("id") && attr.description.is_empty()
}

fn write_attribute<'a>(
    out: &mut String,
    path: Vec<String>,
    attr: &'a Attribute,
    group: Group,
    conventional_id: bool,
) -> Option<Nested<'a>> {
    let name = path.last().cloned().unwrap_or_default();
    let summary = match &attr.nested_type {
        Some(nested) => nested_attribute_summary(attr, nested),
        None => attribute_summary(attr),
    };
    let description = if conventional_id {
        " The ID of this resource.".to_owned()
    } else {
        description_suffix(&attr.description)
    };
    let _ = write!(out, "- `{name}` {summary}{description}");

    let anchor = format!("nestedatt--{}", path.join("--"));
    let kind = match (&attr.nested_type, &attr.ty) {
        (Some(nested), _) => Some(NestedKind::Attributes(nested)),
        (None, Some(CtyType::Object(fields))) => Some(NestedKind::Object(fields)),
        (None, Some(ty)) => match ty.element() {
            Some(CtyType::Object(fields)) => Some(NestedKind::Object(fields)),
            _ => None,
        },
        (None, None) => None,
    };
    let nested = kind.map(|kind| {
        let _ = write!(out, " (see [below for nested schema](#{anchor}))");
        Nested {
            anchor,
            path,
            kind,
            group,
        }
    });
    out.push('\n');
    nested
}

fn write_block_type<'a>(
    out: &mut String,
    path: Vec<String>,
    block: &'a BlockType,
    group: Group,
) -> Nested<'a> {
    let name = path.last().cloned().unwrap_or_default();
    let anchor = format!("nestedblock--{}", path.join("--"));
    let _ = writeln!(
        out,
        "- `{name}` {}{} (see [below for nested schema](#{anchor}))",
        block_summary(block, group),
        description_suffix(&block.block.description)
    );
    Nested {
        anchor,
        path,
        kind: NestedKind::Block(&block.block),
        group,
    }
}

fn write_nested(out: &mut String, nested: Vec<Nested<'_>>) -> Result<(), RenderError> {
    for section in nested {
        let _ = writeln!(out, "<a id=\"{}\"></a>", section.anchor);
        let _ = writeln!(out, "### Nested Schema for `{}`\n", section.path.join("."));
        match section.kind {
            NestedKind::Block(block) => write_block_children(out, &section.path, block, false)?,
            NestedKind::Object(fields) => {
                write_object_children(out, &section.path, fields, section.group)?
            }
            NestedKind::Attributes(nested) => {
                write_nested_attribute_children(out, &section.path, nested, section.group)?
            }
        }
        out.push('\n');
    }
    Ok(())
}

/// Fields of an object-typed attribute; they inherit the attribute's group.
fn write_object_children(
    out: &mut String,
    parents: &[String],
    fields: &BTreeMap<String, CtyType>,
    group: Group,
) -> Result<(), RenderError> {
    let _ = writeln!(out, "{}\n", group.nested_title());
    let mut nested = Vec::new();
    for (name, ty) in fields {
        let path = child_path(parents, name);
        let _ = write!(out, "- `{name}` ({ty})");
        let object = match ty {
            CtyType::Object(inner) => Some(inner),
            other => match other.element() {
                Some(CtyType::Object(inner)) => Some(inner),
                _ => None,
            },
        };
        if let Some(inner) = object {
            let anchor = format!("nestedobjatt--{}", path.join("--"));
            let _ = write!(out, " (see [below for nested schema](#{anchor}))");
            nested.push(Nested {
                anchor,
                path,
                kind: NestedKind::Object(inner),
                group,
            });
        }
        out.push('\n');
    }
    out.push('\n');
    write_nested(out, nested)
}

fn write_nested_attribute_children(
    out: &mut String,
    parents: &[String],
    nested_type: &NestedType,
    parent_group: Group,
) -> Result<(), RenderError> {
    let mut nested = Vec::new();
    for group in Group::ALL {
        let names: Vec<&String> = nested_type
            .attributes
            .iter()
            .filter(|(_, attr)| group.holds_attribute(attr))
            .map(|(name, _)| name)
            .collect();
        if names.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}\n", group.nested_title());
        for name in names {
            if let Some(attr) = nested_type.attributes.get(name) {
                let path = child_path(parents, name);
                nested.extend(write_attribute(out, path, attr, parent_group, false));
            }
        }
        out.push('\n');
    }
    write_nested(out, nested)
}

/// `(String, Sensitive, Deprecated, [Write-only](...))`.
fn attribute_summary(attr: &Attribute) -> String {
    let ty = attr
        .ty
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "Dynamic".to_owned());
    let mut parts = vec![ty];
    parts.extend(markers(attr));
    format!("({})", parts.join(", "))
}

/// `(Attributes List, Min: 1, Max: 3, Sensitive)`.
fn nested_attribute_summary(attr: &Attribute, nested: &NestedType) -> String {
    let mut parts = vec![format!("Attributes{}", mode_suffix(nested.nesting_mode))];
    if !is_single(nested.nesting_mode) && nested.min_items > 0 {
        parts.push(format!("Min: {}", nested.min_items));
    }
    if nested.max_items > 0 {
        parts.push(format!("Max: {}", nested.max_items));
    }
    parts.extend(markers(attr));
    format!("({})", parts.join(", "))
}

/// `(Block, Optional)` or `(Block List, Min: 1, Max: 1)`.
fn block_summary(block: &BlockType, group: Group) -> String {
    let mut parts = vec![format!("Block{}", mode_suffix(block.nesting_mode))];
    if is_single(block.nesting_mode) {
        parts.push(
            match group {
                Group::Required => "Required",
                Group::Optional => "Optional",
                Group::ReadOnly => "Read-only",
            }
            .to_owned(),
        );
    } else if block.min_items > 0 {
        parts.push(format!("Min: {}", block.min_items));
    }
    if block.max_items > 0 {
        parts.push(format!("Max: {}", block.max_items));
    }
    if block.block.deprecated {
        parts.push("Deprecated".to_owned());
    }
    format!("({})", parts.join(", "))
}

fn markers(attr: &Attribute) -> Vec<String> {
    let mut markers = Vec::new();
    if attr.sensitive {
        markers.push("Sensitive".to_owned());
    }
    if attr.deprecated {
        markers.push("Deprecated".to_owned());
    }
    if attr.write_only {
        markers.push(WRITE_ONLY_LINK.to_owned());
    }
    markers
}

fn is_single(mode: NestingMode) -> bool {
    matches!(mode, NestingMode::Single | NestingMode::Group)
}

fn mode_suffix(mode: NestingMode) -> &'static str {
    match mode {
        NestingMode::Single | NestingMode::Group => "",
        NestingMode::List => " List",
        NestingMode::Set => " Set",
        NestingMode::Map => " Map",
    }
}

/// `" text"` for a non-empty description. Blank lines would end the
/// Markdown list item, so paragraphs are joined with hard line breaks.
fn description_suffix(description: &str) -> String {
    let trimmed = description.trim();
    if trimmed.is_empty() {
        return String::new();
    }
    format!(" {}", collapse_blank_lines(trimmed))
}

fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut newlines = 0;
    for c in text.chars() {
        if c == '\n' {
            newlines += 1;
            continue;
        }
        match newlines {
            0 => {}
            1 => out.push('\n'),
            _ => out.push_str("  \n"),
        }
        newlines = 0;
        out.push(c);
    }
    out
}

fn child_path(parents: &[String], name: &str) -> Vec<String> {
    let mut path = parents.to_vec();
    path.push(name.to_owned());
    path
}

fn dotted(parents: &[String], name: &str) -> String {
    child_path(parents, name).join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(v: serde_json::Value) -> Block {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn attributes_are_grouped_sorted_and_typed() {
        let b = block(json!({
            "attributes": {
                "zeta": {"type": "string", "optional": true, "description": "Last."},
                "alpha": {"type": "number", "required": true, "description": "First."},
                "id": {"type": "string", "computed": true},
                "token": {"type": "string", "optional": true, "sensitive": true},
                "names": {"type": ["set", "string"], "computed": true, "description": "All names."},
                "old": {"type": "bool", "optional": true, "deprecated": true}
            }
        }));
        assert_eq!(
            schema_markdown(&b).unwrap(),
            "## Schema\n\n\
             ### Required\n\n\
             - `alpha` (Number) First.\n\n\
             ### Optional\n\n\
             - `old` (Boolean, Deprecated)\n\
             - `token` (String, Sensitive)\n\
             - `zeta` (String) Last.\n\n\
             ### Read-Only\n\n\
             - `id` (String) The ID of this resource.\n\
             - `names` (Set of String) All names.\n\n"
        );
    }

    #[test]
    fn nested_attributes_blocks_and_objects_get_linked_sections() {
        let b = block(json!({
            "attributes": {
                "tls": {
                    "nested_type": {
                        "nesting_mode": "single",
                        "attributes": {
                            "ca_cert_pem": {"type": "string", "optional": true, "description": "CA."},
                            "client_key_pem": {"type": "string", "optional": true, "sensitive": true}
                        }
                    },
                    "optional": true,
                    "description": "TLS settings."
                },
                "peers": {
                    "type": ["list", ["object", {"host": "string", "port": "number"}]],
                    "computed": true
                }
            },
            "block_types": {
                "timeouts": {
                    "nesting_mode": "single",
                    "block": {"attributes": {"create": {"type": "string", "optional": true}}}
                }
            }
        }));
        let expected = "## Schema\n\n\
### Optional\n\n\
- `timeouts` (Block, Optional) (see [below for nested schema](#nestedblock--timeouts))\n\
- `tls` (Attributes) TLS settings. (see [below for nested schema](#nestedatt--tls))\n\n\
### Read-Only\n\n\
- `peers` (List of Object) (see [below for nested schema](#nestedatt--peers))\n\n\
<a id=\"nestedblock--timeouts\"></a>\n\
### Nested Schema for `timeouts`\n\n\
Optional:\n\n\
- `create` (String)\n\n\n\
<a id=\"nestedatt--tls\"></a>\n\
### Nested Schema for `tls`\n\n\
Optional:\n\n\
- `ca_cert_pem` (String) CA.\n\
- `client_key_pem` (String, Sensitive)\n\n\n\
<a id=\"nestedatt--peers\"></a>\n\
### Nested Schema for `peers`\n\n\
Read-Only:\n\n\
- `host` (String)\n\
- `port` (Number)\n\n\n";
        assert_eq!(schema_markdown(&b).unwrap(), expected);
    }

    #[test]
    fn write_only_attributes_are_marked_and_their_group_carries_the_version_note() {
        let b = block(json!({
            "attributes": {
                "password_wo": {"type": "string", "optional": true, "write_only": true, "sensitive": true}
            }
        }));
        let md = schema_markdown(&b).unwrap();
        assert!(md.contains(WRITE_ONLY_NOTE), "{md}");
        assert!(
            md.contains(&format!(
                "- `password_wo` (String, Sensitive, {WRITE_ONLY_LINK})"
            )),
            "{md}"
        );
    }

    #[test]
    fn list_blocks_show_their_bounds_and_required_blocks_their_group() {
        let b = block(json!({
            "block_types": {
                "step": {
                    "nesting_mode": "list", "min_items": 1, "max_items": 3,
                    "block": {"attributes": {"name": {"type": "string", "required": true}}}
                }
            }
        }));
        let md = schema_markdown(&b).unwrap();
        assert!(
            md.starts_with(
                "## Schema\n\n### Required\n\n- `step` (Block List, Min: 1, Max: 3) (see"
            ),
            "{md}"
        );
    }

    #[test]
    fn an_optional_block_with_only_computed_children_is_an_error() {
        let b = block(json!({
            "block_types": {
                "status": {
                    "nesting_mode": "list", "max_items": 1,
                    "block": {"attributes": {"state": {"type": "string", "computed": true}}}
                }
            }
        }));
        assert_eq!(
            schema_markdown(&b),
            Err(RenderError::Ungroupable("status".into()))
        );
    }

    #[test]
    fn paragraphs_in_descriptions_stay_inside_the_list_item() {
        assert_eq!(
            description_suffix("One.\n\nTwo.\n- a\n- b\n"),
            " One.  \nTwo.\n- a\n- b"
        );
    }

    #[test]
    fn identity_schema_lists_required_then_optional_attributes() {
        let identity: IdentitySchema = serde_json::from_value(json!({
            "attributes": {
                "id": {"type": "string", "required_for_import": true, "description": "Upgrade id."},
                "workspace": {"type": "string", "optional_for_import": true}
            }
        }))
        .unwrap();
        assert_eq!(
            identity_markdown(&identity).unwrap(),
            "### Identity Schema\n\n\
             #### Required for Import\n\n\
             - `id` (String) Upgrade id.\n\n\
             #### Optional for Import\n\n\
             - `workspace` (String)\n\n"
        );
    }
}
