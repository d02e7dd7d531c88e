//! Acceptance: the examples the documentation is generated from.
//!
//! Every resource, data source, function and action the provider serves has
//! its example (and every resource its import example), every example is a
//! valid configuration for the provider's current schema, and the examples
//! that need no infrastructure beyond a Kong node really answer what their
//! comments say. Together with `make docs-check` this keeps `docs/` honest.
//!
//! The examples are written for current Terraform (functions, `check`
//! blocks, write-only attributes, actions), so most tests run on 1.15.5;
//! every example directory also inits and validates on its own on each core
//! its `required_version` admits.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::{required_providers_hcl, Acceptance, TerraformVersion, Workspace};
use testbed::kongsim::{KongSim, Role};

/// The core the examples are written for, when it is under test.
fn current_core() -> Option<TerraformVersion> {
    let core = support::versions()
        .into_iter()
        .find(|v| *v == TerraformVersion::V1_15_5);
    if core.is_none() {
        eprintln!(
            "skipped: the examples need Terraform 1.15.5, which TF_ACC_TERRAFORM_VERSIONS excludes"
        );
    }
    core
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn example(path: &str) -> String {
    let file = examples_dir().join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Names of the schema items of one kind, e.g. `resource_schemas`.
fn names(schema: &serde_json::Value, kind: &str) -> BTreeSet<String> {
    schema[kind]
        .as_object()
        .map(|items| items.keys().cloned().collect())
        .unwrap_or_default()
}

/// `terraform providers schema -json` for the provider as users get it:
/// the harness strips `TF_*` variables, so the test-only resources
/// (`TF_KONG_TEST_RESOURCES=1`) are not served, exactly as for `make docs`.
fn provider_schema(ws: &Workspace) -> serde_json::Value {
    ws.write_config(&required_providers_hcl()).unwrap();
    ws.init().unwrap();
    let all = ws.providers_schema_json().unwrap();
    let schemas = all["provider_schemas"].as_object().unwrap();
    assert_eq!(schemas.len(), 1, "{}", all);
    schemas.values().next().unwrap().clone()
}

/// (schema kind, examples subdirectory, file each item must have)
const EXPECTED_EXAMPLES: [(&str, &str, &str); 4] = [
    ("resource_schemas", "resources", "resource.tf"),
    ("data_source_schemas", "data-sources", "data-source.tf"),
    ("functions", "functions", "function.tf"),
    ("action_schemas", "actions", "action.tf"),
];

/// The files docgen turns into a resource page's `## Import` section.
const IMPORT_EXAMPLES: [&str; 3] = [
    "import.sh",
    "import-by-string-id.tf",
    "import-by-identity.tf",
];

/// Resources whose import is refused by design, with the reason.
const NOT_IMPORTABLE: [(&str, &str); 1] = [(
    "kong_traffic_split",
    "no remote object: its first plan reads the load balancer's weights",
)];

#[test]
fn every_documented_item_has_its_example_and_test_resources_stay_hidden() {
    let Some(core) = current_core() else { return };
    let schema = provider_schema(&support::workspace(core));
    let mut missing = Vec::new();
    let mut documented = 0;
    for (kind, dir, file) in EXPECTED_EXAMPLES {
        for name in names(&schema, kind) {
            assert!(
                !name.starts_with("kong_test"),
                "{name} is test-only: it must not be served without TF_KONG_TEST_RESOURCES=1"
            );
            documented += 1;
            let item = examples_dir().join(dir).join(&name);
            if !item.join(file).is_file() {
                missing.push(format!("examples/{dir}/{name}/{file}"));
            }
            let importable = !NOT_IMPORTABLE.iter().any(|(n, _)| *n == name);
            if kind == "resource_schemas"
                && importable
                && !IMPORT_EXAMPLES.iter().any(|f| item.join(f).is_file())
            {
                missing.push(format!(
                    "examples/{dir}/{name}/import.sh (or import-by-*.tf)"
                ));
            }
        }
    }
    assert!(
        documented >= 7,
        "the schema lists only {documented} items: {schema}"
    );
    assert!(
        missing.is_empty(),
        "every item of the schema needs its example (the docs are generated from them):\n  {}",
        missing.join("\n  ")
    );

    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for dir in ["resources", "data-sources", "actions", "functions"] {
        for entry in std::fs::read_dir(docs.join(dir)).into_iter().flatten() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with("kong_test"),
                "docs/{dir}/{name} documents a test-only item"
            );
        }
    }
}

#[test]
fn every_example_is_a_valid_configuration() {
    let Some(core) = current_core() else { return };
    let ws = support::workspace(core);
    // One initialised workspace; each example replaces main.tf in turn.
    ws.write_file("versions.tf", &required_providers_hcl())
        .unwrap();
    ws.write_config("").unwrap();
    ws.init().unwrap();
    let mut checked = 0;
    for (_, dir, _) in EXPECTED_EXAMPLES {
        let Ok(entries) = std::fs::read_dir(examples_dir().join(dir)) else {
            continue;
        };
        let mut items: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        items.sort();
        for item in items {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&item)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "tf"))
                .filter(|p| !p.to_string_lossy().contains("import-by-"))
                // The directory's own required_providers: the workspace has its own.
                .filter(|p| !p.ends_with("versions.tf"))
                .collect();
            files.sort();
            for file in files {
                let config = std::fs::read_to_string(&file).unwrap();
                ws.write_config(&config).unwrap();
                let out = ws.validate().unwrap();
                assert!(out.success(), "{} is not valid:\n{out}", file.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 7, "only {checked} examples found");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let snippets = terraform_blocks(&readme);
    assert!(!snippets.is_empty(), "README.md shows no configuration");
    for snippet in snippets {
        ws.write_config(&snippet).unwrap();
        let out = ws.validate().unwrap();
        assert!(
            out.success(),
            "README.md's example is not valid:\n{snippet}\n{out}"
        );
    }
    check_guide_snippets(&ws);
    ws.write_config(&example("provider/provider.tf")).unwrap();
    ws.write_file("versions.tf", "").unwrap();
    let out = ws.validate().unwrap();
    assert!(
        out.success(),
        "examples/provider/provider.tf is not valid:\n{out}"
    );
}

