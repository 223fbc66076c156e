//! A click on the Cancel button, from the Function URL: verified, authorised, done, audited,
//! and answered within Slack's three seconds whatever Redshift does.
//!
//! The design: the work is done inside the invocation, on a budget. The cancel is one Data API
//! statement; once submitted, Redshift runs it whether or not anyone waits. So the function
//! waits for its result only until [`STATEMENT_BUDGET`] after the request arrived, tells the
//! thread what happened (or that the outcome is pending, for the next scheduled run to show),
//! and answers Slack before [`ACK_BUDGET`]. Nothing is handed to another invocation, and nothing
//! needs permissions beyond the check's own and the cancel identity's.
//!
//! Order matters: size, then the signature (with the signing secret: the one read before it),
//! then replay, then parsing, then the user's right to cancel; only then the Data API. A request
//! refused at any step before authorisation is answered 401 (400 when signed but not a Cancel
//! click) and leaves one log line without its body.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use super::App;
use crate::copy::Phrases;
use crate::deadline::Deadline;
use crate::interaction::request::{self, CancelClick};
use crate::interaction::verify::{self, Refusal};
use crate::interaction::{cancel_statement, may_cancel, Outcome};
use crate::model::{Connection, Masker, SlackAccess, Zone};
use crate::rules::AlertRules;
use crate::secret::SecretConfig;
use crate::slack::http::HttpPost;
use crate::slack::{InThread, WebApiTarget};

/// Slack drops an interaction not answered within 3 s: the answer leaves before this.
pub const ACK_BUDGET: Duration = Duration::from_millis(2_700);
/// The cancel statement's result is waited for until this; the rest is for Slack.
pub const STATEMENT_BUDGET: Duration = Duration::from_millis(1_800);
/// Signed requests remembered against replays (in this container; across containers through
/// the state table, when there is one).
const REPLAYS_KEPT: usize = 4096;

/// What the Function URL answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpResponse {
    #[serde(rename = "statusCode")]
    pub status: u16,
    pub headers: serde_json::Map<String, Value>,
    pub body: String,
}

impl HttpResponse {
    fn new(status: u16, body: &str) -> Self {
        let mut headers = serde_json::Map::new();
        headers.insert("content-type".into(), json!("text/plain; charset=utf-8"));
        HttpResponse {
            status,
            headers,
            body: body.to_owned(),
        }
    }
}

/// Signatures already seen in this container, with when they expire.
#[derive(Debug, Default)]
pub struct Replays(Mutex<VecDeque<(i64, String)>>);

impl Replays {
    /// `true` the first time a signature is seen within its five minutes.
    fn first_time(&self, signature: &str, now: i64) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while seen.front().is_some_and(|(expires, _)| *expires < now) || seen.len() >= REPLAYS_KEPT
        {
            seen.pop_front();
        }
        if seen.iter().any(|(_, s)| s == signature) {
            return false;
        }
        seen.push_back((now + 2 * verify::MAX_SKEW_SECONDS, signature.to_owned()));
        true
    }
}

fn refused(refusal: Refusal) -> HttpResponse {
    tracing::warn!(reason = %refusal, "interaction refused");
    HttpResponse::new(401, "")
}

