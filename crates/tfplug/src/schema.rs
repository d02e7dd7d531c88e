//! A typed schema builder. Descriptions are Markdown; the docs generator
//! renders them through `terraform providers schema -json`.

use crate::diag::{AttrPath, Diagnostics};
use crate::validate::{Check, Constraint};
use crate::value::{Type, Value};
use magma_protocol::tfplugin6 as pb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// Who sets an attribute.
pub enum Presence {
    /// The user must set it.
    Required,
    /// The user may set it.
    Optional,
    /// Only the provider sets it.
    Computed,
    /// The user may set it; otherwise the provider does.
    OptionalComputed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// How the objects of a nested attribute are grouped.
pub enum Nesting {
    /// One object.
    Single,
    /// An ordered list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map of objects by key.
    Map,
}

#[derive(Clone, Debug, PartialEq)]
/// What an attribute holds.
pub enum AttrType {
    /// A value of a plain type.
    Plain(Type),
    /// A nested attribute (protocol 6): an object, or a collection of them.
    Nested(Nesting, Vec<Attribute>),
}

#[derive(Clone, Debug, PartialEq)]
/// One attribute of a schema block, built with the methods below.
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its type.
    pub ty: AttrType,
    /// Who sets it.
    pub presence: Presence,
    /// Hidden in plans and logs by Terraform.
    pub sensitive: bool,
    /// Never stored in plan or state (Terraform ≥ 1.11).
    pub write_only: bool,
    /// Markdown written by the author (see `full_description`).
    pub description: String,
    /// Deprecation message, when deprecated.
    pub deprecated: Option<String>,
    /// Validators, run at validate time on the attribute's known value.
    pub checks: Vec<Check>,
    /// A change of this attribute replaces the resource (plan modifier
    /// "requires replace").
    pub requires_replace: bool,
}

impl Attribute {
    /// An optional attribute of type `ty`.
    pub fn new(name: &str, ty: Type) -> Attribute {
        Attribute {
            name: name.to_string(),
            ty: AttrType::Plain(ty),
            presence: Presence::Optional,
            sensitive: false,
            write_only: false,
            description: String::new(),
            deprecated: None,
            checks: Vec::new(),
            requires_replace: false,
        }
    }

    /// An optional string attribute.
    pub fn string(name: &str) -> Attribute {
        Attribute::new(name, Type::String)
    }
    /// An optional bool attribute.
    pub fn bool(name: &str) -> Attribute {
        Attribute::new(name, Type::Bool)
    }
    /// An optional number attribute.
    pub fn number(name: &str) -> Attribute {
        Attribute::new(name, Type::Number)
    }
    /// An optional list attribute of `elem`.
    pub fn list_of(name: &str, elem: Type) -> Attribute {
        Attribute::new(name, Type::list(elem))
    }
    /// An optional map attribute of `elem`.
    pub fn map_of(name: &str, elem: Type) -> Attribute {
        Attribute::new(name, Type::map(elem))
    }
    /// An optional nested attribute (protocol 6) of `attrs`.
    pub fn nested(name: &str, nesting: Nesting, attrs: Vec<Attribute>) -> Attribute {
        Attribute {
            ty: AttrType::Nested(nesting, attrs),
            ..Attribute::string(name)
        }
    }

