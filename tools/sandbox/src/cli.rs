//! Command-line parsing: a handful of subcommands with a few flags each.

use crate::error::SandboxError;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: sandbox <command> [--dir DIR] [options]

commands:
  up [--from V] [--to V] [--rate N] [--kongsim PATH]
                 start PostgreSQL, cluster X (kongsim V=--from, bootstrapped),
                 HAProxy (servers x and y) and a load generator; write
                 DIR/env.json and DIR/terraform.tfvars; run until SIGTERM/SIGINT
  start-y        start cluster Y (kongsim --to) detached; wait for its Admin API
  stop-x         stop cluster X (SIGTERM, wait until it is gone)
  status         load totals, HAProxy weights, which clusters answer
  down           stop a running `up` (and cluster Y)
  env [KEY]      print DIR/env.json, or one value (e.g. cluster_x.admin_url)

defaults: --dir .sandbox, --from 3.5.0, --to 3.6.1, --rate 200";

pub const DEFAULT_DIR: &str = ".sandbox";
pub const DEFAULT_FROM: &str = "3.5.0";
pub const DEFAULT_TO: &str = "3.6.1";
pub const DEFAULT_RATE: u32 = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOptions {
    pub dir: PathBuf,
    pub from_version: String,
    pub to_version: String,
    pub rate_per_s: u32,
    pub kongsim: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Up(UpOptions),
    StartY { dir: PathBuf },
    StopX { dir: PathBuf },
    Status { dir: PathBuf },
    Down { dir: PathBuf },
    Env { dir: PathBuf, key: Option<String> },
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
            rate_per_s: parse_rate(flags.take("--rate"))?,
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
        "help" | "-h" | "--help" => Command::Help,
        other => return Err(SandboxError::Usage(format!("unknown command {other:?}"))),
    };
    flags.finish()?;
    Ok(command)
}

fn parse_rate(value: Option<String>) -> Result<u32, SandboxError> {
    match value {
        None => Ok(DEFAULT_RATE),
        Some(text) => match text.parse::<u32>() {
            Ok(rate) if (1..=10_000).contains(&rate) => Ok(rate),
            _ => Err(SandboxError::Usage(format!(
                "--rate must be a number of requests per second from 1 to 10000, not {text:?}"
            ))),
        },
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
            ("up --rate 0", "--rate must be"),
            ("up --rate fast", "--rate must be"),
            ("up --from", "--from needs a value"),
        ] {
            let error = parse(&args(line)).unwrap_err().to_string();
            assert!(error.contains(expected), "{line:?}: {error}");
        }
    }
}
