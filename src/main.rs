use std::process::ExitCode;

use clap::Parser;
use redshift_long_query_alert::cli::{Cli, Command};
use redshift_long_query_alert::config::{self, EnvDefaults};
use redshift_long_query_alert::{lambda, logging, App};

// One thread: a scheduled check does a handful of sequential calls, and a current-thread
// runtime starts faster and uses less memory than a pool sized for the host.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check(args)) => {
            logging::init_cli();
            let deadline = tokio::time::Instant::now() + args.timeout();
            let result = async {
                let settings = config::resolve(&EnvDefaults::from_env(), &args.overrides())?;
                App::from_environment()
                    .await
                    .check(&settings, deadline)
                    .await
            }
            .await;
            match result {
                Ok(summary) => {
                    let text = serde_json::to_string_pretty(&summary).expect("plain data");
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Lambda) => serve_lambda().await,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => serve_lambda().await,
        None => {
            eprintln!("error: no command given and not running in AWS Lambda; try `check --help`");
            ExitCode::from(2)
        }
    }
}

async fn serve_lambda() -> ExitCode {
    logging::init_lambda();
    let app = App::from_environment().await;
    match lambda::serve(app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
