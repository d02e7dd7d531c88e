//! `runner { command { ... } | ssh { ... } }`: how the `kong` CLI of the
//! target version is run, parsed into a [`RunnerSettings`]; plus
//! [`discover_known_migrations`], which asks that CLI (read-only) or the
//! embedded catalog which migrations the version knows.

use super::{first, seconds_attr, string_attr};
use crate::migrations::{DatabaseConfig, KnownMigrations, KnownSource, Secret};
use crate::platform::is_executable;
use crate::runner::{
    display_command_line, list_known_migrations, CommandRunner, Discovered, DiscoveryError,
    DiscoveryRequest, EnvTransport, HostKeyPin, Runner, RunnerError, SshRunner,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tfplug::{
    AttrPath, Attribute, Block, CancellationToken, Check, Diagnostic, Diagnostics, NestedBlock,
    Type, Value,
};

pub const BLOCK_NAME: &str = "runner";
pub const DEFAULT_SSH_PORT: u16 = 22;
/// Bound on a plan-time `kong migrations status`.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// The `runner` block, required.
pub fn block() -> NestedBlock {
    NestedBlock::single(BLOCK_NAME, runner_block()).min_items(1)
}

/// The `runner` block, optional (data sources, where it only serves
/// discovery).
pub fn optional_block() -> NestedBlock {
    NestedBlock::single(BLOCK_NAME, runner_block())
}

fn runner_block() -> Block {
    Block::new()
        .describe("How the `kong` CLI **of the target version** is run: exactly one of `command` (a local argv prefix, e.g. `kubectl exec`) or `ssh`. The provider appends `migrations <phase> --lock-timeout N [--db-timeout N] [-f] [-c conf_path]` and passes the database settings as `KONG_PG_*` environment variables (over stdin with `ssh` and with `command`'s `env_transport = \"stdin\"`).")
        .attr(Attribute::bool("discover").optional().describe(
            "At plan time, run `kong migrations status` (read-only, Kong ≥ 3.0) through the runner to learn which migrations the target version knows, instead of previewing them from the provider's embedded catalog of Kong OSS migrations. Needed for an exact plan on Enterprise and custom builds. Default `false`. Either way, a version the catalog does not know (a future or Enterprise release) is asked of the runner at plan, and `kong_upgrade` and `kong_migration_phase` ask the target's `kong migrations status` when they run a phase, decide from what Kong reports and records in `schema_meta`, and warn where that differs from the catalog.",
        ))
        .attr(Attribute::string("conf_path").optional().describe("A kong.conf on the machine the runner runs on, passed as `-c`. `KONG_PG_*` settings from the `database` block override it. Default: none (Kong's own defaults and `KONG_*` variables)."))
        .block(NestedBlock::single(
            "command",
            Block::new()
                .describe("Run a program on the machine running Terraform.")
                .attr(Attribute::list_of("argv", Type::String).required().describe(
                    "The program and its first arguments, e.g. `[\"kong\"]`, `[\"docker\", \"exec\", \"-i\", \"kong-y\", \"kong\"]` or `[\"kubectl\", \"exec\", \"-i\", \"deploy/kong-y\", \"--\", \"kong\"]`. With `env_transport = \"stdin\"` the last element is the `kong` program on the far side.",
                ))
                .attr(Attribute::string("env_transport").optional().check(Check::one_of(["process", "stdin"])).describe(
                    "How the settings reach `kong`: `\"process\"` (default) sets them in the environment of the local program, which `kubectl exec`, `docker exec` and `ssh` do **not** pass on (kubernetes/kubernetes#50321); `\"stdin\"` runs every element of `argv` but the last with a POSIX `sh -c` prologue that reads `KONG_PG_*`, the TLS settings and `env` from stdin, exports them and execs the last element (the far-side `kong`) with Kong's arguments. Nothing secret is in any argv either way. Use `\"stdin\"` with `kubectl exec -i`, `docker exec -i` (note `-i`) or `ssh`; the far side needs `sh`.",
                ))
                .attr(Attribute::map_of("env", Type::String).optional().describe("Extra environment variables (not secret: they may be logged). Default: none."))
                .attr(Attribute::string("working_dir").optional().describe("Working directory of the program. Default: Terraform's working directory.")),
        ))
        .block(NestedBlock::single(
            "ssh",
            Block::new()
                .describe("Run the `kong` CLI on another machine with the system OpenSSH client (`ssh` on the PATH of the machine running Terraform). The host key is pinned; the environment, password included, travels over stdin, never in an argv.")
                .attr(Attribute::string("host").required().describe("SSH server host name or address."))
                .attr(Attribute::number("port").optional().check(Check::WholeNumber { min: 1, max: 65_535 }).describe("SSH port. Default `22`."))
                .attr(Attribute::string("user").required().describe("User to log in as."))
                .attr(Attribute::string("private_key").required().sensitive().describe("Unencrypted OpenSSH or PEM private key of `user`."))
                .attr(Attribute::string("host_key").required().describe(
                    "The server's public host key, pinned: a line like `ssh-ed25519 AAAA...` (from `/etc/ssh/ssh_host_ed25519_key.pub`) or a known_hosts line.",
                ))
                .attr(Attribute::list_of("argv", Type::String).optional().describe("The remote program and its first arguments. Default `[\"kong\"]`."))
                .attr(Attribute::map_of("env", Type::String).optional().describe("Extra environment variables for the remote command (not secret). Default: none."))
                .attr(Attribute::number("connect_timeout").optional().check(Check::WholeNumber { min: 1, max: 604_800 }).describe("Seconds allowed to connect. Default `15`.")),
        ))
}

/// Which runner, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerKind {
    Command(CommandRunner),
    Ssh(SshRunner),
}

