//! A throwaway OpenSSH server (Debian's `/usr/sbin/sshd`) on a free
//! loopback port: a fresh ed25519 host key, one authorized client key made
//! for this server only, public-key logins for the current user and
//! nothing else. Runs in the foreground (`-D -e`) and stops on drop.

use crate::process::{find_program, free_port, wait_for_tcp};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Sshd {
    pub port: u16,
    /// The user tests log in as (the one running the tests).
    pub user: String,
    /// OpenSSH private key accepted for [`Sshd::user`].
    pub client_private_key_pem: String,
    /// `ssh-ed25519 AAAA...`: the server's host key, for pinning.
    pub host_public_key: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Sshd {
    pub fn start() -> Result<Self, String> {
        let sshd = find_program("sshd", &["/usr/sbin"])
            .ok_or("sshd not found: install Debian's openssh-server package")?;
        let dir = tempfile::Builder::new()
            .prefix("kong-sshd-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let (_, host_public_key) = keygen(dir.path(), "host_ed25519")?;
        let (client_private_key_pem, client_public_key) = keygen(dir.path(), "client_ed25519")?;
        std::fs::write(
            dir.path().join("authorized_keys"),
            format!("{client_public_key}\n"),
        )
        .map_err(|e| e.to_string())?;
        let user = current_user()?;
        let port = free_port();
        let config = render_config(dir.path(), port, &user);
        let config_path = dir.path().join("sshd_config");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        ensure_privilege_separation_dir()?;
        let log = std::fs::File::create(dir.path().join("sshd.log")).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        // sshd insists on being started by its absolute path.
        let child = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("sshd: {e}"))?;
        let server = Sshd {
            port,
            user,
            client_private_key_pem,
            host_public_key,
            dir,
            child,
        };
        wait_for_tcp(port, Duration::from_secs(10))
            .map_err(|e| format!("{e}; sshd log:\n{}", server.log()))?;
        Ok(server)
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh ed25519 key pair, unrelated to any server: (private key in
/// OpenSSH PEM form, public key line). Useful as a wrong host key.
pub fn generate_ed25519_keypair() -> Result<(String, String), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    keygen(dir.path(), "key")
}

fn keygen(dir: &Path, name: &str) -> Result<(String, String), String> {
    let keygen = find_program("ssh-keygen", &["/usr/bin"])
        .ok_or("ssh-keygen not found: install openssh-client")?;
    let path = dir.join(name);
    let out = Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "testbed", "-f"])
        .arg(&path)
        .output()
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let private = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let public = std::fs::read_to_string(path.with_extension("pub")).map_err(|e| e.to_string())?;
    Ok((private, public.trim().to_owned()))
}

fn render_config(dir: &Path, port: u16, user: &str) -> String {
    let d = dir.display();
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_ed25519\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         StrictModes no\n\
         UsePAM no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         AllowUsers {user}\n\
         MaxStartups 50\n\
         LogLevel VERBOSE\n"
    )
}

fn current_user() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("id: {e}"))?;
    let user = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if user.is_empty() {
        Err("cannot tell the current user name".into())
    } else {
        Ok(user)
    }
}

/// Debian's sshd refuses to start without `/run/sshd` (created by the
/// service unit, which tests do not run).
fn ensure_privilege_separation_dir() -> Result<(), String> {
    let dir = Path::new("/run/sshd");
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create /run/sshd for sshd: {e}"))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_client_key_with_the_pinned_host_key() {
        let sshd = Sshd::start().expect("sshd starts");
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        std::fs::write(&key, &sshd.client_private_key_pem).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let known = dir.path().join("known_hosts");
        std::fs::write(
            &known,
            format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_public_key),
        )
        .unwrap();
        let out = Command::new("ssh")
            .args([
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .arg("-i")
            .arg(&key)
            .args([
                "-p",
                &sshd.port.to_string(),
                "-l",
                &sshd.user,
                "127.0.0.1",
                "echo",
                "hello-from-sshd",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh failed: {}\nsshd log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            sshd.log()
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "hello-from-sshd"
        );
    }
}
