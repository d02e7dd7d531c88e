//! Real Terraform for acceptance tests.
//!
//! Two Terraform cores are installed by `scripts/install-terraform.sh` into the
//! repository's `.tools/bin/` (1.15.5, the newest, and 1.0.3, the oldest
//! protocol-6 release we support). A [`Workspace`] is a throwaway directory in
//! which one of them runs the ordinary `init → plan → apply → import →
//! destroy` flow, with the provider under test served from a filesystem mirror
//! so `terraform init` installs it exactly as it would install a published
//! release.
//!
//! Every failure carries Terraform's own stdout and stderr, because that is
//! where the reason is.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Registry host the provider's source address resolves to.
pub const PROVIDER_HOSTNAME: &str = "registry.terraform.io";
/// Source address used in `required_providers`.
pub const PROVIDER_SOURCE: &str = "kong-upgrades/kong";
/// Version the mirror offers; the root crate's `[package] version`.
pub const PROVIDER_VERSION: &str = "0.1.0";
/// Provider type name (the `kong` in `kong_node`).
pub const PROVIDER_TYPE: &str = "kong";
/// Mirror platform directory; the only platform the tests build for.
const PLATFORM: &str = "linux_amd64";
/// How long a single Terraform command may run before it is killed.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(180);
/// Variables every workspace points at its own files.
const HARNESS_VARIABLES: [&str; 2] = ["TF_CLI_CONFIG_FILE", "TF_LOG_PATH"];
/// Lines of `TF_LOG_PATH` output appended to a failure message.
const LOG_TAIL_LINES: usize = 80;

/// A Terraform core the acceptance tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TerraformVersion {
    /// The newest release: functions, write-only attributes, actions.
    V1_15_5,
    /// The oldest release speaking plugin protocol 6.
    V1_0_3,
}

impl TerraformVersion {
    /// Every supported core, newest first.
    pub const fn all() -> [TerraformVersion; 2] {
        [TerraformVersion::V1_15_5, TerraformVersion::V1_0_3]
    }

    /// The cores to test: all of them, or the comma-separated subset named in
    /// `TF_ACC_TERRAFORM_VERSIONS` (e.g. `1.15.5`) for a quicker local loop.
    pub fn under_test() -> Result<Vec<TerraformVersion>, TerraformError> {
        match std::env::var("TF_ACC_TERRAFORM_VERSIONS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(TerraformVersion::parse)
                .collect(),
            _ => Ok(TerraformVersion::all().to_vec()),
        }
    }

    /// Parses `"1.15.5"` or `"1.0.3"`.
    pub fn parse(text: &str) -> Result<TerraformVersion, TerraformError> {
        TerraformVersion::all()
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| TerraformError::UnknownVersion(text.to_owned()))
    }

    /// The version number, e.g. `"1.15.5"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TerraformVersion::V1_15_5 => "1.15.5",
            TerraformVersion::V1_0_3 => "1.0.3",
        }
    }

    /// `(major, minor, patch)`.
    pub const fn triple(self) -> (u32, u32, u32) {
        match self {
            TerraformVersion::V1_15_5 => (1, 15, 5),
            TerraformVersion::V1_0_3 => (1, 0, 3),
        }
    }

    /// Whether this core is `major.minor` or newer, for tests of features
    /// older cores lack (functions need 1.8, write-only 1.11, actions 1.14).
    pub const fn at_least(self, major: u32, minor: u32) -> bool {
        let (ma, mi, _) = self.triple();
        ma > major || (ma == major && mi >= minor)
    }

    /// Environment variable that overrides this core's executable, e.g.
    /// `TF_ACC_TERRAFORM_1_15_5`.
    pub fn override_variable(self) -> String {
        format!("TF_ACC_TERRAFORM_{}", self.as_str().replace('.', "_"))
    }

    /// The executable: the override variable if set, else
    /// `.tools/bin/terraform-<version>` under the workspace root.
    pub fn binary(self) -> Result<PathBuf, TerraformError> {
        let path = std::env::var_os(self.override_variable())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                workspace_root()
                    .join(".tools/bin")
                    .join(format!("terraform-{}", self.as_str()))
            });
        if path.is_file() {
            Ok(path)
        } else {
            Err(TerraformError::NotInstalled {
                version: self,
                path,
            })
        }
    }
}