/// A parsed `runner` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerSettings {
    pub kind: RunnerKind,
    /// Ask `kong migrations status` which migrations the target knows.
    pub discover: bool,
    /// `-c` for every `kong` invocation.
    pub conf_path: Option<String>,
}

impl RunnerSettings {
    pub fn runner(&self) -> &dyn Runner {
        match &self.kind {
            RunnerKind::Command(r) => r,
            RunnerKind::Ssh(r) => r,
        }
    }

    /// Plan-time check that the local program exists and is executable:
    /// the command's first element, or the OpenSSH client. Runs nothing.
    pub fn check_program(&self) -> Result<(), RunnerError> {
        match &self.kind {
            RunnerKind::Command(r) => {
                let path_var = r
                    .env
                    .get("PATH")
                    .map(std::ffi::OsString::from)
                    .or_else(|| std::env::var_os("PATH"));
                let display =
                    display_command_line(&BTreeMap::new(), &BTreeMap::new(), &r.argv_prefix);
                locate_program(
                    &r.argv_prefix[0],
                    path_var,
                    r.working_dir.as_deref(),
                    &display,
                )
                .map(|_| ())
            }
            RunnerKind::Ssh(r) => {
                let program = r.ssh_program.display().to_string();
                locate_program(&program, std::env::var_os("PATH"), None, &program).map(|_| ())
            }
        }
    }
}

/// Finds `program` as `execvp` would, telling "not found" from "not
/// executable".
fn locate_program(
    program: &str,
    path_var: Option<std::ffi::OsString>,
    working_dir: Option<&Path>,
    command_line: &str,
) -> Result<PathBuf, RunnerError> {
    let not_found = || RunnerError::ProgramNotFound {
        program: program.to_owned(),
        command_line: command_line.to_owned(),
    };
    let candidate = if program.contains('/') {
        match (Path::new(program).is_relative(), working_dir) {
            (true, Some(dir)) => dir.join(program),
            _ => PathBuf::from(program),
        }
    } else {
        let dirs: Vec<PathBuf> = std::env::split_paths(&path_var.unwrap_or_default()).collect();
        let candidates = dirs.iter().map(|d| d.join(program)).filter(|c| c.is_file());
        let mut candidates: Vec<PathBuf> = candidates.collect();
        // Like execvp: the first executable match wins; a non-executable
        // one is only reported when nothing else is found.
        match candidates.iter().position(|c| is_executable(c)) {
            Some(i) => candidates.swap_remove(i),
            None => candidates.into_iter().next().ok_or_else(not_found)?,
        }
    };
    let metadata = std::fs::metadata(&candidate).map_err(|_| not_found())?;
    if !metadata.is_file() || !is_executable(&candidate) {
        return Err(RunnerError::NotExecutable {
            program: program.to_owned(),
            detail: format!("{} is not an executable file", candidate.display()),
            command_line: command_line.to_owned(),
        });
    }
    Ok(candidate)
}

