//! The command line: the same check as the Lambda function, run once from a shell or cron.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{Overrides, MAX_THRESHOLD_MINUTES};

/// Finds Amazon Redshift queries running longer than a threshold and posts them to Slack.
///
/// Without a subcommand inside AWS Lambda (AWS_LAMBDA_RUNTIME_API set) it serves invocations;
/// elsewhere use `check`. AWS credentials, region and endpoints come from the standard AWS
/// configuration (environment, profile, instance role; AWS_ENDPOINT_URL* for local stacks).
#[derive(Debug, Parser)]
#[command(name = "redshift-long-query-alert", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one check now and print its JSON summary on stdout (exit 1 on failure).
    Check(CheckArgs),
    /// Serve Lambda invocations (the default when AWS_LAMBDA_RUNTIME_API is set).
    Lambda,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Secrets Manager secret (name or ARN) with slack_webhook_url, cluster_identifier,
    /// database and db_user or redshift_secret_arn. Default: $SECRET_ID.
    #[arg(long, value_name = "ID")]
    pub secret_id: Option<String>,

    /// Threshold N in minutes: queries running at least N and less than 2N minutes are
    /// reported. Default: $THRESHOLD_MINUTES, else 30.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_THRESHOLD_MINUTES as i64))]
    pub minutes: Option<u32>,

    /// IANA time zone for start times in the message, e.g. Asia/Tokyo. Default: $TIMEZONE,
    /// else UTC.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,

    /// Build the Slack messages and print them in the summary; post nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Give up (and cancel the statement) after this many seconds in all.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

impl CheckArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            secret_id: self.secret_id.clone(),
            threshold_minutes: self.minutes,
            timezone: self.timezone.clone(),
            dry_run: self.dry_run.then_some(true),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "x",
            "check",
            "--secret-id",
            "s",
            "--minutes",
            "45",
            "--timezone",
            "Asia/Tokyo",
            "--dry-run",
        ])
        .unwrap();
        let Some(Command::Check(args)) = cli.command else {
            panic!("check expected")
        };
        assert_eq!(
            args.overrides(),
            Overrides {
                secret_id: Some("s".into()),
                threshold_minutes: Some(45),
                timezone: Some("Asia/Tokyo".into()),
                dry_run: Some(true),
            }
        );
        assert_eq!(args.timeout(), Duration::from_secs(120));
    }

    #[test]
    fn out_of_range_minutes_are_refused_by_the_parser() {
        for bad in ["0", "-3", "10081", "abc"] {
            assert!(
                Cli::try_parse_from(["x", "check", "--minutes", bad]).is_err(),
                "{bad}"
            );
        }
    }
}
