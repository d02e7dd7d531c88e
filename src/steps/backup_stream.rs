//! Backups that outlive the machine running Terraform: the `pg_dump`
//! stream goes straight into an upload command's stdin (never to a local
//! file), and a restore streams a download command's stdout into an
//! owner-only temporary file (deleted afterwards), checks its size and
//! sha256 against what the upload recorded and reads its table of contents
//! (`pg_restore --list`), and only then touches the new database. Both
//! commands get `KONG_BACKUP_NAME`; every child runs in its own process
//! group, killed whole when its step ends or is stopped.

use super::backup::{
    dump_database, pg_env, restore_into, verify_dump, write_declarative, BackupError, BackupRecord,
};
use super::pg_tools::PgTools;
use crate::migrations::DatabaseConfig;
use crate::platform::{create_private_file, own_process_group, GroupGuard};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// What an upload recorded: enough to find the backup again and to know
/// it is the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedBackup {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Where backups are kept: a directory on the machine running Terraform,
/// or whatever an upload command stores them in (an object store, another
/// machine), fetched back by a download command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupStore {
    Directory(PathBuf),
    Commands {
        upload: Vec<String>,
        download: Option<Vec<String>>,
    },
}

/// How a backup kept through commands is recorded in `backup_location`.
const COMMAND_LOCATION_PREFIX: &str = "upload_command:";

impl StreamedBackup {
    /// `upload_command:<name> bytes=<n> sha256=<hex>`.
    pub fn location(&self) -> String {
        format!(
            "{COMMAND_LOCATION_PREFIX}{} bytes={} sha256={}",
            self.name, self.bytes, self.sha256
        )
    }

    pub fn from_location(location: &str) -> Option<StreamedBackup> {
        let mut words = location.strip_prefix(COMMAND_LOCATION_PREFIX)?.split(' ');
        let name = words.next()?.to_owned();
        let bytes = words.next()?.strip_prefix("bytes=")?.parse().ok()?;
        let sha256 = words.next()?.strip_prefix("sha256=")?.to_owned();
        Some(StreamedBackup {
            name,
            bytes,
            sha256,
        })
    }

    fn record(&self, tool: &str) -> BackupRecord {
        BackupRecord {
            location: self.location(),
            bytes: self.bytes,
            tool: tool.to_owned(),
        }
    }
}

impl BackupStore {
    /// The local directory backups are written to, if they are kept locally.
    pub fn directory(&self) -> Option<&std::path::Path> {
        match self {
            BackupStore::Directory(dir) => Some(dir),
            BackupStore::Commands { .. } => None,
        }
    }