    /// The user must set it.
    pub fn required(mut self) -> Self {
        self.presence = Presence::Required;
        self
    }
    /// The user may set it.
    pub fn optional(mut self) -> Self {
        self.presence = Presence::Optional;
        self
    }
    /// Only the provider sets it.
    pub fn computed(mut self) -> Self {
        self.presence = Presence::Computed;
        self
    }
    /// The user may set it, else the provider does.
    pub fn optional_computed(mut self) -> Self {
        self.presence = Presence::OptionalComputed;
        self
    }
    /// Terraform hides its value in plans and output.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    /// Write-only (Terraform ≥ 1.11): never stored in plan or state. Older
    /// Terraform ignores the flag, so pair it with `sensitive`.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    /// Sets the Markdown description.
    pub fn describe(mut self, markdown: &str) -> Self {
        self.description = markdown.to_string();
        self
    }
    /// Marks it deprecated with `message`.
    pub fn deprecated(mut self, message: &str) -> Self {
        self.deprecated = Some(message.to_string());
        self
    }
    /// Adds a validator; its sentence joins the description.
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }
    /// Marks the attribute "requires replace": when its planned value
    /// differs from the prior state, Terraform replaces the resource.
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    /// The description Terraform and the docs show: the author's text, then
    /// one sentence per validator and plan modifier.
    pub fn full_description(&self) -> String {
        let mut parts = vec![self.description.clone()];
        parts.extend(self.checks.iter().map(Check::describe));
        if self.requires_replace {
            parts.push("Changing it replaces the resource.".to_string());
        }
        join_sentences(parts)
    }

    /// True when the provider may set it.
    pub fn is_computed(&self) -> bool {
        matches!(
            self.presence,
            Presence::Computed | Presence::OptionalComputed
        )
    }

    /// The value type of the attribute.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttrType::Plain(t) => t.clone(),
            AttrType::Nested(nesting, attrs) => {
                let obj = Type::object(attrs.iter().map(|a| (a.name.clone(), a.value_type())));
                match nesting {
                    Nesting::Single => obj,
                    Nesting::List => Type::list(obj),
                    Nesting::Set => Type::set(obj),
                    Nesting::Map => Type::map(obj),
                }
            }
        }
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        let (ty, nested) = match &self.ty {
            AttrType::Plain(t) => (t.to_json_bytes(), None),
            AttrType::Nested(nesting, attrs) => (
                Vec::new(),
                Some(pb::schema::Object {
                    attributes: attrs.iter().map(Attribute::to_proto).collect(),
                    nesting: match nesting {
                        Nesting::Single => pb::schema::object::NestingMode::Single,
                        Nesting::List => pb::schema::object::NestingMode::List,
                        Nesting::Set => pb::schema::object::NestingMode::Set,
                        Nesting::Map => pb::schema::object::NestingMode::Map,
                    } as i32,
                    ..Default::default()
                }),
            ),
        };
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: ty,
            nested_type: nested,
            description: self.full_description(),
            required: self.presence == Presence::Required,
            optional: matches!(
                self.presence,
                Presence::Optional | Presence::OptionalComputed
            ),
            computed: self.is_computed(),
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated.is_some(),
            deprecation_message: self.deprecated.clone().unwrap_or_default(),
            write_only: self.write_only,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// How the objects of a nested block are grouped.
pub enum BlockNesting {
    /// At most one block.
    Single,
    /// A list of blocks.
    List,
    /// A set of blocks.
    Set,
}

#[derive(Clone, Debug, PartialEq)]
/// A block inside a block (`tls { ... }`).
pub struct NestedBlock {
    /// The block type name.
    pub name: String,
    /// How many and how grouped.
    pub nesting: BlockNesting,
    /// Its content.
    pub block: Block,
    /// Fewest blocks required (1 makes a single block required).
    pub min_items: i64,
    /// Most blocks allowed (0: no limit).
    pub max_items: i64,
}

impl NestedBlock {
    /// An optional single block.
    pub fn single(name: &str, block: Block) -> NestedBlock {
        NestedBlock {
            name: name.into(),
            nesting: BlockNesting::Single,
            block,
            min_items: 0,
            max_items: 0,
        }
    }
    /// A list of blocks.
    pub fn list(name: &str, block: Block) -> NestedBlock {
        NestedBlock {
            name: name.into(),
            nesting: BlockNesting::List,
            block,
            min_items: 0,
            max_items: 0,
        }
    }
    /// Requires at least `n` blocks.
    pub fn min_items(mut self, n: i64) -> Self {
        self.min_items = n;
        self
    }
    /// Allows at most `n` blocks.
    pub fn max_items(mut self, n: i64) -> Self {
        self.max_items = n;
        self
    }

