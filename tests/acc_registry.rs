//! Acceptance: `make release`'s output, signed with a throwaway RSA key, is
//! installed by real `terraform init` through the provider registry protocol
//! (https://developer.hashicorp.com/terraform/internals/provider-registry-protocol)
//! and through the provider network mirror protocol
//! (https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol),
//! each served over HTTPS on 127.0.0.1 with a throwaway CA; and a zip with
//! one byte changed, or a signature made by another key, makes init fail.
//!
//! One release and one server for every case and core: the release is the
//! slow part. The registry serves three namespaces (`good`, `tampered`,
//! `wrongkey`) under `localhost:PORT`, the mirror two base URLs.

mod support;

use std::path::Path;
use std::process::Command;
use support::{TerraformVersion, TfOutput, Workspace};
use testbed::https_files::HttpsFileServer;

const VERSION: &str = testbed::terraform::PROVIDER_VERSION;
const PREFIX: &str = "terraform-provider-kong_0.1.0";
const PLATFORM: (&str, &str) = ("linux", "amd64");

/// A GNUPGHOME of its own; its gpg-agent is stopped on drop.
struct Keyring {
    home: tempfile::TempDir,
}

impl Keyring {
    fn new() -> Keyring {
        // Short path: gpg-agent's socket lives in it.
        let home = tempfile::Builder::new().prefix("gpg-").tempdir().unwrap();
        Keyring { home }
    }

