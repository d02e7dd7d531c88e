//! Command-line parsing: a handful of subcommands with a few flags each.

use crate::error::SandboxError;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: sandbox <command> [--dir DIR] [options]

commands:
  up [--from V] [--to V] [--rate N] [--layout L] [--kongsim PATH]
                 start PostgreSQL, cluster X (kongsim V=--from, bootstrapped),
                 HAProxy (servers x and y) and a load generator (none with
                 --rate 0); write DIR/env.json and DIR/terraform.tfvars; run
                 until SIGTERM/SIGINT. --layout blue-green: Y gets addresses of
                 its own; in-place: Y will listen on X's addresses once X stops
  start-y        start cluster Y (kongsim --to) detached; wait for its Admin API
  stop-x         stop cluster X (SIGTERM, wait until it is gone)
  status         load totals, HAProxy weights, which clusters answer
  down           stop a running `up` (and cluster Y)
  env [KEY]      print DIR/env.json, or one value (e.g. cluster_x.admin_url)
  probe --url URL [--interval-ms N] [--timeout-ms N] [--out FILE]
                 GET URL every N ms on a fresh connection until SIGTERM/SIGINT;
                 then print the downtime windows (first failure to first
                 success after it) and write every figure to FILE as JSON
  load --url URL [--rate N] --out FILE
                 send N GETs per second to URL until SIGTERM/SIGINT, keeping
                 running totals in FILE (as `up` does in DIR/load.json)

defaults: --dir .sandbox, --from 3.5.0, --to 3.6.1, --rate 200, --layout
blue-green, --interval-ms 10, --timeout-ms 1000";

pub const DEFAULT_DIR: &str = ".sandbox";
pub const DEFAULT_FROM: &str = "3.5.0";
pub const DEFAULT_TO: &str = "3.6.1";
pub const DEFAULT_RATE: u32 = 200;
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(10);
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(1000);

