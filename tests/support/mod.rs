//! Shared helpers for the acceptance tests (`tests/acc_*.rs`; each starts
//! with `mod support;`).
//!
//! An acceptance test drives the real provider binary through real Terraform
//! in the order users do: create → plan is empty → import and verify →
//! update → destroy, once per Terraform core under test:
//!
//! ```ignore
//! mod support;
//! use support::Acceptance;
//!
//! #[test]
//! fn node_facts_are_read() {
//!     for version in support::versions() {
//!         let mut acc = Acceptance::new(version);
//!         acc.apply(r#"data "kong_node" "this" { admin_url = "..." }"#);
//!         assert_eq!(acc.values("data.kong_node.this")["version"], "3.4.2");
//!         acc.destroy();
//!     }
//! }
//! ```
//!
//! Helpers panic with Terraform's full output on failure: they are test code.
#![allow(dead_code, unused_imports)] // every test binary uses a different subset

pub mod bad_input_families;
pub mod bad_inputs;
pub mod haproxy;
pub mod interrupts;
pub mod phase;
pub mod runbooks;
pub mod upgrade;

use std::collections::BTreeSet;
use std::path::PathBuf;

pub use testbed::terraform::{
    required_providers_hcl, BackgroundRun, TerraformError, TerraformVersion, TfOutput, Workspace,
};

/// The provider executable under test: `TF_ACC_PROVIDER_BIN`, or the binary
/// Cargo built for this very test run.
pub fn provider_binary() -> PathBuf {
    std::env::var_os("TF_ACC_PROVIDER_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-kong")))
}

/// The Terraform cores to run every acceptance test on (both, unless
/// `TF_ACC_TERRAFORM_VERSIONS` narrows it).
pub fn versions() -> Vec<TerraformVersion> {
    TerraformVersion::under_test().unwrap()
}

/// A fresh workspace serving the provider under test.
pub fn workspace(version: TerraformVersion) -> Workspace {
    Workspace::new(version, &provider_binary()).unwrap()
}

/// One acceptance test run on one core: a workspace plus the configuration
/// last applied, so steps read like the user's own sequence of commands.
pub struct Acceptance {
    ws: Workspace,
    config: String,
    initialized: bool,
}

impl Acceptance {
    pub fn new(version: TerraformVersion) -> Acceptance {
        Acceptance {
            ws: workspace(version),
            config: String::new(),
            initialized: false,
        }
    }

    pub fn version(&self) -> TerraformVersion {
        self.ws.version()
    }

