//! Slack: typed Block Kit ([`blocks`]) with safe text ([`mrkdwn`]), delivery with bounded,
//! deadline-aware retries ([`delivery`]) over one seam ([`http`]), and the transports that read
//! Slack's answers ([`webhook`]). Nothing here composes a sentence: messages come ready-made from
//! the checks.

pub mod blocks;
pub mod delivery;
pub mod http;
pub mod mrkdwn;
pub mod webhook;

use crate::deadline::Deadline;
use crate::model::{Masker, SlackAccess};
use blocks::Message;
use delivery::{deliver, DeliveryError, RetryPolicy};
use http::{HttpPost, Reqwest};

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
}

impl SlackError {
    pub fn error_type(&self) -> &'static str {
        let SlackError::Undelivered { reason, .. } = self;
        if reason.is_deadline() {
            "DeadlineExceeded"
        } else {
            "SlackError"
        }
    }

    /// Slack said the credential no longer works: the cached secret should be read again.
    pub fn credential_is_dead(&self) -> bool {
        let SlackError::Undelivered { reason, .. } = self;
        webhook::credential_is_dead(reason)
    }
}

/// Posting to Slack, over a swappable HTTP seam.
#[derive(Debug, Default)]
pub struct Slack<H = Reqwest> {
    http: H,
    retry: RetryPolicy,
}

impl<H: HttpPost> Slack<H> {
    pub fn new(http: H, retry: RetryPolicy) -> Self {
        Slack { http, retry }
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
        let SlackAccess::Webhook(url) = access;
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
        } = &err;
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