/// Where cluster Y will listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Y has addresses of its own beside X's (blue-green, dual-cluster).
    #[default]
    BlueGreen,
    /// Y takes over X's addresses once X has stopped, as a node upgraded in
    /// place does: whatever points at X (a load balancer, a prober) keeps
    /// pointing at the same ports.
    InPlace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOptions {
    pub dir: PathBuf,
    pub from_version: String,
    pub to_version: String,
    /// 0: no load generator.
    pub rate_per_s: u32,
    pub layout: Layout,
    pub kongsim: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOptions {
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    pub url: String,
    pub rate_per_s: u32,
    pub out: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Up(UpOptions),
    StartY { dir: PathBuf },
    StopX { dir: PathBuf },
    Status { dir: PathBuf },
    Down { dir: PathBuf },
    Env { dir: PathBuf, key: Option<String> },
    Probe(ProbeOptions),
    Load(LoadOptions),
    Help,
}

pub fn parse(args: &[String]) -> Result<Command, SandboxError> {
    let Some((name, rest)) = args.split_first() else {
        return Err(SandboxError::Usage("missing command".into()));
    };
    let mut flags = Flags::parse(rest)?;
    let dir = flags
        .take("--dir")
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
    let command = match name.as_str() {
        "up" => Command::Up(UpOptions {
            dir,
            from_version: flags.take("--from").unwrap_or_else(|| DEFAULT_FROM.into()),
            to_version: flags.take("--to").unwrap_or_else(|| DEFAULT_TO.into()),
            rate_per_s: parse_rate(flags.take("--rate"), 0)?,
            layout: parse_layout(flags.take("--layout"))?,
            kongsim: flags.take("--kongsim").map(PathBuf::from),
        }),
        "start-y" => Command::StartY { dir },
        "stop-x" => Command::StopX { dir },
        "status" => Command::Status { dir },
        "down" => Command::Down { dir },
        "env" => Command::Env {
            dir,
            key: flags.positional.pop(),
        },
        "probe" => Command::Probe(ProbeOptions {
            url: required_url(flags.take("--url"))?,
            interval: parse_millis(
                "--interval-ms",
                flags.take("--interval-ms"),
                DEFAULT_PROBE_INTERVAL,
            )?,
            timeout: parse_millis(
                "--timeout-ms",
                flags.take("--timeout-ms"),
                DEFAULT_PROBE_TIMEOUT,
            )?,
            out: flags.take("--out").map(PathBuf::from),
        }),
        "load" => Command::Load(LoadOptions {
            url: required_url(flags.take("--url"))?,
            rate_per_s: parse_rate(flags.take("--rate"), 1)?,
            out: flags
                .take("--out")
                .map(PathBuf::from)
                .ok_or_else(|| SandboxError::Usage("load needs --out FILE".into()))?,
        }),
        "help" | "-h" | "--help" => Command::Help,
        other => return Err(SandboxError::Usage(format!("unknown command {other:?}"))),
    };
    flags.finish()?;
    Ok(command)
}

/// Requests per second, from `min` (0 means "no load" where allowed) to 10000.
fn parse_rate(value: Option<String>, min: u32) -> Result<u32, SandboxError> {
    match value {
        None => Ok(DEFAULT_RATE),
        Some(text) => match text.parse::<u32>() {
            Ok(rate) if (min..=10_000).contains(&rate) => Ok(rate),
            _ => Err(SandboxError::Usage(format!(
                "--rate must be a number of requests per second from {min} to 10000, not {text:?}"
            ))),
        },
    }
}

fn parse_layout(value: Option<String>) -> Result<Layout, SandboxError> {
    match value.as_deref() {
        None | Some("blue-green") => Ok(Layout::BlueGreen),
        Some("in-place") => Ok(Layout::InPlace),
        Some(other) => Err(SandboxError::Usage(format!(
            "--layout must be blue-green or in-place, not {other:?}"
        ))),
    }
}

/// A duration in whole milliseconds, 1 ms to 60 s.
fn parse_millis(
    flag: &str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, SandboxError> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.parse::<u64>() {
        Ok(ms) if (1..=60_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(SandboxError::Usage(format!(
            "{flag} must be a number of milliseconds from 1 to 60000, not {text:?}"
        ))),
    }
}

fn required_url(value: Option<String>) -> Result<String, SandboxError> {
    match value {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(url),
        Some(url) => Err(SandboxError::Usage(format!(
            "--url must be an http:// or https:// URL, not {url:?}"
        ))),
        None => Err(SandboxError::Usage("--url URL is required".into())),
    }
}

/// `--flag value` pairs and positional words, consumed as the command reads
/// them; whatever is left over is an error.
struct Flags {
    pairs: Vec<(String, String)>,
    positional: Vec<String>,
}

impl Flags {
    fn parse(args: &[String]) -> Result<Flags, SandboxError> {
        let mut pairs = Vec::new();
        let mut positional = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if let Some((flag, value)) = arg.split_once('=').filter(|_| arg.starts_with("--")) {
                pairs.push((flag.to_string(), value.to_string()));
            } else if arg.starts_with("--") {
                let value = iter
                    .next()
                    .ok_or_else(|| SandboxError::Usage(format!("{arg} needs a value")))?;
                pairs.push((arg.clone(), value.clone()));
            } else {
                positional.push(arg.clone());
            }
        }
        Ok(Flags { pairs, positional })
    }

    fn take(&mut self, flag: &str) -> Option<String> {
        let at = self.pairs.iter().rposition(|(name, _)| name == flag)?;
        let value = self.pairs.remove(at).1;
        self.pairs.retain(|(name, _)| name != flag);
        Some(value)
    }

    fn finish(self) -> Result<(), SandboxError> {
        if let Some((flag, _)) = self.pairs.first() {
            return Err(SandboxError::Usage(format!("unknown flag {flag}")));
        }
        if let Some(word) = self.positional.first() {
            return Err(SandboxError::Usage(format!("unexpected argument {word:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn up_takes_versions_rate_and_dir_in_either_flag_form() {
        let parsed = parse(&args("up --dir /tmp/s --from 3.4.2 --to=3.5.0 --rate 50")).unwrap();
        assert_eq!(
            parsed,
            Command::Up(UpOptions {
                dir: PathBuf::from("/tmp/s"),
                from_version: "3.4.2".into(),
                to_version: "3.5.0".into(),
                rate_per_s: 50,
                layout: Layout::BlueGreen,
                kongsim: None,
            })
        );
    }

    #[test]
    fn defaults_apply_when_flags_are_absent() {
        let Command::Up(options) = parse(&args("up")).unwrap() else {
            panic!("not up");
        };
        assert_eq!(options.dir, PathBuf::from(".sandbox"));
        assert_eq!(
            (options.from_version.as_str(), options.to_version.as_str()),
            ("3.5.0", "3.6.1")
        );
        assert_eq!(options.rate_per_s, 200);
        assert_eq!(options.layout, Layout::BlueGreen);
    }

    #[test]
    fn up_takes_an_in_place_layout_and_no_load() {
        let Command::Up(options) = parse(&args("up --layout in-place --rate 0")).unwrap() else {
            panic!("not up");
        };
        assert_eq!((options.layout, options.rate_per_s), (Layout::InPlace, 0));
    }

    #[test]
    fn probe_and_load_take_a_url_and_their_figures() {
        assert_eq!(
            parse(&args(
                "probe --url http://127.0.0.1:8000/demo --interval-ms 5 --out p.json"
            ))
            .unwrap(),
            Command::Probe(ProbeOptions {
                url: "http://127.0.0.1:8000/demo".into(),
                interval: Duration::from_millis(5),
                timeout: DEFAULT_PROBE_TIMEOUT,
                out: Some(PathBuf::from("p.json")),
            })
        );
        assert_eq!(
            parse(&args("load --url http://h/demo --rate 300 --out l.json")).unwrap(),
            Command::Load(LoadOptions {
                url: "http://h/demo".into(),
                rate_per_s: 300,
                out: PathBuf::from("l.json"),
            })
        );
    }

    #[test]
    fn env_accepts_one_key() {
        assert_eq!(
            parse(&args("env cluster_x.admin_url --dir d")).unwrap(),
            Command::Env {
                dir: PathBuf::from("d"),
                key: Some("cluster_x.admin_url".into())
            }
        );
    }

    #[test]
    fn mistakes_are_refused_with_the_reason() {
        for (line, expected) in [
            ("", "missing command"),
            ("start", "unknown command"),
            ("status --bogus 1", "unknown flag --bogus"),
            ("stop-x extra", "unexpected argument"),
            ("up --rate 10001", "--rate must be"),
            ("up --rate fast", "--rate must be"),
            ("up --from", "--from needs a value"),
            ("up --layout sideways", "--layout must be"),
            ("probe", "--url URL is required"),
            ("probe --url 127.0.0.1:80", "--url must be an http"),
            (
                "probe --url http://h --interval-ms 0",
                "--interval-ms must be",
            ),
            ("load --url http://h", "load needs --out"),
            ("load --url http://h --out f --rate 0", "--rate must be"),
        ] {
            let error = parse(&args(line)).unwrap_err().to_string();
            assert!(error.contains(expected), "{line:?}: {error}");
        }
    }
}