impl fmt::Display for TerraformVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Cargo workspace root (where `.tools/` and `target/` live).
pub fn workspace_root() -> PathBuf {
    // This crate sits at <root>/crates/testbed.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// The provider executable under test: `TF_ACC_PROVIDER_BIN` if set, else
/// `target/debug/terraform-provider-kong` (honouring `CARGO_TARGET_DIR`).
///
/// Tests do not build it; `make testacc` builds the workspace first.
pub fn provider_binary() -> Result<PathBuf, TerraformError> {
    let path = match std::env::var_os("TF_ACC_PROVIDER_BIN").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => target_dir()
            .join("debug")
            .join(format!("terraform-provider-{PROVIDER_TYPE}")),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(TerraformError::ProviderNotBuilt { path })
    }
}

/// The `terraform { required_providers { ... } }` block that selects the
/// provider under test; prepend it to a test configuration.
pub fn required_providers_hcl() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    {PROVIDER_TYPE} = {{\n      source  = \"{PROVIDER_SOURCE}\"\n      version = \"{PROVIDER_VERSION}\"\n    }}\n  }}\n}}\n"
    )
}

/// Places `provider_binary` into a filesystem mirror rooted at `mirror_root`
/// (the unpacked layout, which every Terraform since 0.13 accepts) and
/// returns the path of the mirrored executable.
///
/// The binary is hard-linked when possible: a later `cargo build` replaces
/// the file in `target/` rather than rewriting it, so the mirror keeps the
/// exact bytes this workspace was initialised with.
pub fn install_in_mirror(
    mirror_root: &Path,
    provider_binary: &Path,
) -> Result<PathBuf, TerraformError> {
    let package_dir = mirror_root
        .join(PROVIDER_HOSTNAME)
        .join(PROVIDER_SOURCE)
        .join(PROVIDER_VERSION)
        .join(PLATFORM);
    std::fs::create_dir_all(&package_dir)
        .map_err(|e| TerraformError::io(format!("creating {}", package_dir.display()), e))?;
    let target = package_dir.join(format!(
        "terraform-provider-{PROVIDER_TYPE}_v{PROVIDER_VERSION}"
    ));
    let _ = std::fs::remove_file(&target);
    if std::fs::hard_link(provider_binary, &target).is_err() {
        std::fs::copy(provider_binary, &target).map_err(|e| {
            TerraformError::io(
                format!(
                    "copying {} to {}",
                    provider_binary.display(),
                    target.display()
                ),
                e,
            )
        })?;
    }
    Ok(target)
}

/// A copy of `binary` without DWARF debug info, made once per build and
/// cached next to Cargo's output; `binary` itself if that is not possible
/// or `TF_ACC_KEEP_DEBUG_INFO=1`.
///
/// Why: Terraform hashes the mirrored package on `init` and re-checks the
/// hash at the start of every later command. A debug build of the provider
/// is ~150 MB, mostly debug info; hashing it made each command 1-2 s slower.
/// Symbols stay, so backtraces still name functions.
pub fn without_debug_info(binary: &Path) -> PathBuf {
    if std::env::var("TF_ACC_KEEP_DEBUG_INFO").is_ok_and(|v| v == "1") {
        return binary.to_path_buf();
    }
    stripped_copy(binary).unwrap_or_else(|| binary.to_path_buf())
}

