//! Slack: typed Block Kit ([`blocks`]) with safe text ([`mrkdwn`]), delivery with bounded,
//! deadline-aware retries ([`delivery`]) over one seam ([`http`]), and the transports that read
//! Slack's answers ([`webhook`], [`web_api`]). Nothing here composes a sentence: messages come
//! ready-made from the checks.

pub mod blocks;
pub mod delivery;
pub mod http;
pub mod mrkdwn;
pub mod web_api;
pub mod webhook;

use serde_json::{json, Value};

use crate::deadline::Deadline;
use crate::model::{ChannelId, Masker, Secret, SecretUrl, SlackAccess, UrlProblem};
use blocks::Message;
use delivery::{deliver, DeliveryError, RetryPolicy};
use http::{HttpPost, Reqwest};
use web_api::{Method, Pacer};

/// A run's messages could not all be posted.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error(
        "message {failed} of {total} was not delivered ({delivered} delivered before it, not \
         re-sent): {reason}"
    )]
    Undelivered {
        failed: usize,
        total: usize,
        delivered: usize,
        #[source]
        reason: DeliveryError,
    },
    #[error(
        "{failed} Slack call(s) of this run failed (the rest were made); the first: {step} for \
         pid {pid} (query id {query_id}): {reason}"
    )]
    Thread {
        failed: usize,
        step: &'static str,
        pid: i64,
        query_id: i64,
        #[source]
        reason: DeliveryError,
    },
    #[error(
        "the secret has no slack_webhook_url: alert modes \"window\" and \"once\" post through \
         an incoming webhook (mode \"thread\" uses slack_bot_token and slack_channel)"
    )]
    NoWebhook,
}

impl SlackError {
    pub fn error_type(&self) -> &'static str {
        match self {
            SlackError::Undelivered { reason, .. } | SlackError::Thread { reason, .. }
                if reason.is_deadline() =>
            {
                "DeadlineExceeded"
            }
            SlackError::Undelivered { .. } | SlackError::Thread { .. } => "SlackError",
            SlackError::NoWebhook => "ConfigError",
        }
    }

    /// Slack said the credential no longer works: the cached secret should be read again.
    pub fn credential_is_dead(&self) -> bool {
        match self {
            SlackError::Undelivered { reason, .. } | SlackError::Thread { reason, .. } => {
                webhook::credential_is_dead(reason) || web_api::credential_is_dead(reason)
            }
            SlackError::NoWebhook => false,
        }
    }
}

/// Posting to Slack, over a swappable HTTP seam.
#[derive(Debug)]
pub struct Slack<H = Reqwest> {
    http: H,
    retry: RetryPolicy,
    /// The Web API's base URL, or why `SLACK_API_URL` was refused (said when it is needed).
    api_base: Result<SecretUrl, UrlProblem>,
    pacer: Pacer,
}

impl Default for Slack<Reqwest> {
    fn default() -> Self {
        Slack::new(Reqwest::default(), RetryPolicy::default())
    }
}

/// Where and as whom Web API calls go: the app's token and channel, from the secret.
#[derive(Debug, Clone, Copy)]
pub struct WebApiTarget<'a> {
    pub token: &'a Secret<String>,
    pub channel: &'a ChannelId,
    pub masker: &'a Masker,
}

/// A post into a thread rather than the channel.
#[derive(Debug, Clone, Copy)]
pub struct InThread<'a> {
    pub parent_ts: &'a str,
    /// Also show the reply in the channel (`reply_broadcast`).
    pub broadcast: bool,
}

impl<H: HttpPost> Slack<H> {
    pub fn new(http: H, retry: RetryPolicy) -> Self {
        Slack {
            http,
            retry,
            api_base: SecretUrl::parse(web_api::DEFAULT_BASE),
            pacer: Pacer::default(),
        }
    }

    /// Sends Web API calls to `base` instead of Slack's (`SLACK_API_URL`).
    pub fn with_api_base(mut self, base: Result<SecretUrl, UrlProblem>) -> Self {
        self.api_base = base;
        self
    }

    /// The Web API base in use, or why it was refused.
    pub fn api_base(&self) -> Result<&SecretUrl, UrlProblem> {
        self.api_base.as_ref().map_err(|p| *p)
    }

    /// Posts `message` to the channel (or into a thread) and returns its `ts`. Paced per
    /// channel; a post that would have to wait past the deadline is not made.
    pub async fn post_message(
        &self,
        to: WebApiTarget<'_>,
        message: &Message,
        thread: Option<InThread<'_>>,
        deadline: Deadline,
    ) -> Result<String, DeliveryError> {
        let wait = self.pacer.reserve(to.channel.as_str());
        if !deadline.allows(wait) {
            return Err(DeliveryError::Deadline {
                attempts: 0,
                last: "no time left to wait for Slack's posting pace".into(),
            });
        }
        tokio::time::sleep(wait).await;
        let mut body = with_channel(message, to.channel);
        if let Some(thread) = thread {
            body["thread_ts"] = json!(thread.parent_ts);
            body["reply_broadcast"] = json!(thread.broadcast);
        }
        self.call(Method::PostMessage, to, body, deadline).await
    }

    /// POSTs `body` to an interaction's `response_url` (an ephemeral answer to the clicker, or
    /// the clicked message replaced). Answered like a webhook.
    pub async fn respond(
        &self,
        url: &SecretUrl,
        body: &Value,
        deadline: Deadline,
        masker: &Masker,
    ) -> Result<(), DeliveryError> {
        let body = body.to_string();
        let attempt = |timeout| {
            let body = body.clone();
            async move { webhook::verdict(self.http.post(url, None, body, timeout).await, masker) }
        };
        deliver(attempt, deadline, &self.retry).await.map(drop)
    }

