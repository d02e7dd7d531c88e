//! The `ssh` runner: the same `kong` argv, run on another machine with the
//! system OpenSSH client.
//!
//! - The private key goes to a 0600 file in a private temp dir, removed
//!   after the run; the host key is pinned through a one-line known_hosts
//!   file and `StrictHostKeyChecking=yes` (`HostKeyAlias` makes the pin
//!   independent of how the host is spelled and of the port).
//! - Environment values, secrets included, travel over stdin to the
//!   `sh -c` prologue of [`super::env_stdin`], which exports them and then
//!   runs the command: no value appears in any argv, local or remote.
//! - The prologue keeps watching stdin: when the SSH connection goes away
//!   (timeout, cancellation), it stops the remote command's whole process
//!   group instead of leaving it running.
//! - `ssh` is read with `-F /dev/null`: the user's ssh_config (ProxyJump,
//!   ControlMaster...) does not apply, so runs are reproducible.

use super::env_stdin;
use super::error::RunnerError;
use super::invocation::{display_command_line, shell_quote, KongInvocation};
use super::output::{RunOutput, Stream};
use super::process::{execute, ProcessSpec};
use super::Runner;
use crate::migrations::Secret;
use base64::Engine as _;
use futures::future::BoxFuture;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Default for [`SshRunner::connect_timeout`].
pub const DEFAULT_SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The alias the pinned key is filed under in the temporary known_hosts.
const HOST_KEY_ALIAS: &str = "kong-runner-pinned-host";

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A pinned SSH host public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyPin {
    key_type: String,
    key_base64: String,
}

impl HostKeyPin {
    /// Accepts a public key line (`ssh-ed25519 AAAA... comment`, as in
    /// `/etc/ssh/ssh_host_ed25519_key.pub`) or a known_hosts line
    /// (`host ssh-ed25519 AAAA...`, `[host]:2222 ssh-ed25519 AAAA...`).
    pub fn parse(line: &str) -> Result<Self, RunnerError> {
        let invalid = |why: &str| RunnerError::InvalidRunner(format!("host_key: {why}"));
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.first().is_some_and(|t| t.starts_with('@')) {
            return Err(invalid(
                "markers such as @cert-authority are not supported; pin the host's own key",
            ));
        }
        let at = tokens
            .iter()
            .position(|t| KEY_TYPES.contains(t))
            .ok_or_else(|| invalid("expected a line like \"ssh-ed25519 AAAA...\" (a public key or a known_hosts line)"))?;
        let key_type = tokens[at];
        let key_base64 = tokens
            .get(at + 1)
            .ok_or_else(|| invalid("the key data after the key type is missing"))?;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(key_base64)
            .map_err(|_| invalid("the key data is not base64"))?;
        if blob_key_type(&blob) != Some(key_type) {
            return Err(invalid("the key data does not match its key type"));
        }
        Ok(HostKeyPin {
            key_type: key_type.to_owned(),
            key_base64: (*key_base64).to_owned(),
        })
    }

    /// OpenSSH's fingerprint: `SHA256:` and unpadded base64 of the digest.
    pub fn fingerprint(&self) -> String {
        let blob = base64::engine::general_purpose::STANDARD
            .decode(&self.key_base64)
            .unwrap_or_default();
        let digest = sha2::Sha256::digest(&blob);
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        )
    }

    pub fn key_type(&self) -> &str {
        &self.key_type
    }

    /// What the server must sign with so that it presents this key.
    /// RSA keys sign with SHA-2 (`ssh-rsa` signatures are SHA-1, refused
    /// by OpenSSH since 8.8).
    fn signature_algorithms(&self) -> &str {
        match self.key_type.as_str() {
            "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256",
            other => other,
        }
    }

    fn known_hosts_line(&self) -> String {
        format!("{HOST_KEY_ALIAS} {} {}\n", self.key_type, self.key_base64)
    }
}

/// The key type recorded inside an SSH public key blob.
fn blob_key_type(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4 + len)?).ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshRunner {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// OpenSSH or PEM private key, unencrypted.
    pub private_key_pem: Secret,
    pub host_key: HostKeyPin,
    /// The remote program and its first arguments, e.g. `["kong"]` or
    /// `["sudo", "-n", "/usr/local/bin/kong"]`.
    pub argv_prefix: Vec<String>,
    /// Extra environment for the remote command (not secret).
    pub env: BTreeMap<String, String>,
    /// The local OpenSSH client.
    pub ssh_program: PathBuf,
    pub connect_timeout: Duration,
}

