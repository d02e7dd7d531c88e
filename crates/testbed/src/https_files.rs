//! A static HTTPS file server on 127.0.0.1 with a throwaway CA: what a
//! provider registry host or a provider network mirror is to Terraform (both
//! protocols are plain GETs of JSON documents and files). Unlike the other
//! components it runs in the test's process, on threads, and records each
//! path it was asked for, so a test can tell which documents Terraform read.
//!
//! Terraform (Go) trusts the CA through `SSL_CERT_FILE` =
//! [`HttpsFileServer::ca_file`]; the certificate names `localhost` and
//! `127.0.0.1`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a connection may stay silent before it is dropped: bounds every
/// handler thread.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A request head larger than this is refused.
const MAX_HEAD_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpsFilesError {
    #[error("making the throwaway CA: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> HttpsFilesError {
    move |source| HttpsFilesError::Io { what, source }
}

pub struct HttpsFileServer {
    /// Port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpsFileServer {
    /// Serves the files under [`HttpsFileServer::root`] (empty at first).
    pub fn start() -> Result<Self, HttpsFilesError> {
        let dir = tempfile::Builder::new()
            .prefix("https-files-")
            .tempdir()
            .map_err(io("creating the server's temp dir"))?;
        let root = dir.path().join("root");
        std::fs::create_dir(&root).map_err(io("creating the document root"))?;
        let (tls, ca_pem) = throwaway_tls()?;
        std::fs::write(dir.path().join("ca.pem"), ca_pem).map_err(io("writing ca.pem"))?;
        let listener = TcpListener::bind("127.0.0.1:0").map_err(io("binding 127.0.0.1"))?;
        let port = listener.local_addr().map_err(io("local address"))?.port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || accept_loop(listener, tls, root, requests, stop))
        };
        Ok(HttpsFileServer {
            port,
            dir,
            requests,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// `https://localhost:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The directory served at `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The CA certificate (PEM) to trust, e.g. as `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Writes `contents` at `path` under the root, creating directories.
    pub fn put(&self, path: &str, contents: &[u8]) -> Result<(), HttpsFilesError> {
        let file = self.root().join(path.trim_start_matches('/'));
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io("creating a served directory"))?;
        }
        std::fs::write(file, contents).map_err(io("writing a served file"))
    }

    /// The paths requested so far, in order, and forgets them.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for HttpsFileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the loop sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A CA and a `localhost`/`127.0.0.1` certificate it signed: the server's
/// TLS configuration and the CA's PEM.
fn throwaway_tls() -> Result<(Arc<rustls::ServerConfig>, String), HttpsFilesError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "testbed throwaway CA");
    let ca = ca_params.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let cert = params.signed_by(&key, &ca, &ca_key)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?;
    Ok((Arc::new(config), ca.pem()))
}

fn accept_loop(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    root: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (tls, root, requests) = (tls.clone(), root.clone(), requests.clone());
        std::thread::spawn(move || {
            let _ = serve_connection(stream, tls, &root, &requests);
        });
    }
}

/// One request per connection (`Connection: close`): all Terraform needs.
fn serve_connection(
    stream: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    root: &Path,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let connection = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    let mut tls_stream = rustls::StreamOwned::new(connection, stream);
    let Some(path) = read_request_path(&mut tls_stream)? else {
        return respond(
            &mut tls_stream,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
        );
    };
    requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(path.clone());
    match file_under(root, &path).and_then(|file| std::fs::read(file).ok()) {
        Some(body) => respond(&mut tls_stream, "200 OK", content_type(&path), &body),
        None => respond(
            &mut tls_stream,
            "404 Not Found",
            "text/plain",
            b"not found\n",
        ),
    }
}

/// The path of a `GET` request (query string dropped); `None` for anything
/// else.
fn read_request_path(stream: &mut impl std::io::Read) -> std::io::Result<Option<String>> {
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        head.push(line);
        if head.iter().map(String::len).sum::<usize>() > MAX_HEAD_BYTES {
            return Ok(None);
        }
    }
    let request_line = head.first().map(String::as_str).unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    Ok(match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.split('?').next().unwrap_or("/").to_owned()),
        _ => None,
    })
}

/// The file a URL path names, never outside `root`.
fn file_under(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let file = root.join(relative);
    file.is_file().then_some(file)
}

/// Terraform's service discovery insists on `application/json`; the
/// registry's documents have no extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("zip") => "application/zip",
        Some("sig") => "application/octet-stream",
        Some("asc") => "text/plain",
        _ if path.ends_with("SHA256SUMS") => "text/plain",
        _ => "application/json",
    }
}

fn respond(
    stream: &mut impl Write,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_root_and_directories_are_not_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/file.json"), "{}").unwrap();
        assert!(file_under(dir.path(), "/sub/file.json").is_some());
        assert!(file_under(dir.path(), "/sub").is_none());
        assert!(file_under(dir.path(), "/sub/../sub/file.json").is_none());
        assert!(file_under(dir.path(), "/missing").is_none());
    }

    #[test]
    fn documents_without_an_extension_are_json() {
        assert_eq!(
            content_type("/v1/providers/ns/kong/versions"),
            "application/json"
        );
        assert_eq!(content_type("/a/x_SHA256SUMS"), "text/plain");
        assert_eq!(
            content_type("/a/x_SHA256SUMS.sig"),
            "application/octet-stream"
        );
        assert_eq!(content_type("/a/x_linux_amd64.zip"), "application/zip");
    }
}
