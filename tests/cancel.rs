//! The Cancel button end to end: the real binary under the Lambda Runtime API receives Function
//! URL events, as Slack's clicks reach it, signed (or not) as Slack signs them. Every refused
//! request is checked to have reached nothing: no Data API call, no Slack call.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::cluster::minutes;
use support::lambda::Lambda;
use support::stack::control;
use support::thread::CHANNEL;
use support::{assert_no_secret, at, query, Stack, NOW};

use redshift_long_query_alert::interaction::verify::sign;

const SECRET: &str = "prod/cancel";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99SIGNKEY5a5";
const ONCALL: &str = "U0ONCALL";

struct Setup {
    stack: Stack,
    lambda: Lambda,
    /// The parent message, as the channel holds it.
    parent: Value,
}

fn setup() -> Setup {
    let stack = Stack::for_threads(SECRET);
    let mut secret = stack.thread_secret();
    secret["slack_signing_secret"] = json!(SIGNING_SECRET);
    secret["cancel_allowed_users"] = json!([ONCALL]);
    secret["cancel_allow_owner"] = json!(true);
    secret["cancel_db_user"] = json!("canceller");
    secret["user_mentions"] = json!({"tanaka": "<@U0TANAKA>"});
    stack.secrets_manager(
        "PutSecretValue",
        &json!({"SecretId": SECRET, "SecretString": secret.to_string()}),
    );
    stack.load_cluster(at(
        NOW,
        vec![query(
            4242,
            Some("tanaka"),
            minutes(40),
            "SELECT * FROM sales.orders o JOIN sales.items i ON i.order_id = o.id",
        )],
    ));
    let lambda = stack.start_lambda_with(
        stack.thread_env(),
        &[("SECRET_ID", SECRET), ("THRESHOLD_MINUTES", "30")],
    );
    let first = lambda.invoke(&json!({}), 30_000);
    assert_eq!(first["response"]["thread"]["posted"], 1, "{first}");
    let parent = stack.channel().remove(0);
    Setup {
        stack,
        lambda,
        parent,
    }
}

/// The button on the parent: its block and value.
fn button(parent: &Value) -> (String, String) {
    let block = parent["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["accessory"]["action_id"] == "cancel_query")
        .unwrap_or_else(|| panic!("no Cancel button: {parent}"));
    (
        block["block_id"].as_str().unwrap().to_owned(),
        block["accessory"]["value"].as_str().unwrap().to_owned(),
    )
}

/// The body Slack sends for a click by `user` on `value`.
fn click_body(s: &Setup, user: &str, value: &str, response_id: &str) -> String {
    let ts = s.parent["ts"].as_str().unwrap();
    control(
        s.stack.ports.slack,
        "POST",
        "/_control/responses/register",
        Some(&json!({"id": response_id, "channel": CHANNEL, "ts": ts})),
    );
    let (block_id, _) = button(&s.parent);
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone"},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL},
        "response_url": format!("{}/actions/{response_id}", Stack::url(s.stack.ports.slack)),
        "message": {"ts": ts, "blocks": s.parent["blocks"]},
        "actions": [{"action_id": "cancel_query", "block_id": block_id, "value": value, "type": "button"}]
    });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// A Function URL event (payload format 2.0) for `body`, signed at `timestamp`.
fn url_event(body: &str, timestamp: i64, signature: Option<&str>, base64: bool) -> Value {
    let ts = timestamp.to_string();
    let signature = signature.map_or_else(
        || sign(SIGNING_SECRET.as_bytes(), &ts, body.as_bytes()),
        str::to_owned,
    );
    let body = if base64 {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        body.to_owned()
    };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": signature,
            "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)"
        },
        "requestContext": {"http": {"method": "POST", "path": "/", "sourceIp": "203.0.113.7"}},
        "body": body,
        "isBase64Encoded": base64
    })
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn statements(stack: &Stack) -> Vec<Value> {
    stack.calls_of("ExecuteStatement")
}

fn status(answer: &Value) -> i64 {
    answer["response"]["statusCode"].as_i64().unwrap_or(-1)
}

