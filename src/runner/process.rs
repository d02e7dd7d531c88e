//! Running one local process to completion: its own process group, output
//! streamed line by line as it arrives, a deadline, cancellation, and a
//! guarantee that nothing of the group survives a timeout, a cancellation
//! or the caller dropping the future.

use super::error::RunnerError;
use super::output::{last_lines, OutputLine, RunOutput, Stream, ERROR_TAIL_LINES, MAX_KEPT_LINES};
use crate::platform::{is_executable, GroupGuard, Stop as StopGroup};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// After asking a group to stop (SIGTERM), how long before SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(3);
/// After the main process exited, how long its output pipes may stay open
/// (held by stray background children) before the group is killed.
const POST_EXIT_DRAIN: Duration = Duration::from_secs(2);
/// Longest line kept; the rest is cut (Kong's longest is `status` JSON).
const MAX_LINE_BYTES: usize = 256 * 1024;

/// Everything needed to run one process. `env` values may be secrets:
/// they are handed to the child's environment and nowhere else.
pub(crate) struct ProcessSpec<'a> {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<&'a Path>,
    /// What errors and logs show instead of the real command line.
    pub display: String,
    /// Removes secrets from output before it is logged, shown or kept.
    pub redact: &'a (dyn Fn(&str) -> String + Sync),
    /// Written to stdin, which then stays open until the process exits
    /// (the SSH wrapper treats EOF as "the caller is gone").
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
}

pub(crate) async fn execute(
    spec: ProcessSpec<'_>,
    cancel: &CancellationToken,
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
) -> Result<RunOutput, RunnerError> {
    let program = resolve_program(&spec)?;
    let mut command = tokio::process::Command::new(&program);
    command
        .args(&spec.argv[1..])
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own group, so a timeout can stop everything it started.
    crate::platform::own_process_group(&mut command);
    if let Some(dir) = spec.working_dir {
        command.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| spawn_error(&spec, &e))?;
    let mut group = GroupGuard::new(child.id());
    tracing::debug!(command = %spec.display, pid = ?child.id(), "runner started");

    let (tx, mut rx) = mpsc::channel::<(Stream, String)>(256);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward_lines(out, Stream::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_lines(err, Stream::Stderr, tx.clone()));
    }
    drop(tx);
    let _stdin = match (child.stdin.take(), spec.stdin.as_deref()) {
        (Some(mut stdin), Some(data)) => {
            // A process that exits without reading gives EPIPE; its exit
            // status tells the real story.
            let _ = stdin.write_all(data).await;
            let _ = stdin.flush().await;
            Some(stdin)
        }
        _ => None,
    };

    let mut kept = Kept::default();
    let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut status: Option<ExitStatus> = None;
    let mut drain_deadline: Option<tokio::time::Instant> = None;
    let mut streams_open = true;
    let finished: Result<ExitStatus, Stop> = loop {
        if let (Some(status), false) = (status, streams_open) {
            break Ok(status);
        }
        tokio::select! {
            line = rx.recv(), if streams_open => match line {
                Some((stream, text)) => kept.push(stream, &(spec.redact)(&text), &spec.display, on_line),
                None => streams_open = false,
            },
            exited = child.wait(), if status.is_none() => {
                let exited = exited.map_err(|e| RunnerError::Io {
                    command_line: spec.display.clone(),
                    detail: e.to_string(),
                })?;
                status = Some(exited);
                drain_deadline = Some(tokio::time::Instant::now() + POST_EXIT_DRAIN);
            }
            _ = sleep_until(drain_deadline), if status.is_some() => {
                // Background children still hold the pipes: stop them.
                group.kill();
                drain_deadline = None;
            }
            _ = sleep_until(deadline), if status.is_none() => break Err(Stop::TimedOut),
            _ = cancel.cancelled(), if status.is_none() => break Err(Stop::Cancelled),
        }
    };

    let status = match finished {
        Ok(status) => status,
        Err(stop) => {
            return Err(stopped(stop, &mut child, &mut group, &mut rx, kept, &spec, on_line).await)
        }
    };
    group.disarm();
    let lines: Vec<OutputLine> = kept.lines.into();
    let duration = started.elapsed();
    match status.code() {
        Some(exit_code) => {
            tracing::debug!(command = %spec.display, exit_code, ?duration, "runner exited");
            Ok(RunOutput {
                exit_code,
                lines,
                dropped_lines: kept.dropped,
                duration,
                command_line: spec.display,
            })
        }
        None => Err(RunnerError::KilledBySignal {
            command_line: spec.display,
            signal: crate::platform::killed_by_signal(&status),
            last_output: last_lines(&lines, ERROR_TAIL_LINES),
        }),
    }
}

