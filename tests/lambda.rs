//! The real binary as a Lambda function, under the local Runtime API, against the local stack.
//! Every sample event in `events/` is used here, so the samples cannot rot.

mod support;

use serde_json::json;
use support::cluster::minutes;
use support::{assert_no_secret, at, event_file, query, Stack, NOW};

const SECRET: &str = "prod/redshift-long-query-alert";

#[test]
fn a_scheduled_event_posts_long_queries_with_the_environment_defaults() {
    // GIVEN a function configured by environment, and one long query
    let stack = Stack::with_secret(SECRET);
    // Started 09:15:00 UTC, 47 minutes before the cluster's clock.
    stack.load_cluster(at(
        "2026-11-28T10:02:00Z",
        vec![query(
            4242,
            Some("alice"),
            47.0 * 60.0,
            "select * from clicks",
        )],
    ));
    stack.script_data_api(json!({"delay_ms": 300}));
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET), ("THRESHOLD_MINUTES", "40")]);

    // WHEN EventBridge's scheduled event arrives
    let answer = lambda.invoke(&event_file("scheduled.json"), 30_000);

    // THEN the summary comes back and the message was posted
    assert_eq!(answer["status"], "ok", "{answer}\n{}", lambda.logs());
    let summary = &answer["response"];
    assert_eq!(summary["threshold_minutes"], 40);
    assert_eq!(
        summary["window"],
        json!({"min_minutes": 40, "max_minutes": 80})
    );
    assert_eq!(summary["timezone"], "UTC");
    assert_eq!(summary["messages_posted"], 1);
    assert_eq!(summary["queries"][0]["pid"], 4242);
    let received = stack.slack_received();
    assert_eq!(received.len(), 1);
    assert!(received[0].to_string().contains("2026-11-28 09:15:00 UTC"));

    // AND the logs are JSON lines with top-level keys, as CloudWatch Logs Insights reads them
    let logs = lambda.logs();
    let statement_id = summary["statement_id"].as_str().unwrap();
    let done = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "check done")
        .unwrap_or_else(|| panic!("no structured 'check done' line in:\n{logs}"));
    assert_eq!(done["statement_id"], statement_id);
    assert_eq!(done["queries"], 1);
    assert_eq!(done["messages_posted"], 1);
    assert_eq!(done["level"], "INFO");
    assert_eq!(done["requestId"], answer["request_id"], "{done}");
    assert!(
        done["timestamp"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok(),
        "{done}"
    );
    assert_no_secret(&logs);
}

#[test]
fn the_dry_run_sample_event_returns_messages_and_posts_nothing() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![query(17, Some("bob"), minutes(20), "select 1")],
    ));
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    let answer = lambda.invoke(&event_file("dry-run.json"), 30_000);
    assert_eq!(answer["status"], "ok", "{answer}");
    let summary = &answer["response"];
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["threshold_minutes"], 15);
    assert_eq!(summary["messages"].as_array().unwrap().len(), 1);
    assert!(stack.slack_attempts().is_empty());
}

#[test]
fn the_timezone_sample_event_shows_start_times_in_that_zone() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![query(17, Some("bob"), 45.0 * 60.0, "select 1")],
    ));
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    let answer = lambda.invoke(&event_file("timezone.json"), 30_000);
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["response"]["timezone"], "Asia/Tokyo");
    let received = stack.slack_received();
    assert!(received[0].to_string().contains("2026-11-28 18:15:00 JST"));
}

#[test]
fn the_bad_sample_event_is_refused_naming_the_key_and_the_process_keeps_serving() {
    // GIVEN a warm function
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);

    // WHEN an event with a wrong type arrives
    let answer = lambda.invoke(&event_file("bad-threshold.json"), 30_000);

    // THEN the error names the key and the accepted range, and nothing was called
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["errorType"], "ConfigError");
    let message = answer["error"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("threshold_minutes") && message.contains("1 to 10080"),
        "{message}"
    );
    assert!(stack.data_api_calls().is_empty());

    // AND the same process serves the next invocation
    let answer = lambda.invoke(&event_file("scheduled.json"), 30_000);
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(stack.calls_of("ExecuteStatement").len(), 1);
}

#[test]
fn a_failed_statement_is_a_typed_error_with_redshifts_message() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({
        "delay_ms": 100, "outcome": "failed",
        "error": "ERROR: permission denied for relation svv_query_inflight"
    }));
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    let answer = lambda.invoke(&json!({}), 30_000);
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["errorType"], "StatementFailed");
    let message = answer["error"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("permission denied for relation svv_query_inflight"));
    assert!(stack.slack_attempts().is_empty());
    assert_no_secret(&lambda.logs());
}

#[test]
fn a_hanging_statement_is_cancelled_before_the_lambda_deadline() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({"outcome": "hang"}));
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    let answer = lambda.invoke(&json!({}), 6_000);
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["errorType"], "DeadlineExceeded");
    let duration_ms = answer["duration_ms"].as_f64().unwrap();
    assert!(duration_ms < 6_000.0, "answered after {duration_ms} ms");
    assert_eq!(stack.calls_of("CancelStatement").len(), 1);
}

#[test]
fn the_secret_is_read_once_for_warm_invocations() {
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    assert_eq!(lambda.invoke(&json!({}), 30_000)["status"], "ok");
    // Change the secret behind the function's back: a warm run within the TTL uses its copy.
    let mut changed = stack.valid_secret();
    changed["cluster_identifier"] = json!("other-cluster");
    stack.secrets_manager(
        "PutSecretValue",
        &json!({"SecretId": SECRET, "SecretString": changed.to_string()}),
    );
    assert_eq!(lambda.invoke(&json!({}), 30_000)["status"], "ok");
    let clusters: Vec<_> = stack
        .calls_of("ExecuteStatement")
        .iter()
        .map(|c| c["request"]["ClusterIdentifier"].clone())
        .collect();
    assert_eq!(clusters, [json!("analytics-test"), json!("analytics-test")]);
}
