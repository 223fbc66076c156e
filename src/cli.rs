//! The command line: the same check as the Lambda function, run once from a shell or cron.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::deadline::Deadline;
use crate::error::Error;
use crate::model::{AlertModeName, Checks, Language, Minutes, QuerySource, Zone};
use crate::run::App;
use crate::settings::{self, ConfigError, EnvLayer, Layer, Origin, Surface};

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
    /// Run one check now and print its JSON summary on stdout (exit 1 on failure, 2 on bad
    /// settings).
    Check(Box<CheckArgs>),
    /// Serve Lambda invocations (the default when AWS_LAMBDA_RUNTIME_API is set).
    Lambda,
}

const MINUTES_RANGE: std::ops::RangeInclusive<i64> = 1..=Minutes::MAX as i64;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Secrets Manager secret (name or ARN) with slack_webhook_url, cluster_identifier,
    /// database and db_user or redshift_secret_arn. Default: $SECRET_ID.
    #[arg(long, value_name = "ID")]
    pub secret_id: Option<String>,

    /// Threshold N in minutes: queries running at least N and less than 2N minutes are
    /// reported. Default: $THRESHOLD_MINUTES, else 30.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(MINUTES_RANGE))]
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
    /// run in which it crossed N (needs --schedule-minutes); thread: one Slack thread per query,
    /// updated until it ends (needs STATE_TABLE and a Slack app in the secret).
    /// Default: $ALERT_MODE, else window.
    #[arg(long, value_name = "MODE", value_parser = ["window", "once", "thread"])]
    pub alert_mode: Option<String>,

    /// The language of the Slack messages: en or ja. Default: $MESSAGE_LANGUAGE, else the
    /// secret's `language`, else en. Logs, errors and the summary stay English.
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,

    /// Which checks run beside the long-query check, comma-separated: queued, blocking,
    /// idle_transactions (`long_queries` alone: none of them). Default: the secret's `checks`,
    /// else all.
    #[arg(long, value_name = "LIST")]
    pub checks: Option<String>,

    /// Thread mode: escalate a query still running after this many minutes (default: twice
    /// its threshold). Overrides the secret's critical_minutes.
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u32).range(MINUTES_RANGE))]
    pub critical_minutes: Option<u32>,

    /// How often this check is scheduled, in minutes (for --alert-mode once).
    /// Default: $SCHEDULE_MINUTES.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(MINUTES_RANGE))]
    pub schedule_minutes: Option<u32>,

    /// How to print the summary: pretty (indented), json-line (one compact line, for cron logs
    /// and pipes), or auto (pretty on a terminal, one line otherwise).
    #[arg(long, value_name = "FORMAT", default_value = "auto", value_parser = ["auto", "pretty", "json-line"])]
    pub output: String,

    /// Give up (and cancel the statement) after this many seconds in all.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

