//! templates/guides/planner-rules.md is generated from the planner (and
//! copied by docgen to docs/guides/); this test fails when the file no
//! longer matches the code.

use super::*;

const DOC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../templates/guides/planner-rules.md"
);

#[test]
fn planner_rules_doc_is_current() {
    let rendered = rules_markdown();
    if std::env::var_os("UPDATE_PLANNER_DOCS").is_some() {
        std::fs::write(DOC_PATH, &rendered).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(DOC_PATH).unwrap_or_default();
    assert!(
        on_disk == rendered,
        "templates/guides/planner-rules.md is stale: regenerate with \
         UPDATE_PLANNER_DOCS=1 cargo test -p kong-upgrade-core planner_rules_doc, then make docs"
    );
}

#[test]
fn rules_doc_lists_every_code_and_path_rule() {
    let rendered = rules_markdown();
    for code in ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(WarningCode::ALL.iter().map(|c| c.as_str()))
    {
        assert!(rendered.contains(&format!("`{code}`")), "{code} missing");
    }
    for rule in PATH_RULES {
        assert!(rendered.contains(rule.source), "{} missing", rule.source);
    }
    assert!(
        !rendered.contains("refused:"),
        "a walkthrough sample is refused"
    );
}
