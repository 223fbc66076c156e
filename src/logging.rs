//! Log set-up. Lambda: JSON lines on stdout (CloudWatch parses them), level from `RUST_LOG`
//! or Lambda's `AWS_LAMBDA_LOG_LEVEL`. CLI: readable lines on stderr, so stdout carries only
//! the summary. The SDK's and HTTP stack's own chatter is kept at `warn` unless asked for.

use tracing_subscriber::EnvFilter;

const QUIET_DEPENDENCIES: &str = "aws_config=warn,aws_smithy_runtime=warn,aws_sdk_secretsmanager=warn,aws_sdk_redshiftdata=warn,hyper=warn,reqwest=warn,rustls=warn";

fn filter(default_level: &str) -> EnvFilter {
    let wanted = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()))
        .unwrap_or_else(|_| default_level.to_owned());
    // Our directives first; the user's come last and so win for the same target.
    EnvFilter::try_new(format!("{QUIET_DEPENDENCIES},{wanted}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("{QUIET_DEPENDENCIES},{default_level}")))
}

pub fn init_lambda() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter("info"))
        .with_current_span(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .with_writer(std::io::stdout)
        .init();
}

pub fn init_cli() {
    tracing_subscriber::fmt()
        .with_env_filter(filter("info"))
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}
