//! The `skiff` command.

mod archive_cmd;
mod broker_cmd;
mod cli;
mod cluster_secret_args;
mod commands;
mod controller_admin;
mod controller_args;
mod controller_cmd;
mod controller_tls_args;
mod dev;
mod dev_args;
mod job_runner;
mod lifecycle_args;
mod line_reader;
mod log_levels;
mod metrics_server;
mod output;
mod security_args;
mod settings;
mod signals;
mod store_args;
mod store_cmd;
mod trigger_cmd;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

use crate::cli::{Cli, Command};

/// mimalloc, because it gives memory back after a burst without tuning. Measured with
/// `bench/abuse.py` (issue 23: 200 MB produced, then unread fetches, partial frames, unread
/// CreateTopics, slow connections, then 20 s idle), the idle broker held 252 MiB with mimalloc
/// (its cache holding the 200 MB it had just written), 472 MiB with glibc's malloc and 482 MiB
/// with jemalloc's defaults, which only purge while allocating.
#[cfg(not(any(feature = "jemalloc", feature = "system-allocator")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", not(feature = "system-allocator")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Dependencies log their internals at info; Skiff users want Skiff's own lines. Client
    // commands keep stderr for errors unless SKIFF_LOG asks for more.
    let default_filter = match cli.command {
        // `skiff dev --trigger-config` invokes functions through the AWS SDK, as `skiff trigger` does.
        Command::Dev(_) => {
            "info,openraft=warn,foyer=warn,foyer_storage=warn,aws_config=warn,aws_smithy_runtime=warn"
        }
        Command::Broker(_) => "info,openraft=warn,foyer=warn,foyer_storage=warn",
        Command::Controller(ref args) if args.admin.is_none() => {
            "info,openraft=warn,foyer=warn,foyer_storage=warn,aws_config=error"
        }
        // The AWS SDK warns (with a Debug dump) while it looks for a region or credentials in
        // places that may legitimately be empty; what matters shows up in the check's findings.
        Command::Store(_) => "warn,aws_config=error",
        Command::Trigger(_) => "info,aws_config=warn,aws_smithy_runtime=warn",
        _ => "warn",
    };
    // SKIFF_LOG when it parses, as EnvFilter::try_from_env would take it.
    let directives = std::env::var("SKIFF_LOG")
        .ok()
        .filter(|text| EnvFilter::builder().parse(text).is_ok())
        .unwrap_or_else(|| default_filter.to_owned());
    // Reloadable, so a broker can change levels at run time (BROKER_LOGGER configs).
    let (filter, filter_handle) = reload::Layer::new(EnvFilter::new(&directives));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour_on(&std::io::stderr())),
        )
        .init();
    log_levels::install(&directives, filter_handle);

    let result = match &cli.command {
        Command::Completions(args) => {
            commands::completions::run(args, <Cli as clap::CommandFactory>::command())
                .map_err(Into::into)
        }
        _ => run(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output has all it wanted (`skiff topic list | head -1`).
        Err(e) if output::is_closed_output(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::note(&format!("error: {}", output::error_chain(&e)));
            ExitCode::FAILURE
        }
    }
}

/// Colour (here: the log's) only for a person at a terminal, and never with NO_COLOR set to
/// anything non-empty (https://no-color.org): decided by anstream, as clap decides for its own
/// output, so CLICOLOR, CLICOLOR_FORCE and TERM=dumb count as well.
fn colour_on(stream: &std::io::Stderr) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
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
            Command::User(args) => commands::user::run(args).await,
            Command::Acl(args) => commands::acl::run(args).await,
            Command::Cluster(args) => commands::cluster::run(args).await,
            Command::Store(args) => store_cmd::run(args).await,
            Command::Archive(args) => archive_cmd::run(args).await,
            Command::Bench(args) => skiff_bench::run(*args).await.map_err(Into::into),
            Command::Trigger(args) => trigger_cmd::run(*args).await,
            Command::Completions(_) => Ok(()),
        }
    });
    // Background client tasks (connection readers) must not hold the exit.
    runtime.shutdown_background();
    result
}
