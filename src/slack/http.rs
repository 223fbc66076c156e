//! The one seam to Slack: an HTTPS POST. The real one is [`Reqwest`]; unit tests script
//! replies, integration tests use the local stand-in.
//!
//! Credentials never leave through it: redirects are never followed (a webhook URL or a token
//! must reach Slack's host and no other), no `Referer` is sent, a reply body is read only up
//! to [`MAX_REPLY_BYTES`], and no error text carries the URL.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use crate::model::{Secret, SecretUrl};

/// Slack answers with short codes or small JSON; a larger body is cut here.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// A `Retry-After` longer than this means "not within this run" anyway; it is capped so no
/// header value can overflow a clock.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What Slack answered, reduced to what delivery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// At most [`MAX_REPLY_BYTES`] of the body, as text.
    pub body: String,
}

/// A request that got no HTTP answer. `detail` never contains the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFailure {
    /// It provably did not reach Slack (no connection): safe to send again.
    NotSent { detail: String },
    /// It may have reached Slack (sent, then a timeout or a dropped connection): sending it
    /// again could post it twice.
    NoAnswer { timed_out: bool, detail: String },
}

pub trait HttpPost: Send + Sync {
    /// POSTs a JSON `body` to `url`, with `bearer` as the `Authorization` token when given.
    fn post(
        &self,
        url: &SecretUrl,
        bearer: Option<&Secret<String>>,
        body: String,
        timeout: Duration,
    ) -> impl Future<Output = Result<HttpReply, HttpFailure>> + Send;
}

/// HTTPS with reqwest (rustls).
///
/// The client is built on the first post, not at start-up: loading the root certificates is
/// most of a cold start's work (docs/performance.md), and a run that finds nothing never needs
/// it. Once built it is kept, so a warm container reuses its connections.
#[derive(Debug, Default)]
pub struct Reqwest {
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl Reqwest {
    fn client(&self) -> Result<&reqwest::Client, HttpFailure> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .redirect(reqwest::redirect::Policy::none())
                    .referer(false)
                    .user_agent(concat!(
                        "redshift-long-query-alert/",
                        env!("CARGO_PKG_VERSION")
                    ))
                    .build()
                    .map_err(|e| e.without_url().to_string())
            })
            .as_ref()
            .map_err(|detail| HttpFailure::NotSent {
                detail: format!("could not set up the HTTP client: {detail}"),
            })
    }
}

impl HttpPost for Reqwest {
    async fn post(
        &self,
        url: &SecretUrl,
        bearer: Option<&Secret<String>>,
        body: String,
        timeout: Duration,
    ) -> Result<HttpReply, HttpFailure> {
        let mut request = self
            .client()?
            .post(url.expose().clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body)
            .timeout(timeout);
        if let Some(token) = bearer {
            request = request.bearer_auth(token.expose());
        }
        let mut response = request.send().await.map_err(failure)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut bytes = Vec::new();
        // The status is known: a body that breaks off is read as far as it came.
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = MAX_REPLY_BYTES - bytes.len();
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if bytes.len() >= MAX_REPLY_BYTES {
                break;
            }
        }
        Ok(HttpReply {
            status,
            retry_after,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

/// `Retry-After` in seconds, capped; the HTTP-date form and anything else is ignored.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// reqwest puts the URL into its errors' text: drop it, and keep the causes, which say what
/// actually happened (refused, reset, TLS, timeout).
fn failure(err: reqwest::Error) -> HttpFailure {
    let not_sent = err.is_connect() || err.is_builder();
    let timed_out = err.is_timeout();
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    if not_sent {
        HttpFailure::NotSent { detail }
    } else {
        HttpFailure::NoAnswer { timed_out, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_capped_and_anything_else_is_ignored() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("99999999999999999"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("18446744073709551615"),
            Some(MAX_RETRY_AFTER)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_retry_after(bad), None, "{bad}");
        }
    }
}