impl<H: HttpPost> App<H> {
    /// Answers one Function URL request. `secret_id` is the deployment's (`SECRET_ID`): its
    /// secret holds the signing secret.
    /// `zone` is the time zone replies give times in (`TIMEZONE`).
    pub async fn interact(
        &self,
        event: &Value,
        secret_id: Option<&str>,
        zone: &Zone,
    ) -> HttpResponse {
        let deadline = Deadline::after(ACK_BUDGET);
        let statement_deadline = Deadline::after(STATEMENT_BUDGET);
        let now = jiff::Timestamp::now().as_second();
        let request = match request::read(event) {
            Ok(r) => r,
            Err(refusal) => return refused(refusal),
        };
        let Some(secret_id) = secret_id else {
            tracing::error!("an interaction arrived, but SECRET_ID is not set");
            return HttpResponse::new(500, "");
        };
        let secret = match self.secrets.get(secret_id, deadline).await {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(%secret_id, error = %err, "the signing secret could not be read");
                return HttpResponse::new(500, "");
            }
        };
        let Some(interactivity) = &secret.interactivity else {
            tracing::warn!(%secret_id, "an interaction arrived, but the secret has no slack_signing_secret");
            return refused(Refusal::Forged);
        };
        let signature = request
            .header("x-slack-signature")
            .unwrap_or_default()
            .to_owned();
        if let Err(refusal) = verify::verify(
            interactivity.signing_secret.expose().as_bytes(),
            request.header("x-slack-request-timestamp"),
            request.header("x-slack-signature"),
            &request.body,
            now,
        ) {
            return refused(refusal);
        }
        if !self.first_time(&signature, now, deadline).await {
            return refused(Refusal::Replayed);
        }
        let click = match request::parse_click(&request.body) {
            Ok(click) if click.button.secret_id == secret_id => click,
            Ok(_) => {
                tracing::warn!("a signed click for another deployment's button");
                return HttpResponse::new(400, "");
            }
            Err(err) => {
                tracing::warn!(error = %err, "a signed request that is not a Cancel click");
                return HttpResponse::new(400, "");
            }
        };

        let rules = AlertRules::default().with(&secret.rules);
        let phrases = crate::copy::table(secret.language.unwrap_or_default());
        let outcome = if !may_cancel(&click.slack_user, &click.button, interactivity, &rules) {
            Outcome::NotAllowed
        } else if let Some(auth) = &interactivity.cancel_auth {
            let connection = Connection {
                auth: auth.clone(),
                ..secret.connection.clone()
            };
            self.cancel(&connection, &click, statement_deadline, &secret.masker)
                .await
        } else {
            Outcome::NotConfigured
        };
        audit(secret_id, &click, outcome);
        let at = phrases.clock_time(&jiff::Timestamp::now().to_zoned_datetime(zone.tz().clone()));
        self.tell(&secret, &click, outcome, phrases, &at, deadline)
            .await;
        HttpResponse::new(200, "")
    }

    async fn first_time(&self, signature: &str, now: i64, deadline: Deadline) -> bool {
        if !self.replays.first_time(signature, now) {
            return false;
        }
        let Some(store) = &self.state else {
            return true;
        };
        match store
            .remember(signature, now + 2 * verify::MAX_SKEW_SECONDS, deadline)
            .await
        {
            Ok(first) => first,
            Err(err) => {
                // This container has not seen it; the table could not say for the others.
                tracing::warn!(error = %err, "replays could not be checked across containers");
                true
            }
        }
    }

    /// The one statement, as the cancel identity; its result waited for until `deadline`.
    async fn cancel(
        &self,
        connection: &Connection,
        click: &CancelClick,
        deadline: Deadline,
        masker: &Masker,
    ) -> Outcome {
        let statement = cancel_statement(&click.button);
        let statement_id = match self
            .data_api
            .submit(connection, &statement, deadline, masker)
            .await
        {
            Ok(id) => id,
            Err(err) => {
                tracing::error!(error = %err, "the cancel statement could not be submitted");
                return if err.error_type() == "DeadlineExceeded" {
                    Outcome::Pending
                } else {
                    Outcome::Failed
                };
            }
        };
        match self
            .data_api
            .poll_until(&statement_id, deadline, masker)
            .await
        {
            Ok(Some(_)) => {
                match self
                    .data_api
                    .fetch(
                        &statement_id,
                        Deadline::after(Duration::from_millis(400)),
                        masker,
                    )
                    .await
                {
                    Ok(set) => Outcome::of_result(&set),
                    Err(err) => {
                        tracing::warn!(%statement_id, error = %err, "the cancel's result could not be read");
                        Outcome::Pending
                    }
                }
            }
            Ok(None) => Outcome::Pending,
            Err(err) => {
                tracing::error!(%statement_id, error = %err, "the cancel statement failed");
                Outcome::Failed
            }
        }
    }

    /// Tells the channel: a thread reply for everyone (or, without a bot token, a message
    /// through the response URL), the clicked message updated with the button gone once
    /// something was done, and an ephemeral answer to a refused clicker.
    async fn tell(
        &self,
        secret: &SecretConfig,
        click: &CancelClick,
        outcome: Outcome,
        phrases: &dyn Phrases,
        at: &str,
        deadline: Deadline,
    ) {
        let who = format!("<@{}>", click.slack_user);
        let text = phrases.cancel_reply(outcome, &who, click.button.pid, at);
        let response_url = click
            .response_url
            .as_deref()
            .and_then(request::response_url);
        let masker = &secret.masker;
        if matches!(outcome, Outcome::NotAllowed | Outcome::NotConfigured) {
            if let Some(url) = &response_url {
                let body =
                    json!({"response_type": "ephemeral", "replace_original": false, "text": text});
                if let Err(err) = self.slack.respond(url, &body, deadline, masker).await {
                    tracing::warn!(error = %err, "the clicker could not be told");
                }
            }
            return;
        }
        let reply = crate::slack::blocks::Message::new(&text);
        let told = match (&secret.slack, &click.message_ts) {
            (SlackAccess::WebApi { token, channel, .. }, Some(ts)) => self
                .slack
                .post_message(
                    WebApiTarget {
                        token,
                        channel,
                        masker,
                    },
                    &reply,
                    Some(InThread {
                        parent_ts: ts,
                        broadcast: false,
                    }),
                    deadline,
                )
                .await
                .map(drop),
            _ => match &response_url {
                Some(url) => {
                    let body = json!({"response_type": "in_channel", "replace_original": false, "text": text});
                    self.slack.respond(url, &body, deadline, masker).await
                }
                None => Ok(()),
            },
        };
        if let Err(err) = told {
            tracing::warn!(error = %err, "the thread could not be told about the cancel");
        }
        if let (Some(url), Some(blocks)) = (&response_url, &click.message_blocks) {
            let updated = without_button(blocks, click.block_id.as_deref(), &text);
            let body = json!({"replace_original": true, "blocks": updated, "text": text});
            if let Err(err) = self.slack.respond(url, &body, deadline, masker).await {
                tracing::warn!(error = %err, "the message could not be updated");
            }
        }
    }
}

