//! The crate's error type: one variant per stage of a run, each wrapping the stage's own enum.
//!
//! Every message names what went wrong and what to do about it, and none of them ever carries
//! a secret value: the webhook URL, database user and credential ARN stay out of all of them.

use crate::config::ConfigError;
use crate::redshift::RedshiftError;
use crate::secret::SecretError;
use crate::slack::SlackError;

/// Why a check failed. The variant tells the stage; its source tells the detail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("secret error: {0}")]
    Secret(#[from] SecretError),
    #[error("Redshift Data API error: {0}")]
    Redshift(#[from] RedshiftError),
    #[error("Slack error: {0}")]
    Slack(#[from] SlackError),
    #[error("{} of {total} targets failed: {}", failures.len(), describe_failures(failures))]
    Targets {
        total: usize,
        failures: Vec<(String, Error)>,
    },
}

fn describe_failures(failures: &[(String, Error)]) -> String {
    failures
        .iter()
        .map(|(secret_id, err)| format!("`{secret_id}`: {err}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// A stable, short name for the error, used as Lambda's `errorType` so that alarms and
    /// log queries can tell a bad secret from a failed statement without parsing messages.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Config(_) => "ConfigError",
            Error::Secret(_) => "SecretError",
            Error::Redshift(e) => e.error_type(),
            Error::Slack(_) => "SlackError",
            Error::Targets { .. } => "TargetsFailed",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}
