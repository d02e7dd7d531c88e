//! Acceptance: provider functions through real Terraform. Functions exist
//! from Terraform 1.8, so they run on 1.15.5; on 1.0.3 the provider must
//! still serve everything else (the other acceptance tests cover that).

mod support;

use support::{Acceptance, TerraformVersion};

fn function_capable() -> Vec<TerraformVersion> {
    support::versions()
        .into_iter()
        .filter(|v| *v != TerraformVersion::V1_0_3)
        .collect()
}

#[test]
fn version_compare_and_upgrade_path_evaluate_in_terraform() {
    for version in function_capable() {
        let mut acc = Acceptance::new(version);
        acc.apply(
            r#"
output "older" {
  value = provider::kong::version_compare("3.4.2", "3.10.0.1")
}

output "same" {
  value = provider::kong::version_compare("kong/3.9.1", "3.9.1")
}

output "path" {
  value = provider::kong::upgrade_path("2.6.0", "3.4.2")
}
"#,
        );
        assert_eq!(acc.ws().output("older").unwrap(), -1);
        assert_eq!(acc.ws().output("same").unwrap(), 0);
        let path = acc.ws().output("path").unwrap();
        assert_eq!(path["supported"], false, "{path}");
        assert!(
            path["hops"][0].as_str().unwrap().starts_with("2.8.x"),
            "{path}"
        );
    }
}

#[test]
fn a_bad_version_is_an_error_on_the_argument() {
    for version in function_capable() {
        let mut acc = Acceptance::new(version);
        let out = acc.plan_expect_error(
            r#"
output "bad" {
  value = provider::kong::version_compare("3.4", "3.4.2")
}
"#,
            "not a Kong version",
        );
        assert!(out.stderr.contains("Invalid function argument"), "{out}");
    }
}
