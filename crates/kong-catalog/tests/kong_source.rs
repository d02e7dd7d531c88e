//! Pins the catalog to Kong's source: for every OSS tag 2.8.0..3.9.3 and
//! master, the subsystems, their migrations in order and which have a
//! teardown, as `scripts/kong-migration-facts.py` read them from
//! github.com/Kong/kong at that tag (`migrations-at-tags.txt`, one line per tag and
//! subsystem, `+` after a migration with a teardown).

use std::collections::BTreeMap;

const FACTS: &str = include_str!("migrations-at-tags.txt");

/// Kong master's `kong/meta.lua` says 3.10.0; it was never released as OSS.
fn version_of(tag: &str) -> &str {
    if tag == "master" {
        "3.10.0"
    } else {
        tag
    }
}

fn expected() -> BTreeMap<&'static str, Vec<String>> {
    let mut per_tag: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for line in FACTS.lines().filter(|l| !l.trim().is_empty()) {
        let (tag, rest) = line.split_once(' ').expect("TAG SUBSYSTEM MIGRATION...");
        per_tag.entry(tag).or_default().push(rest.to_owned());
    }
    per_tag
}

fn catalog_lines(version: &str) -> Vec<String> {
    kong_catalog::subsystems_for(version)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|s| {
            let migrations: Vec<String> = s
                .migrations
                .iter()
                .map(|m| format!("{}{}", m.name, if m.has_teardown { "+" } else { "" }))
                .collect();
            format!("{} {}", s.name, migrations.join(" "))
        })
        .collect()
}

#[test]
fn every_tag_matches_kongs_source() {
    let expected = expected();
    assert_eq!(expected.len(), 31, "tags 2.8.0..3.9.3 and master");
    for (tag, lines) in &expected {
        assert_eq!(&catalog_lines(version_of(tag)), lines, "Kong {tag}");
    }
}

/// Every minor the catalog claims is backed by at least one checked tag.
#[test]
fn every_supported_minor_was_checked() {
    let expected = expected();
    for (major, minor) in kong_catalog::supported_minors() {
        let prefix = format!("{major}.{minor}.");
        assert!(
            expected.keys().any(|t| version_of(t).starts_with(&prefix)),
            "{major}.{minor}"
        );
    }
}
