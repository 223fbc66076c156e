//! The crate's error: one variant per stage of a run, each wrapping the stage's own enum, and
//! the one mapping to the stable `errorType` names that alarms and log queries match on.
//!
//! Every message names what went wrong and what to do about it, and none ever carries a secret
//! value: adapters reduce outside error texts to codes and mask credentials before they get here.

use serde::Serialize;

use crate::deadline::TimedOut;
use crate::redshift::RedshiftError;
use crate::secret::SecretError;
use crate::settings::ConfigError;
use crate::slack::SlackError;
use crate::state::store::StateError;

/// Every `errorType` a run can report. The README documents each; a test keeps both in step.
pub const ERROR_TYPES: [&str; 10] = [
    "ConfigError",
    "SecretError",
    "StatementFailed",
    "StatementAborted",
    "DeadlineExceeded",
    "RedshiftError",
    "SlackError",
    "StateError",
    "TargetsFailed",
    "InternalError",
];

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
    #[error("thread-mode state error: {0}")]
    State(#[from] StateError),
    #[error("{} did not finish before the deadline and was stopped", .0.call)]
    Deadline(#[from] TimedOut),
    #[error("{} of {total} targets failed: {}", failures.len(), describe_failures(failures))]
    Targets {
        total: usize,
        failures: Vec<(String, Error)>,
    },
    #[error("internal error ({0}): this is a bug, please report it")]
    Internal(String),
}

fn describe_failures(failures: &[(String, Error)]) -> String {
    failures
        .iter()
        .map(|(secret_id, err)| format!("`{secret_id}`: {err}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An error as Lambda reports it and as a target's entry in the answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    #[serde(rename = "errorType")]
    pub error_type: &'static str,
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

impl Error {
    /// A stable, short name for the error, used as Lambda's `errorType`: alarms and log queries
    /// tell a bad secret from a failed statement without parsing messages.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Config(_) => "ConfigError",
            Error::Secret(e) if e.is_deadline() => "DeadlineExceeded",
            Error::Secret(_) => "SecretError",
            Error::Redshift(e) => e.error_type(),
            Error::Slack(e) => e.error_type(),
            Error::State(e) if e.is_deadline() => "DeadlineExceeded",
            Error::State(_) => "StateError",
            Error::Deadline(_) => "DeadlineExceeded",
            Error::Targets { .. } => "TargetsFailed",
            Error::Internal(_) => "InternalError",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error_type: self.error_type(),
            error_message: self.to_string(),
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        let body = error.body();
        lambda_runtime::Diagnostic {
            error_type: body.error_type.to_owned(),
            error_message: body.error_message,
        }
    }
}