/// Stops the whole group after a timeout or a cancellation and reports it
/// with the last output.
async fn stopped(
    stop: Stop,
    child: &mut tokio::process::Child,
    group: &mut GroupGuard,
    rx: &mut mpsc::Receiver<(Stream, String)>,
    mut kept: Kept,
    spec: &ProcessSpec<'_>,
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
) -> RunnerError {
    terminate(group, child).await;
    drain_remaining(rx, &mut kept, spec, on_line).await;
    let lines: Vec<OutputLine> = kept.lines.into();
    let last_output = last_lines(&lines, ERROR_TAIL_LINES);
    tracing::debug!(command = %spec.display, ?stop, "runner stopped");
    match stop {
        Stop::TimedOut => RunnerError::TimedOut {
            command_line: spec.display.clone(),
            after: spec.timeout.unwrap_or_default(),
            last_output,
        },
        Stop::Cancelled => RunnerError::Cancelled {
            command_line: spec.display.clone(),
            last_output,
        },
    }
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    TimedOut,
    Cancelled,
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The newest lines, in arrival order.
#[derive(Default)]
struct Kept {
    lines: VecDeque<OutputLine>,
    dropped: usize,
}

impl Kept {
    fn push(
        &mut self,
        stream: Stream,
        text: &str,
        command_line: &str,
        on_line: &mut (dyn FnMut(Stream, &str) + Send),
    ) {
        tracing::debug!(command = %command_line, %stream, "{text}");
        on_line(stream, text);
        if self.lines.len() == MAX_KEPT_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(OutputLine {
            stream,
            text: text.to_owned(),
        });
    }
}

async fn drain_remaining(
    rx: &mut mpsc::Receiver<(Stream, String)>,
    kept: &mut Kept,
    spec: &ProcessSpec<'_>,
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
) {
    let deadline = tokio::time::Instant::now() + POST_EXIT_DRAIN;
    while let Ok(Some((stream, text))) = tokio::time::timeout_at(deadline, rx.recv()).await {
        kept.push(stream, &(spec.redact)(&text), &spec.display, on_line);
    }
}

async fn forward_lines(
    pipe: impl AsyncRead + Unpin,
    stream: Stream,
    tx: mpsc::Sender<(Stream, String)>,
) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                buf.truncate(MAX_LINE_BYTES);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if tx.send((stream, text)).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn spawn_error(spec: &ProcessSpec<'_>, e: &std::io::Error) -> RunnerError {
    let program = spec.argv[0].clone();
    match e.kind() {
        // ENOENT here means the interpreter of a script is missing.
        std::io::ErrorKind::NotFound => RunnerError::ProgramNotFound {
            program,
            command_line: spec.display.clone(),
        },
        std::io::ErrorKind::PermissionDenied => RunnerError::NotExecutable {
            program,
            detail: e.to_string(),
            command_line: spec.display.clone(),
        },
        _ if crate::platform::is_not_executable_format(e) => RunnerError::NotExecutable {
            program,
            detail: "not a binary or script the system can execute".into(),
            command_line: spec.display.clone(),
        },
        _ => RunnerError::Spawn {
            command_line: spec.display.clone(),
            detail: e.to_string(),
        },
    }
}

/// Finds the program as `execvp` would, so "not found" and "not
/// executable" are told apart before anything starts.
fn resolve_program(spec: &ProcessSpec<'_>) -> Result<PathBuf, RunnerError> {
    let Some(program) = spec.argv.first().filter(|p| !p.is_empty()) else {
        return Err(RunnerError::InvalidRunner("the command is empty".into()));
    };
    let not_found = || RunnerError::ProgramNotFound {
        program: program.clone(),
        command_line: spec.display.clone(),
    };
    let candidate = if program.contains('/') {
        let path = PathBuf::from(program);
        match (path.is_relative(), spec.working_dir) {
            (true, Some(dir)) => dir.join(path),
            _ => path,
        }
    } else {
        let path_var = spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| std::ffi::OsString::from(v))
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let found = std::env::split_paths(&path_var)
            .map(|dir| dir.join(program))
            .find(|c| c.is_file() && is_executable(c))
            .or_else(|| {
                std::env::split_paths(&path_var)
                    .map(|dir| dir.join(program))
                    .find(|c| c.is_file())
            });
        found.ok_or_else(not_found)?
    };
    let metadata = std::fs::metadata(&candidate).map_err(|_| not_found())?;
    if !metadata.is_file() {
        return Err(RunnerError::NotExecutable {
            program: program.clone(),
            detail: "it is a directory".into(),
            command_line: spec.display.clone(),
        });
    }
    if !is_executable(&candidate) {
        return Err(RunnerError::NotExecutable {
            program: program.clone(),
            detail: format!("{} has no execute permission", candidate.display()),
            command_line: spec.display.clone(),
        });
    }
    Ok(candidate)
}

/// SIGTERM to the group, SIGKILL after a grace period, then reap.
async fn terminate(group: &mut GroupGuard, child: &mut tokio::process::Child) {
    group.signal(StopGroup::Gracefully);
    if tokio::time::timeout(TERMINATE_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::debug!("runner ignored SIGTERM; killing its process group");
    }
    // Also reaches children that outlived the group leader.
    group.kill();
    let _ = child.wait().await;
    group.disarm();
}
