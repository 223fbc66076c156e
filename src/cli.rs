//! The command line: the same check as the Lambda function, run once from a shell or cron.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{parse_mode, Overrides, QuerySource, MAX_THRESHOLD_MINUTES};

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

    /// Which system views to read: auto (SVV_QUERY_INFLIGHT on a cluster, SYS views on
    /// Serverless), svv, or sys. Default: $QUERY_SOURCE, else auto.
    #[arg(long, value_name = "SOURCE", value_parser = ["auto", "svv", "sys"])]
    pub query_source: Option<String>,

    /// window: report a query in every run while it is in [N, 2N) minutes; once: only in the
    /// run in which it crossed N (needs --schedule-minutes). Default: $ALERT_MODE, else window.
    #[arg(long, value_name = "MODE", value_parser = ["window", "once"])]
    pub alert_mode: Option<String>,

    /// How often this check is scheduled, in minutes (for --alert-mode once).
    /// Default: $SCHEDULE_MINUTES.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(1..=MAX_THRESHOLD_MINUTES as i64))]
    pub schedule_minutes: Option<u32>,

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
            query_source: self.query_source.as_deref().and_then(QuerySource::parse),
            alert_mode: self.alert_mode.as_deref().and_then(parse_mode),
            schedule_minutes: self.schedule_minutes,
            ..Overrides::default()
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
                ..Overrides::default()
            }
        );
        assert_eq!(args.timeout(), Duration::from_secs(120));
    }

    #[test]
    fn once_mode_flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "x",
            "check",
            "--alert-mode",
            "once",
            "--schedule-minutes",
            "10",
            "--query-source",
            "sys",
        ])
        .unwrap();
        let Some(Command::Check(args)) = cli.command else {
            panic!("check expected")
        };
        let o = args.overrides();
        assert_eq!(o.alert_mode, Some(crate::config::AlertModeName::Once));
        assert_eq!(o.schedule_minutes, Some(10));
        assert_eq!(o.query_source, Some(QuerySource::Sys));
        assert!(Cli::try_parse_from(["x", "check", "--query-source", "stl"]).is_err());
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
