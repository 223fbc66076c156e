//! Reading the secret from Secrets Manager: one `GetSecretValue`, bounded by the run's
//! deadline, through the warm cache. Errors carry the code, HTTP status and request id, never
//! the service's message or the response: either may echo the secret's value.

use std::sync::Arc;

use aws_sdk_secretsmanager::error::SdkError;

use super::{parse_secret, SecretCache, SecretConfig, SecretError};
use crate::aws::{AwsFailure, FailureKind};
use crate::deadline::Deadline;

/// Secrets Manager and the cache in front of it.
#[derive(Debug)]
pub struct SecretSource {
    client: aws_sdk_secretsmanager::Client,
    cache: SecretCache,
}

impl SecretSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, cache: SecretCache) -> Self {
        SecretSource { client, cache }
    }

    /// The secret, from the cache when fresh, else read and validated (then cached).
    pub async fn get(
        &self,
        secret_id: &str,
        deadline: Deadline,
    ) -> Result<Arc<SecretConfig>, SecretError> {
        if let Some(config) = self.cache.get(secret_id) {
            return Ok(config);
        }
        let config = fetch(&self.client, secret_id, deadline).await?;
        Ok(self.cache.put(secret_id, config))
    }

    pub fn invalidate(&self, secret_id: &str) {
        self.cache.invalidate(secret_id);
    }
}

/// Reads and validates the secret.
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    deadline: Deadline,
) -> Result<SecretConfig, SecretError> {
    let secret_id_owned = || secret_id.to_owned();
    let call = client.get_secret_value().secret_id(secret_id).send();
    let output = deadline
        .bound("GetSecretValue", call)
        .await
        .map_err(|_| SecretError::TimedOut {
            secret_id: secret_id_owned(),
        })?
        .map_err(|err| {
            let not_found = matches!(&err, SdkError::ServiceError(e) if e.err().is_resource_not_found_exception());
            let failure = AwsFailure::from_sdk(&err, None);
            match failure.kind {
                _ if not_found => SecretError::NotFound {
                    secret_id: secret_id_owned(),
                },
                FailureKind::NotFound => SecretError::NotFound {
                    secret_id: secret_id_owned(),
                },
                FailureKind::AccessDenied => SecretError::AccessDenied {
                    secret_id: secret_id_owned(),
                    failure,
                },
                _ => SecretError::Unavailable {
                    secret_id: secret_id_owned(),
                    failure,
                },
            }
        })?;
    let text = output
        .secret_string()
        .ok_or_else(|| SecretError::NoSecretString {
            secret_id: secret_id_owned(),
        })?;
    parse_secret(secret_id, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::error::ErrorMetadata;
    use aws_sdk_secretsmanager::operation::get_secret_value::{
        GetSecretValueError, GetSecretValueOutput,
    };
    use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
    use aws_sdk_secretsmanager::Client;
    use aws_smithy_mocks::{mock, mock_client};
    use std::time::Duration;

    fn far() -> Deadline {
        Deadline::after(Duration::from_secs(60))
    }

    #[tokio::test]
    async fn refusals_become_named_errors_without_the_services_message() {
        let denied = mock!(Client::get_secret_value).then_error(|| {
            GetSecretValueError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized; value was SECRETTOKEN123")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_secretsmanager, [&denied]);
        let err = fetch(&client, "prod/alert", far()).await.unwrap_err();
        assert!(matches!(err, SecretError::AccessDenied { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("secretsmanager:GetSecretValue")
                && text.contains("AccessDeniedException")
        );
        assert!(!text.contains("SECRETTOKEN123"), "{text}");

        let missing = mock!(Client::get_secret_value).then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_secretsmanager, [&missing]);
        assert!(matches!(
            fetch(&client, "prod/alert", far()).await.unwrap_err(),
            SecretError::NotFound { .. }
        ));

        let throttled = mock!(Client::get_secret_value).then_error(|| {
            GetSecretValueError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded SECRETTOKEN123")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_secretsmanager, [&throttled]);
        let err = fetch(&client, "prod/alert", far())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("throttled") && !err.contains("SECRETTOKEN123"),
            "{err}"
        );

        let binary = mock!(Client::get_secret_value)
            .then_output(|| GetSecretValueOutput::builder().name("prod/alert").build());
        let client = mock_client!(aws_sdk_secretsmanager, [&binary]);
        assert!(matches!(
            fetch(&client, "prod/alert", far()).await.unwrap_err(),
            SecretError::NoSecretString { .. }
        ));
    }
}