/// Plan-time checks tolerant of unknown values.
pub fn validate(block: &Value, path: &AttrPath) -> Diagnostics {
    let block = first(block);
    let mut diags = Diagnostics::new();
    if block.is_null() || block.is_unknown() {
        return diags;
    }
    let command = first(block.attr("command"));
    let ssh = first(block.attr("ssh"));
    match (command.is_null(), ssh.is_null()) {
        (true, true) => diags.error_at(
            path.clone(),
            "Missing runner",
            "Set exactly one of command { argv = [...] } or ssh { ... }.",
        ),
        (false, false) => diags.error_at(
            path.clone().attr("ssh"),
            "Conflicting runners",
            "Set only one of command and ssh.",
        ),
        _ => {}
    }
    if !command.is_null() {
        let argv = command.attr("argv");
        if argv.is_known() && first_is_blank(argv) {
            diags.error_at(
                path.clone().attr("command").attr("argv"),
                "Empty command",
                "argv must start with the program to run, e.g. [\"kong\"].",
            );
        }
        if let Err(d) = env_transport(command, &path.clone().attr("command")) {
            diags.push(d);
        }
    }
    if !ssh.is_null() {
        let ssh_path = path.clone().attr("ssh");
        if let Some(key) = ssh.attr("host_key").as_str() {
            if let Err(e) = HostKeyPin::parse(key) {
                diags.push(error_diagnostic(&e, ssh_path.clone().attr("host_key")));
            }
        }
        if let Err(d) = ssh_port(ssh, &ssh_path) {
            diags.push(d);
        }
        if let Err(d) = seconds_attr(ssh, "connect_timeout", &ssh_path) {
            diags.push(d);
        }
        let argv = ssh.attr("argv");
        if !argv.is_null() && argv.is_known() && first_is_blank(argv) {
            diags.error_at(
                ssh_path.attr("argv"),
                "Empty remote command",
                "argv must start with the remote program, e.g. [\"kong\"].",
            );
        }
    }
    diags
}

fn env_transport(command: &Value, path: &AttrPath) -> Result<EnvTransport, Diagnostic> {
    let value = command.attr("env_transport");
    if value.is_null() || value.is_unknown() {
        return Ok(EnvTransport::default());
    }
    value.as_str().and_then(EnvTransport::parse).ok_or_else(|| {
        Diagnostic::error(
            "Invalid env_transport",
            format!(
                "env_transport must be one of {}, got {value}.",
                EnvTransport::NAMES.map(|n| format!("\"{n}\"")).join(", ")
            ),
        )
        .at(path.clone().attr("env_transport"))
    })
}

fn first_is_blank(argv: &Value) -> bool {
    match argv.elements().first() {
        None => true,
        Some(first) => first.as_str().is_some_and(|s| s.trim().is_empty()),
    }
}

fn ssh_port(ssh: &Value, path: &AttrPath) -> Result<u16, Diagnostic> {
    let value = ssh.attr("port");
    if value.is_null() || value.is_unknown() {
        return Ok(DEFAULT_SSH_PORT);
    }
    tfplug::read::<u16>(value, &path.clone().attr("port"))
        .ok()
        .and_then(tfplug::Known::value)
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            Diagnostic::error(
                "Invalid port",
                format!("port must be a whole number from 1 to 65535, got {value}."),
            )
            .at(path.clone().attr("port"))
        })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .elements()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .entries()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The settings in a wholly known `runner` block.
pub fn parse(block: &Value, path: AttrPath) -> Result<RunnerSettings, Diagnostics> {
    let block = first(block);
    if block.is_null() {
        return Err(Diagnostic::error(
            "Missing runner block",
            "A runner { ... } block is required.",
        )
        .at(path)
        .into());
    }
    if !block.is_wholly_known() {
        return Err(Diagnostic::error(
            "Runner settings not known yet",
            "The runner settings depend on values known only after apply.",
        )
        .at(path)
        .into());
    }
    let diags = validate(block, &path);
    if diags.has_errors() {
        return Err(diags);
    }
    let command = first(block.attr("command"));
    let kind = if !command.is_null() {
        let mut runner = CommandRunner::new(strings(command.attr("argv")));
        runner.env = string_map(command.attr("env"));
        runner.working_dir = string_attr(command, "working_dir").map(PathBuf::from);
        runner.env_transport = env_transport(command, &path.clone().attr("command"))?;
        runner
            .validate()
            .map_err(|e| Diagnostics::from(error_diagnostic(&e, path.clone().attr("command"))))?;
        RunnerKind::Command(runner)
    } else {
        RunnerKind::Ssh(parse_ssh(
            first(block.attr("ssh")),
            path.clone().attr("ssh"),
        )?)
    };
    Ok(RunnerSettings {
        kind,
        discover: block.attr("discover").as_bool().unwrap_or(false),
        conf_path: string_attr(block, "conf_path"),
    })
}

