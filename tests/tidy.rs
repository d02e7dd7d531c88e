//! Tidy: the architecture's invariants (ARCHITECTURE.md) as a test, in the
//! spirit of rust-analyzer's `xtask tidy`. It fails when
//! - a word of Kong appears in tfplug (the framework knows nothing of Kong),
//! - an I/O crate becomes a dependency of kong-upgrade-core (the pure core),
//! - a source file grows past 800 lines (split it along its meaning),
//! - a file cites reference notes outside the repository (cite Kong's public
//!   docs and source, with links, instead).
//!
//! Each allow-list below names today's exceptions; an entry that no longer
//! applies fails too, so the lists only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

/// Files over `MAX_LINES` today, each being split or to be split.
const LONG_FILES: &[&str] = &[
    // Test and test-double files, to be split along their meaning.
    "crates/testbed/src/terraform.rs",
];

/// Files allowed to cite reference notes outside the repository: none.
const CITING_FILES: &[&str] = &[];

/// Crates that do I/O: none may be a (transitive, non-dev) dependency of
/// the pure core.
const IO_CRATES: &[&str] = &[
    "tokio",
    "tokio-postgres",
    "postgres",
    "reqwest",
    "hyper",
    "mio",
    "socket2",
    "tonic",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file of the repository except build output, tools and VCS data,
/// as paths relative to the repository root with `/` separators.
fn files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | ".tools" | "node_modules") {
                    walk(&path, root, out);
                }
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo(), &repo(), &mut out);
    out.sort();
    out
}

fn is_text(path: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "rs", "md", "toml", "tf", "sh", "c", "proto", "yml", "yaml", "json", "txt", "lua", "cfg",
    ];
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| EXTENSIONS.contains(&ext))
        || path.ends_with("GNUmakefile")
        || path.ends_with("Makefile")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_default()
}

#[test]
fn tfplug_has_no_word_of_kong() {
    let offenders: Vec<String> = files()
        .into_iter()
        .filter(|f| f.starts_with("crates/tfplug/") && is_text(f))
        .flat_map(|f| {
            read(&f)
                .lines()
                .enumerate()
                .filter(|(_, line)| line.to_ascii_lowercase().contains("kong"))
                .map(|(i, line)| format!("{f}:{}: {}", i + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "tfplug must know nothing of Kong (ARCHITECTURE.md, invariants):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn no_source_file_grows_past_the_limit() {
    let lengths: BTreeMap<String, usize> = files()
        .into_iter()
        .filter(|f| f.ends_with(".rs"))
        .map(|f| {
            let n = read(&f).lines().count();
            (f, n)
        })
        .collect();
    let too_long: Vec<String> = lengths
        .iter()
        .filter(|(f, n)| **n > MAX_LINES && !LONG_FILES.contains(&f.as_str()))
        .map(|(f, n)| format!("{f}: {n} lines"))
        .collect();
    assert!(
        too_long.is_empty(),
        "no file grows past {MAX_LINES} lines; split these along their meaning:\n{}",
        too_long.join("\n")
    );
    let stale: Vec<&str> = LONG_FILES
        .iter()
        .copied()
        .filter(|f| lengths.get(*f).is_none_or(|n| *n <= MAX_LINES))
        .collect();
    assert!(
        stale.is_empty(),
        "these files are split or gone: remove them from LONG_FILES in tests/tidy.rs: {stale:?}"
    );
}

#[test]
fn nothing_cites_files_outside_the_repository() {
    // Spelled in pieces so this file does not match itself.
    let needles = [
        ["kong", "-facts"].concat(),
        ["upgrade", "-runbooks"].concat(),
        ["shared/", "conventions"].concat(),
        ["../", "shared/"].concat(),
        ["/work/", "shared"].concat(),
    ];
    let mut citing = BTreeSet::new();
    let mut offenders = Vec::new();
    for f in files()
        .into_iter()
        .filter(|f| is_text(f) && f != "tests/tidy.rs")
    {
        for (i, line) in read(&f).lines().enumerate() {
            if needles.iter().any(|n| line.contains(n.as_str())) {
                citing.insert(f.clone());
                if !CITING_FILES.contains(&f.as_str()) {
                    offenders.push(format!("{f}:{}: {}", i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "cite Kong's public docs or source (with a link), never notes outside the repository:\n{}",
        offenders.join("\n")
    );
    let stale: Vec<&str> = CITING_FILES
        .iter()
        .copied()
        .filter(|f| !citing.contains(*f))
        .collect();
    assert!(
        stale.is_empty(),
        "these files cite nothing outside any more: remove them from CITING_FILES: {stale:?}"
    );
}

/// The names of the crates `package` depends on, transitively, for the host
/// (dev-dependencies excluded: tests may do I/O), per `cargo tree`.
fn shipped_dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "-p", package, "-e", "no-dev", "--prefix", "none"])
        .args(["--format", "{p}", "--offline"])
        .current_dir(repo())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_pure_core_depends_on_no_io_crate() {
    let deps = shipped_dependencies("kong-upgrade-core");
    assert!(
        deps.contains("serde"),
        "the walk found the core's dependencies: {deps:?}"
    );
    let io: Vec<&str> = IO_CRATES
        .iter()
        .copied()
        .filter(|c| deps.contains(*c))
        .collect();
    assert!(
        io.is_empty(),
        "kong-upgrade-core must do no I/O, yet depends on {io:?}"
    );
    // The check can fail: the provider crate itself does depend on them.
    assert!(shipped_dependencies("terraform-provider-kong").contains("tokio"));
}