impl CheckArgs {
    /// The flags as a settings layer over the environment's.
    pub fn layer(&self) -> Result<Layer, ConfigError> {
        let timezone = self
            .timezone
            .as_deref()
            .map(|name| {
                Zone::parse(name).ok_or_else(|| ConfigError::UnknownTimezone {
                    origin: Origin::Flag("--timezone"),
                    value: crate::input::shorten(name.trim()),
                })
            })
            .transpose()?;
        Ok(Layer {
            secret_id: self
                .secret_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            // clap has checked the ranges already.
            threshold: self.minutes.and_then(Minutes::new),
            timezone,
            dry_run: self.dry_run.then_some(true),
            query_source: self.query_source.as_deref().and_then(QuerySource::parse),
            alert_mode: self.alert_mode.as_deref().and_then(AlertModeName::parse),
            schedule: self.schedule_minutes.and_then(Minutes::new),
            // Checked here, not by clap: the accepted codes are `Language`'s, whatever it holds.
            language: self
                .language
                .as_deref()
                .map(|code| {
                    Language::parse(code).ok_or_else(|| ConfigError::Invalid {
                        origin: Origin::Flag("--language"),
                        expected: Language::EXPECTED,
                        found: format!("{:?}", crate::input::shorten(code)),
                    })
                })
                .transpose()?,
            rules: crate::rules::RulesPatch {
                critical_minutes: self.critical_minutes.and_then(Minutes::new),
                checks: self
                    .checks
                    .as_deref()
                    .map(|list| {
                        Checks::parse(list.split(',').filter(|n| !n.trim().is_empty())).ok_or_else(
                            || ConfigError::Invalid {
                                origin: Origin::Flag("--checks"),
                                expected: Checks::EXPECTED,
                                found: format!("{:?}", crate::input::shorten(list)),
                            },
                        )
                    })
                    .transpose()?,
                ..Default::default()
            },
            ..Layer::default()
        })
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

/// Exit codes: 0 success, 1 the check failed, 2 bad settings (usage).
pub async fn run(args: CheckArgs) -> ExitCode {
    let deadline = Deadline::after(args.timeout());
    let settings = match args
        .layer()
        .and_then(|layer| settings::resolve(&layer, &EnvLayer::from_env(), Surface::Cli))
    {
        Ok(settings) => settings,
        Err(err) => return fail(&Error::from(err)),
    };
    let run = deadline
        .later_by(crate::deadline::BACKSTOP_GRACE)
        .bound("the run", async {
            App::from_environment()
                .await
                .check(&settings, deadline)
                .await
        });
    match run.await {
        Ok(Ok(summary)) => {
            let pretty = match args.output.as_str() {
                "pretty" => true,
                "json-line" => false,
                _ => std::io::stdout().is_terminal(),
            };
            let text = if pretty {
                serde_json::to_string_pretty(&summary)
            } else {
                serde_json::to_string(&summary)
            };
            print_quietly(&text.unwrap_or_default())
        }
        Ok(Err(err)) => fail(&err),
        Err(timed_out) => fail(&Error::Deadline(timed_out)),
    }
}

fn fail(err: &Error) -> ExitCode {
    eprintln!("error: {err}");
    match err {
        Error::Config(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// Prints to stdout; a reader that went away (`| head -c1`) ends the program quietly, with the
/// status a shell shows for SIGPIPE, as coreutils do.
fn print_quietly(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(141),
        Err(e) => {
            eprintln!("error: could not write the summary: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn check_args(args: &[&str]) -> CheckArgs {
        let mut all = vec!["x", "check"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            Some(Command::Check(args)) => *args,
            other => panic!("check expected, got {other:?}"),
        }
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_flags_become_a_settings_layer() {
        let args = check_args(&[
            "--secret-id",
            "s",
            "--minutes",
            "45",
            "--timezone",
            "Asia/Tokyo",
            "--dry-run",
        ]);
        let layer = args.layer().unwrap();
        assert_eq!(layer.secret_id.as_deref(), Some("s"));
        assert_eq!(layer.threshold.map(Minutes::get), Some(45));
        assert_eq!(layer.timezone.unwrap().name(), "Asia/Tokyo");
        assert_eq!(layer.dry_run, Some(true));
        assert_eq!(args.timeout(), Duration::from_secs(120));
        assert_eq!(args.output, "auto");
        assert!(Cli::try_parse_from(["x", "check", "--output", "yaml"]).is_err());
        let layer = check_args(&[
            "--alert-mode",
            "once",
            "--schedule-minutes",
            "10",
            "--query-source",
            "sys",
        ])
        .layer()
        .unwrap();
        assert_eq!(layer.alert_mode, Some(AlertModeName::Once));
        assert_eq!(layer.schedule.map(Minutes::get), Some(10));
        assert_eq!(layer.query_source, Some(QuerySource::Sys));
    }

    #[test]
    fn a_bad_time_zone_blames_the_flag() {
        let err = check_args(&["--timezone", "Mars/Base"])
            .layer()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("flag --timezone names an unknown time zone"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_values_are_refused_by_the_parser() {
        for bad in ["0", "-3", "10081", "abc"] {
            assert!(
                Cli::try_parse_from(["x", "check", "--minutes", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(Cli::try_parse_from(["x", "check", "--query-source", "stl"]).is_err());
    }
}