impl SshRunner {
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        private_key_pem: Secret,
        host_key: HostKeyPin,
        argv_prefix: Vec<String>,
    ) -> Self {
        SshRunner {
            host: host.into(),
            port,
            user: user.into(),
            private_key_pem,
            host_key,
            argv_prefix,
            env: BTreeMap::new(),
            ssh_program: PathBuf::from("ssh"),
            connect_timeout: DEFAULT_SSH_CONNECT_TIMEOUT,
        }
    }

    /// Checks the settings without connecting (plan time).
    pub fn validate(&self) -> Result<(), RunnerError> {
        let invalid = |why: &str| Err(RunnerError::InvalidRunner(why.to_owned()));
        if self.host.trim().is_empty() || self.host.starts_with('-') {
            return invalid("ssh host must be a host name or address");
        }
        if self.user.trim().is_empty() || self.user.starts_with('-') || self.user.contains('@') {
            return invalid("ssh user must be a plain user name");
        }
        if self.port == 0 {
            return invalid("ssh port must be between 1 and 65535");
        }
        if !self.private_key_pem.expose().contains("PRIVATE KEY-----") {
            return invalid("ssh private_key must be an unencrypted OpenSSH or PEM private key");
        }
        if self.argv_prefix.first().is_none_or(|p| p.trim().is_empty()) {
            return invalid("the remote command must not be empty");
        }
        super::validate_env_names(self.env.keys())
    }

    fn ssh_argv(&self, dir: &Path, remote_command: String) -> Vec<String> {
        let opt = |o: String| ["-o".to_owned(), o];
        let mut argv = vec![
            self.ssh_program.display().to_string(),
            "-F".to_owned(),
            crate::platform::NULL_DEVICE.to_owned(),
        ];
        for o in [
            "BatchMode=yes".to_owned(),
            "StrictHostKeyChecking=yes".to_owned(),
            format!("UserKnownHostsFile={}", dir.join("known_hosts").display()),
            format!("GlobalKnownHostsFile={}", crate::platform::NULL_DEVICE),
            format!("HostKeyAlias={HOST_KEY_ALIAS}"),
            "CheckHostIP=no".to_owned(),
            "UpdateHostKeys=no".to_owned(),
            format!("HostKeyAlgorithms={}", self.host_key.signature_algorithms()),
            format!("IdentityFile={}", dir.join("id").display()),
            "IdentitiesOnly=yes".to_owned(),
            "IdentityAgent=none".to_owned(),
            "PasswordAuthentication=no".to_owned(),
            "KbdInteractiveAuthentication=no".to_owned(),
            format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1)),
            "ServerAliveInterval=15".to_owned(),
            "ServerAliveCountMax=4".to_owned(),
            "LogLevel=ERROR".to_owned(),
        ] {
            argv.extend(opt(o));
        }
        argv.extend([
            "-p".to_owned(),
            self.port.to_string(),
            "-l".to_owned(),
            self.user.clone(),
            "--".to_owned(),
            self.host.clone(),
            remote_command,
        ]);
        argv
    }

    /// `sh -c '<prologue>' kong-runner <argv...>`, each word shell-quoted
    /// for the remote login shell.
    fn remote_command(&self, invocation: &KongInvocation) -> String {
        env_stdin::wrapped(self.argv_prefix.iter().chain(&invocation.args).cloned())
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn display(&self, invocation: &KongInvocation) -> String {
        let argv: Vec<String> = [
            "ssh".to_owned(),
            "-p".to_owned(),
            self.port.to_string(),
            format!("{}@{}", self.user, self.host),
            "--".to_owned(),
        ]
        .into_iter()
        .chain(self.argv_prefix.iter().cloned())
        .chain(invocation.args.iter().cloned())
        .collect();
        let env = self
            .env
            .iter()
            .chain(&invocation.env)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        display_command_line(&env, &invocation.secret_env, &argv)
    }

    /// Private temp dir with the key (0600) and the pinned known_hosts.
    fn credentials_dir(&self) -> Result<tempfile::TempDir, RunnerError> {
        let io = |e: std::io::Error| RunnerError::Spawn {
            command_line: format!("ssh {}@{}", self.user, self.host),
            detail: format!("cannot write the temporary SSH credentials: {e}"),
        };
        let dir = tempfile::Builder::new()
            .prefix("kong-ssh-")
            .tempdir()
            .map_err(io)?;
        let mut key = self.private_key_pem.expose().to_owned();
        if !key.ends_with('\n') {
            // OpenSSH rejects a key file without its final newline.
            key.push('\n');
        }
        write_private(&dir.path().join("id"), key.as_bytes()).map_err(io)?;
        write_private(
            &dir.path().join("known_hosts"),
            self.host_key.known_hosts_line().as_bytes(),
        )
        .map_err(io)?;
        Ok(dir)
    }

    /// ssh itself failed (exit 255 plus its own message) → a typed error.
    fn ssh_failure(&self, output: &RunOutput) -> Option<RunnerError> {
        if output.exit_code != 255 {
            return None;
        }
        let stderr = output.stderr();
        let detail = || {
            stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.starts_with("@@@"))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        if stderr.contains("Host key verification failed")
            || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("host key is known for")
        {
            let expected = self.host_key.fingerprint();
            let presented = stderr
                .split(|c: char| c.is_whitespace() || c == '.')
                .find(|w| w.starts_with("SHA256:") && *w != expected)
                .map(str::to_owned);
            return Some(RunnerError::SshHostKeyMismatch {
                host: self.host.clone(),
                port: self.port,
                expected_fingerprint: expected,
                presented_fingerprint: presented,
            });
        }
        if stderr.contains("Permission denied") {
            return Some(RunnerError::SshAuthenticationFailed {
                user: self.user.clone(),
                host: self.host.clone(),
                port: self.port,
                detail: detail(),
            });
        }
        if stderr.contains("Load key") || stderr.contains("invalid format") {
            return Some(RunnerError::InvalidRunner(format!(
                "ssh could not load the private key: {}",
                detail()
            )));
        }
        let unreachable = [
            "Connection refused",
            "Connection timed out",
            "timed out",
            "Could not resolve hostname",
            "No route to host",
            "Network is unreachable",
            "Connection closed by",
            "Connection reset by",
            "kex_exchange_identification",
        ];
        if unreachable.iter().any(|m| stderr.contains(m)) {
            return Some(RunnerError::SshUnreachable {
                host: self.host.clone(),
                port: self.port,
                detail: detail(),
            });
        }
        None
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    crate::platform::create_private_file(path)?.write_all(data)
}

impl Runner for SshRunner {
    fn run<'a>(
        &'a self,
        invocation: &'a KongInvocation,
        cancel: &'a CancellationToken,
        on_line: &'a mut (dyn FnMut(Stream, &str) + Send),
    ) -> BoxFuture<'a, Result<RunOutput, RunnerError>> {
        Box::pin(async move {
            self.validate()?;
            super::validate_env_names(invocation.env.keys().chain(invocation.secret_env.keys()))?;
            let stdin = env_stdin::env_block(&self.env, invocation)?;
            let dir = self.credentials_dir()?;
            let redact = |text: &str| self.private_key_pem.redact_in(&invocation.redact(text));
            let spec = ProcessSpec {
                argv: self.ssh_argv(dir.path(), self.remote_command(invocation)),
                env: Vec::new(),
                working_dir: None,
                display: self.display(invocation),
                redact: &redact,
                stdin: Some(stdin),
                timeout: invocation.timeout,
            };
            let output = execute(spec, cancel, on_line).await?;
            drop(dir);
            match self.ssh_failure(&output) {
                Some(error) => Err(error),
                None => Ok(output),
            }
        })
    }

    fn describe(&self) -> String {
        format!(
            "ssh runner {}@{}:{} (host key {})",
            self.user,
            self.host,
            self.port,
            self.host_key.fingerprint()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@host";

    #[test]
    fn pins_parse_from_public_key_and_known_hosts_lines() {
        let from_pub = HostKeyPin::parse(ED25519).unwrap();
        let from_known = HostKeyPin::parse(&format!("[10.0.0.1]:2222 {ED25519}")).unwrap();
        assert_eq!(from_pub, from_known);
        assert_eq!(from_pub.key_type(), "ssh-ed25519");
        assert!(from_pub.fingerprint().starts_with("SHA256:"));
        assert_eq!(from_pub.fingerprint().len(), "SHA256:".len() + 43);
    }

    #[test]
    fn pins_reject_garbage_and_mismatched_types() {
        assert!(HostKeyPin::parse("").is_err());
        assert!(HostKeyPin::parse("ssh-ed25519 !!!").is_err());
        let rsa_labelled = ED25519.replace("ssh-ed25519 ", "ssh-rsa ");
        assert!(HostKeyPin::parse(&rsa_labelled).is_err());
        assert!(HostKeyPin::parse(&format!("@cert-authority * {ED25519}")).is_err());
    }

    #[test]
    fn secrets_travel_in_the_stdin_block_not_in_the_remote_command() {
        let mut runner = SshRunner::new(
            "db",
            22,
            "kong",
            Secret::new(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----",
            ),
            HostKeyPin::parse(ED25519).unwrap(),
            vec!["kong".into()],
        );
        runner.env.insert("KONG_PREFIX".into(), "/tmp/k y".into());
        let mut inv = KongInvocation::new(vec!["migrations".into(), "up".into()]);
        inv.secret_env
            .insert("KONG_PG_PASSWORD".into(), Secret::new("pa55-word"));
        let command = runner.remote_command(&inv);
        assert!(!command.contains("pa55-word"));
        assert!(
            command.ends_with("kong-runner kong migrations up"),
            "{command}"
        );
        let block = String::from_utf8(env_stdin::env_block(&runner.env, &inv).unwrap()).unwrap();
        assert_eq!(
            block,
            "KONG_PG_PASSWORD=pa55-word\nKONG_PREFIX=/tmp/k y\n\n"
        );
        let argv = runner.ssh_argv(Path::new("/tmp/x"), command);
        assert!(argv.iter().all(|a| !a.contains("pa55-word")));
        assert!(runner
            .display(&inv)
            .contains("KONG_PG_PASSWORD=(sensitive)"));
        inv.secret_env
            .insert("KONG_PG_PASSWORD".into(), Secret::new("two\nlines"));
        assert!(env_stdin::env_block(&runner.env, &inv).is_err());
    }
}
