//! The journal's place without a database: a JSON-lines file, synced on
//! every write.

use super::{Entry, JournalError};
use std::io::Write;
use std::path::PathBuf;

/// The journal file of an upgrade: its id, made a safe file name.
pub(super) fn file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("terraform-provider-kong-journal-{safe}.jsonl")
}

pub(super) fn read_file(path: &std::path::Path) -> Result<Vec<Entry>, JournalError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(JournalError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(super) fn next_seq(path: &std::path::Path) -> Result<i64, JournalError> {
    Ok(read_file(path)?.last().map_or(0, |e| e.seq) + 1)
}

/// Appends one line numbered `seq` and syncs it to disk before returning.
pub(super) fn append_file_at(
    path: &std::path::Path,
    entry: &Entry,
    seq: i64,
) -> Result<i64, JournalError> {
    let file_err = |source| JournalError::File {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_err)?;
    }
    let mut entry = entry.clone();
    entry.seq = seq;
    let mut line = serde_json::to_string(&entry).unwrap_or_default();
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(file_err)?;
    file.write_all(line.as_bytes()).map_err(file_err)?;
    file.sync_all().map_err(file_err)?;
    Ok(seq)
}

/// Terraform's data directory of the working directory the provider runs
/// in: `TF_DATA_DIR` (relative to the working directory) or `.terraform`.
pub(super) fn terraform_data_dir() -> Option<PathBuf> {
    let data = std::env::var_os("TF_DATA_DIR")
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| ".terraform".into());
    Some(std::env::current_dir().ok()?.join(data))
}
