//! kongsim: the project's test double of Kong Gateway. Not Kong, never
//! shipped. See README.md for what it imitates and what differs.

mod cli;
mod conf;
mod log;
mod migrations;
mod pg;
mod server;
mod version;

use cli::Invocation;
use std::io::{IsTerminal, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env_version = std::env::var("KONGSIM_KONG_VERSION").ok();
    let invocation = match cli::parse(&args, env_version.as_deref()) {
        Ok(invocation) => invocation,
        Err(usage) => {
            if usage.exit_code == 0 {
                print!("{}", usage.message);
            } else {
                let _ = writeln!(std::io::stderr(), "{}", usage.message);
            }
            std::process::exit(usage.exit_code);
        }
    };
    std::process::exit(run(invocation));
}

fn run(invocation: Invocation) -> i32 {
    match invocation {
        Invocation::Help => {
            print!("{}", cli::HELP);
            0
        }
        Invocation::Version {
            version,
            edition,
            all,
        } => {
            print_version(&version, edition, all);
            0
        }
        Invocation::Migrations { version, args } => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    return migrations::commands::report_error(
                        &format!("cannot start the runtime: {e}"),
                        false,
                    )
                }
            };
            runtime.block_on(migrations::commands::execute(&version, &args))
        }
        Invocation::Serve {
            version,
            edition,
            options,
        } => {
            init_tracing();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    return migrations::commands::report_error(
                        &format!("cannot start the runtime: {e}"),
                        false,
                    )
                }
            };
            runtime.block_on(server::run(version, edition, *options))
        }
    }
}

/// `kong version`: OSS prints the bare version, Enterprise "Kong Enterprise X".
fn print_version(version: &version::KongVersion, edition: version::Edition, all: bool) {
    match edition {
        version::Edition::Community => println!("{version}"),
        version::Edition::Enterprise => println!("Kong Enterprise {version}"),
    }
    if all {
        println!("kongsim: test double of Kong Gateway (no nginx, no LuaJIT)");
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KONGSIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
