//! Acceptance: checks declared on the schema (tfplug validators) refuse bad
//! provider settings and data source URLs at `terraform validate`, each on
//! the attribute at fault, on both Terraform cores. One validate run judges
//! every case: Terraform reports all diagnostics at once.

mod support;

use support::Acceptance;

/// Provider settings, each line holding one fault, with the summary its
/// diagnostic must carry.
const PROVIDER_CASES: &[(&str, &str)] = &[
    (r#"request_timeout = "-5s""#, "Invalid request_timeout"),
    (r#""Bad Name" = "v""#, "Invalid header name"),
    (r#""X-Inject" = "a\nHost: evil""#, "Invalid header value"),
    (r#"ca_cert_pem     = "garbage""#, "Invalid tls.ca_cert_pem"),
    (
        r#"client_cert_pem = "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n""#,
        "Invalid tls.client_cert_pem",
    ),
    (
        r#"client_key_pem  = "not a key""#,
        "Invalid tls.client_key_pem",
    ),
];

/// Data source URLs. Terraform skips the data sources of a provider whose
/// configuration failed validation, so these run in a second validate.
const URL_CASES: &[(&str, &str)] = &[
    (r#"admin_url = "javascript:alert(1)""#, "Invalid admin_url"),
    (
        r#"admin_url = "http://admin:hunter2@127.0.0.1:1/""#,
        "Invalid admin_url",
    ),
    (r#"admin_url = "ftp://127.0.0.1/""#, "Invalid admin_url"),
];

fn bad_provider_config() -> String {
    let line = |i: usize| PROVIDER_CASES[i].0;
    format!(
        r#"
provider "kong" {{
  {}
  headers = {{
    {}
    {}
    "X-Team" = "edge"
  }}
  tls {{
    {}
    {}
    {}
  }}
}}

data "kong_node" "x" {{
  admin_url = "http://127.0.0.1:1/"
}}
"#,
        line(0),
        line(1),
        line(2),
        line(3),
        line(4),
        line(5),
    )
}

fn bad_url_config() -> String {
    let line = |i: usize| URL_CASES[i].0;
    format!(
        r#"
data "kong_node" "script" {{
  {}
}}

data "kong_node" "userinfo" {{
  {}
}}

data "kong_data_planes" "ftp" {{
  {}
}}
"#,
        line(0),
        line(1),
        line(2),
    )
}

/// (summary, the configuration line Terraform points at) per error.
fn errors(validate_json: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(validate_json)
        .unwrap_or_else(|e| panic!("validate -json printed no JSON ({e}):\n{validate_json}"));
    v["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            let code = d["snippet"]["code"].as_str().unwrap_or_default();
            (
                d["summary"].as_str().unwrap_or_default().to_string(),
                code.trim().to_string(),
            )
        })
        .collect()
}

/// Every diagnostic's summary and detail, joined.
fn provider_words(validate_json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(validate_json).unwrap_or_default();
    v["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| format!("{} {}", d["summary"], d["detail"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `terraform validate -json` on `config` and checks it fails with
/// exactly the `cases`, each on its line, and no secret in the provider's
/// words.
fn expect_refusals(acc: &mut Acceptance, config: &str, cases: &[(&str, &str)]) {
    acc.configure(config);
    let out = acc.ws().run(&["validate", "-json", "-no-color"]).unwrap();
    assert!(!out.success(), "validate must fail:\n{out}");
    // Terraform quotes the configuration line itself in `snippet`; the
    // provider's own words (summary, detail) never repeat a secret.
    let said = provider_words(&out.stdout);
    assert!(
        !said.contains("hunter2"),
        "a URL password is echoed: {said}"
    );
    assert!(!said.contains("evil"), "a header value is echoed: {said}");
    let found = errors(&out.stdout);
    for (line, summary) in cases {
        assert!(
            found
                .iter()
                .any(|(s, code)| s == summary && code.contains(line)),
            "Terraform {}: no {summary:?} pointing at `{line}`; got {found:#?}",
            acc.version()
        );
    }
    assert_eq!(found.len(), cases.len(), "one error per case: {found:#?}");
}

#[test]
fn bad_provider_settings_and_urls_are_refused_at_validate_on_their_attributes() {
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        expect_refusals(&mut acc, &bad_provider_config(), PROVIDER_CASES);
        expect_refusals(&mut acc, &bad_url_config(), URL_CASES);
    }
}

#[test]
fn good_settings_pass_validate() {
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.configure(
            r#"
provider "kong" {
  request_timeout = "1m30s"
  headers         = { "X-Team" = "edge", "Authorization" = "Bearer a.b-c" }
}

data "kong_node" "x" {
  admin_url = "https://127.0.0.1:8444/"
}
"#,
        );
        acc.ws().validate().unwrap();
    }
}