    /// Replaces the message `ts` with `message`.
    pub async fn update(
        &self,
        to: WebApiTarget<'_>,
        ts: &str,
        message: &Message,
        deadline: Deadline,
    ) -> Result<(), DeliveryError> {
        let mut body = with_channel(message, to.channel);
        body["ts"] = json!(ts);
        self.call(Method::Update, to, body, deadline)
            .await
            .map(drop)
    }

    async fn call(
        &self,
        method: Method,
        to: WebApiTarget<'_>,
        body: Value,
        deadline: Deadline,
    ) -> Result<String, DeliveryError> {
        let url = self
            .api_base()
            .map_err(|problem| DeliveryError::Rejected {
                status: 0,
                body: format!("SLACK_API_URL: {problem}"),
                hint: "fix or unset SLACK_API_URL",
            })?
            .with_segment(method.name());
        let body = body.to_string();
        let attempt = |timeout| {
            let body = body.clone();
            let url = &url;
            async move {
                web_api::verdict(
                    method,
                    self.http.post(url, Some(to.token), body, timeout).await,
                    to.masker,
                )
            }
        };
        deliver(attempt, deadline, &self.retry)
            .await
            .map(|(ts, _)| ts)
    }

    /// Posts the messages in order, each at most once; stops at the first that cannot be
    /// delivered and says how many went out before it.
    pub async fn post_all(
        &self,
        access: &SlackAccess,
        messages: &[Message],
        deadline: Deadline,
        masker: &Masker,
    ) -> Result<usize, SlackError> {
        let Some(url) = access.webhook() else {
            return Err(SlackError::NoWebhook);
        };
        for (index, message) in messages.iter().enumerate() {
            let body = message.to_json().to_string();
            let attempt = |timeout| {
                let body = body.clone();
                async move { webhook::verdict(self.http.post(url, None, body, timeout).await, masker) }
            };
            deliver(attempt, deadline, &self.retry)
                .await
                .map_err(|reason| SlackError::Undelivered {
                    failed: index + 1,
                    total: messages.len(),
                    delivered: index,
                    reason,
                })?;
        }
        Ok(messages.len())
    }
}

fn with_channel(message: &Message, channel: &ChannelId) -> Value {
    let mut body = message.to_json();
    body["channel"] = json!(channel.as_str());
    // Links and names in our text are never to be unfurled or linked by Slack.
    body["unfurl_links"] = json!(false);
    body["unfurl_media"] = json!(false);
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Secret, SecretUrl};
    use http::{HttpFailure, HttpReply};
    use std::sync::Mutex;
    use std::time::Duration;

    /// A Slack that answers from a script and records what it was sent.
    struct Scripted {
        replies: Mutex<Vec<Result<HttpReply, HttpFailure>>>,
        sent: Mutex<Vec<String>>,
    }

    impl HttpPost for Scripted {
        async fn post(
            &self,
            _: &SecretUrl,
            _: Option<&Secret<String>>,
            body: String,
            _: Duration,
        ) -> Result<HttpReply, HttpFailure> {
            self.sent.lock().unwrap().push(body);
            let mut replies = self.replies.lock().unwrap();
            if replies.is_empty() {
                Ok(HttpReply {
                    status: 200,
                    retry_after: None,
                    body: "ok".into(),
                })
            } else {
                replies.remove(0)
            }
        }
    }

    fn slack(replies: Vec<Result<HttpReply, HttpFailure>>) -> Slack<Scripted> {
        Slack::new(
            Scripted {
                replies: Mutex::new(replies),
                sent: Mutex::new(vec![]),
            },
            RetryPolicy::default(),
        )
    }

    fn access() -> SlackAccess {
        SlackAccess::Webhook(
            SecretUrl::parse("https://hooks.slack.com/services/T/B/SECRET").unwrap(),
        )
    }

    fn messages(n: usize) -> Vec<Message> {
        (0..n).map(|i| Message::new(&format!("m{i}"))).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_says_what_was_delivered_before_it_and_stops() {
        let s = slack(vec![
            Ok(HttpReply {
                status: 200,
                retry_after: None,
                body: "ok".into(),
            }),
            Ok(HttpReply {
                status: 400,
                retry_after: None,
                body: "invalid_blocks".into(),
            }),
        ]);
        let deadline = Deadline::after(Duration::from_secs(60));
        let err = s
            .post_all(&access(), &messages(3), deadline, &Masker::default())
            .await
            .unwrap_err();
        assert_eq!(
            s.http.sent.lock().unwrap().len(),
            2,
            "the third is not attempted"
        );
        let SlackError::Undelivered {
            failed, delivered, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!((*failed, *delivered), (2, 1));
        assert_eq!(err.error_type(), "SlackError");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_message_is_not_sent_twice() {
        let s = slack(vec![Err(HttpFailure::NoAnswer {
            timed_out: true,
            detail: "timed out".into(),
        })]);
        let deadline = Deadline::after(Duration::from_secs(60));
        let err = s
            .post_all(&access(), &messages(1), deadline, &Masker::default())
            .await
            .unwrap_err();
        assert_eq!(s.http.sent.lock().unwrap().len(), 1);
        assert!(
            err.to_string().contains("may or may not have been posted"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_never_opened_is_retried() {
        let s = slack(vec![Err(HttpFailure::NotSent {
            detail: "refused".into(),
        })]);
        let deadline = Deadline::after(Duration::from_secs(60));
        let posted = s
            .post_all(&access(), &messages(1), deadline, &Masker::default())
            .await
            .unwrap();
        assert_eq!(posted, 1);
        assert_eq!(s.http.sent.lock().unwrap().len(), 2);
    }
}