fn stripped_copy(binary: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(binary).ok()?;
    let cache = target_dir().join("tf-acc-providers");
    std::fs::create_dir_all(&cache).ok()?;
    // A rebuilt binary is a new inode with a new mtime: a new cache entry.
    let key = format!(
        "{}-{}-{}-{}.{}",
        binary.file_name()?.to_string_lossy(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let entry = cache.join(&key);
    // A hit marks the entry as in use, so pruning spares it.
    if std::fs::File::open(&entry)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .is_ok()
    {
        return Some(entry);
    }
    // A name of its own for every stripper, thread or process; deleted on
    // drop, whatever happens.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{key}."))
        .tempfile_in(&cache)
        .ok()?
        .into_temp_path();
    let stripped = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(binary)
        .arg(&partial)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
        // objcopy may keep the mode of the (owner-only) file it overwrote.
        && std::fs::set_permissions(&partial, meta.permissions()).is_ok();
    // Publish with link(2), not rename(2): when two test processes strip
    // the same build at once, the first copy wins and both use that one
    // inode, so workspaces never see the entry change under them.
    let published = stripped
        && match std::fs::hard_link(&partial, &entry) {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::AlreadyExists,
        };
    if !published {
        return None;
    }
    prune_stale_copies(&cache, &key);
    Some(entry)
}

/// Removes cache entries of earlier builds that no test has used for a
/// while (workspaces hold hard links, so removal never breaks one).
fn prune_stale_copies(cache: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(600));
        if stale && entry.file_name() != current {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A CLI configuration that installs the provider under test from
/// `mirror_root` and every other provider from its usual origin.
pub fn cli_config(mirror_root: &Path) -> String {
    let source = format!("{PROVIDER_HOSTNAME}/{PROVIDER_SOURCE}");
    format!(
        "disable_checkpoint = true\n\nprovider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{source}\"]\n  }}\n  direct {{\n    exclude = [\"{source}\"]\n  }}\n}}\n",
        hcl_escape(&mirror_root.to_string_lossy())
    )
}

fn hcl_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// What a finished Terraform command printed, and how it exited.
#[derive(Clone)]
pub struct TfOutput {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl TfOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, or `None` when a signal ended the process.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Whether `needle` appears in stdout or stderr.
    pub fn contains(&self, needle: &str) -> bool {
        self.stdout.contains(needle) || self.stderr.contains(needle)
    }
}

impl fmt::Display for TfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        writeln!(f, "{}", self.status)?;
        writeln!(f, "--- stdout ---")?;
        writeln!(f, "{}", self.stdout.trim_end())?;
        writeln!(f, "--- stderr ---")?;
        write!(f, "{}", self.stderr.trim_end())
    }
}

impl fmt::Debug for TfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a Terraform harness operation failed. `Debug` prints the same text as
/// `Display`, so `.unwrap()` in a test shows Terraform's full output.
#[derive(thiserror::Error)]
pub enum TerraformError {
    #[error("Terraform {version} is not installed at {}: run scripts/install-terraform.sh (`make test` does), or set {}", path.display(), version.override_variable())]
    NotInstalled {
        version: TerraformVersion,
        path: PathBuf,
    },
    #[error("provider binary {} not found: build it with `cargo build -p terraform-provider-kong` (`make testacc` does) or set TF_ACC_PROVIDER_BIN", path.display())]
    ProviderNotBuilt { path: PathBuf },
    #[error("unknown Terraform version {0:?} in TF_ACC_TERRAFORM_VERSIONS (known: 1.15.5, 1.0.3)")]
    UnknownVersion(String),
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("terraform failed\n{output}{log_tail}")]
    Failed { output: TfOutput, log_tail: String },
    #[error("terraform was expected to fail but succeeded\n{output}")]
    UnexpectedSuccess { output: TfOutput },
    #[error("the plan is not empty (a perpetual diff?)\n{output}")]
    PlanNotEmpty { output: TfOutput },
    #[error("terraform did not exit within {timeout:?} and was killed\n{output}{log_tail}")]
    TimedOut {
        timeout: Duration,
        output: TfOutput,
        log_tail: String,
    },
    #[error("{what} did not appear in terraform's output {when}\n{partial}")]
    OutputNotSeen {
        what: String,
        when: String,
        /// Command line, status and what was printed so far.
        partial: String,
    },
    #[error("terraform printed invalid JSON: {source}\n{output}")]
    InvalidJson {
        output: TfOutput,
        #[source]
        source: serde_json::Error,
    },
    #[error("{address} is not in the state; it holds: {present:?}")]
    NotInState {
        address: String,
        present: Vec<String>,
    },
}

impl TerraformError {
    fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        TerraformError::Io {
            action: action.into(),
            source,
        }
    }
}

impl fmt::Debug for TerraformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A throwaway Terraform working directory with the provider under test in
/// a private filesystem mirror.
///
/// Layout of the temp dir: `work/` (the configuration, where Terraform runs),
/// `mirror/`, `terraformrc` (the CLI configuration) and `terraform.log`.
/// Set `TF_ACC_KEEP_WORKSPACE=1` to keep it after the test for inspection,
/// and `TF_ACC_TRANSCRIPT=FILE` to append every command's output to FILE.
pub struct Workspace {
    version: TerraformVersion,
    terraform: PathBuf,
    provider_binary: Option<PathBuf>,
    root: Option<tempfile::TempDir>,
    work_dir: PathBuf,
    env: BTreeMap<String, String>,
    timeout: Duration,
}

