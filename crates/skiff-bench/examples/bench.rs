//! `skiff bench` without the `skiff` binary, for trying the crate by hand:
//!
//! ```sh
//! cargo run --release -p skiff-bench --example bench -- produce --bootstrap 127.0.0.1:28092 \
//!     --topic bench --partitions 8 --record-size 1KiB --records 2000000
//! ```

use std::process::ExitCode;

use clap::Parser;
use skiff_bench::BenchArgs;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Drive a Kafka broker through librdkafka and measure it"
)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("SKIFF_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match skiff_bench::run(cli.bench).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