    fn value_type(&self) -> Type {
        let obj = self.block.value_type();
        match self.nesting {
            BlockNesting::Single => obj,
            BlockNesting::List => Type::list(obj),
            BlockNesting::Set => Type::set(obj),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
/// A schema block: attributes, nested blocks and constraints between attributes.
pub struct Block {
    /// The attributes.
    pub attributes: Vec<Attribute>,
    /// The nested blocks.
    pub blocks: Vec<NestedBlock>,
    /// Markdown written by the author (see `full_description`).
    pub description: String,
    /// Deprecation message, when deprecated.
    pub deprecated: Option<String>,
    /// Rules between this block's attributes.
    pub constraints: Vec<Constraint>,
}

impl Block {
    /// An empty block.
    pub fn new() -> Block {
        Block::default()
    }
    /// Sets the Markdown description.
    pub fn describe(mut self, markdown: &str) -> Self {
        self.description = markdown.to_string();
        self
    }
    /// Adds an attribute.
    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    /// Adds a nested block.
    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }
    /// Adds a rule between attributes; its sentence joins the description.
    pub fn constraint(mut self, c: Constraint) -> Self {
        self.constraints.push(c);
        self
    }

    /// The description Terraform and the docs show: the author's text, then
    /// one sentence per constraint.
    pub fn full_description(&self) -> String {
        let mut parts = vec![self.description.clone()];
        parts.extend(self.constraints.iter().map(Constraint::describe));
        join_sentences(parts)
    }

    /// The object type of a value conforming to this block.
    pub fn value_type(&self) -> Type {
        Type::object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.value_type()))
                .chain(self.blocks.iter().map(|b| (b.name.clone(), b.value_type()))),
        )
    }

    /// The attribute `name`, when declared.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    fn to_proto(&self, version: i64) -> pb::schema::Block {
        let mut attributes: Vec<_> = self.attributes.iter().map(Attribute::to_proto).collect();
        attributes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut block_types: Vec<_> = self
            .blocks
            .iter()
            .map(|b| pb::schema::NestedBlock {
                type_name: b.name.clone(),
                block: Some(b.block.to_proto(0)),
                nesting: match b.nesting {
                    BlockNesting::Single => pb::schema::nested_block::NestingMode::Single,
                    BlockNesting::List => pb::schema::nested_block::NestingMode::List,
                    BlockNesting::Set => pb::schema::nested_block::NestingMode::Set,
                } as i32,
                min_items: b.min_items,
                // Terraform insists that a single block's bounds match: 0/0
                // for an optional block, 1/1 for a required one.
                max_items: if b.nesting == BlockNesting::Single {
                    b.min_items
                } else {
                    b.max_items
                },
            })
            .collect();
        block_types.sort_by(|a, b| a.type_name.cmp(&b.type_name));
        pb::schema::Block {
            version,
            attributes,
            block_types,
            description: self.full_description(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated.is_some(),
            deprecation_message: self.deprecated.clone().unwrap_or_default(),
        }
    }

    /// Sets every computed attribute that is null in `config` to unknown in
    /// `planned`, except those listed in `keep` (whose prior value carries
    /// over). The usual plan for "the provider fills these in on apply".
    pub fn mark_computed_unknown(
        &self,
        config: &Value,
        planned: &mut Value,
        prior: &Value,
        keep: &[&str],
    ) {
        for a in &self.attributes {
            if !a.is_computed() || !config.attr(&a.name).is_null() {
                continue;
            }
            let v = if keep.contains(&a.name.as_str()) && !prior.is_null() {
                prior.attr(&a.name).clone()
            } else {
                Value::Unknown
            };
            planned.set_attr(&a.name, v);
        }
    }

    /// Nulls the attributes marked write-only in `value` (an object of this
    /// block), in nested blocks of every nesting: a list's or set's blocks
    /// each lose theirs.
    pub fn null_write_only(&self, value: &mut Value) {
        if !matches!(value, Value::Object(_)) {
            return;
        }
        for a in self.attributes.iter().filter(|a| a.write_only) {
            value.set_attr(&a.name, Value::Null);
        }
        for b in &self.blocks {
            match value.attr_mut(&b.name) {
                Some(Value::List(items) | Value::Set(items)) => {
                    items
                        .iter_mut()
                        .for_each(|item| b.block.null_write_only(item));
                }
                Some(single) => b.block.null_write_only(single),
                None => {}
            }
        }
    }
}

