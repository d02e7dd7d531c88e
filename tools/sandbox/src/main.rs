//! `sandbox`: the local sandbox `make demo` runs a blue-green Kong upgrade
//! in. Every component is a real program on 127.0.0.1 (PostgreSQL, HAProxy,
//! and kongsim, the project's Kong test double); see `sandbox help`.

mod cli;
mod cluster_y;
mod env;
mod error;
mod haproxy;
mod load;
mod probe;
mod process;
mod signals;
mod status;
mod up;

use cli::Command;
use error::SandboxError;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(tracing::Level::INFO)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sandbox: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), SandboxError> {
    match command {
        Command::Up(options) => up::up(options).await,
        Command::StartY { dir } => cluster_y::start_y(&dir).await,
        Command::StopX { dir } => {
            tokio::task::spawn_blocking(move || cluster_y::stop_x(&dir)).await?
        }
        Command::Status { dir } => status::status(&dir).await,
        Command::Down { dir } => tokio::task::spawn_blocking(move || status::down(&dir)).await?,
        Command::Env { dir, key } => status::print_env(&dir, key.as_deref()),
        Command::Probe(options) => probe::run(options).await,
        Command::Load(options) => load::run(options).await,
        Command::Help => {
            println!("{}", cli::USAGE);
            Ok(())
        }
    }
}
