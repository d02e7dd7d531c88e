//! Kong's CLI logger (`kong/cmd/utils/log.lua`): informational lines on
//! stdout without a prefix; warnings and errors on stderr with a
//! "YYYY/MM/DD HH:MM:SS [level]" prefix; with `--v`/`--vv` every line gets
//! the prefix. `--quiet` silences everything the logger prints. Every line
//! is flushed as it is written, so a runner can stream it.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 1,
    Verbose = 2,
    Info = 3,
    Warn = 4,
    Error = 5,
    Quiet = 6,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Verbose => "verbose",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Quiet => "quiet",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CliLog {
    level: Level,
}

impl CliLog {
    pub fn new(level: Level) -> Self {
        Self { level }
    }

    pub fn is_verbose(&self) -> bool {
        self.level < Level::Info
    }

    pub fn info(&self, msg: impl AsRef<str>) {
        self.emit(Level::Info, msg.as_ref());
    }

    pub fn verbose(&self, msg: impl AsRef<str>) {
        self.emit(Level::Verbose, msg.as_ref());
    }

    pub fn debug(&self, msg: impl AsRef<str>) {
        self.emit(Level::Debug, msg.as_ref());
    }

    pub fn warn(&self, msg: impl AsRef<str>) {
        self.emit(Level::Warn, msg.as_ref());
    }

    pub fn error(&self, msg: impl AsRef<str>) {
        self.emit(Level::Error, msg.as_ref());
    }

    fn emit(&self, level: Level, msg: &str) {
        if level < self.level {
            return;
        }
        let line = if self.is_verbose() || level >= Level::Warn {
            format!("{} [{}] {}", timestamp_now(), level.name(), msg)
        } else {
            msg.to_string()
        };
        // A closed pipe must not abort a migration half-way: output is
        // best effort, the database work is what matters.
        if level >= Level::Warn {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// "YYYY/MM/DD HH:MM:SS" in UTC (Kong uses the host's local time; test
/// hosts run in UTC).
pub fn timestamp_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = civil_from_unix(secs);
    format!("{y:04}/{mo:02}/{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Converts Unix seconds to a UTC calendar date and time (Howard Hinnant's
/// days-from-civil inverse).
pub fn civil_from_unix(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_known_instants() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil_from_unix(1_719_835_505), (2024, 7, 1, 12, 5, 5));
    }
}
