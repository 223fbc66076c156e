//! What every AWS adapter shares: the SDK configuration (timeouts, a response-size cap), and the
//! reduction of an SDK error to what is safe to show.
//!
//! SDK errors can carry the raw response (a secret's value, in the worst case) and their
//! `Display` walks into it; so no adapter ever prints one. [`AwsFailure`] keeps the kind, the
//! error code, the HTTP status and the request id: enough to act on and to quote to AWS support.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

/// No single AWS answer this function reads is legitimately larger: a Data API page of the
/// statements here holds at most a few hundred rows of at most ~13 KB. A larger answer is
/// refused before it is parsed, so a faulty endpoint cannot exhaust a 128 MB function.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Loads the standard AWS configuration (credentials chain, region, `AWS_ENDPOINT_URL*`) with
/// timeouts on every attempt and a bounded HTTP client.
pub async fn load_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .http_client(bounded_client(MAX_RESPONSE_BYTES))
        .load()
        .await
}

/// The SDK's default HTTPS client, with every response body read here first: at most `max`
/// bytes, and JSON string escapes of lone UTF-16 surrogates replaced, which the SDK's parser
/// would otherwise reject together with the whole page (one odd query text must not cost every
/// alert).
fn bounded_client(max: usize) -> SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    let inner = Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    });
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Bounded {
            inner: inner.http_connector(settings, components),
            max,
        })
    })
}

#[derive(Debug)]
struct Bounded {
    inner: SharedHttpConnector,
    max: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("the answer is larger than {0} bytes")]
struct TooLarge(usize);

impl HttpConnector for Bounded {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let call = self.inner.call(request);
        let max = self.max;
        HttpConnectorFuture::new(async move {
            let mut response = call.await?;
            let mut stream = ByteStream::new(response.take_body());
            let mut body = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| ConnectorError::io(e.into()))?;
                if body.len() + chunk.len() > max {
                    return Err(ConnectorError::other(Box::new(TooLarge(max)), None));
                }
                body.extend_from_slice(&chunk);
            }
            *response.body_mut() = SdkBody::from(replace_lone_surrogates(body));
            Ok(response)
        })
    }
}

/// Rewrites `\uD800`–`\uDFFF` escapes that are not part of a valid pair to `\uFFFD`. Works on
/// the raw bytes: in JSON a backslash only occurs inside strings, as an escape.
pub fn replace_lone_surrogates(body: Vec<u8>) -> Vec<u8> {
    fn escape_at(b: &[u8], i: usize) -> Option<u16> {
        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(b.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    }
    if !body.windows(3).any(|w| w == b"\\uD" || w == b"\\ud") {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        match escape_at(&body, i) {
            Some(0xD800..=0xDBFF) if matches!(escape_at(&body, i + 6), Some(0xDC00..=0xDFFF)) => {
                out.extend_from_slice(&body[i..i + 12]);
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                out.extend_from_slice(b"\\uFFFD");
                i += 6;
            }
            _ => {
                // Any other escape (including `\\`) is copied whole, so its second byte is
                // never mistaken for the start of another escape.
                out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
                i += 2;
            }
        }
    }
    out
}

/// What kind of failure an AWS call met, as far as the caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer within the SDK's own attempt timeout.
    Timeout,
    /// No connection (DNS, refused, TLS).
    Unreachable,
    NoCredentials,
    NoRegion,
    Throttled,
    AccessDenied,
    NotFound,
    /// An answer that could not be read (truncated, not the protocol, too large).
    Unreadable,
    /// Any other refusal by the service.
    Refused,
    Other,
}

/// An AWS call's failure, reduced to what is safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    pub kind: FailureKind,
    pub code: Option<String>,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// The service's own message, only where the caller allowed it and after masking.
    pub message: Option<String>,
}