/// The clicked message as Slack has it, with the clicked button gone and a line saying what
/// happened at its end (when there is room).
fn without_button(blocks: &[Value], block_id: Option<&str>, line: &str) -> Vec<Value> {
    let mut blocks: Vec<Value> = blocks
        .iter()
        .cloned()
        .map(|mut b| {
            if block_id.is_some() && b["block_id"].as_str() == block_id {
                if let Some(map) = b.as_object_mut() {
                    map.remove("accessory");
                }
            }
            b
        })
        .collect();
    if blocks.len() < crate::slack::blocks::MAX_BLOCKS {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    }
    blocks
}

/// One JSON log line per click, whatever became of it, and a metric.
fn audit(secret_id: &str, click: &CancelClick, outcome: Outcome) {
    tracing::info!(
        audit = "cancel",
        slack_user = %click.slack_user,
        secret_id,
        pid = click.button.pid,
        query_id = click.button.query_id,
        outcome = outcome.name(),
        "cancel requested from Slack"
    );
    crate::metrics::emit_cancel(outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_new_once_within_its_window() {
        let replays = Replays::default();
        assert!(replays.first_time("v0=a", 1000));
        assert!(!replays.first_time("v0=a", 1100));
        assert!(replays.first_time("v0=b", 1100));
        assert!(replays.first_time("v0=a", 1000 + 601), "expired");
    }

    #[test]
    fn the_clicked_button_goes_and_a_line_comes() {
        let blocks = vec![
            json!({"type": "section", "block_id": "query:1:7:70", "text": {"type": "mrkdwn", "text": "x"}, "accessory": {"type": "button"}}),
            json!({"type": "section", "block_id": "query:2:8:80", "accessory": {"type": "button"}}),
        ];
        let out = without_button(&blocks, Some("query:1:7:70"), "done");
        assert!(out[0].get("accessory").is_none());
        assert!(
            out[1].get("accessory").is_some(),
            "the other query keeps its button"
        );
        assert_eq!(out[2]["elements"][0]["text"], "done");
    }
}