/// Every ```` ```terraform ```` block of the guides (templates/guides/, which
/// docgen copies to docs/guides/) validates in `ws`; a block with its own
/// `required_providers` (another local name for this provider) replaces
/// the workspace's. Blocks that need providers not installable here are
/// fenced ```` ```hcl ```` instead.
fn check_guide_snippets(ws: &Workspace) {
    let guides = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/guides");
    let mut checked = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&guides)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for guide in files {
        let text = std::fs::read_to_string(&guide).unwrap();
        for snippet in terraform_blocks(&text) {
            let own_providers = snippet.contains("required_providers");
            if own_providers {
                ws.write_file("versions.tf", "").unwrap();
            }
            ws.write_config(&snippet).unwrap();
            let out = ws.validate().unwrap();
            if own_providers {
                ws.write_file("versions.tf", &required_providers_hcl())
                    .unwrap();
            }
            assert!(
                out.success(),
                "{} shows an invalid configuration:\n{snippet}\n{out}",
                guide.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} guide snippets found");
}

/// The ```` ```terraform ```` fenced blocks of a Markdown text.
fn terraform_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim() == "```terraform" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

#[test]
fn the_upgrade_path_and_function_examples_answer_what_their_comments_say() {
    let Some(core) = current_core() else { return };
    let mut acc = Acceptance::new(core);
    acc.apply(&example("data-sources/kong_upgrade_path/data-source.tf"));
    assert_eq!(acc.ws().output("path_kind").unwrap(), "lts");

    let mut acc = Acceptance::new(core);
    acc.apply(&example("functions/upgrade_path/function.tf"));
    assert_eq!(acc.ws().output("upgrade_supported").unwrap(), false);
    let hops = acc.ws().output("upgrade_first_through").unwrap();
    assert!(hops[0].as_str().unwrap().starts_with("2.8.x"), "{hops}");

    let mut acc = Acceptance::new(core);
    acc.apply(&example("functions/version_compare/function.tf"));
    assert_eq!(acc.ws().output("needs_upgrade").unwrap(), true);
}

#[test]
fn the_data_planes_example_reads_a_control_plane() {
    let Some(core) = current_core() else { return };
    let pg = testbed::Postgres::start().unwrap();
    let cp = KongSim::builder("3.6.1")
        .role(Role::ControlPlane)
        .postgres(&pg)
        .bootstrap()
        .start()
        .unwrap();
    cp.register_data_plane(
        r#"{"hostname":"dp-1","ip":"10.0.0.1","version":"3.6.1","sync_status":"normal"}"#,
    )
    .unwrap();
    let mut acc = Acceptance::new(core);
    acc.ws()
        .write_file(
            "terraform.tfvars",
            &format!("kong_cp_admin_url = \"{}\"\n", cp.admin_url),
        )
        .unwrap();
    acc.apply(&example("data-sources/kong_data_planes/data-source.tf"));
    assert_eq!(
        acc.ws().output("data_plane_versions").unwrap(),
        serde_json::json!(["3.6.1"])
    );
    assert_eq!(acc.ws().output("data_planes_out_of_sync").unwrap(), 0);
}

/// Every directory under examples/ holding `.tf` files, relative to it.
fn example_directories() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![examples_dir()];
    while let Some(dir) = pending.pop() {
        let mut has_tf = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "tf") {
                has_tf = true;
            }
        }
        if has_tf {
            found.push(dir.strip_prefix(examples_dir()).unwrap().to_path_buf());
        }
    }
    found.sort();
    found
}

/// The `(major, minor)` of a directory's `required_version = ">= X.Y..."`,
/// if it has one.
fn minimum_terraform(dir: &Path) -> Option<(u32, u32)> {
    let text: String = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let constraint = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("required_version"))?
        .split('"')
        .nth(1)?;
    let version = constraint.trim().strip_prefix(">=")?.trim();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Copies `from` (recursively) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn every_example_directory_inits_and_validates_on_its_own_on_the_cores_it_claims() {
    let dirs = example_directories();
    assert!(dirs.len() >= 20, "only {} example directories", dirs.len());
    let mut failures = Vec::new();
    for core in support::versions() {
        let (major, minor, _) = core.triple();
        for dir in &dirs {
            // A directory that needs a newer core says so; older cores
            // cannot always honour the claim (1.0 fails to parse
            // `provider::` calls before it reads required_version).
            if minimum_terraform(&examples_dir().join(dir))
                .is_some_and(|needed| (major, minor) < needed)
            {
                continue;
            }
            let ws = support::workspace(core);
            copy_dir(&examples_dir().join(dir), ws.dir());
            let init = ws
                .run(&["init", "-input=false", "-no-color", "-backend=false"])
                .unwrap();
            let outcome = if init.success() {
                ws.validate().unwrap()
            } else {
                init
            };
            if !outcome.success() {
                failures.push(format!(
                    "examples/{} fails on Terraform {core} (or needs a required_version that excludes it):\n{outcome}",
                    dir.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