    fn gpg(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg runs (scripts/install-deps.sh installs gnupg)");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A new RSA signing key; its fingerprint.
    fn generate_rsa_key(&self, name: &str) -> String {
        self.generate_key(name, "rsa2048")
    }

    /// A new signing key of `algorithm` (gpg's name); its fingerprint.
    fn generate_key(&self, name: &str, algorithm: &str) -> String {
        let uid = format!("{name} <{name}@example.invalid>");
        self.gpg(&["--quick-gen-key", &uid, algorithm, "sign", "never"]);
        let listing = self.gpg(&["--with-colons", "--list-secret-keys", &uid]);
        String::from_utf8_lossy(&listing.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| !f.is_empty()))
            .expect("gpg lists the new key's fingerprint")
            .to_owned()
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

/// `scripts/release.sh` with the provider under test (debug info dropped,
/// no release build) into `dist`, signed with `fingerprint` when given.
fn run_release(keyring: &Keyring, fingerprint: Option<&str>, dist: &Path) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = testbed::terraform::without_debug_info(&support::provider_binary());
    let mut command = Command::new(root.join("scripts/release.sh"));
    command
        .env("GNUPGHOME", keyring.home.path())
        .env("DIST_DIR", dist)
        .env("PROVIDER_BINARY", &binary)
        .env_remove("UNSIGNED")
        .env_remove("GPG_FINGERPRINT");
    if let Some(fingerprint) = fingerprint {
        command.env("GPG_FINGERPRINT", fingerprint);
    }
    command.output().unwrap()
}

fn make_release(keyring: &Keyring, fingerprint: &str, dist: &Path) {
    let out = run_release(keyring, Some(fingerprint), dist);
    assert!(
        out.status.success(),
        "scripts/release.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(dist: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dist.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn zip_name() -> String {
    format!("{PREFIX}_{}_{}.zip", PLATFORM.0, PLATFORM.1)
}

/// The same bytes with one changed, mid-file (inside the compressed binary).
fn one_byte_changed(mut bytes: Vec<u8>) -> Vec<u8> {
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    bytes
}

/// Publishes the release under registry namespace `namespace`: service
/// discovery, versions, and the download document pointing at `zip`,
/// SHA256SUMS, `signature` and the release's public key.
fn publish_in_registry(
    server: &HttpsFileServer,
    namespace: &str,
    dist: &Path,
    zip: &[u8],
    signature: &[u8],
    key_id: &str,
) {
    let base = server.base_url();
    let files = format!("/files/{namespace}");
    let (os, arch) = PLATFORM;
    server
        .put(
            "/.well-known/terraform.json",
            br#"{"providers.v1": "/v1/providers/"}"#,
        )
        .unwrap();
    let versions = serde_json::json!({"versions": [{
        "version": VERSION, "protocols": ["6.0"], "platforms": [{"os": os, "arch": arch}],
    }]});
    server
        .put(
            &format!("/v1/providers/{namespace}/kong/versions"),
            versions.to_string().as_bytes(),
        )
        .unwrap();
    let armor = String::from_utf8(read(dist, &format!("{PREFIX}_signing-key.asc"))).unwrap();
    // The download document names the zip's own hash: a registry that
    // lies consistently is caught by the signed SHA256SUMS alone.
    let shasum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(zip));
    let download = serde_json::json!({
        "protocols": ["6.0"], "os": os, "arch": arch,
        "filename": zip_name(),
        "download_url": format!("{base}{files}/{}", zip_name()),
        "shasums_url": format!("{base}{files}/{PREFIX}_SHA256SUMS"),
        "shasums_signature_url": format!("{base}{files}/{PREFIX}_SHA256SUMS.sig"),
        "shasum": shasum,
        "signing_keys": {"gpg_public_keys": [{"key_id": key_id, "ascii_armor": armor}]},
    });
    server
        .put(
            &format!("/v1/providers/{namespace}/kong/{VERSION}/download/{os}/{arch}"),
            download.to_string().as_bytes(),
        )
        .unwrap();
    let sums = format!("{PREFIX}_SHA256SUMS");
    server
        .put(&format!("{files}/{sums}"), &read(dist, &sums))
        .unwrap();
    server
        .put(&format!("{files}/{sums}.sig"), signature)
        .unwrap();
    server.put(&format!("{files}/{}", zip_name()), zip).unwrap();
}

/// The zip's hash as SHA256SUMS lists it.
fn sha256_of_zip_in_sums(dist: &Path) -> String {
    let sums = String::from_utf8(read(dist, &format!("{PREFIX}_SHA256SUMS"))).unwrap();
    sums.lines()
        .find(|l| l.ends_with(&zip_name()))
        .and_then(|l| l.split_whitespace().next())
        .expect("SHA256SUMS lists the zip")
        .to_owned()
}

/// Publishes `make release`'s network mirror directory under `/{base}/`,
/// with `zip` in place of the packaged one.
fn publish_mirror(server: &HttpsFileServer, base: &str, dist: &Path, zip: &[u8]) {
    let dir = dist.join("mirror/registry.terraform.io/kong-upgrades/kong");
    for name in ["index.json", &format!("{VERSION}.json")] {
        server
            .put(
                &format!("/{base}/registry.terraform.io/kong-upgrades/kong/{name}"),
                &std::fs::read(dir.join(name)).unwrap(),
            )
            .unwrap();
    }
    server
        .put(
            &format!(
                "/{base}/registry.terraform.io/kong-upgrades/kong/{}",
                zip_name()
            ),
            zip,
        )
        .unwrap();
}

/// A workspace whose Terraform trusts the server's CA and installs
/// providers as `cli_config` says, with a configuration requiring `source`.
fn installing_workspace(
    version: TerraformVersion,
    server: &HttpsFileServer,
    cli_config: &str,
    source: &str,
) -> Workspace {
    let mut ws = Workspace::without_provider(version).unwrap();
    ws.write_file("terraformrc", cli_config).unwrap();
    let rc = ws.dir().join("terraformrc").to_string_lossy().into_owned();
    ws.set_env("TF_CLI_CONFIG_FILE", &rc);
    ws.set_env("SSL_CERT_FILE", &server.ca_file().to_string_lossy());
    ws.write_config(&format!(
        "terraform {{\n  required_providers {{\n    kong = {{\n      source  = \"{source}\"\n      version = \"{VERSION}\"\n    }}\n  }}\n}}\n"
    ))
    .unwrap();
    ws
}

fn init(ws: &Workspace) -> TfOutput {
    ws.run(&["init", "-input=false", "-no-color"]).unwrap()
}

fn lock_file(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.dir().join(".terraform.lock.hcl")).unwrap_or_default()
}

/// Init succeeded, wrote the lock file with `hash` (a prefix of one) for
/// `source`, and the provider runs.
fn assert_installed(ws: &Workspace, out: &TfOutput, source: &str, hash: &str) {
    assert!(out.success(), "init of {source} failed:\n{out}");
    let lock = lock_file(ws);
    assert!(
        lock.contains(&format!("provider \"{source}\"")) && lock.contains(&format!("\"{hash}")),
        "the lock file lacks {source} with {hash}:\n{lock}"
    );
    let schema = ws.providers_schema_json().unwrap();
    assert!(
        schema["provider_schemas"][source]["resource_schemas"]["kong_upgrade"].is_object(),
        "the installed provider does not serve its schema"
    );
}

/// Init failed with `expected` in its diagnostics (Terraform wraps them, so
/// whitespace is compared loosely) and locked nothing.
fn assert_refused(ws: &Workspace, out: &TfOutput, case: &str, expected: &str) {
    assert!(!out.success(), "{case}: init succeeded:\n{out}");
    eprintln!(
        "{case}, as refused by Terraform {}:\n{}",
        ws.version(),
        out.stderr.trim()
    );
    let diagnostics = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        diagnostics.contains(expected),
        "{case}: expected {expected:?} in the diagnostics:\n{out}"
    );
    assert!(
        !lock_file(ws).contains("kong"),
        "{case}: a refused package reached the lock file"
    );
}