fn parse_ssh(ssh: &Value, path: AttrPath) -> Result<SshRunner, Diagnostics> {
    let host_key = HostKeyPin::parse(ssh.attr("host_key").as_str().unwrap_or_default())
        .map_err(|e| Diagnostics::from(error_diagnostic(&e, path.clone().attr("host_key"))))?;
    let argv = match ssh.attr("argv") {
        Value::Null => vec!["kong".to_owned()],
        argv => strings(argv),
    };
    let mut runner = SshRunner::new(
        string_attr(ssh, "host").unwrap_or_default(),
        ssh_port(ssh, &path)?,
        string_attr(ssh, "user").unwrap_or_default(),
        Secret::new(string_attr(ssh, "private_key").unwrap_or_default()),
        host_key,
        argv,
    );
    runner.env = string_map(ssh.attr("env"));
    if let Some(timeout) = seconds_attr(ssh, "connect_timeout", &path)? {
        runner.connect_timeout = timeout;
    }
    runner
        .validate()
        .map_err(|e| Diagnostics::from(error_diagnostic(&e, path)))?;
    Ok(runner)
}

/// A runner error as a diagnostic on the attribute of the runner block
/// (value `block`, at `path`) most likely at fault: the command's `argv`,
/// or the ssh `host`, `host_key` or `private_key`. Runner errors carry the
/// command line with secrets redacted and the last lines of output.
pub fn error_diagnostic_in(e: &RunnerError, block: &Value, path: AttrPath) -> Diagnostic {
    error_diagnostic(e, attribute_path(block, path, e.ssh_attribute()))
}

/// The line to point at for a problem with the runner configured in
/// `block` (at `path`): `ssh_attribute` of an ssh runner (default `host`),
/// else the command's `argv`; `path` itself when neither is set.
pub fn attribute_path(block: &Value, path: AttrPath, ssh_attribute: Option<&str>) -> AttrPath {
    let block = first(block);
    if !first(block.attr("command")).is_null() {
        path.attr("command").attr("argv")
    } else if !first(block.attr("ssh")).is_null() {
        path.attr("ssh").attr(ssh_attribute.unwrap_or("host"))
    } else {
        path
    }
}

/// `catalog` or `runner`: the `known_migrations_source` attribute.
pub fn source_name(source: &KnownSource) -> &'static str {
    match source {
        KnownSource::Catalog { .. } => "catalog",
        KnownSource::Runner { .. } => "runner",
    }
}

/// A runner error as a diagnostic on `path`.
pub fn error_diagnostic(e: &RunnerError, path: AttrPath) -> Diagnostic {
    Diagnostic::error(e.summary(), e.to_string()).at(path)
}