    /// The same configuration in a brand-new working directory, as on a
    /// fresh CI runner or HCP Terraform run: only `*.tf`, the state and the
    /// lock file are copied, `terraform init` runs again, and the old
    /// directory (backups written there included) is deleted.
    pub fn moved_to_a_new_directory(self) -> Acceptance {
        let moved = self.ws.sibling().unwrap();
        for entry in std::fs::read_dir(self.ws.dir()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".tf") || name == "terraform.tfstate" || name == ".terraform.lock.hcl"
            {
                std::fs::copy(&path, moved.dir().join(&name)).unwrap();
            }
        }
        moved.init().unwrap();
        let old = self.ws.dir().to_path_buf();
        std::fs::remove_dir_all(&old).unwrap();
        Acceptance {
            ws: moved,
            config: self.config,
            initialized: true,
        }
    }

    pub fn ws(&self) -> &Workspace {
        &self.ws
    }

    /// For `set_env`, `enable_log`, `set_command_timeout`.
    pub fn ws_mut(&mut self) -> &mut Workspace {
        &mut self.ws
    }

    /// Writes `config` (after the `required_providers` block) and runs
    /// `terraform init` the first time.
    pub fn configure(&mut self, config: &str) {
        self.config = format!("{}\n{}", required_providers_hcl(), config);
        self.ws.write_config(&self.config).unwrap();
        if !self.initialized {
            self.ws.init().unwrap();
            self.initialized = true;
        }
    }

    /// Applies `config`, then insists the next plan is empty: the check that
    /// catches perpetual diffs.
    pub fn apply(&mut self, config: &str) -> TfOutput {
        self.configure(config);
        let output = self.ws.apply().unwrap();
        self.ws.expect_empty_plan().unwrap();
        output
    }

    /// Applies `config`, which must fail with `expected` among the
    /// diagnostics.
    pub fn apply_expect_error(&mut self, config: &str, expected: &str) -> TfOutput {
        self.configure(config);
        let output = self.ws.apply_expect_error().unwrap();
        assert!(
            output.stderr.contains(expected),
            "expected {expected:?} in the diagnostics\n{output}"
        );
        output
    }

    /// Plans `config`, which must fail at plan time with `expected` among
    /// the diagnostics.
    pub fn plan_expect_error(&mut self, config: &str, expected: &str) -> TfOutput {
        self.configure(config);
        let output = self.ws.plan_expect_error().unwrap();
        assert!(
            output.stderr.contains(expected),
            "expected {expected:?} in the diagnostics\n{output}"
        );
        output
    }

    /// `terraform apply -invoke=<action>` (Terraform >= 1.14) on the
    /// configuration last written.
    pub fn invoke(&self, action: &str) -> TfOutput {
        self.ws
            .run(&[
                "apply",
                "-auto-approve",
                "-input=false",
                "-no-color",
                &format!("-invoke={action}"),
            ])
            .unwrap()
    }

    /// The `values` of a resource or data source in the state.
    pub fn values(&self, address: &str) -> serde_json::Value {
        self.ws.state_resource(address).unwrap()["values"].clone()
    }

    /// Imports `address` by `id` into a fresh workspace holding the same
    /// configuration and checks the imported values equal the ones this run
    /// holds, except the `ignored` top-level attributes (values an import
    /// cannot know, such as `timeouts` or write-only inputs).
    pub fn import_and_verify(&self, address: &str, id: &str, ignored: &[&str]) {
        let expected = self.values(address);
        let sibling = self.ws.sibling().unwrap();
        sibling.write_config(&self.config).unwrap();
        sibling.init().unwrap();
        sibling.import(address, id).unwrap();
        let imported = sibling.state_resource(address).unwrap()["values"].clone();

        let differences = differing_attributes(&expected, &imported, ignored);
        assert!(
            differences.is_empty(),
            "{address} imported by id {id:?} on Terraform {} differs from the applied state:\n{}",
            self.version(),
            differences.join("\n")
        );
    }

    /// `terraform destroy`, after which the state must be empty.
    pub fn destroy(&self) {
        self.ws.destroy().unwrap();
        let left = self.ws.state_list().unwrap();
        // Data sources may linger in the state after destroy on older cores.
        let managed: Vec<_> = left.iter().filter(|a| !is_data_source(a)).collect();
        assert!(
            managed.is_empty(),
            "left in state after destroy: {managed:?}"
        );
    }
}

fn is_data_source(address: &str) -> bool {
    address.starts_with("data.") || address.contains(".data.")
}

/// `attribute: applied=<json> imported=<json>` for every top-level attribute
/// whose values differ, in name order.
pub fn differing_attributes(
    applied: &serde_json::Value,
    imported: &serde_json::Value,
    ignored: &[&str],
) -> Vec<String> {
    let names: BTreeSet<&str> = [applied, imported]
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|o| o.keys().map(String::as_str))
        .filter(|name| !ignored.contains(name))
        .collect();
    names
        .into_iter()
        .filter(|name| applied.get(name) != imported.get(name))
        .map(|name| {
            format!(
                "  {name}: applied={} imported={}",
                applied.get(name).unwrap_or(&serde_json::Value::Null),
                imported.get(name).unwrap_or(&serde_json::Value::Null)
            )
        })
        .collect()
}
