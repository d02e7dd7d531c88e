//! Acceptance: the bad-input suite. Hundreds of generated configurations
//! (tests/support/bad_inputs.rs, bad_input_families.rs), each one object
//! with one fault, across every resource, data source, action, function
//! and the provider block. Each must be refused with an error on its
//! faulty line (the attribute path Terraform resolved), with no crash and
//! no "Provider produced invalid plan"; each family's valid base must pass.
//! All cases of a core run in one `terraform validate -json` (the provider
//! blocks, as aliases, in a second one: Terraform skips the objects of a
//! provider whose configuration failed), so the suite costs two runs.

mod support;

use std::collections::BTreeMap;
use support::bad_input_families::{families, provider_family};
use support::bad_inputs::{Needs, Suite};
use support::{Acceptance, TerraformVersion};

/// One diagnostic: severity, summary, file and line Terraform points at.
#[derive(Debug)]
struct Said {
    error: bool,
    summary: String,
    detail: String,
    line: Option<u64>,
}

/// `validate -json`'s diagnostics by file name ("" when it has no range).
fn diagnostics_by_file(json: &str) -> BTreeMap<String, Vec<Said>> {
    let v: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("validate -json printed no JSON ({e}):\n{json}"));
    let mut out: BTreeMap<String, Vec<Said>> = BTreeMap::new();
    for d in v["diagnostics"].as_array().into_iter().flatten() {
        let file = d["range"]["filename"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        out.entry(file).or_default().push(Said {
            error: d["severity"] == "error",
            summary: d["summary"].as_str().unwrap_or_default().to_string(),
            detail: d["detail"].as_str().unwrap_or_default().to_string(),
            line: d["range"]["start"]["line"].as_u64(),
        });
    }
    out
}

/// What a run found.
#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    refused: usize,
    on_the_attribute: usize,
    faults: Vec<String>,
}

fn runs_on(needs: Needs, version: TerraformVersion) -> bool {
    needs == Needs::AnyCore || version != TerraformVersion::V1_0_3
}

/// Writes every case and base of `suite` that `version` can run, validates
/// once and judges each file.
fn judge(acc: &mut Acceptance, suite: &Suite, tally: &mut Tally) {
    let version = acc.version();
    acc.configure("");
    for b in suite.bases.iter().filter(|b| runs_on(b.needs, version)) {
        acc.ws().write_file(&b.file, &b.hcl).unwrap();
    }
    let cases: Vec<_> = suite
        .cases
        .iter()
        .filter(|c| runs_on(c.needs, version))
        .collect();
    for c in &cases {
        acc.ws().write_file(&c.file, &c.hcl).unwrap();
    }
    let out = acc.ws().run(&["validate", "-json", "-no-color"]).unwrap();
    for crash in [
        "panic",
        "plugin exited",
        "Plugin did not respond",
        "invalid plan",
    ] {
        if out.stdout.contains(crash) || out.stderr.contains(crash) {
            tally
                .faults
                .push(format!("Terraform {version}: {crash:?} in\n{out}"));
        }
    }
    let said = diagnostics_by_file(&out.stdout);
    if let Some(loose) = said.get("") {
        tally.faults.push(format!(
            "Terraform {version}: diagnostics without a range: {loose:#?}"
        ));
    }
    for b in suite.bases.iter().filter(|b| runs_on(b.needs, version)) {
        if let Some(d) = said.get(&b.file) {
            tally.faults.push(format!(
                "Terraform {version}: the valid base {} is not accepted: {d:#?}\n{}",
                b.file, b.hcl
            ));
        }
    }
    for c in cases {
        tally.cases += 1;
        let errors: Vec<&Said> = said
            .get(&c.file)
            .into_iter()
            .flatten()
            .filter(|d| d.error)
            .collect();
        if errors.is_empty() {
            tally.faults.push(format!(
                "Terraform {version}: accepted {} ({}):\n{}",
                c.label, c.file, c.hcl
            ));
            continue;
        }
        tally.refused += 1;
        let elsewhere: Vec<_> = errors
            .iter()
            .filter(|d| d.line != Some(c.line as u64))
            .collect();
        if elsewhere.is_empty() {
            tally.on_the_attribute += 1;
        } else {
            tally.faults.push(format!(
                "Terraform {version}: {} ({}) refused, but not on line {}: {elsewhere:#?}\n{}",
                c.label, c.file, c.line, c.hcl
            ));
        }
        if let Some(echo) = errors
            .iter()
            .find(|d| d.detail.contains("hunter2") || d.summary.contains("hunter2"))
        {
            tally.faults.push(format!(
                "Terraform {version}: a URL password is echoed: {echo:#?}"
            ));
        }
    }
}

#[test]
fn every_generated_bad_input_is_refused_on_its_attribute() {
    let objects = Suite::generate(families());
    let providers = Suite::generate(vec![provider_family()]);
    let mut faults = Vec::new();
    for version in support::versions() {
        let started = std::time::Instant::now();
        let mut tally = Tally::default();
        judge(&mut Acceptance::new(version), &objects, &mut tally);
        judge(&mut Acceptance::new(version), &providers, &mut tally);
        println!(
            "bad inputs on Terraform {version}: {} cases, {} refused, {} with the error on the faulty attribute, {} faults, {:.1}s",
            tally.cases,
            tally.refused,
            tally.on_the_attribute,
            tally.faults.len(),
            started.elapsed().as_secs_f64()
        );
        faults.extend(tally.faults);
    }
    let total = objects.cases.len() + providers.cases.len();
    assert!(total >= 500, "only {total} cases generated");
    assert!(
        faults.is_empty(),
        "{} faults:\n{}",
        faults.len(),
        faults.join("\n\n")
    );
}
