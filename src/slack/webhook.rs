//! The incoming-webhook transport: what an answer to a webhook POST means.

use super::delivery::{DeliveryError, Verdict};
use super::http::{HttpFailure, HttpReply};
use super::mrkdwn::cut_plain;
use crate::model::Masker;

/// Reads one webhook answer. `masker` hides credentials a body might echo.
pub fn verdict(reply: Result<HttpReply, HttpFailure>, masker: &Masker) -> Verdict<()> {
    match reply {
        Ok(reply) => match reply.status {
            200..=299 => Verdict::Accepted(()),
            429 => Verdict::RateLimited(reply.retry_after),
            300..=399 => Verdict::Final(DeliveryError::Redirected {
                status: reply.status,
            }),
            500..=599 => Verdict::Retry(DeliveryError::ServerError {
                status: reply.status,
                body: short_body(&reply.body, masker),
                attempts: 0,
            }),
            status => {
                let body = short_body(&reply.body, masker);
                Verdict::Final(DeliveryError::Rejected {
                    status,
                    hint: rejection_hint(status, &body),
                    body,
                })
            }
        },
        Err(HttpFailure::NotSent { detail }) => Verdict::Retry(DeliveryError::Unreachable {
            attempts: 0,
            detail,
        }),
        Err(HttpFailure::NoAnswer { detail, .. }) => {
            Verdict::Ambiguous(DeliveryError::MaybeDelivered { detail })
        }
    }
}

/// The webhook itself is gone or revoked: worth re-reading the secret next time.
pub fn credential_is_dead(err: &DeliveryError) -> bool {
    matches!(err, DeliveryError::Rejected { status, .. } if matches!(status, 403 | 404 | 410))
}

fn rejection_hint(status: u16, body: &str) -> &'static str {
    match (status, body.trim()) {
        (_, "invalid_payload") | (_, "invalid_blocks") => {
            "the message was malformed: please report this as a bug"
        }
        (_, "no_service") | (404, _) => {
            "the webhook was removed or the URL is wrong: put a current one into the secret"
        }
        (_, "invalid_token") | (403, _) => {
            "the webhook was revoked: put a current one into the secret"
        }
        (_, "channel_is_archived") | (410, _) => {
            "the webhook's channel is archived: create a webhook for another channel"
        }
        (_, "action_prohibited") => "an admin restricted posting to the webhook's channel",
        _ => "check the webhook URL in the secret",
    }
}

/// Slack's answers are short codes; anything long is cut, and credentials masked, so a log
/// line stays readable and safe. Control characters are dropped.
pub fn short_body(body: &str, masker: &Masker) -> String {
    let clean: String = masker
        .mask(body.trim())
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut_plain(&clean, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Result<HttpReply, HttpFailure> {
        Ok(HttpReply {
            status,
            retry_after: None,
            body: body.into(),
        })
    }

    #[test]
    fn answers_map_to_verdicts() {
        let m = Masker::default();
        assert_eq!(verdict(reply(200, "ok"), &m), Verdict::Accepted(()));
        assert!(matches!(
            verdict(reply(429, ""), &m),
            Verdict::RateLimited(None)
        ));
        assert!(matches!(verdict(reply(503, ""), &m), Verdict::Retry(_)));
        for status in [301, 302, 307, 308] {
            assert!(matches!(
                verdict(reply(status, ""), &m),
                Verdict::Final(DeliveryError::Redirected { .. })
            ));
        }
        assert!(matches!(
            verdict(
                Err(HttpFailure::NotSent {
                    detail: "refused".into()
                }),
                &m
            ),
            Verdict::Retry(DeliveryError::Unreachable { .. })
        ));
        assert!(matches!(
            verdict(
                Err(HttpFailure::NoAnswer {
                    timed_out: true,
                    detail: "timeout".into()
                }),
                &m
            ),
            Verdict::Ambiguous(DeliveryError::MaybeDelivered { .. })
        ));
    }

    #[test]
    fn client_errors_are_final_quote_slack_and_mask_the_credential() {
        let m = Masker::new(["SECRETTOKEN".to_owned()]);
        for (status, body, dead) in [
            (400, "invalid_payload", false),
            (404, "no_service", true),
            (410, "channel_is_archived", true),
            (403, "invalid_token SECRETTOKEN", true),
        ] {
            let Verdict::Final(err) = verdict(reply(status, body), &m) else {
                panic!("{body}: final expected")
            };
            let text = err.to_string();
            assert!(text.contains(body.split(' ').next().unwrap()), "{text}");
            assert!(!text.contains("SECRETTOKEN"), "{text}");
            assert_eq!(credential_is_dead(&err), dead, "{body}");
        }
        let huge = short_body(&"x".repeat(60_000), &m);
        assert!(huge.chars().count() <= 200);
    }
}