/// The migrations Kong `version` knows: from `kong migrations status` run
/// through `runner` when it asks for discovery or the catalog does not know
/// `version` (falling back to the catalog if that fails, with the reason),
/// else from the embedded catalog.
pub async fn discover_known_migrations(
    runner: Option<&RunnerSettings>,
    version: &str,
    database: &DatabaseConfig,
    db_timeout: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<Discovered, DiscoveryError> {
    // Without `discover` the catalog previews; a version it does not know
    // (a future or Enterprise release) is asked of the runner instead,
    // never an error only because it is new.
    let catalog_knows = KnownMigrations::from_catalog(version).is_ok();
    let Some(settings) = runner.filter(|r| r.discover || !catalog_knows) else {
        return KnownMigrations::from_catalog(version)
            .map(|known| Discovered {
                known,
                runner_fallback_reason: None,
            })
            .map_err(|e| DiscoveryError {
                kong_version: version.to_owned(),
                catalog_error: e.to_string(),
                runner_error: None,
            });
    };
    let request = DiscoveryRequest {
        kong_version: version,
        database,
        ask_runner: true,
        conf_path: settings.conf_path.as_deref(),
        db_timeout,
        timeout: DISCOVERY_TIMEOUT,
    };
    let discovered = list_known_migrations(settings.runner(), &request, cancel).await?;
    if !discovered.known.subsystems.is_empty() {
        return Ok(discovered);
    }
    // `status` printed no migration at all: nothing to compare with.
    let reason = "`kong migrations status` listed no migrations".to_owned();
    KnownMigrations::from_catalog(version)
        .map(|known| Discovered {
            known,
            runner_fallback_reason: Some(reason.clone()),
        })
        .map_err(|e| DiscoveryError {
            kong_version: version.to_owned(),
            catalog_error: e.to_string(),
            runner_error: Some(reason),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@host";

    fn command(argv: &[&str]) -> Value {
        command_with_transport(argv, Value::Null)
    }

    fn command_with_transport(argv: &[&str], env_transport: Value) -> Value {
        Value::object([
            (
                "argv",
                Value::List(argv.iter().map(|a| Value::from(*a)).collect()),
            ),
            ("env_transport", env_transport),
            ("env", Value::Null),
            ("working_dir", Value::Null),
        ])
    }

    fn ssh(host_key: &str) -> Value {
        Value::object([
            ("host", "10.0.0.5".into()),
            ("port", Value::Null),
            ("user", "deploy".into()),
            (
                "private_key",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----".into(),
            ),
            ("host_key", host_key.into()),
            ("argv", Value::Null),
            ("env", Value::Null),
            ("connect_timeout", Value::Null),
        ])
    }

    fn runner(command: Value, ssh: Value) -> Value {
        Value::object([
            ("discover", Value::Null),
            ("conf_path", Value::Null),
            ("command", command),
            ("ssh", ssh),
        ])
    }

    fn root() -> AttrPath {
        AttrPath::root("runner")
    }

    fn paths(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
            .collect()
    }

    #[test]
    fn exactly_one_runner_kind() {
        assert_eq!(
            paths(&validate(&runner(Value::Null, Value::Null), &root())),
            ["runner"]
        );
        assert_eq!(
            paths(&validate(
                &runner(command(&["kong"]), ssh(HOST_KEY)),
                &root()
            )),
            ["runner.ssh"]
        );
        assert_eq!(
            paths(&validate(&runner(command(&[]), Value::Null), &root())),
            ["runner.command.argv"]
        );
        assert_eq!(
            paths(&validate(&runner(Value::Null, ssh("nonsense")), &root())),
            ["runner.ssh.host_key"]
        );
    }

    #[test]
    fn env_transport_is_process_by_default_stdin_on_request_and_nothing_else() {
        let argv = ["kubectl", "exec", "-i", "deploy/kong-y", "--", "kong"];
        let transport = |value: Value| {
            parse(
                &runner(command_with_transport(&argv, value), Value::Null),
                root(),
            )
            .map(|parsed| match parsed.kind {
                RunnerKind::Command(c) => c.env_transport,
                RunnerKind::Ssh(_) => panic!("command expected"),
            })
        };
        assert_eq!(transport(Value::Null).unwrap(), EnvTransport::Process);
        assert_eq!(transport("stdin".into()).unwrap(), EnvTransport::Stdin);
        let refused = transport("ssh".into()).unwrap_err();
        assert_eq!(paths(&refused), ["runner.command.env_transport"]);
    }

    #[test]
    fn parses_both_kinds_with_defaults() {
        let parsed = parse(
            &runner(
                command(&["kubectl", "exec", "deploy/kong-y", "--", "kong"]),
                Value::Null,
            ),
            root(),
        )
        .unwrap();
        assert!(!parsed.discover);
        assert!(matches!(&parsed.kind, RunnerKind::Command(c) if c.argv_prefix.len() == 5));
        let parsed = parse(&runner(Value::Null, ssh(HOST_KEY)), root()).unwrap();
        let RunnerKind::Ssh(s) = parsed.kind else {
            panic!("ssh expected")
        };
        assert_eq!(
            (s.port, s.argv_prefix.clone()),
            (22, vec!["kong".to_owned()])
        );
        assert!(
            !format!("{s:?}").contains("BEGIN OPENSSH"),
            "the key never shows in Debug"
        );
    }

    #[test]
    fn a_missing_program_is_found_missing_before_running_anything() {
        let settings = parse(
            &runner(command(&["/nonexistent/bin/kong"]), Value::Null),
            root(),
        )
        .unwrap();
        assert!(matches!(
            settings.check_program(),
            Err(RunnerError::ProgramNotFound { .. })
        ));
        let settings = parse(
            &runner(command(&["definitely-not-a-program-xyz"]), Value::Null),
            root(),
        )
        .unwrap();
        assert!(matches!(
            settings.check_program(),
            Err(RunnerError::ProgramNotFound { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("kong");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let settings = parse(
            &runner(command(&[script.to_str().unwrap()]), Value::Null),
            root(),
        )
        .unwrap();
        assert!(matches!(
            settings.check_program(),
            Err(RunnerError::NotExecutable { .. })
        ));
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(settings.check_program(), Ok(()));
        let settings = parse(&runner(command(&["sh"]), Value::Null), root()).unwrap();
        assert_eq!(settings.check_program(), Ok(()), "found on PATH");
    }
}