#[test]
fn release_refuses_to_run_unsigned_or_with_a_key_terraform_1_0_cannot_verify() {
    let keyring = Keyring::new();
    let ed25519 = keyring.generate_key("modern", "ed25519");
    let dist_dir = tempfile::tempdir().unwrap();
    for (fingerprint, expected) in [
        (None, "GPG_FINGERPRINT is not set"),
        (Some(ed25519.as_str()), "is not RSA (OpenPGP algorithm 22)"),
        (Some("0123456789ABCDEF"), "no secret key 0123456789ABCDEF"),
    ] {
        let out = run_release(&keyring, fingerprint, dist_dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "{fingerprint:?}: expected a refusal with {expected:?}:\n{stderr}"
        );
        assert!(
            std::fs::read_dir(dist_dir.path()).unwrap().next().is_none(),
            "{fingerprint:?}: a refused release left files behind"
        );
    }
}

#[test]
fn the_signed_release_installs_through_a_registry_and_a_mirror_and_tampering_is_refused() {
    let keyring = Keyring::new();
    let release_key = keyring.generate_rsa_key("release");
    let other_key = keyring.generate_rsa_key("intruder");
    let key_id = &release_key[release_key.len() - 16..];
    let dist_dir = tempfile::tempdir().unwrap();
    let dist = dist_dir.path();
    make_release(&keyring, &release_key, dist);

    let sums = dist.join(format!("{PREFIX}_SHA256SUMS"));
    let other_signature = dist.join("other.sig");
    keyring.gpg(&[
        "--local-user",
        &other_key,
        "--detach-sign",
        "--output",
        &other_signature.to_string_lossy(),
        &sums.to_string_lossy(),
    ]);

    let zip = read(dist, &zip_name());
    let tampered = one_byte_changed(zip.clone());
    let signature = read(dist, &format!("{PREFIX}_SHA256SUMS.sig"));
    let server = HttpsFileServer::start().unwrap();
    publish_in_registry(&server, "good", dist, &zip, &signature, key_id);
    publish_in_registry(&server, "tampered", dist, &tampered, &signature, key_id);
    publish_in_registry(
        &server,
        "wrongkey",
        dist,
        &zip,
        &std::fs::read(&other_signature).unwrap(),
        key_id,
    );
    publish_mirror(&server, "mirror-good", dist, &zip);
    publish_mirror(&server, "mirror-tampered", dist, &tampered);
    let zip_sha256 = sha256_of_zip_in_sums(dist);

    let direct = "disable_checkpoint = true\n";
    let mirror = |base: &str| {
        format!(
            "disable_checkpoint = true\nprovider_installation {{\n  network_mirror {{\n    url = \"{}/{base}/\"\n  }}\n}}\n",
            server.base_url()
        )
    };
    let host = format!("localhost:{}", server.port);
    for version in support::versions() {
        let source = format!("{host}/good/kong");
        let ws = installing_workspace(version, &server, direct, &source);
        server.take_requests();
        let out = init(&ws);
        // The signed SHA256SUMS vouches for the zip: its hash is locked.
        assert_installed(&ws, &out, &source, &format!("zh:{zip_sha256}"));
        assert!(
            out.stdout.contains(&format!("key ID {key_id}")),
            "{version}: init does not name the release key:\n{out}"
        );
        let requested = server.take_requests();
        assert!(
            requested
                .iter()
                .any(|p| p == &format!("/files/good/{PREFIX}_SHA256SUMS.sig")),
            "{version}: the signature was never fetched: {requested:?}"
        );

        let ws = installing_workspace(version, &server, direct, &format!("{host}/tampered/kong"));
        let out = init(&ws);
        // The registry's download document vouches for the changed zip;
        // only the signed SHA256SUMS does not.
        assert_refused(
            &ws,
            &out,
            "a zip with one byte changed",
            "checksum list has unexpected SHA-256 hash",
        );

        let ws = installing_workspace(version, &server, direct, &format!("{host}/wrongkey/kong"));
        let out = init(&ws);
        assert_refused(
            &ws,
            &out,
            "a signature by another key",
            "authentication signature from unknown issuer",
        );

        let source = "registry.terraform.io/kong-upgrades/kong";
        let ws = installing_workspace(version, &server, &mirror("mirror-good"), source);
        let out = init(&ws);
        // A mirror is not a signer: Terraform locks only the hash of what
        // it unpacked, after checking the zip against the mirror's zh:.
        assert_installed(&ws, &out, source, "h1:");

        let ws = installing_workspace(version, &server, &mirror("mirror-tampered"), source);
        let out = init(&ws);
        assert_refused(
            &ws,
            &out,
            "a mirrored zip with one byte changed",
            "provider package doesn't match the expected checksum",
        );
    }
}