    /// The `backup` attribute that says where backups go.
    pub fn attribute(&self) -> &'static str {
        match self {
            BackupStore::Directory(_) => "backup.directory",
            BackupStore::Commands { .. } => "backup.upload_command",
        }
    }

    /// `pg_dump` of `db`, kept as `name`.
    pub async fn dump(
        &self,
        tools: &PgTools,
        db: &DatabaseConfig,
        name: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<BackupRecord, BackupError> {
        match self {
            BackupStore::Directory(dir) => {
                dump_database(tools, db, dir, name, timeout, cancel).await
            }
            BackupStore::Commands { upload, .. } => {
                let streamed = dump_to_command(tools, db, upload, name, timeout, cancel).await?;
                Ok(streamed.record("pg_dump --format=custom | upload_command"))
            }
        }
    }

    /// A DB-less node's declarative configuration, kept as `name`.
    pub async fn keep_text(
        &self,
        name: &str,
        text: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<BackupRecord, BackupError> {
        match self {
            BackupStore::Directory(dir) => write_declarative(dir, name, text),
            BackupStore::Commands { upload, .. } => {
                let streamed = upload_bytes(upload, name, text.as_bytes(), timeout, cancel).await?;
                Ok(streamed.record("declarative config | upload_command"))
            }
        }
    }

    /// Restores the dump recorded at `location` into the new, empty
    /// database `target`.
    pub async fn restore(
        &self,
        tools: &PgTools,
        target: &DatabaseConfig,
        location: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<(), BackupError> {
        match (StreamedBackup::from_location(location), self) {
            (None, _) => restore_into(tools, target, Path::new(location), timeout, cancel).await,
            (Some(expected), BackupStore::Commands { download: Some(download), .. }) => {
                restore_from_command(tools, target, download, &expected, timeout, cancel).await
            }
            (Some(_), _) => Err(BackupError::ToolFailed {
                tool: "download_command",
                detail: format!("the backup {location} was uploaded by a command; set backup.download_command to fetch it back"),
            }),
        }
    }
}

/// `bytes` piped into `upload` as `name`.
async fn upload_bytes(
    upload: &[String],
    name: &str,
    bytes: &[u8],
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<StreamedBackup, BackupError> {
    let (mut uploader, _group) =
        spawn("upload_command", upload, backup_name_env(name), Side::Sink)?;
    let run = async {
        let err = tokio::spawn(stderr_tail(uploader.stderr.take()));
        let mut stdin = uploader
            .stdin
            .take()
            .ok_or_else(|| lost("upload_command"))?;
        let _ = stdin.write_all(bytes).await;
        drop(stdin);
        let status = uploader
            .wait()
            .await
            .map_err(|e| io("upload_command", &e))?;
        if !status.success() {
            return Err(failed(
                "upload_command",
                status,
                err.await.unwrap_or_default(),
            ));
        }
        Ok(StreamedBackup {
            name: name.to_owned(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        })
    };
    bounded("upload_command", run, timeout, cancel).await
}

/// Kept of a command's stderr for its error message.
const STDERR_TAIL_BYTES: usize = 2048;
const CHUNK: usize = 64 * 1024;

/// `pg_dump --format=custom` of `db` piped into `upload` (argv, run with
/// `KONG_BACKUP_NAME=<name>`), hashed on the way. Fails unless both exit 0.
pub async fn dump_to_command(
    tools: &PgTools,
    db: &DatabaseConfig,
    upload: &[String],
    name: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<StreamedBackup, BackupError> {
    let dump_argv = vec![
        tools.pg_dump.display().to_string(),
        "--format=custom".to_owned(),
        "--no-password".to_owned(),
    ];
    let (mut dump, _dump_group) = spawn("pg_dump", &dump_argv, pg_env(db), Side::Source)?;
    let (mut uploader, _upload_group) =
        spawn("upload_command", upload, backup_name_env(name), Side::Sink)?;
    let pipeline = async {
        let mut out = dump.stdout.take().ok_or_else(|| lost("pg_dump"))?;
        let mut into = uploader
            .stdin
            .take()
            .ok_or_else(|| lost("upload_command"))?;
        let dump_err = tokio::spawn(stderr_tail(dump.stderr.take()));
        let upload_err = tokio::spawn(stderr_tail(uploader.stderr.take()));
        let mut hasher = sha2::Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = out.read(&mut buf).await.map_err(|e| io("pg_dump", &e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
            if let Err(e) = into.write_all(&buf[..n]).await {
                // The uploader went away: its exit status and stderr say why.
                tracing::debug!(error = %e, "upload_command stopped reading");
                break;
            }
        }
        drop(into);
        let dump_status = dump.wait().await.map_err(|e| io("pg_dump", &e))?;
        let upload_status = uploader
            .wait()
            .await
            .map_err(|e| io("upload_command", &e))?;
        let redact = |text: String| db.password.redact_in(&text);
        if !dump_status.success() {
            return Err(failed(
                "pg_dump",
                dump_status,
                redact(dump_err.await.unwrap_or_default()),
            ));
        }
        if !upload_status.success() {
            return Err(failed(
                "upload_command",
                upload_status,
                redact(upload_err.await.unwrap_or_default()),
            ));
        }
        if bytes == 0 {
            return Err(BackupError::ToolFailed {
                tool: "pg_dump",
                detail: "it wrote nothing".into(),
            });
        }
        Ok(StreamedBackup {
            name: name.to_owned(),
            bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    };
    bounded("pg_dump | upload_command", pipeline, timeout, cancel).await
}

/// A downloaded archive in an owner-only temporary file, deleted on drop.
pub struct DownloadedArchive {
    path: PathBuf,
}

impl DownloadedArchive {
    /// A new, empty owner-only file in the system's temporary directory.
    fn create(name: &str) -> Result<(DownloadedArchive, std::fs::File), BackupError> {
        let unique = format!(
            "kong-backup-download-{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            name.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
                "_"
            ),
        );
        let path = std::env::temp_dir().join(unique);
        let file = create_private_file(&path).map_err(|e| io("download_command", &e))?;
        Ok((DownloadedArchive { path }, file))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DownloadedArchive {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the downloaded backup");
        }
    }
}

/// Runs `download` (with `KONG_BACKUP_NAME`), streams its stdout into a
/// temporary file while hashing it, and returns the file once its size and
/// sha256 are those `expected` recorded.
pub async fn download_checked(
    download: &[String],
    expected: &StreamedBackup,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<DownloadedArchive, BackupError> {
    let (archive, file) = DownloadedArchive::create(&expected.name)?;
    let (mut child, _group) = spawn(
        "download_command",
        download,
        backup_name_env(&expected.name),
        Side::Source,
    )?;
    let fetch = async {
        let err = tokio::spawn(stderr_tail(child.stderr.take()));
        let mut out = child
            .stdout
            .take()
            .ok_or_else(|| lost("download_command"))?;
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = sha2::Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = out
                .read(&mut buf)
                .await
                .map_err(|e| io("download_command", &e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
            file.write_all(&buf[..n])
                .await
                .map_err(|e| io("download_command", &e))?;
        }
        file.flush().await.map_err(|e| io("download_command", &e))?;
        let status = child.wait().await.map_err(|e| io("download_command", &e))?;
        if !status.success() {
            return Err(failed(
                "download_command",
                status,
                err.await.unwrap_or_default(),
            ));
        }
        Ok((bytes, hex::encode(hasher.finalize())))
    };
    let (bytes, sha256) = bounded("download_command", fetch, timeout, cancel).await?;
    if bytes != expected.bytes || sha256 != expected.sha256 {
        return Err(BackupError::ChecksumMismatch {
            name: expected.name.clone(),
            expected: format!("{} bytes, sha256 {}", expected.bytes, expected.sha256),
            got: format!("{bytes} bytes, sha256 {sha256}"),
        });
    }
    Ok(archive)
}

/// Downloads the backup, checks its size, sha256 and table of contents,
/// and only then restores it into the new, empty database `target`.
pub async fn restore_from_command(
    tools: &PgTools,
    target: &DatabaseConfig,
    download: &[String],
    expected: &StreamedBackup,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), BackupError> {
    let archive = download_checked(download, expected, timeout, cancel).await?;
    verify_dump(tools, target, archive.path(), timeout, cancel).await?;
    restore_into(tools, target, archive.path(), timeout, cancel).await
}

fn backup_name_env(name: &str) -> Vec<(String, String)> {
    vec![("KONG_BACKUP_NAME".to_owned(), name.to_owned())]
}

/// How a child's stdin and stdout are wired: the side of the stream it is.
#[derive(Clone, Copy)]
enum Side {
    /// Writes the stream to stdout (pg_dump, download_command).
    Source,
    /// Reads the stream from stdin; its stdout is not read (upload_command,
    /// pg_restore), so it goes to /dev/null rather than fill a pipe.
    Sink,
}

/// A child with stderr piped and stdin/stdout per `side`, in its own
/// process group; the guard kills the whole group when dropped (the step
/// ended, timed out or was cancelled), children of a shell script included.
fn spawn(
    tool: &'static str,
    argv: &[String],
    env: Vec<(String, String)>,
    side: Side,
) -> Result<(tokio::process::Child, GroupGuard), BackupError> {
    let (stdin, stdout) = match side {
        Side::Source => (Stdio::null(), Stdio::piped()),
        Side::Sink => (Stdio::piped(), Stdio::null()),
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(BackupError::ToolFailed {
            tool,
            detail: "the command is empty".into(),
        });
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .envs(env)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    own_process_group(&mut command);
    let child = command.spawn().map_err(|e| BackupError::ToolFailed {
        tool,
        detail: format!("cannot run {program}: {e}"),
    })?;
    let group = GroupGuard::new(child.id());
    Ok((child, group))
}

async fn bounded<T>(
    what: &'static str,
    work: impl std::future::Future<Output = Result<T, BackupError>>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<T, BackupError> {
    tokio::select! {
        done = tokio::time::timeout(timeout, work) => done.unwrap_or_else(|_| Err(BackupError::ToolFailed {
            tool: what,
            detail: format!("did not finish within {}s and was stopped", timeout.as_secs()),
        })),
        _ = cancel.cancelled() => Err(BackupError::ToolFailed {
            tool: what,
            detail: "cancelled: Terraform asked the provider to stop".into(),
        }),
    }
}

async fn stderr_tail(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let mut all = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut all).await;
    }
    let start = all.len().saturating_sub(STDERR_TAIL_BYTES);
    String::from_utf8_lossy(&all[start..]).trim().to_owned()
}

fn failed(tool: &'static str, status: std::process::ExitStatus, stderr: String) -> BackupError {
    let code = status
        .code()
        .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
    BackupError::ToolFailed {
        tool,
        detail: format!("{code}: {stderr}"),
    }
}

fn io(tool: &'static str, e: &std::io::Error) -> BackupError {
    BackupError::ToolFailed {
        tool,
        detail: e.to_string(),
    }
}

fn lost(tool: &'static str) -> BackupError {
    BackupError::ToolFailed {
        tool,
        detail: "its pipe was not available".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{Secret, SslMode};
    use testbed::postgres::KONG_PASSWORD;
    use testbed::Postgres;

    fn database(pg: &Postgres, name: &str) -> DatabaseConfig {
        let mut db = DatabaseConfig::new(
            "127.0.0.1",
            pg.port,
            "kong",
            Secret::new(KONG_PASSWORD),
            name,
        );
        db.sslmode = SslMode::Disable;
        db
    }

    #[test]
    fn a_command_backup_location_round_trips() {
        let b = StreamedBackup {
            name: "kong-kong-3.4.2-1.dump".into(),
            bytes: 42,
            sha256: "ab".repeat(32),
        };
        assert_eq!(StreamedBackup::from_location(&b.location()), Some(b));
        assert_eq!(
            StreamedBackup::from_location("/var/backups/kong.dump"),
            None
        );
    }

    /// DB-less nodes: the declarative configuration goes through the same
    /// upload command and is recorded the same way.
    #[tokio::test]
    async fn a_declarative_backup_is_uploaded_and_recorded_by_size_and_sha256() {
        let store = tempfile::tempdir().unwrap();
        let s = store.path().display();
        let commands = BackupStore::Commands {
            upload: sh(format!("cat > '{s}'/\"$KONG_BACKUP_NAME\"")),
            download: None,
        };
        let yaml = "_format_version: \"3.0\"\nservices:\n- name: orders\n";
        let record = commands
            .keep_text(
                "kong-declarative-3.4.2-1.yml",
                yaml,
                Duration::from_secs(10),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(store.path().join("kong-declarative-3.4.2-1.yml")).unwrap(),
            yaml
        );
        let recorded = StreamedBackup::from_location(&record.location).unwrap();
        assert_eq!(recorded.bytes, yaml.len() as u64);
        assert_eq!(recorded.sha256, hex::encode(sha2::Sha256::digest(yaml)));
    }

    fn sh(script: String) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script]
    }

    /// A remote store stand-in: a directory only the commands know about.
    #[tokio::test]
    async fn a_dump_streams_to_the_upload_command_and_restores_only_when_its_checksum_matches() {
        let pg = Postgres::start().unwrap();
        pg.psql("SET ROLE kong; CREATE TABLE services (name text); INSERT INTO services VALUES ('orders'), ('billing')")
            .unwrap();
        for name in ["kong_new", "kong_tampered"] {
            pg.psql_db("postgres", &format!("CREATE DATABASE {name} OWNER kong"))
                .unwrap();
        }
        let store = tempfile::tempdir().unwrap();
        let s = store.path().display();
        let upload = sh(format!("cat > '{s}'/\"$KONG_BACKUP_NAME\""));
        let download = sh(format!("cat '{s}'/\"$KONG_BACKUP_NAME\""));
        let tools = PgTools {
            pg_dump: pg.bin_dir().join("pg_dump"),
            pg_restore: pg.bin_dir().join("pg_restore"),
        };
        let (timeout, cancel) = (Duration::from_secs(60), CancellationToken::new());
        let x = database(&pg, "kong");

        let record = dump_to_command(
            &tools,
            &x,
            &upload,
            "kong-kong-3.4.2-1.dump",
            timeout,
            &cancel,
        )
        .await
        .unwrap();
        let stored = std::fs::read(store.path().join("kong-kong-3.4.2-1.dump")).unwrap();
        assert_eq!(record.bytes, stored.len() as u64);
        assert_eq!(record.sha256, hex::encode(sha2::Sha256::digest(&stored)));
        assert!(stored.starts_with(b"PGDMP"), "a custom-format archive");

        let new = database(&pg, "kong_new");
        restore_from_command(&tools, &new, &download, &record, timeout, &cancel)
            .await
            .unwrap();
        assert_eq!(
            pg.psql_db(
                "kong_new",
                "SELECT string_agg(name, ',' ORDER BY name) FROM services"
            )
            .unwrap()
            .trim(),
            "billing,orders"
        );

        let mut tampered = stored.clone();
        tampered.push(0);
        std::fs::write(store.path().join("kong-kong-3.4.2-1.dump"), tampered).unwrap();
        let err = restore_from_command(
            &tools,
            &database(&pg, "kong_tampered"),
            &download,
            &record,
            timeout,
            &cancel,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, BackupError::ChecksumMismatch { .. }), "{err}");
        assert_eq!(
            pg.psql_db(
                "kong_tampered",
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            .unwrap()
            .trim(),
            "0",
            "the new database was not touched"
        );

        let refusing = sh("cat > /dev/null; echo 'bucket not found' >&2; exit 3".into());
        let err = dump_to_command(&tools, &x, &refusing, "n", timeout, &cancel)
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("upload_command") && message.contains("exit 3: bucket not found"),
            "{message}"
        );
        assert!(!message.contains(KONG_PASSWORD));
    }

    fn downloads_left_behind() -> usize {
        let prefix = format!("kong-backup-download-{}-", std::process::id());
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                // Only this test's downloads: others run alongside.
                name.starts_with(&prefix) && name.ends_with("kong-1.dump")
            })
            .count()
    }

    #[tokio::test]
    async fn a_download_that_is_no_archive_or_hangs_never_reaches_the_database() {
        let pg = Postgres::start().unwrap();
        pg.psql_db("postgres", "CREATE DATABASE kong_new OWNER kong")
            .unwrap();
        let tools = PgTools {
            pg_dump: pg.bin_dir().join("pg_dump"),
            pg_restore: pg.bin_dir().join("pg_restore"),
        };
        let cancel = CancellationToken::new();
        let new = database(&pg, "kong_new");

        // The right size and sha256, but not a dump: pg_restore --list refuses it.
        let garbage = b"PGDMP but truncated".to_vec();
        let record = StreamedBackup {
            name: "kong-1.dump".into(),
            bytes: garbage.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(&garbage)),
        };
        let store = tempfile::tempdir().unwrap();
        std::fs::write(store.path().join("kong-1.dump"), &garbage).unwrap();
        let download = sh(format!(
            "cat '{}'/\"$KONG_BACKUP_NAME\"",
            store.path().display()
        ));
        let err = restore_from_command(
            &tools,
            &new,
            &download,
            &record,
            Duration::from_secs(30),
            &cancel,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("pg_restore --list"), "{err}");
        assert_eq!(
            pg.psql_db(
                "kong_new",
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            .unwrap()
            .trim(),
            "0",
            "the new database was not touched"
        );
        assert_eq!(downloads_left_behind(), 0, "the temporary file is deleted");

        // A download whose script leaves a child behind and hangs: at the
        // timeout the whole process group goes.
        let hanging = sh("sleep 41.2345 & sleep 41.2345".into());
        let err = download_checked(&hanging, &record, Duration::from_secs(1), &cancel)
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("did not finish within 1s"),
            "{err}"
        );
        std::thread::sleep(Duration::from_millis(200));
        let survivors = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|p| {
                std::fs::read(p.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("41.2345"))
            })
            .count();
        assert_eq!(
            survivors, 0,
            "the background child was killed with its group"
        );
        assert_eq!(downloads_left_behind(), 0);
    }
}
