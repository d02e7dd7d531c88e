//! docgen: writes the provider's Terraform Registry documentation (`docs/`)
//! from the provider's own schema, so the docs cannot drift from the code.
//!
//! The schema comes from real Terraform (`terraform providers schema -json`
//! in a workspace initialised with the built provider) or from a file.
//! Examples come from `examples/`, optional hand-written layouts from
//! `templates/`. Output is deterministic: same inputs, same bytes.

mod defaults;
mod markdown;
mod pages;
mod schema;
mod template;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use testbed::terraform::{self, TerraformError, TerraformVersion, Workspace};

const USAGE: &str = "\
usage: docgen [options]

Generates docs/ in the Terraform Registry layout from the provider schema.

options:
  --schema-json FILE        read `terraform providers schema -json` output from
                            FILE (`-` for stdin) instead of running Terraform
  --provider-binary PATH    provider to read the schema from
                            (default: target/debug/terraform-provider-kong)
  --terraform-version V     Terraform core that reads it (default: 1.15.5)
  --provider-address ADDR   provider in the schema JSON
                            (default: registry.terraform.io/kong-upgrades/kong)
  --root DIR                repository root (default: this workspace)
  --examples DIR            default: ROOT/examples
  --templates DIR           default: ROOT/templates
  --out DIR                 default: ROOT/docs
  --save-schema FILE        also write the schema JSON read from Terraform
  --check                   write nothing; fail if the docs directory differs
                            from what would be written (hand-written files
                            outside docgen's entries are ignored)
  -h, --help
";

/// Top-level entries of the docs directory docgen owns and rewrites.
const GENERATED_ENTRIES: [&str; 7] = [
    "index.md",
    "resources",
    "data-sources",
    "ephemeral-resources",
    "actions",
    "functions",
    "guides",
];

#[derive(Debug, thiserror::Error)]
enum DocgenError {
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    /// Boxed: it carries Terraform's whole output.
    #[error(transparent)]
    Terraform(Box<TerraformError>),
    #[error("reading {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the schema JSON does not have the shape of `terraform providers schema -json`: {0}")]
    Json(#[from] serde_json::Error),
    #[error("provider {address} is not in the schema JSON; it has: {present:?}")]
    ProviderMissing {
        address: String,
        present: Vec<String>,
    },
    #[error("every optional attribute states its default in its description (`Default ...`, or `Default: none`); these do not:\n  {}", .0.join("\n  "))]
    DefaultsUnstated(Vec<String>),
    #[error(transparent)]
    Docs(#[from] pages::DocError),
    #[error("{} is stale; run `make docs` and commit the result:\n{}", out.display(), problems.join("\n"))]
    Stale { out: PathBuf, problems: Vec<String> },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<TerraformError> for DocgenError {
    fn from(e: TerraformError) -> Self {
        DocgenError::Terraform(Box::new(e))
    }
}

/// Where the schema comes from.
#[derive(Debug, PartialEq)]
enum SchemaSource {
    File(PathBuf),
    Stdin,
    Terraform {
        version: TerraformVersion,
        provider_binary: Option<PathBuf>,
    },
}

/// The command line, parsed and validated, before anything is touched.
#[derive(Debug, PartialEq)]
struct Args {
    source: SchemaSource,
    provider_address: String,
    root: PathBuf,
    examples: Option<PathBuf>,
    templates: Option<PathBuf>,
    out: Option<PathBuf>,
    save_schema: Option<PathBuf>,
    check: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match parse_args(&args).and_then(|args| run(&args)) {
        Ok(summary) => {
            eprintln!("docgen: {summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("docgen: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: &[String]) -> Result<Args, DocgenError> {
    let mut schema_json = None;
    let mut provider_binary = None;
    let mut version = TerraformVersion::V1_15_5;
    let mut parsed = Args {
        source: SchemaSource::Stdin,
        provider_address: format!(
            "{}/{}",
            terraform::PROVIDER_HOSTNAME,
            terraform::PROVIDER_SOURCE
        ),
        root: terraform::workspace_root(),
        examples: None,
        templates: None,
        out: None,
        save_schema: None,
        check: false,
    };
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = || {
            iter.next()
                .cloned()
                .ok_or_else(|| DocgenError::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--schema-json" => schema_json = Some(value()?),
            "--provider-binary" => provider_binary = Some(PathBuf::from(value()?)),
            "--terraform-version" => version = TerraformVersion::parse(&value()?)?,
            "--provider-address" => parsed.provider_address = value()?,
            "--root" => parsed.root = PathBuf::from(value()?),
            "--examples" => parsed.examples = Some(PathBuf::from(value()?)),
            "--templates" => parsed.templates = Some(PathBuf::from(value()?)),
            "--out" => parsed.out = Some(PathBuf::from(value()?)),
            "--save-schema" => parsed.save_schema = Some(PathBuf::from(value()?)),
            "--check" => parsed.check = true,
            other => return Err(DocgenError::Usage(format!("unknown argument {other:?}"))),
        }
    }
    parsed.source = match schema_json.as_deref() {
        Some("-") => SchemaSource::Stdin,
        Some(path) => SchemaSource::File(PathBuf::from(path)),
        None => SchemaSource::Terraform {
            version,
            provider_binary,
        },
    };
    if parsed.save_schema.is_some() && !matches!(parsed.source, SchemaSource::Terraform { .. }) {
        return Err(DocgenError::Usage(
            "--save-schema only applies when the schema is read from Terraform".into(),
        ));
    }
    Ok(parsed)
}

fn run(args: &Args) -> Result<String, DocgenError> {
    let json = load_schema_json(&args.source)?;
    if let Some(path) = &args.save_schema {
        write_file(path, &json)?;
    }
    let all: schema::ProvidersSchema = serde_json::from_str(&json)?;
    let provider = select_provider(all, &args.provider_address)?;
    let unstated = defaults::unstated_defaults(&provider);
    if !unstated.is_empty() {
        return Err(DocgenError::DefaultsUnstated(unstated));
    }
    let sources = pages::Sources {
        examples: args
            .examples
            .clone()
            .unwrap_or_else(|| args.root.join("examples")),
        templates: args
            .templates
            .clone()
            .unwrap_or_else(|| args.root.join("templates")),
        root: args.root.clone(),
        provider_name: provider_name(&args.provider_address),
    };
    let docs = pages::render_docs(&provider, &sources)?;
    let out = args.out.clone().unwrap_or_else(|| args.root.join("docs"));
    if args.check {
        let problems = stale_pages(&out, &docs)?;
        if !problems.is_empty() {
            return Err(DocgenError::Stale { out, problems });
        }
        return Ok(format!(
            "{} pages in {} are up to date",
            docs.len(),
            out.display()
        ));
    }
    write_docs(&out, &docs)?;
    Ok(format!("wrote {} pages to {}", docs.len(), out.display()))
}

fn load_schema_json(source: &SchemaSource) -> Result<String, DocgenError> {
    match source {
        SchemaSource::File(path) => {
            std::fs::read_to_string(path).map_err(|source| DocgenError::Read {
                what: path.display().to_string(),
                source,
            })
        }
        SchemaSource::Stdin => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| DocgenError::Read {
                    what: "stdin".into(),
                    source,
                })?;
            Ok(text)
        }
        SchemaSource::Terraform {
            version,
            provider_binary,
        } => {
            let binary = match provider_binary {
                Some(path) => path.clone(),
                None => terraform::provider_binary()?,
            };
            // Terraform runs without the inherited TF_* variables, so
            // TF_KONG_TEST_RESOURCES=1 in the caller's environment cannot
            // put the test-only resources into the docs.
            let ws = Workspace::new(*version, &binary)?;
            ws.write_config(&terraform::required_providers_hcl())?;
            ws.init()?;
            let schema = ws.providers_schema_json()?;
            // Pretty and key-sorted (serde_json maps are ordered) so a saved
            // copy diffs well.
            Ok(serde_json::to_string_pretty(&schema)?)
        }
    }
}

fn select_provider(
    mut all: schema::ProvidersSchema,
    address: &str,
) -> Result<schema::ProviderSchema, DocgenError> {
    all.provider_schemas
        .remove(address)
        .ok_or_else(|| DocgenError::ProviderMissing {
            address: address.to_owned(),
            present: all.provider_schemas.keys().cloned().collect(),
        })
}

/// `registry.terraform.io/kong-upgrades/kong` → `kong`.
fn provider_name(address: &str) -> String {
    address.rsplit('/').next().unwrap_or(address).to_owned()
}

/// Replaces docgen's entries in `out` with `docs`; anything else in `out`
/// is left alone.
fn write_docs(out: &Path, docs: &BTreeMap<PathBuf, String>) -> Result<(), DocgenError> {
    for entry in GENERATED_ENTRIES {
        let path = out.join(entry);
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else if path.exists() {
            std::fs::remove_file(&path)
        } else {
            Ok(())
        };
        removed.map_err(|source| DocgenError::Write { path, source })?;
    }
    for (relative, text) in docs {
        write_file(&out.join(relative), text)?;
    }
    Ok(())
}

/// How `out` differs from `docs` within docgen's entries: missing, changed
/// (with the first differing line) and leftover pages, in path order.
fn stale_pages(out: &Path, docs: &BTreeMap<PathBuf, String>) -> Result<Vec<String>, DocgenError> {
    let mut problems = Vec::new();
    for (relative, expected) in docs {
        let path = out.join(relative);
        match std::fs::read_to_string(&path) {
            Ok(found) if &found == expected => {}
            Ok(found) => problems.push(format!(
                "  changed: {}{}",
                relative.display(),
                first_difference(expected, &found)
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("  missing: {}", relative.display()))
            }
            Err(source) => {
                return Err(DocgenError::Read {
                    what: path.display().to_string(),
                    source,
                })
            }
        }
    }
    for relative in existing_generated_files(out)? {
        if !docs.contains_key(&relative) {
            problems.push(format!("  no longer generated: {}", relative.display()));
        }
    }
    problems.sort();
    Ok(problems)
}

fn first_difference(expected: &str, found: &str) -> String {
    let (mut expected_lines, mut found_lines) = (expected.lines(), found.lines());
    let mut number = 0;
    loop {
        number += 1;
        match (expected_lines.next(), found_lines.next()) {
            // Same lines: only line endings or a final newline differ.
            (None, None) => return " (line endings)".into(),
            (e, f) if e == f => {}
            (e, f) => {
                return format!(
                    " (line {number}: expected {:?}, found {:?})",
                    e.unwrap_or("<end of file>"),
                    f.unwrap_or("<end of file>")
                )
            }
        }
    }
}

/// Files under docgen's entries of `out`, relative to `out`.
fn existing_generated_files(out: &Path) -> Result<Vec<PathBuf>, DocgenError> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = GENERATED_ENTRIES.iter().map(PathBuf::from).collect();
    while let Some(relative) = pending.pop() {
        let path = out.join(&relative);
        if path.is_file() {
            files.push(relative);
        } else if path.is_dir() {
            let entries = std::fs::read_dir(&path).map_err(|source| DocgenError::Read {
                what: path.display().to_string(),
                source,
            })?;
            for entry in entries.flatten() {
                pending.push(relative.join(entry.file_name()));
            }
        }
    }
    Ok(files)
}

fn write_file(path: &Path, text: &str) -> Result<(), DocgenError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| DocgenError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| DocgenError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, DocgenError> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn by_default_the_schema_comes_from_terraform_1_15_5_and_docs_go_to_the_root() {
        let parsed = args(&[]).unwrap();
        assert_eq!(
            parsed.source,
            SchemaSource::Terraform {
                version: TerraformVersion::V1_15_5,
                provider_binary: None
            }
        );
        assert_eq!(
            parsed.provider_address,
            "registry.terraform.io/kong-upgrades/kong"
        );
        assert_eq!(provider_name(&parsed.provider_address), "kong");
    }

    #[test]
    fn schema_files_stdin_and_other_cores_are_selectable() {
        assert_eq!(
            args(&["--schema-json", "s.json"]).unwrap().source,
            SchemaSource::File("s.json".into())
        );
        assert_eq!(
            args(&["--schema-json", "-"]).unwrap().source,
            SchemaSource::Stdin
        );
        assert_eq!(
            args(&["--terraform-version", "1.0.3", "--provider-binary", "p"])
                .unwrap()
                .source,
            SchemaSource::Terraform {
                version: TerraformVersion::V1_0_3,
                provider_binary: Some("p".into())
            }
        );
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        for bad in [
            &["--out"][..],
            &["--frobnicate"],
            &["--schema-json", "s.json", "--save-schema", "x"],
        ] {
            assert!(matches!(args(bad), Err(DocgenError::Usage(_))), "{bad:?}");
        }
        assert!(matches!(
            args(&["--terraform-version", "0.12.0"]),
            Err(DocgenError::Terraform(e)) if matches!(*e, TerraformError::UnknownVersion(_))
        ));
    }

    #[test]
    fn a_missing_provider_names_the_ones_present() {
        let all: schema::ProvidersSchema = serde_json::from_str(
            r#"{"format_version":"1.0","provider_schemas":{"terraform.io/builtin/terraform":{}}}"#,
        )
        .unwrap();
        let err = select_provider(all, "registry.terraform.io/kong-upgrades/kong").unwrap_err();
        assert!(
            err.to_string().contains("terraform.io/builtin/terraform"),
            "{err}"
        );
    }

    #[test]
    fn check_reports_changed_missing_and_leftover_pages_but_not_hand_written_ones() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let docs = BTreeMap::from([
            (PathBuf::from("index.md"), "a\nb\n".to_owned()),
            (PathBuf::from("resources/kong_x.md"), "x\n".to_owned()),
        ]);
        write_docs(out, &docs).unwrap();
        write_file(&out.join("planner-rules.md"), "hand-written").unwrap();
        assert_eq!(stale_pages(out, &docs).unwrap(), Vec::<String>::new());

        write_file(&out.join("index.md"), "a\nc\n").unwrap();
        std::fs::remove_file(out.join("resources/kong_x.md")).unwrap();
        write_file(&out.join("data-sources/kong_old.md"), "old").unwrap();
        assert_eq!(
            stale_pages(out, &docs).unwrap(),
            [
                "  changed: index.md (line 2: expected \"b\", found \"c\")",
                "  missing: resources/kong_x.md",
                "  no longer generated: data-sources/kong_old.md",
            ]
        );
    }

    #[test]
    fn writing_replaces_generated_entries_and_keeps_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        write_file(&out.join("resources/kong_gone.md"), "stale").unwrap();
        write_file(&out.join("README.txt"), "mine").unwrap();
        let docs = BTreeMap::from([(PathBuf::from("index.md"), "new\n".to_owned())]);
        write_docs(out, &docs).unwrap();
        assert!(!out.join("resources").exists());
        assert_eq!(
            std::fs::read_to_string(out.join("index.md")).unwrap(),
            "new\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("README.txt")).unwrap(),
            "mine"
        );
    }
}
