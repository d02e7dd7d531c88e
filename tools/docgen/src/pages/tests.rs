//! Pages rendered from a hand-written fixture shaped like real
//! `terraform providers schema -json` output (`testdata/schema.json`),
//! compared with reviewed copies in `testdata/expected/`.
//! `DOCGEN_BLESS=1 cargo test -p docgen` rewrites those copies.

use super::*;
use crate::schema::ProvidersSchema;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn fixture() -> ProviderSchema {
    let text = std::fs::read_to_string(testdata().join("schema.json")).unwrap();
    let mut all: ProvidersSchema = serde_json::from_str(&text).unwrap();
    all.provider_schemas
        .remove("registry.terraform.io/kong-upgrades/kong")
        .unwrap()
}

fn sources(root: &Path) -> Sources {
    Sources {
        root: root.to_path_buf(),
        examples: root.join("examples"),
        templates: root.join("templates"),
        provider_name: "kong".into(),
    }
}

#[test]
fn the_fixture_renders_to_the_reviewed_pages() {
    let docs = render_docs(&fixture(), &sources(&testdata())).unwrap();
    let expected_dir = testdata().join("expected");
    if std::env::var("DOCGEN_BLESS").is_ok_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(&expected_dir);
        for (path, text) in &docs {
            let target = expected_dir.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, text).unwrap();
        }
    }
    let names: Vec<String> = docs.keys().map(|p| p.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "actions/kong_drain.md",
            "data-sources/kong_node.md",
            "functions/normalize_version.md",
            "index.md",
            "resources/kong_upgrade.md",
        ]
    );
    for (path, text) in &docs {
        let expected = std::fs::read_to_string(expected_dir.join(path)).unwrap();
        assert_eq!(text, &expected, "{} differs", path.display());
    }
}

#[test]
fn rendering_is_deterministic() {
    let a = render_docs(&fixture(), &sources(&testdata())).unwrap();
    let b = render_docs(&fixture(), &sources(&testdata())).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_resource_page_has_overview_example_schema_and_import_in_order() {
    let docs = render_docs(&fixture(), &sources(&testdata())).unwrap();
    let page = &docs[Path::new("resources/kong_upgrade.md")];
    let order = [
        "page_title: \"kong_upgrade Resource - kong\"",
        "# kong_upgrade (Resource)",
        "Upgrades a Kong cluster to `target_version`.",
        "## Example Usage",
        "```terraform\nresource \"kong_upgrade\" \"this\" {",
        "## Schema",
        "### Required",
        "- `target_version` (String) Kong version to upgrade to, e.g. `3.4.2`.",
        "### Optional",
        "- `pg_password_wo` (String, Sensitive, [Write-only]",
        "- `strategy` (String) `blue_green` or `in_place`.  \nDefaults to `blue_green`.",
        "- `timeouts` (Block, Optional)",
        "### Read-Only",
        "- `id` (String) The ID of this resource.",
        "- `steps` (List of Object) The planned hops.",
        "## Import",
        "can be used with the `identity` attribute",
        "### Identity Schema",
        "- `id` (String) Upgrade id.",
        "The [`terraform import` command]",
        "```shell\nterraform import kong_upgrade.this upgrade-1\n```",
    ];
    let mut from = 0;
    for needle in order {
        let at = page[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing or out of order in\n{page}"));
        from += at + needle.len();
    }
}

#[test]
fn a_function_page_has_terraforms_signature_and_numbered_arguments() {
    let docs = render_docs(&fixture(), &sources(&testdata())).unwrap();
    let page = &docs[Path::new("functions/normalize_version.md")];
    assert!(
        page.contains("description: |-\n  Normalize a Kong version\n"),
        "{page}"
    );
    assert!(page.contains("# function: normalize_version\n\n-> **Requires Terraform 1.8 or later**: earlier versions have no provider functions and reject this configuration.\n\nNormalizes a Kong version string."));
    assert!(page.contains(
        "```text\nnormalize_version(version string, extra list of number...) string\n```"
    ));
    assert!(page.contains("1. `version` (String) Raw version.\n"));
    assert!(page.contains("1. `extra` (Variadic, List of Number, Nullable)\n"));
}

#[test]
fn a_hand_written_template_replaces_the_default_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("templates/data-sources")).unwrap();
    std::fs::create_dir_all(root.join("examples/data-sources/kong_node")).unwrap();
    std::fs::write(
        root.join("examples/data-sources/kong_node/data-source.tf"),
        "data \"kong_node\" \"n\" {}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/data-sources/kong_node.md.tmpl"),
        "# {{ .Name }}\n\nHand-written.\n\n{{ tffile .ExampleFile }}\n\n{{ .SchemaMarkdown }}",
    )
    .unwrap();
    // `.ExampleFile` is a variable, not a quoted path: unsupported, and said so.
    let err = render_docs(&fixture(), &sources(root)).unwrap_err();
    assert!(matches!(err, DocError::Template { .. }), "{err}");

    std::fs::write(
        root.join("templates/data-sources/kong_node.md.tmpl"),
        "# {{ .Name }}\n\nHand-written.\n\n{{ tffile \"examples/data-sources/kong_node/data-source.tf\" }}\n\n{{ .SchemaMarkdown }}",
    )
    .unwrap();
    let docs = render_docs(&fixture(), &sources(root)).unwrap();
    let page = &docs[Path::new("data-sources/kong_node.md")];
    assert!(page.starts_with("# kong_node\n\nHand-written.\n\n```terraform\ndata \"kong_node\" \"n\" {}\n```\n\n<!-- schema generated by tools/docgen -->\n## Schema\n"), "{page}");
}

#[test]
fn guides_are_copied_or_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("templates/guides")).unwrap();
    let guide = "---\npage_title: \"Upgrading\"\nsubcategory: \"Guides\"\ndescription: |-\n  How.\n---\n\n# Upgrading\n";
    std::fs::write(root.join("templates/guides/upgrading.md"), guide).unwrap();
    let docs = render_docs(&fixture(), &sources(root)).unwrap();
    assert_eq!(docs[Path::new("guides/upgrading.md")], guide);
}

#[test]
fn a_guide_without_a_subcategory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("templates/guides")).unwrap();
    for text in [
        "# Upgrading\n",
        "---\npage_title: \"Upgrading\"\ndescription: |-\n  How.\n---\n# Upgrading\n",
    ] {
        std::fs::write(root.join("templates/guides/upgrading.md"), text).unwrap();
        assert!(
            matches!(
                render_docs(&fixture(), &sources(root)),
                Err(DocError::GuideFrontMatter { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn action_and_function_pages_name_the_terraform_they_need() {
    let docs = render_docs(&fixture(), &sources(&testdata())).unwrap();
    assert!(docs[Path::new("actions/kong_drain.md")].contains("Requires Terraform 1.14 or later"));
    assert!(docs[Path::new("functions/normalize_version.md")]
        .contains("Requires Terraform 1.8 or later"));
    assert!(!docs[Path::new("resources/kong_upgrade.md")].contains("Requires Terraform"));
}

#[test]
fn front_matter_descriptions_are_plain_text() {
    assert_eq!(
        plain_text("Manage **Kong** via `admin_url`.\n\nSee [the docs](https://x/y)."),
        "Manage Kong via admin_url.\n\nSee the docs."
    );
    assert_eq!(
        front_matter("kong Provider", None, ""),
        format!("---\n{GENERATED_BY}\npage_title: \"kong Provider\"\ndescription: |-\n  \n---")
    );
}
