//! What a run leaves behind: exit code, the kept tail of its output, timing.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// One line of output, secrets already redacted, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
}

/// How many lines a run keeps (the newest); older ones are only logged.
/// A full `kong migrations bootstrap` of 3.9 prints fewer than 300.
pub const MAX_KEPT_LINES: usize = 2000;

/// How many lines of output an error message shows.
pub const ERROR_TAIL_LINES: usize = 20;

/// The result of a run that exited on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub exit_code: i32,
    /// Interleaved in arrival order; the newest [`MAX_KEPT_LINES`].
    pub lines: Vec<OutputLine>,
    /// Lines dropped from the front to respect [`MAX_KEPT_LINES`].
    pub dropped_lines: usize,
    pub duration: Duration,
    /// The command line, secrets redacted.
    pub command_line: String,
}

impl RunOutput {
    pub fn stdout(&self) -> String {
        self.text_of(Stream::Stdout)
    }

    pub fn stderr(&self) -> String {
        self.text_of(Stream::Stderr)
    }

    pub fn stdout_lines(&self) -> impl Iterator<Item = &str> {
        self.lines_of(Stream::Stdout)
    }

    pub fn stderr_lines(&self) -> impl Iterator<Item = &str> {
        self.lines_of(Stream::Stderr)
    }

    /// The last `n` lines of both streams, for diagnostics.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        last_lines(&self.lines, n)
    }

    fn lines_of(&self, stream: Stream) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(move |l| l.stream == stream)
            .map(|l| l.text.as_str())
    }

    fn text_of(&self, stream: Stream) -> String {
        self.lines_of(stream).collect::<Vec<_>>().join("\n")
    }
}

pub(crate) fn last_lines(lines: &[OutputLine], n: usize) -> Vec<String> {
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| match l.stream {
            Stream::Stdout => l.text.clone(),
            Stream::Stderr => format!("[stderr] {}", l.text),
        })
        .collect()
}

/// Renders kept output for an error message.
pub(crate) fn format_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return " (no output)".to_owned();
    }
    let mut out = String::from("; last output:");
    for line in lines {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}
