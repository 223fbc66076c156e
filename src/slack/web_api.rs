//! The Web API transport (`chat.postMessage`, `chat.update`): what an answer means, and how fast
//! to post.
//!
//! Slack answers HTTP 200 for most refusals and says why in `{"ok": false, "error": "<code>"}`,
//! so the code decides, not the status: a dead token, a channel the app cannot post to and a
//! deleted message each lead somewhere different. Rate limits come as HTTP 429 with
//! `Retry-After`; `chat.postMessage` is also paced here to Slack's documented one message per
//! second per channel (short bursts allowed), so a run with many new queries does not lean on
//! the 429s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::delivery::{DeliveryError, Verdict};
use super::http::{HttpFailure, HttpReply};
use super::webhook::short_body;
use crate::model::Masker;

/// Where the Web API lives; `SLACK_API_URL` overrides it (the local stand-in).
pub const DEFAULT_BASE: &str = "https://slack.com/api";

/// The two methods this product calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    PostMessage,
    Update,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::PostMessage => "chat.postMessage",
            Method::Update => "chat.update",
        }
    }
}

/// Error codes that mean the token no longer works.
const DEAD_TOKEN: [&str; 5] = [
    "invalid_auth",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_authed",
];
/// Error codes Slack documents as transient.
const TRANSIENT: [&str; 4] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Reads one Web API answer. An accepted call returns the message's `ts`.
pub fn verdict(
    method: Method,
    reply: Result<HttpReply, HttpFailure>,
    masker: &Masker,
) -> Verdict<String> {
    let reply = match reply {
        Ok(reply) => reply,
        Err(HttpFailure::NotSent { detail }) => {
            return Verdict::Retry(DeliveryError::Unreachable {
                attempts: 0,
                detail,
            })
        }
        Err(HttpFailure::NoAnswer { detail, .. }) => {
            return Verdict::Ambiguous(DeliveryError::MaybeDelivered { detail })
        }
    };
    match reply.status {
        429 => return Verdict::RateLimited(reply.retry_after),
        300..=399 => {
            return Verdict::Final(DeliveryError::Redirected {
                status: reply.status,
            })
        }
        500..=599 => {
            return Verdict::Retry(DeliveryError::ServerError {
                status: reply.status,
                body: short_body(&reply.body, masker),
                attempts: 0,
            })
        }
        200 => {}
        status => {
            return Verdict::Final(DeliveryError::Rejected {
                status,
                body: short_body(&reply.body, masker),
                hint: "check SLACK_API_URL, or report this as a bug",
            })
        }
    }
    let answer: Value = match serde_json::from_str(&reply.body) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            return Verdict::Final(DeliveryError::Rejected {
                status: 200,
                body: short_body(&reply.body, masker),
                hint: "that is not a Slack Web API answer: check SLACK_API_URL",
            })
        }
    };
    if answer["ok"] == Value::Bool(true) {
        return Verdict::Accepted(answer["ts"].as_str().unwrap_or_default().to_owned());
    }
    let code = short_body(answer["error"].as_str().unwrap_or("no error code"), masker);
    if code == "ratelimited" {
        return Verdict::RateLimited(reply.retry_after);
    }
    let err = DeliveryError::Api {
        method: method.name(),
        hint: hint(&code),
        code,
    };
    if TRANSIENT.contains(&err.api_code().unwrap_or_default()) {
        Verdict::Retry(err)
    } else {
        Verdict::Final(err)
    }
}

fn hint(code: &str) -> &'static str {
    match code {
        c if DEAD_TOKEN.contains(&c) => {
            "the bot token no longer works: put a current one into the secret's slack_bot_token"
        }
        "channel_not_found" => {
            "no channel with the secret's slack_channel id is visible to the app: use the \
             channel's id (not its name), and for a private channel invite the app first"
        }
        "not_in_channel" => {
            "the app is not a member of the channel: invite it there (/invite @your-app), or \
             give it the chat:write.public scope"
        }
        "is_archived" => "the channel is archived: put another channel's id into slack_channel",
        "missing_scope" => "the app lacks the chat:write scope: add it and reinstall the app",
        "message_not_found" => "the message was deleted",
        "thread_not_found" => "the thread's first message was deleted",
        "msg_too_long" | "invalid_blocks" | "no_text" | "invalid_arguments" => {
            "the message was malformed: please report this as a bug"
        }
        c if TRANSIENT.contains(&c) => "a failure on Slack's side",
        _ => "see this error code in Slack's documentation of the method",
    }
}

