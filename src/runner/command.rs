//! The `command` runner: an argv prefix run on the machine running
//! Terraform, e.g. `["kubectl","exec","deploy/kong-y","--","kong"]`.

use super::error::RunnerError;
use super::invocation::{display_command_line, KongInvocation};
use super::output::{RunOutput, Stream};
use super::process::{execute, ProcessSpec};
use super::Runner;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRunner {
    /// The program and its first arguments; Kong's arguments follow.
    pub argv_prefix: Vec<String>,
    /// Extra environment (not secret); the invocation's wins on conflict.
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<PathBuf>,
}

impl CommandRunner {
    pub fn new(argv_prefix: Vec<String>) -> Self {
        CommandRunner {
            argv_prefix,
            env: BTreeMap::new(),
            working_dir: None,
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
        self.argv_prefix
            .iter()
            .chain(&invocation.args)
            .cloned()
            .collect()
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
            let env = self
                .env
                .iter()
                .chain(&invocation.env)
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain(
                    invocation
                        .secret_env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_owned())),
                )
                .collect();
            let redact = |text: &str| invocation.redact(text);
            let spec = ProcessSpec {
                argv: self.argv(invocation),
                env,
                working_dir: self.working_dir.as_deref(),
                display: self.display(invocation),
                redact: &redact,
                stdin: None,
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