impl AwsFailure {
    /// Classifies `err`. The service's message is kept only when `message` maps it to
    /// something safe (a masker), never for services whose errors may echo a secret.
    pub fn from_sdk<E>(
        err: &SdkError<E, HttpResponse>,
        message: Option<&dyn Fn(&str) -> String>,
    ) -> AwsFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().map(str::to_owned);
        let kind = match err {
            SdkError::TimeoutError(_) => FailureKind::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => FailureKind::Timeout,
            SdkError::DispatchFailure(d) if d.is_io() => FailureKind::Unreachable,
            SdkError::ResponseError(_) => FailureKind::Unreadable,
            // A success status the SDK could not parse, or an error without a code: the answer
            // itself is broken.
            SdkError::ServiceError(_)
                if code.is_none() || status.is_some_and(|s| (200..300).contains(&s)) =>
            {
                FailureKind::Unreadable
            }
            SdkError::ServiceError(_) => match code.as_deref() {
                // DynamoDB says "throttled" in its own words.
                Some(c)
                    if c.contains("Throttl")
                        || matches!(
                            c,
                            "TooManyRequestsException"
                                | "ProvisionedThroughputExceededException"
                                | "RequestLimitExceeded"
                        ) =>
                {
                    FailureKind::Throttled
                }
                Some(
                    "AccessDeniedException"
                    | "AccessDenied"
                    | "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "ExpiredTokenException",
                ) => FailureKind::AccessDenied,
                Some("ResourceNotFoundException") => FailureKind::NotFound,
                _ => FailureKind::Refused,
            },
            _ => classify_by_source(err),
        };
        AwsFailure {
            kind,
            code,
            status,
            request_id: err.request_id().map(str::to_owned),
            message: message.and_then(|m| err.message().map(m)),
        }
    }
}

/// Credential and region problems surface as construction or dispatch failures whose only
/// trace is the error chain; their text is the SDK's own (no response is involved), so
/// reading it is safe, and only a fixed sentence is shown.
fn classify_by_source(err: &dyn std::error::Error) -> FailureKind {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        chain.push_str(&e.to_string().to_ascii_lowercase());
        chain.push(' ');
        source = e.source();
    }
    if chain.contains("too large") || chain.contains("larger than") {
        FailureKind::Unreadable
    } else if chain.contains("credential") || chain.contains("identity") {
        FailureKind::NoCredentials
    } else if chain.contains("region") {
        FailureKind::NoRegion
    } else if chain.contains("timed out") || chain.contains("timeout") {
        FailureKind::Timeout
    } else if chain.contains("connect") || chain.contains("dns") || chain.contains("io error") {
        FailureKind::Unreachable
    } else {
        FailureKind::Other
    }
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FailureKind::Timeout => "no answer within the attempt timeout",
            FailureKind::Unreachable => "the endpoint could not be reached",
            FailureKind::NoCredentials => {
                "no AWS credentials were found (Lambda: the function's role; elsewhere: \
                 AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an instance role)"
            }
            FailureKind::NoRegion => "no AWS region is set (set AWS_REGION)",
            FailureKind::Throttled => "throttled even after the SDK's retries",
            FailureKind::AccessDenied => "access denied",
            FailureKind::NotFound => "not found",
            FailureKind::Unreadable => "its answer could not be read",
            FailureKind::Refused => "refused",
            FailureKind::Other => "the request failed before an answer came",
        };
        f.write_str(what)?;
        let mut details = Vec::new();
        if let Some(code) = &self.code {
            details.push(code.clone());
        }
        if let Some(status) = self.status {
            details.push(format!("HTTP {status}"));
        }
        if let Some(id) = &self.request_id {
            details.push(format!("request id {id}"));
        }
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(text: &str) -> String {
        String::from_utf8(replace_lone_surrogates(text.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        assert_eq!(fix(r#"{"a":"x\ud800y"}"#), r#"{"a":"x\uFFFDy"}"#);
        assert_eq!(fix(r#"{"a":"\uDC00"}"#), r#"{"a":"\uFFFD"}"#);
        assert_eq!(fix(r#"{"a":"\ud83d\ude00"}"#), r#"{"a":"\ud83d\ude00"}"#);
        assert_eq!(
            fix(r#"{"a":"\\ud800"}"#),
            r#"{"a":"\\ud800"}"#,
            "an escaped backslash"
        );
        assert_eq!(fix(r#"{"a":"\ud800\u0041"}"#), r#"{"a":"\uFFFD\u0041"}"#);
        assert_eq!(
            fix(r#"{"a":"\ud8"}"#),
            r#"{"a":"\ud8"}"#,
            "too short: left to the parser"
        );
        for text in [r#"{"a":"\ud800"}"#, r#"{"a":"x\udfff\ud800"}"#] {
            let fixed = fix(text);
            assert!(
                serde_json::from_str::<serde_json::Value>(&fixed).is_ok(),
                "{fixed}"
            );
        }
    }
}