/// A versioned schema of a resource, data source, provider or action.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// Bumped when the state's shape changes; `Resource::upgrade_state` migrates older states.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

impl Schema {
    /// A schema of `version` with `block`.
    pub fn new(version: i64, block: Block) -> Schema {
        Schema { version, block }
    }

    /// The object type of a value of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    /// Runs every declared check on `config`, each diagnostic on the path
    /// of the value at fault.
    pub fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if !config.is_null() {
            self.block
                .validate(config, &AttrPath::default(), &mut diags);
        }
        diags
    }

    /// The paths of `requires_replace` attributes whose planned value
    /// differs from a prior state (none when creating or destroying).
    pub fn replaced_paths(&self, prior: &Value, planned: &Value) -> Vec<AttrPath> {
        let mut out = Vec::new();
        if !prior.is_null() && !planned.is_null() {
            self.block
                .replaced_paths(prior, planned, &AttrPath::default(), &mut out);
        }
        out
    }

    pub(crate) fn to_proto(&self) -> pb::Schema {
        pb::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }
}

/// Identity schema (Terraform ≥ 1.12): the attributes that identify a remote
/// object, for `import { identity = {...} }`.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentitySchema {
    /// Bumped when the identity's shape changes.
    pub version: i64,
    /// (name, type, required_for_import, description)
    pub attributes: Vec<(String, Type, bool, String)>,
}

impl IdentitySchema {
    /// The object type of an identity.
    pub fn value_type(&self) -> Type {
        Type::object(
            self.attributes
                .iter()
                .map(|(n, t, _, _)| (n.clone(), t.clone())),
        )
    }

    pub(crate) fn to_proto(&self) -> pb::ResourceIdentitySchema {
        pb::ResourceIdentitySchema {
            version: self.version,
            identity_attributes: self
                .attributes
                .iter()
                .map(|(name, ty, required, description)| {
                    pb::resource_identity_schema::IdentityAttribute {
                        name: name.clone(),
                        r#type: ty.to_json_bytes(),
                        required_for_import: *required,
                        optional_for_import: !*required,
                        description: description.clone(),
                    }
                })
                .collect(),
        }
    }
}

/// Joins the non-empty parts of a description with a space.
fn join_sentences(parts: Vec<String>) -> String {
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The objects of a nested value, each with its path: one for single
/// nesting, one per element (by index, or key for maps) otherwise. Set
/// elements have no stable index, so their faults are pinned on the set.
fn nested_objects<'v>(
    value: &'v Value,
    path: &AttrPath,
    indexed: bool,
) -> Vec<(&'v Value, AttrPath)> {
    match value {
        Value::Object(_) => vec![(value, path.clone())],
        Value::List(items) | Value::Tuple(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (v, path.clone().index(i as i64)))
            .collect(),
        Value::Set(items) => items.iter().map(|v| (v, path.clone())).collect(),
        Value::Map(m) if indexed => m.iter().map(|(k, v)| (v, path.clone().key(k))).collect(),
        _ => Vec::new(),
    }
}

