//! The `skiff` command.

mod broker_cmd;
mod cli;
mod commands;
mod controller_admin;
mod controller_args;
mod controller_cmd;
mod dev;
mod dev_args;
mod line_reader;
mod metrics_server;
mod output;
mod s3_args;
mod settings;
mod store_cmd;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Dependencies log their internals at info; Skiff users want Skiff's own lines. Client
    // commands keep stderr for errors unless SKIFF_LOG asks for more.
    let default_filter = match cli.command {
        Command::Dev(_) => "info,openraft=warn,foyer=warn,foyer_storage=warn",
        Command::Broker(_) => "info,openraft=warn,foyer=warn,foyer_storage=warn",
        Command::Controller(ref args) if args.admin.is_none() => {
            "info,openraft=warn,foyer=warn,foyer_storage=warn,aws_config=error"
        }
        // The AWS SDK warns (with a Debug dump) while it looks for a region or credentials in
        // places that may legitimately be empty; what matters shows up in the check's findings.
        Command::Store(_) => "warn,aws_config=error",
        _ => "warn",
    };
    let filter =
        EnvFilter::try_from_env("SKIFF_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    if let Command::Completions(args) = &cli.command {
        commands::completions::run(args);
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Dev(args) => dev::run(*args).await,
            Command::Broker(args) => broker_cmd::run(*args).await,
            Command::Controller(args) => match args.admin {
                Some(crate::controller_args::ControllerCommand::Admin(admin)) => {
                    controller_admin::run(admin).await
                }
                None => controller_cmd::run(args.node).await,
            },
            Command::Topic(args) => commands::topic::run(args).await,
            Command::Produce(args) => commands::produce::run(args).await,
            Command::Consume(args) => commands::consume::run(args).await,
            Command::Group(args) => commands::group::run(args).await,
            Command::Cluster(args) => commands::cluster::run(args).await,
            Command::Store(args) => store_cmd::run(args).await,
            Command::Bench(args) => skiff_bench::run(*args).await.map_err(Into::into),
            Command::Completions(_) => Ok(()),
        }
    });
    // Background client tasks (connection readers) must not hold the exit.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