impl Workspace {
    /// A fresh workspace for `version`, serving `provider_binary` as
    /// `kong-upgrades/kong` 0.1.0.
    pub fn new(
        version: TerraformVersion,
        provider_binary: &Path,
    ) -> Result<Workspace, TerraformError> {
        if !provider_binary.is_file() {
            return Err(TerraformError::ProviderNotBuilt {
                path: provider_binary.to_path_buf(),
            });
        }
        Workspace::create(version, Some(provider_binary))
    }

    /// A workspace with no provider mirror, where only Terraform's built-in
    /// language works (`locals`, `output`, `terraform_data` on 1.4+): for
    /// testing the harness and the cores themselves.
    pub fn without_provider(version: TerraformVersion) -> Result<Workspace, TerraformError> {
        Workspace::create(version, None)
    }

    fn create(
        version: TerraformVersion,
        provider_binary: Option<&Path>,
    ) -> Result<Workspace, TerraformError> {
        let terraform = version.binary()?;
        let root = tempfile::Builder::new()
            .prefix(&format!("tf-acc-{version}-"))
            .tempdir()
            .map_err(|e| TerraformError::io("creating the workspace temp dir", e))?;
        let cli_config_text = match provider_binary {
            Some(binary) => {
                let mirror = root.path().join("mirror");
                // Should the cached copy vanish under us (another build's
                // test run pruning it), the original binary does as well.
                install_in_mirror(&mirror, &without_debug_info(binary))
                    .or_else(|_| install_in_mirror(&mirror, binary))?;
                cli_config(&mirror)
            }
            None => "disable_checkpoint = true\n".to_owned(),
        };
        let cli_config_path = root.path().join("terraformrc");
        write(&cli_config_path, &cli_config_text)?;
        let work_dir = root.path().join("work");
        std::fs::create_dir(&work_dir)
            .map_err(|e| TerraformError::io(format!("creating {}", work_dir.display()), e))?;

        let mut env = BTreeMap::new();
        env.insert(
            "TF_CLI_CONFIG_FILE".to_owned(),
            cli_config_path.to_string_lossy().into_owned(),
        );
        env.insert("TF_IN_AUTOMATION".to_owned(), "1".to_owned());
        env.insert("TF_INPUT".to_owned(), "0".to_owned());
        env.insert("CHECKPOINT_DISABLE".to_owned(), "1".to_owned());
        // Logs go to a file, never into the stderr tests assert on; they
        // only appear when TF_LOG (or TF_LOG_PROVIDER/CORE) is set.
        env.insert(
            "TF_LOG_PATH".to_owned(),
            root.path()
                .join("terraform.log")
                .to_string_lossy()
                .into_owned(),
        );
        let timeout = std::env::var("TF_ACC_COMMAND_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_COMMAND_TIMEOUT);
        Ok(Workspace {
            version,
            terraform,
            provider_binary: provider_binary.map(Path::to_path_buf),
            root: Some(root),
            work_dir,
            env,
            timeout,
        })
    }

    /// Another fresh, empty workspace with the same core, provider, extra
    /// environment and timeout: where an import is verified against the state
    /// this one built.
    pub fn sibling(&self) -> Result<Workspace, TerraformError> {
        let mut sibling = Workspace::create(self.version, self.provider_binary.as_deref())?;
        for (key, value) in &self.env {
            if !HARNESS_VARIABLES.contains(&key.as_str()) {
                sibling.env.insert(key.clone(), value.clone());
            }
        }
        sibling.timeout = self.timeout;
        Ok(sibling)
    }

    /// The core this workspace runs.
    pub fn version(&self) -> TerraformVersion {
        self.version
    }

    /// The Terraform executable.
    pub fn terraform(&self) -> &Path {
        &self.terraform
    }

    /// The working directory holding the configuration and the state.
    pub fn dir(&self) -> &Path {
        &self.work_dir
    }

    /// Sets an environment variable for every later command (and, through
    /// Terraform, for the provider), e.g. `KONG_ADMIN_TOKEN` or `TF_LOG`.
    pub fn set_env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Limits how long each later command may run (default 180 s, or
    /// `TF_ACC_COMMAND_TIMEOUT_SECS`).
    pub fn set_command_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Turns on Terraform's log at `level` (`TRACE`, `DEBUG`, ...), written
    /// to [`Workspace::log_path`].
    pub fn enable_log(&mut self, level: &str) -> &mut Self {
        self.set_env("TF_LOG", level)
    }

    /// Where `TF_LOG_PATH` points.
    pub fn log_path(&self) -> PathBuf {
        self.work_dir.with_file_name("terraform.log")
    }

    /// The Terraform log written so far (empty when logging is off).
    pub fn read_log(&self) -> Result<String, TerraformError> {
        match std::fs::read(self.log_path()) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(TerraformError::io("reading the terraform log", e)),
        }
    }

    /// Replaces `main.tf`.
    pub fn write_config(&self, hcl: &str) -> Result<(), TerraformError> {
        self.write_file("main.tf", hcl)
    }

    /// Writes any file into the working directory (extra `.tf` files,
    /// `terraform.tfvars`, fixtures).
    pub fn write_file(&self, name: &str, contents: &str) -> Result<(), TerraformError> {
        write(&self.work_dir.join(name), contents)
    }

    /// `terraform init`; fails unless it succeeds.
    pub fn init(&self) -> Result<TfOutput, TerraformError> {
        self.succeed(&["init", "-input=false", "-no-color"])
    }

    /// `terraform validate`; fails unless it succeeds.
    pub fn validate(&self) -> Result<TfOutput, TerraformError> {
        self.succeed(&["validate", "-no-color"])
    }

    /// `terraform plan -detailed-exitcode`; fails on errors, succeeds with
    /// exit code 0 (no changes) or 2 (changes).
    pub fn plan(&self) -> Result<TfOutput, TerraformError> {
        let output = self.run(&plan_args())?;
        match output.exit_code() {
            Some(0 | 2) => Ok(output),
            _ => Err(self.failed(output)),
        }
    }

    /// Whether a plan proposes no changes.
    pub fn plan_is_empty(&self) -> Result<bool, TerraformError> {
        Ok(self.plan()?.exit_code() == Some(0))
    }

    /// Fails with the plan's text unless the plan proposes no changes: the
    /// check after every apply that catches perpetual diffs.
    pub fn expect_empty_plan(&self) -> Result<TfOutput, TerraformError> {
        let output = self.plan()?;
        if output.exit_code() == Some(0) {
            Ok(output)
        } else {
            Err(TerraformError::PlanNotEmpty { output })
        }
    }

    /// `terraform plan` that must fail (plan-time validation); returns its
    /// output for assertions on the diagnostics.
    pub fn plan_expect_error(&self) -> Result<TfOutput, TerraformError> {
        self.fail(&plan_args())
    }

    /// `terraform apply -auto-approve`; fails unless it succeeds.
    pub fn apply(&self) -> Result<TfOutput, TerraformError> {
        self.succeed(&apply_args())
    }

    /// `terraform apply` that must fail; returns its output for assertions
    /// on the diagnostics.
    pub fn apply_expect_error(&self) -> Result<TfOutput, TerraformError> {
        self.fail(&apply_args())
    }

    /// `terraform import ADDRESS ID`; fails unless it succeeds.
    pub fn import(&self, address: &str, id: &str) -> Result<TfOutput, TerraformError> {
        self.succeed(&["import", "-input=false", "-no-color", address, id])
    }

    /// `terraform import` that must fail.
    pub fn import_expect_error(&self, address: &str, id: &str) -> Result<TfOutput, TerraformError> {
        self.fail(&["import", "-input=false", "-no-color", address, id])
    }

    /// `terraform destroy -auto-approve`; fails unless it succeeds.
    pub fn destroy(&self) -> Result<TfOutput, TerraformError> {
        self.succeed(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    /// The state as `terraform show -json` prints it.
    pub fn state_json(&self) -> Result<serde_json::Value, TerraformError> {
        self.json(&["show", "-json", "-no-color"])
    }

    /// One resource (or `data.` source) object from [`Workspace::state_json`]
    /// by its address, e.g. `data.kong_node.this`: `values`,
    /// `sensitive_values`, `tainted` and the rest, searched through child
    /// modules too.
    pub fn state_resource(&self, address: &str) -> Result<serde_json::Value, TerraformError> {
        let state = self.state_json()?;
        let mut resources = Vec::new();
        if let Some(root) = state.pointer("/values/root_module") {
            collect_resources(root, &mut resources);
        }
        match resources.iter().find(|r| r["address"] == address) {
            Some(resource) => Ok((*resource).clone()),
            None => Err(TerraformError::NotInState {
                address: address.to_owned(),
                present: resources
                    .iter()
                    .filter_map(|r| r["address"].as_str().map(str::to_owned))
                    .collect(),
            }),
        }
    }

    /// `terraform state list`: every address in the state.
    pub fn state_list(&self) -> Result<Vec<String>, TerraformError> {
        let output = self.run(&["state", "list", "-no-color"])?;
        if !output.success() {
            // An apply that never got as far as writing a state.
            if output.contains("No state file was found") {
                return Ok(Vec::new());
            }
            return Err(self.failed(output));
        }
        Ok(output.stdout.lines().map(str::to_owned).collect())
    }

    /// The value of root output `name` (`terraform output -json NAME`).
    pub fn output(&self, name: &str) -> Result<serde_json::Value, TerraformError> {
        self.json(&["output", "-json", "-no-color", name])
    }

    /// `terraform providers schema -json`, after [`Workspace::init`].
    pub fn providers_schema_json(&self) -> Result<serde_json::Value, TerraformError> {
        self.json(&["providers", "schema", "-json"])
    }

    /// Runs `terraform ARGS...` in the working directory and returns what
    /// happened, whatever the exit status; fails only if it could not run or
    /// did not finish in time.
    pub fn run(&self, args: &[&str]) -> Result<TfOutput, TerraformError> {
        let mut child = self.spawn(args, false)?;
        let mut pipes = CapturedPipes::attach(&mut child);
        let command = self.command_line(args);
        match wait_with_deadline(&mut child, Instant::now() + self.timeout) {
            Ok(Some(status)) => Ok(pipes.finish(command, status)),
            Ok(None) => {
                // Kill only terraform itself: it shares the test's process
                // group, so a developer's Ctrl-C still reaches it.
                let _ = child.kill();
                let status = child
                    .wait()
                    .map_err(|e| TerraformError::io("reaping a killed terraform", e))?;
                Err(TerraformError::TimedOut {
                    timeout: self.timeout,
                    output: pipes.finish(command, status),
                    log_tail: self.log_tail(),
                })
            }
            Err(e) => Err(TerraformError::io("waiting for terraform", e)),
        }
    }

    /// Starts `terraform apply -auto-approve` in a process group of its own
    /// and returns at once, for tests that interrupt it the way a terminal's
    /// Ctrl-C does (SIGINT to the whole foreground process group, provider
    /// included).
    pub fn spawn_apply_in_new_process_group(&self) -> Result<BackgroundRun, TerraformError> {
        let args = apply_args();
        let mut child = self.spawn(&args, true)?;
        let pipes = CapturedPipes::attach(&mut child);
        Ok(BackgroundRun {
            command: self.command_line(&args),
            pgid: child.id(),
            child: Mutex::new(Some(child)),
            pipes,
            log_path: self.log_path(),
        })
    }

    fn spawn(&self, args: &[&str], new_process_group: bool) -> Result<Child, TerraformError> {
        let mut command = Command::new(&self.terraform);
        command
            .args(args)
            .current_dir(&self.work_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in inherited_variables_to_drop() {
            command.env_remove(key);
        }
        command.envs(&self.env);
        if new_process_group {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        command
            .spawn()
            .map_err(|e| TerraformError::io(format!("starting {}", self.terraform.display()), e))
    }

    fn succeed(&self, args: &[&str]) -> Result<TfOutput, TerraformError> {
        let output = self.run(args)?;
        if output.success() {
            Ok(output)
        } else {
            Err(self.failed(output))
        }
    }

    fn fail(&self, args: &[&str]) -> Result<TfOutput, TerraformError> {
        let output = self.run(args)?;
        if output.success() {
            Err(TerraformError::UnexpectedSuccess { output })
        } else {
            Ok(output)
        }
    }

    fn json(&self, args: &[&str]) -> Result<serde_json::Value, TerraformError> {
        let output = self.succeed(args)?;
        serde_json::from_str(&output.stdout)
            .map_err(|source| TerraformError::InvalidJson { output, source })
    }

    fn failed(&self, output: TfOutput) -> TerraformError {
        TerraformError::Failed {
            output,
            log_tail: self.log_tail(),
        }
    }

    fn log_tail(&self) -> String {
        log_tail(&self.log_path())
    }

    fn command_line(&self, args: &[&str]) -> String {
        format!(
            "{} {}  (in {})",
            self.terraform.display(),
            args.join(" "),
            self.work_dir.display()
        )
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let keep = std::env::var("TF_ACC_KEEP_WORKSPACE").is_ok_and(|v| v == "1");
        if let (true, Some(root)) = (keep, self.root.take()) {
            eprintln!("kept Terraform workspace {}", root.keep().display());
        }
    }
}

/// A Terraform command running in its own process group.
///
/// Dropping it before it finished kills the whole group, so a failing test
/// never leaves Terraform or the provider behind.
pub struct BackgroundRun {
    command: String,
    pgid: u32,
    /// Behind a lock so the `&self` waits can notice an early exit.
    child: Mutex<Option<Child>>,
    pipes: CapturedPipes,
    log_path: PathBuf,
}

impl BackgroundRun {
    /// Terraform's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pgid
    }

    /// Waits until `needle` shows up in stdout or stderr (e.g.
    /// `"kong_upgrade.this: Creating..."`); fails at once if Terraform exits
    /// without printing it.
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> Result<(), TerraformError> {
        self.wait_until(&format!("{needle:?}"), timeout, || {
            self.pipes.contains(needle)
        })
    }

    /// Waits until `done()` holds (checked again once Terraform exited, as
    /// the last output may still be in the pipes); fails at once if
    /// Terraform exits first. `what` names the awaited event in the error.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut() -> bool,
    ) -> Result<(), TerraformError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if done() {
                return Ok(());
            }
            if let Some(status) = self.exit_status() {
                self.pipes.wait_for_readers(Duration::from_secs(2));
                if done() {
                    return Ok(());
                }
                return Err(TerraformError::OutputNotSeen {
                    what: what.to_owned(),
                    when: "before terraform exited".to_owned(),
                    partial: self.pipes.render(&self.command, &status.to_string()),
                });
            }
            if Instant::now() >= deadline {
                return Err(TerraformError::OutputNotSeen {
                    what: what.to_owned(),
                    when: format!("within {timeout:?}"),
                    partial: self.pipes.render(&self.command, "still running"),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        child.as_mut()?.try_wait().ok().flatten()
    }

    /// Sends SIGINT to every process in the group, as a terminal does on
    /// Ctrl-C.
    pub fn send_sigint_to_group(&self) -> Result<(), TerraformError> {
        self.signal_group(libc::SIGINT)
    }

    /// Waits for Terraform to exit and returns its output whatever the exit
    /// status; after `timeout` the group is killed and this fails.
    pub fn wait_with_timeout(mut self, timeout: Duration) -> Result<TfOutput, TerraformError> {
        let taken = self
            .child
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut child) = taken else {
            return Err(TerraformError::io(
                "waiting for terraform",
                std::io::Error::other("already waited for"),
            ));
        };
        let command = self.command.clone();
        match wait_with_deadline(&mut child, Instant::now() + timeout) {
            Ok(Some(status)) => Ok(self.pipes.finish(command, status)),
            Ok(None) => {
                let _ = self.signal_group(libc::SIGKILL);
                let status = child
                    .wait()
                    .map_err(|e| TerraformError::io("reaping a killed terraform", e))?;
                Err(TerraformError::TimedOut {
                    timeout,
                    output: self.pipes.finish(command, status),
                    log_tail: log_tail(&self.log_path),
                })
            }
            Err(e) => Err(TerraformError::io("waiting for terraform", e)),
        }
    }

    fn signal_group(&self, signal: libc::c_int) -> Result<(), TerraformError> {
        let pgid = libc::pid_t::try_from(self.pgid).map_err(|_| {
            TerraformError::io(
                "signalling terraform",
                std::io::Error::other(format!("process group id {} out of range", self.pgid)),
            )
        })?;
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
        // addresses the process group we created with process_group(0).
        let rc = unsafe { libc::kill(-pgid, signal) };
        if rc == 0 {
            Ok(())
        } else {
            Err(TerraformError::io(
                format!("sending signal {signal} to process group {pgid}"),
                std::io::Error::last_os_error(),
            ))
        }
    }
}

impl Drop for BackgroundRun {
    fn drop(&mut self) {
        let taken = self
            .child
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut child) = taken {
            if let Ok(None) = child.try_wait() {
                let _ = self.signal_group(libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

/// stdout and stderr of a child, read on background threads so a chatty
/// process never blocks on a full pipe.
struct CapturedPipes {
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl CapturedPipes {
    fn attach(child: &mut Child) -> CapturedPipes {
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(spawn_reader(pipe, Arc::clone(&stdout)));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(spawn_reader(pipe, Arc::clone(&stderr)));
        }
        CapturedPipes {
            stdout,
            stderr,
            readers,
        }
    }

    fn contains(&self, needle: &str) -> bool {
        [&self.stdout, &self.stderr]
            .iter()
            .any(|buf| String::from_utf8_lossy(&lock(buf)).contains(needle))
    }

    /// Text like [`TfOutput`]'s for a run that has no `TfOutput` yet.
    fn render(&self, command: &str, status: &str) -> String {
        format!(
            "$ {command}\n{status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&lock(&self.stdout)).trim_end(),
            String::from_utf8_lossy(&lock(&self.stderr)).trim_end()
        )
    }

    /// Gives the reader threads up to `limit` to reach end of file.
    fn wait_for_readers(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.readers.iter().all(JoinHandle::is_finished) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Joins the readers (the process has exited, so the pipes hit EOF once
    /// every process holding them is gone) and packages the output.
    fn finish(&mut self, command: String, status: ExitStatus) -> TfOutput {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let output = TfOutput {
            command,
            status,
            stdout: String::from_utf8_lossy(&lock(&self.stdout)).into_owned(),
            stderr: String::from_utf8_lossy(&lock(&self.stderr)).into_owned(),
        };
        crate::transcript::record(&output);
        output
    }
}

fn spawn_reader(mut pipe: impl Read + Send + 'static, sink: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => lock(&sink).extend_from_slice(&chunk[..n]),
            }
        }
    })
}

fn lock(buf: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    // A reader thread cannot panic while holding the lock; recover anyway.
    buf.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `Ok(Some(status))` once the child exited, `Ok(None)` at the deadline.
///
/// Polls with a short back-off instead of a waiter thread: the child stays
/// owned here, so a kill after the deadline can never hit a recycled pid.
fn wait_with_deadline(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn plan_args() -> Vec<&'static str> {
    vec!["plan", "-detailed-exitcode", "-input=false", "-no-color"]
}

fn apply_args() -> Vec<&'static str> {
    vec!["apply", "-auto-approve", "-input=false", "-no-color"]
}

/// Variables from the developer's shell that would change what Terraform or
/// the provider does: Terraform's own settings (the harness sets the ones it
/// needs) and the provider's `KONG_*` fallbacks, which tests set explicitly
/// when they test them. `TF_LOG*` (but `TF_LOG_PATH`, which the harness
/// sets) and `TF_ACC*` pass through for debugging.
fn inherited_variables_to_drop() -> Vec<OsString> {
    variables_to_drop(std::env::vars_os().map(|(key, _)| key))
}

fn variables_to_drop(keys: impl Iterator<Item = OsString>) -> Vec<OsString> {
    keys.filter(|key| {
        let key = key.to_string_lossy();
        let debugging =
            key.starts_with("TF_ACC") || (key.starts_with("TF_LOG") && key != "TF_LOG_PATH");
        (key.starts_with("TF_") && !debugging) || key.starts_with("KONG_")
    })
    .collect()
}

fn collect_resources<'a>(module: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
    if let Some(resources) = module["resources"].as_array() {
        out.extend(resources);
    }
    if let Some(children) = module["child_modules"].as_array() {
        for child in children {
            collect_resources(child, out);
        }
    }
}

fn log_tail(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    format!(
        "\n--- last {} lines of {} ---\n{}",
        lines.len() - start,
        path.display(),
        lines[start..].join("\n")
    )
}

fn write(path: &Path, contents: &str) -> Result<(), TerraformError> {
    std::fs::write(path, contents)
        .map_err(|e| TerraformError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests;