fn running(stack: &Stack) -> Vec<i64> {
    stack.load_cluster_state()["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["pid"].as_i64().unwrap())
        .collect()
}

#[test]
fn an_allowed_click_cancels_as_the_cancel_identity_and_the_thread_is_told() {
    let s = setup();
    let (_, value) = button(&s.parent);
    let before = statements(&s.stack).len();
    let body = click_body(&s, ONCALL, &value, "r1");
    let answer = s
        .lambda
        .invoke(&url_event(&body, now(), None, false), 30_000);
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(answer["duration_ms"].as_f64().unwrap() < 3000.0, "{answer}");

    let sent = statements(&s.stack);
    assert_eq!(sent.len(), before + 1, "one statement");
    let cancel = &sent[before];
    assert_eq!(
        cancel["db_user"], "canceller",
        "never as the monitor: {cancel}"
    );
    assert!(cancel["request"]["Sql"]
        .as_str()
        .unwrap()
        .contains("pg_cancel_backend"));
    assert!(running(&s.stack).is_empty(), "the query was cancelled");

    let parent = s.stack.channel().remove(0);
    let replies = support::thread::reply_texts(&parent);
    assert!(
        replies
            .iter()
            .any(|r| r.contains("Cancelled by <@U0ONCALL>")),
        "{replies:?}"
    );
    assert!(
        parent["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b.get("accessory").is_none()),
        "the button is gone: {parent}"
    );
    let logs = s.lambda.logs();
    assert!(
        logs.contains("\"audit\":\"cancel\"") && logs.contains("\"outcome\":\"cancelled\""),
        "{logs}"
    );
    assert!(logs.contains("\"CancelRequests\":1"), "the metric line");
    assert_no_secret(&logs);
    assert!(!logs.contains(SIGNING_SECRET) && !logs.contains("SIGNKEY"));

    // The same click again, freshly signed (a second click): harmless, nothing to cancel.
    let again = s
        .lambda
        .invoke(&url_event(&body, now() + 1, None, false), 30_000);
    assert_eq!(status(&again), 200);
    assert!(s.lambda.logs().contains("\"outcome\":\"already_ended\""));
}

#[test]
fn someone_not_allowed_is_told_so_and_nothing_reaches_redshift() {
    let s = setup();
    let (_, value) = button(&s.parent);
    let before = statements(&s.stack).len();
    let body = click_body(&s, "U0STRANGER", &value, "r2");
    let answer = s
        .lambda
        .invoke(&url_event(&body, now(), None, false), 30_000);
    assert_eq!(status(&answer), 200);
    assert_eq!(statements(&s.stack).len(), before);
    assert_eq!(running(&s.stack), [4242]);
    let responses = control(s.stack.ports.slack, "GET", "/_control/responses", None);
    let last = responses.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["body"]["response_type"], "ephemeral", "{last}");
    assert!(last["body"]["text"]
        .as_str()
        .unwrap()
        .contains("not allowed"));

    // The query's owner may, through user_mentions.
    let body = click_body(&s, "U0TANAKA", &value, "r3");
    assert_eq!(
        status(
            &s.lambda
                .invoke(&url_event(&body, now(), None, false), 30_000)
        ),
        200
    );
    assert!(running(&s.stack).is_empty());
}

#[test]
fn forged_stale_replayed_oversized_and_malformed_requests_are_refused_without_a_trace() {
    let s = setup();
    let (_, value) = button(&s.parent);
    let body = click_body(&s, ONCALL, &value, "r4");
    let calls_before = (statements(&s.stack).len(), s.stack.web_calls().len());
    let forged = url_event(
        &body,
        now(),
        Some(&sign(
            b"not the secret",
            &now().to_string(),
            body.as_bytes(),
        )),
        false,
    );
    let stale = url_event(&body, now() - 301, None, false);
    let unsigned = {
        let mut e = url_event(&body, now(), None, false);
        e["headers"]
            .as_object_mut()
            .unwrap()
            .remove("x-slack-signature");
        e
    };
    let tampered = {
        let mut e = url_event(&body, now(), None, false);
        e["body"] = json!(body.replace("U0ONCALL", "U0ATTACKR"));
        e
    };
    let oversized = url_event(
        &format!("{body}&pad={}", "x".repeat(300 * 1024)),
        now(),
        None,
        false,
    );
    for (name, event) in [
        ("forged", forged),
        ("stale", stale),
        ("unsigned", unsigned),
        ("tampered", tampered),
        ("oversized", oversized),
    ] {
        let answer = s.lambda.invoke(&event, 30_000);
        assert_eq!(status(&answer), 401, "{name}: {answer}");
    }
    // A valid request, then the very same request again (a replay within the window).
    let valid = url_event(&body, now(), None, true);
    assert_eq!(
        status(&s.lambda.invoke(&valid, 30_000)),
        200,
        "base64 bodies are decoded first"
    );
    let after_valid = (statements(&s.stack).len(), s.stack.web_calls().len());
    assert_eq!(status(&s.lambda.invoke(&valid, 30_000)), 401, "replay");
    assert_eq!(
        (statements(&s.stack).len(), s.stack.web_calls().len()),
        after_valid
    );
    assert_eq!(
        after_valid.0,
        calls_before.0 + 1,
        "only the valid click reached the Data API"
    );

    // Signed, but not a Cancel click.
    let junk = "payload=%7B%22type%22%3A%22view_submission%22%7D";
    assert_eq!(
        status(
            &s.lambda
                .invoke(&url_event(junk, now(), None, false), 30_000)
        ),
        400
    );
    let logs = s.lambda.logs();
    assert!(logs.contains("interaction refused"), "{logs}");
    assert!(
        !logs.contains("block_actions") && !logs.contains("payload="),
        "no body is logged"
    );
    assert_no_secret(&logs);
}

#[test]
fn a_pid_that_now_runs_another_query_is_not_cancelled() {
    let s = setup();
    let (_, value) = button(&s.parent);
    // 4242's query ended and the session started another one.
    s.stack.load_cluster(json!({"now": NOW, "frozen": true, "queries": [
        {"pid": 4242, "query_id": 777777, "user": "tanaka", "started_seconds_ago": 30, "text": "select 2"}
    ]}));
    let body = click_body(&s, ONCALL, &value, "r5");
    assert_eq!(
        status(
            &s.lambda
                .invoke(&url_event(&body, now(), None, false), 30_000)
        ),
        200
    );
    assert_eq!(running(&s.stack), [4242], "the new query runs on");
    let replies = s.stack.channel().remove(0)["replies"].to_string();
    assert!(replies.contains("already ended"), "{replies}");
}

#[test]
fn a_slow_or_failing_data_api_still_gets_an_answer_within_three_seconds() {
    let s = setup();
    let (_, value) = button(&s.parent);
    s.stack.script_data_api(json!({"delay_ms": 6000}));
    let body = click_body(&s, ONCALL, &value, "r6");
    let started = Instant::now();
    let answer = s
        .lambda
        .invoke(&url_event(&body, now(), None, false), 30_000);
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(s.lambda.logs().contains("\"outcome\":\"pending\""));

    s.stack
        .script_data_api(json!({"outcome": "failed", "error": "ERROR: permission denied"}));
    let body = click_body(&s, ONCALL, &value, "r7");
    let answer = s
        .lambda
        .invoke(&url_event(&body, now(), None, false), 30_000);
    assert_eq!(status(&answer), 200);
    assert!(s.lambda.logs().contains("\"outcome\":\"failed\""));
}

#[test]
fn only_the_deployments_own_secret_gets_buttons() {
    let s = setup();
    // Another target with the same keys: its clicks could not be verified with SECRET_ID's
    // signing secret and acted on, so its messages carry no button.
    let mut other = s.stack.thread_secret();
    other["slack_signing_secret"] = json!(SIGNING_SECRET);
    other["cancel_db_user"] = json!("canceller");
    s.stack.put_secret("prod/other", &other);
    let answer = s.lambda.invoke(
        &json!({"secret_id": "prod/other", "dry_run": true, "alert_mode": "window"}),
        30_000,
    );
    let messages = answer["response"]["messages"].to_string();
    assert!(messages.contains("query:1:4242"), "{answer}");
    assert!(!messages.contains("cancel_query"), "{messages}");
    // The deployment's own secret, in the same mode, does get its button.
    let own = s
        .lambda
        .invoke(&json!({"dry_run": true, "alert_mode": "window"}), 30_000);
    assert!(
        own["response"]["messages"]
            .to_string()
            .contains("cancel_query"),
        "{own}"
    );
}