/// Slack said the token no longer works: the cached secret should be read again.
pub fn credential_is_dead(err: &DeliveryError) -> bool {
    err.api_code().is_some_and(|c| DEAD_TOKEN.contains(&c))
}

/// Posting pace per channel: a token bucket of [`BURST`] posts refilled at one a second.
#[derive(Debug, Default)]
pub struct Pacer {
    channels: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Posts to one channel that may go out at once before the pace of one a second applies.
pub const BURST: f64 = 3.0;
/// Slack's documented rate for `chat.postMessage`: one message per second per channel.
pub const PER_SECOND: f64 = 1.0;

impl Pacer {
    /// How long the next post to `channel` must wait, taking its turn now.
    pub fn reserve(&self, channel: &str) -> Duration {
        let now = Instant::now();
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = channels.entry(channel.to_owned()).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * PER_SECOND;
        bucket.tokens = (bucket.tokens + refill).min(BURST) - 1.0;
        bucket.at = now;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / PER_SECOND)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Result<HttpReply, HttpFailure> {
        Ok(HttpReply {
            status,
            retry_after: Some(Duration::from_secs(7)),
            body: body.into(),
        })
    }

    fn read(status: u16, body: &str) -> Verdict<String> {
        verdict(Method::PostMessage, reply(status, body), &Masker::default())
    }

    #[test]
    fn an_ok_answer_gives_the_messages_ts() {
        assert_eq!(
            read(
                200,
                r#"{"ok":true,"channel":"C1","ts":"1764324000.000100"}"#
            ),
            Verdict::Accepted("1764324000.000100".into())
        );
    }

    #[test]
    fn error_codes_decide_not_the_status() {
        let code = |body: &str| match read(200, body) {
            Verdict::Final(err) => (err.api_code().map(str::to_owned), err.to_string()),
            other => panic!("{other:?}"),
        };
        let (c, text) = code(r#"{"ok":false,"error":"token_revoked"}"#);
        assert_eq!(c.as_deref(), Some("token_revoked"));
        assert!(text.contains("slack_bot_token"), "{text}");
        let (_, text) = code(r#"{"ok":false,"error":"not_in_channel"}"#);
        assert!(text.contains("/invite"), "{text}");
        let (_, text) = code(r#"{"ok":false,"error":"channel_not_found"}"#);
        assert!(text.contains("slack_channel"), "{text}");
        let (c, _) = code(r#"{"ok":false,"error":"message_not_found"}"#);
        assert_eq!(c.as_deref(), Some("message_not_found"));
        let (_, text) = code(r#"{"ok":false,"error":"msg_too_long"}"#);
        assert!(text.contains("bug"), "{text}");
        assert_eq!(
            read(200, r#"{"ok":false,"error":"ratelimited"}"#),
            Verdict::RateLimited(Some(Duration::from_secs(7)))
        );
        assert_eq!(
            read(429, r#"{"ok":false,"error":"ratelimited"}"#),
            Verdict::RateLimited(Some(Duration::from_secs(7)))
        );
        assert!(matches!(
            read(200, r#"{"ok":false,"error":"internal_error"}"#),
            Verdict::Retry(_)
        ));
        assert!(matches!(read(503, "down"), Verdict::Retry(_)));
        assert!(matches!(read(200, "ok"), Verdict::Final(_)));
    }

    #[test]
    fn a_dead_token_is_told_apart_from_other_refusals() {
        let err = |code: &str| DeliveryError::Api {
            method: "chat.postMessage",
            code: code.into(),
            hint: "",
        };
        assert!(credential_is_dead(&err("invalid_auth")));
        assert!(credential_is_dead(&err("token_revoked")));
        assert!(!credential_is_dead(&err("channel_not_found")));
    }

    #[test]
    fn an_echoed_token_is_masked() {
        let masker = Masker::new(["xoxb-1-SECRET".to_owned()]);
        let v = verdict(
            Method::Update,
            reply(200, r#"{"ok":false,"error":"bad token xoxb-1-SECRET"}"#),
            &masker,
        );
        let Verdict::Final(err) = v else {
            panic!("{v:?}")
        };
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn posts_to_one_channel_are_paced_after_a_burst() {
        let pacer = Pacer::default();
        let waits: Vec<Duration> = (0..5).map(|_| pacer.reserve("C1")).collect();
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_secs(1));
        assert_eq!(waits[4], Duration::from_secs(2));
        assert_eq!(pacer.reserve("C2"), Duration::ZERO, "another channel");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(pacer.reserve("C1"), Duration::ZERO, "refilled");
    }
}
