//! The `command` runner: an argv prefix run on the machine running
//! Terraform, e.g. `["kubectl","exec","-i","deploy/kong-y","--","kong"]`.
//!
//! With [`EnvTransport::Process`] the settings are the local process's
//! environment, which `kubectl exec`, `docker exec` and `ssh` do not pass
//! on. With [`EnvTransport::Stdin`] the last argv element is the far-side
//! `kong`: the prefix runs the `sh -c` prologue of [`super::env_stdin`]
//! there, which reads the settings from stdin, exports them and execs
//! `kong` with Kong's arguments.

use super::env_stdin;
use super::error::RunnerError;
use super::invocation::{display_command_line, shell_quote, KongInvocation};
use super::output::{RunOutput, Stream};
use super::process::{execute, ProcessSpec};
use super::Runner;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// How the settings (`KONG_PG_*`, the runner's `env`) reach `kong`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvTransport {
    /// The environment of the local process.
    #[default]
    Process,
    /// Written to the command's stdin and exported on the far side.
    Stdin,
}

impl EnvTransport {
    pub const NAMES: [&'static str; 2] = ["process", "stdin"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "process" => Some(EnvTransport::Process),
            "stdin" => Some(EnvTransport::Stdin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRunner {
    /// The program and its first arguments; Kong's arguments follow.
    pub argv_prefix: Vec<String>,
    /// Extra environment (not secret); the invocation's wins on conflict.
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<PathBuf>,
    pub env_transport: EnvTransport,
}

impl CommandRunner {
    pub fn new(argv_prefix: Vec<String>) -> Self {
        CommandRunner {
            argv_prefix,
            env: BTreeMap::new(),
            working_dir: None,
            env_transport: EnvTransport::Process,
        }
    }

    /// Checks the settings without running anything (plan time).
    pub fn validate(&self) -> Result<(), RunnerError> {
        match self.argv_prefix.first() {
            None => Err(RunnerError::InvalidRunner(
                "command must not be empty".into(),
            )),
            Some(p) if p.trim().is_empty() => Err(RunnerError::InvalidRunner(
                "the first element of command (the program) must not be empty".into(),
            )),
            Some(_) => super::validate_env_names(self.env.keys()),
        }
    }

    fn argv(&self, invocation: &KongInvocation) -> Vec<String> {
        match self.env_transport {
            EnvTransport::Process => self.plain_argv(invocation),
            EnvTransport::Stdin => self.prologue_argv(invocation),
        }
    }

    fn plain_argv(&self, invocation: &KongInvocation) -> Vec<String> {
        self.argv_prefix
            .iter()
            .chain(&invocation.args)
            .cloned()
            .collect()
    }

    /// `<boundary...> sh -c <prologue> kong-runner <kong> <args...>`, the
    /// boundary being every argv element but the last.
    fn prologue_argv(&self, invocation: &KongInvocation) -> Vec<String> {
        let Some((kong, boundary)) = self.argv_prefix.split_last() else {
            return self.plain_argv(invocation);
        };
        let far_side = env_stdin::wrapped(std::iter::once(kong).chain(&invocation.args).cloned());
        let quote = boundary
            .first()
            .is_some_and(|program| joins_words_for_a_shell(program));
        boundary
            .iter()
            .cloned()
            .chain(
                far_side
                    .into_iter()
                    .map(|w| if quote { shell_quote(&w) } else { w }),
            )
            .collect()
    }

    /// The local process's environment: with the stdin transport nothing
    /// is added (it would not cross the boundary anyway).
    fn process_env(&self, invocation: &KongInvocation) -> Vec<(String, String)> {
        if self.env_transport == EnvTransport::Stdin {
            return Vec::new();
        }
        self.env
            .iter()
            .chain(&invocation.env)
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(
                invocation
                    .secret_env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose().to_owned())),
            )
            .collect()
    }

    fn stdin(&self, invocation: &KongInvocation) -> Result<Option<Vec<u8>>, RunnerError> {
        match self.env_transport {
            EnvTransport::Process => Ok(None),
            EnvTransport::Stdin => env_stdin::env_block(&self.env, invocation).map(Some),
        }
    }

    fn display(&self, invocation: &KongInvocation) -> String {
        display_command_line(
            &invocation.env,
            &invocation.secret_env,
            &self.argv(invocation),
        )
    }
}

impl Runner for CommandRunner {
    fn run<'a>(
        &'a self,
        invocation: &'a KongInvocation,
        cancel: &'a CancellationToken,
        on_line: &'a mut (dyn FnMut(Stream, &str) + Send),
    ) -> BoxFuture<'a, Result<RunOutput, RunnerError>> {
        Box::pin(async move {
            self.validate()?;
            super::validate_env_names(invocation.env.keys().chain(invocation.secret_env.keys()))?;
            let stdin = self.stdin(invocation)?;
            let redact = |text: &str| invocation.redact(text);
            let spec = ProcessSpec {
                argv: self.argv(invocation),
                env: self.process_env(invocation),
                working_dir: self.working_dir.as_deref(),
                display: self.display(invocation),
                redact: &redact,
                stdin,
                timeout: invocation.timeout,
            };
            execute(spec, cancel, on_line).await
        })
    }

    fn describe(&self) -> String {
        format!(
            "command runner `{}`",
            display_command_line(&BTreeMap::new(), &BTreeMap::new(), &self.argv_prefix)
        )
    }
}

/// `ssh` joins the words after the host into one command line for the
/// remote login shell, so the words the stdin transport adds must be
/// shell-quoted for it; `kubectl exec`, `docker exec`, `env` and `sudo`
/// pass them on verbatim.
fn joins_words_for_a_shell(program: &str) -> bool {
    Path::new(program)
        .file_name()
        .is_some_and(|name| name == "ssh")
}
