use std::process::ExitCode;

use clap::Parser;
use redshift_long_query_alert::cli::{self, Cli, Command};
use redshift_long_query_alert::lambda;

// One thread: a scheduled check does a handful of calls, and a current-thread runtime starts
// faster and uses less memory than a pool sized for the host.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::Check(args)) => {
            redshift_long_query_alert::logging::init_cli();
            cli::run(*args).await
        }
        Some(Command::Lambda) => lambda::main().await,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => lambda::main().await,
        None => {
            eprintln!("error: no command given and not running in AWS Lambda; try `check --help`");
            ExitCode::from(2)
        }
    }
}
