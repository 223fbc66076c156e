//! The secret: its JSON contract ([`contract`]), reading it from Secrets Manager within the
//! deadline ([`fetch`]), and a bounded cache for warm Lambda containers ([`cache`]).
//!
//! No error, log line or `Debug` output of this module ever contains a value read from the
//! secret: parse errors say the line and column, key errors say the key and the kind found.

pub mod cache;
pub mod contract;
pub mod fetch;

use crate::aws::{AwsFailure, FailureKind};
use crate::model::UrlProblem;
pub use cache::SecretCache;
pub use contract::{parse_secret, SecretConfig};
pub use fetch::SecretSource;

/// A secret that could not be read or does not follow the contract.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{secret_id}` was not found: check SECRET_ID (name or ARN) and the region")]
    NotFound { secret_id: String },
    #[error(
        "not allowed to read secret `{secret_id}` ({failure}): the caller needs \
         secretsmanager:GetSecretValue on it (and kms:Decrypt when it uses a customer-managed key)"
    )]
    AccessDenied {
        secret_id: String,
        failure: AwsFailure,
    },
    #[error("could not read secret `{secret_id}` from Secrets Manager: {failure}{}", hint(.failure))]
    Unavailable {
        secret_id: String,
        failure: AwsFailure,
    },
    #[error("GetSecretValue for secret `{secret_id}` did not answer before the deadline")]
    TimedOut { secret_id: String },
    #[error("secret `{secret_id}` has no SecretString: store the settings as JSON text")]
    NoSecretString { secret_id: String },
    #[error(
        "secret `{secret_id}` is not valid JSON ({problem} at line {line}, column {column}): \
         store a JSON object with slack_webhook_url, cluster_identifier, database and \
         db_user or redshift_secret_arn"
    )]
    NotJson {
        secret_id: String,
        problem: &'static str,
        line: usize,
        column: usize,
    },
    #[error("secret `{secret_id}` must hold a JSON object, not {found}")]
    NotObject {
        secret_id: String,
        found: &'static str,
    },
    #[error("secret `{secret_id}` lacks the required key `{key}`")]
    MissingKey {
        secret_id: String,
        key: &'static str,
    },
    #[error(
        "secret `{secret_id}` gives no way to reach Slack: add `slack_webhook_url` (an incoming \
         webhook), or `slack_bot_token` and `slack_channel` (a Slack app, needed by alert_mode \
         \"thread\")"
    )]
    NoSlack { secret_id: String },
    #[error("secret `{secret_id}`: key `{key}` must be {expected}, not {found}")]
    WrongType {
        secret_id: String,
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error(
        "secret `{secret_id}` has both `db_user` and `redshift_secret_arn`: keep exactly one \
         (db_user for temporary credentials, redshift_secret_arn for stored credentials)"
    )]
    BothAuthKeys { secret_id: String },
    #[error(
        "secret `{secret_id}` needs exactly one of `cluster_identifier` (a provisioned cluster) \
         or `workgroup_name` (Redshift Serverless), {found}"
    )]
    Target {
        secret_id: String,
        found: &'static str,
    },
    #[error(
        "secret `{secret_id}`: `db_user` is not valid with `workgroup_name` (Redshift Serverless \
         has no temporary database-user credentials): use `redshift_secret_arn`, or neither to \
         connect as the function's IAM identity"
    )]
    DbUserWithWorkgroup { secret_id: String },
    #[error(
        "secret `{secret_id}` has both `cancel_db_user` and `cancel_redshift_secret_arn`: keep \
         exactly one cancel identity"
    )]
    BothCancelKeys { secret_id: String },
    #[error(
        "secret `{secret_id}` has neither `db_user` nor `redshift_secret_arn`: add exactly one"
    )]
    NoAuthKey { secret_id: String },
    #[error("secret `{secret_id}`: key `{key}` is not usable: {problem}")]
    BadUrl {
        secret_id: String,
        key: &'static str,
        problem: UrlProblem,
    },
}

fn hint(failure: &AwsFailure) -> &'static str {
    match failure.kind {
        FailureKind::Throttled => {
            ". Secrets Manager throttled GetSecretValue: too many calls in this account and \
             region; the warm cache keeps a secret for 5 minutes"
        }
        FailureKind::Timeout | FailureKind::Unreachable => {
            ". Secrets Manager did not answer: check the network path (VPC endpoint or NAT) and \
             AWS_ENDPOINT_URL_SECRETS_MANAGER"
        }
        _ => "",
    }
}

impl SecretError {
    pub fn is_deadline(&self) -> bool {
        matches!(self, SecretError::TimedOut { .. })
    }
}