impl Block {
    /// Checks `value` (an object of this block) found at `path`.
    fn validate(&self, value: &Value, path: &AttrPath, diags: &mut Diagnostics) {
        if !value.is_known() || value.is_null() {
            return;
        }
        for a in &self.attributes {
            let v = value.attr(&a.name);
            if !v.is_known() || v.is_null() {
                continue;
            }
            let at = path.clone().attr(&a.name);
            for check in &a.checks {
                check.check(v, &at, diags);
            }
            if let AttrType::Nested(_, attrs) = &a.ty {
                let inner = Block {
                    attributes: attrs.clone(),
                    ..Block::default()
                };
                for (obj, obj_path) in nested_objects(v, &at, true) {
                    inner.validate(obj, &obj_path, diags);
                }
            }
        }
        for b in &self.blocks {
            let v = value.attr(&b.name);
            for (obj, obj_path) in nested_objects(v, &path.clone().attr(&b.name), true) {
                b.block.validate(obj, &obj_path, diags);
            }
        }
        for c in &self.constraints {
            c.check(value, path, diags);
        }
    }

    /// Collects the paths of `requires_replace` attributes that changed,
    /// looking into single nested blocks.
    fn replaced_paths(
        &self,
        prior: &Value,
        planned: &Value,
        path: &AttrPath,
        out: &mut Vec<AttrPath>,
    ) {
        for a in &self.attributes {
            let (before, after) = (prior.attr(&a.name), planned.attr(&a.name));
            if a.requires_replace && before != after {
                out.push(path.clone().attr(&a.name));
            }
        }
        for b in self
            .blocks
            .iter()
            .filter(|b| b.nesting == BlockNesting::Single)
        {
            let at = path.clone().attr(&b.name);
            b.block
                .replaced_paths(prior.attr(&b.name), planned.attr(&b.name), &at, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_value_type_includes_nested_blocks_and_attributes() {
        let b = Block::new()
            .attr(Attribute::string("a").required())
            .attr(Attribute::nested(
                "n",
                Nesting::List,
                vec![Attribute::number("w")],
            ))
            .block(NestedBlock::single(
                "tls",
                Block::new().attr(Attribute::bool("insecure")),
            ));
        let ty = b.value_type();
        let Type::Object(attrs) = ty else {
            panic!("object expected")
        };
        assert_eq!(attrs["a"], Type::String);
        assert_eq!(attrs["n"], Type::list(Type::object([("w", Type::Number)])));
        assert_eq!(attrs["tls"], Type::object([("insecure", Type::Bool)]));
    }

    #[test]
    fn computed_nulls_become_unknown_unless_kept() {
        let b = Block::new()
            .attr(Attribute::string("id").computed())
            .attr(Attribute::string("v").computed())
            .attr(Attribute::string("in").required());
        let config = Value::object([("id", Value::Null), ("v", Value::Null), ("in", "x".into())]);
        let prior = Value::object([
            ("id", "old".into()),
            ("v", "old".into()),
            ("in", "x".into()),
        ]);
        let mut planned = config.clone();
        b.mark_computed_unknown(&config, &mut planned, &prior, &["id"]);
        assert_eq!(planned.attr("id").as_str(), Some("old"));
        assert!(planned.attr("v").is_unknown());
        assert_eq!(planned.attr("in").as_str(), Some("x"));
    }

    #[test]
    fn write_only_values_are_nulled_in_single_and_list_blocks() {
        let secret = || {
            Block::new()
                .attr(Attribute::string("token_wo").write_only())
                .attr(Attribute::string("kept"))
        };
        let b = Block::new()
            .block(NestedBlock::single("database", secret()))
            .block(NestedBlock::list(
                "gate",
                Block::new().block(NestedBlock::single("http", secret())),
            ));
        let inner = || Value::object([("token_wo", "s3cret".into()), ("kept", "k".into())]);
        let mut v = Value::object([
            ("database", inner()),
            (
                "gate",
                Value::List(vec![
                    Value::object([("http", inner())]),
                    Value::object([("http", Value::Null)]),
                ]),
            ),
        ]);
        b.null_write_only(&mut v);
        let nulled = || Value::object([("token_wo", Value::Null), ("kept", "k".into())]);
        assert_eq!(
            v,
            Value::object([
                ("database", nulled()),
                (
                    "gate",
                    Value::List(vec![
                        Value::object([("http", nulled())]),
                        Value::object([("http", Value::Null)])
                    ])
                ),
            ])
        );
    }
}
