//! Faults injected into the local stack, against the real binary: each test is one row of the
//! fault table in docs/reliability.md.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::{assert_no_secret, row, Stack};

const SECRET: &str = "faults/redshift-long-query-alert";

fn check(stack: &Stack, extra: &[&str]) -> support::CliRun {
    let mut args = vec!["check", "--secret-id", SECRET];
    args.extend_from_slice(extra);
    stack.run_cli(&args, &[])
}

/// pid → how many times it reached Slack, over every accepted message.
fn delivered_pids(stack: &Stack) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for pid in support::pids_in(&stack.slack_received()) {
        *counts.entry(pid).or_insert(0) += 1;
    }
    counts
}

fn exactly_once(pids: impl IntoIterator<Item = i64>) -> BTreeMap<i64, usize> {
    pids.into_iter().map(|p| (p, 1)).collect()
}

#[test]
fn throttling_on_execute_and_describe_is_retried_by_the_sdk() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({
        "columns": support::result_columns(),
        "rows": [row(Some("a"), 1, 31, "select 1")],
        "delay_ms": 200,
        "throttle": {"ExecuteStatement": 2, "DescribeStatement": 2},
    }));
    let summary = check(&stack, &[]).summary();
    assert_eq!(summary["messages_posted"], 1);
    let executes = stack.calls_of("ExecuteStatement");
    assert_eq!(executes.len(), 3, "two throttled, one accepted");
    assert_eq!(executes.iter().filter(|c| c["status"] == 200).count(), 1);
    assert_eq!(delivered_pids(&stack), exactly_once([1]));
}

#[test]
fn a_result_page_failing_once_is_retried_and_every_row_read() {
    let stack = Stack::with_secret(SECRET);
    let rows: Vec<Value> = (1..=6).map(|i| row(Some("u"), i, 40, "select 1")).collect();
    stack.script_data_api(json!({
        "columns": support::result_columns(), "rows": rows, "page_size": 2,
        "server_errors": {"GetStatementResult": 1},
    }));
    let summary = check(&stack, &[]).summary();
    assert_eq!(summary["queries"].as_array().unwrap().len(), 6);
    let pages = stack.calls_of("GetStatementResult");
    assert_eq!(pages.len(), 4, "3 pages + 1 retried");
    assert_eq!(pages.iter().filter(|c| c["status"] == 500).count(), 1);
    assert_eq!(delivered_pids(&stack), exactly_once(1..=6));
}

#[test]
fn an_aborted_statement_is_reported_and_nothing_posted() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({"outcome": "aborted", "delay_ms": 100}));
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(run.stderr().contains("ABORTED"), "{}", run.stderr());
    assert!(stack.slack_attempts().is_empty());
}

#[test]
fn hostile_query_texts_and_users_arrive_escaped_and_intact() {
    let stack = Stack::with_secret(SECRET);
    let texts = [
        (
            Some("<!channel>"),
            "select '<script>' & '```' from t -- `x`",
        ),
        (None, ""),
        (
            Some("山田"),
            "SELECT 名前, '🙂🙃' FROM ユーザー WHERE note = 'a\\nb'",
        ),
        (
            Some("ops & co"),
            &"select 1 from t where a > 1 or b < 2 ".repeat(200),
        ),
    ];
    let rows = texts
        .iter()
        .enumerate()
        .map(|(i, (user, text))| row(*user, 10 + i as i64, 35, text))
        .collect();
    stack.script_rows(rows, 0, 100);
    let summary = check(&stack, &[]).summary();
    assert_eq!(summary["messages_posted"], 1);
    let payload = &stack.slack_received()[0];
    let all = payload.to_string();
    assert!(!all.contains("<!channel>") && all.contains("&lt;!channel&gt;"));
    assert!(
        all.contains("&lt;script&gt;' &amp; '`\u{200b}`\u{200b}`'"),
        "{all}"
    );
    assert!(all.contains("ユーザー") && all.contains("🙂🙃") && all.contains("山田"));
    assert!(all.contains("(no query text)") && all.contains("(dropped user)"));
    for block in payload["blocks"].as_array().unwrap() {
        if let Some(text) = block["text"]["text"]
            .as_str()
            .filter(|t| t.starts_with("```"))
        {
            assert_eq!(text.matches("```").count(), 2, "code block intact: {text}");
        }
    }
    assert_eq!(delivered_pids(&stack), exactly_once(10..14));
}

#[test]
fn slack_server_errors_are_retried_and_the_message_delivered_once() {
    let stack = Stack::with_secret(SECRET);
    stack.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
    stack.script_slack(json!([{"status": 500, "body": "internal_error"}, {"status": 503}]));
    let summary = check(&stack, &[]).summary();
    assert_eq!(summary["messages_posted"], 1);
    assert_eq!(stack.slack_attempts().len(), 3);
    assert_eq!(delivered_pids(&stack), exactly_once([1]));
}

#[test]
fn slack_failing_for_good_gives_up_after_bounded_retries() {
    let stack = Stack::with_secret(SECRET);
    stack.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
    stack.script_slack(json!([{"status": 500}, {"status": 500}, {"status": 500}, {"status": 500}, {"status": 500}]));
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert_eq!(stack.slack_attempts().len(), 4, "four attempts, no more");
    let stderr = run.stderr();
    assert!(
        stderr.contains("HTTP 500") && stderr.contains("4 attempts"),
        "{stderr}"
    );
    assert_no_secret(&run.all_output());
}

#[test]
fn a_connection_dropped_after_the_message_was_sent_is_not_sent_again() {
    // GIVEN a Slack that reads the whole message, then drops the connection without an answer
    let stack = Stack::with_secret(SECRET);
    stack.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
    stack.script_slack(json!([{"close": true}]));

    // WHEN a check posts
    let run = check(&stack, &[]);

    // THEN it is not retried (Slack may have posted it), and the run says so
    assert_eq!(run.output.status.code(), Some(1));
    assert_eq!(stack.slack_attempts().len(), 1, "one attempt, no duplicate");
    assert!(
        run.stderr().contains("may or may not have been posted"),
        "{}",
        run.stderr()
    );
    assert_no_secret(&run.all_output());
}

#[test]
fn an_unreachable_webhook_is_an_error_without_the_url() {
    let stack = Stack::start();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut secret = stack.valid_secret();
    secret["slack_webhook_url"] = json!(format!(
        "http://127.0.0.1:{closed_port}/services/T0001/B0001/{}",
        support::WEBHOOK_TOKEN
    ));
    stack.put_secret(SECRET, &secret);
    stack.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert!(
        stderr.contains("could not reach Slack after 4 attempts"),
        "{stderr}"
    );
    assert_no_secret(&run.all_output());
}

#[test]
fn a_failure_after_some_messages_reports_them_and_never_resends() {
    let stack = Stack::with_secret(SECRET);
    let rows = (0..40)
        .map(|i| row(Some("u"), 100 + i, 40, "select 1"))
        .collect();
    stack.script_rows(rows, 0, 100);
    stack.script_slack(json!([{"status": 200, "body": "ok"}, {"status": 200, "body": "ok"}, {"status": 400, "body": "invalid_blocks"}]));
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert!(
        stderr.contains("message 3 of 3 was not delivered (2 delivered before it"),
        "{stderr}"
    );
    assert!(stderr.contains("invalid_blocks"));
    assert_eq!(delivered_pids(&stack), exactly_once(100..130));
    assert_eq!(stack.slack_attempts().len(), 3);
}

#[test]
fn with_a_10_second_deadline_a_hanging_data_api_or_slack_cannot_hold_the_function() {
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);

    // A DescribeStatement that never answers.
    stack.script_data_api(json!({"stall_ms": {"DescribeStatement": 60000}}));
    let answer = lambda.invoke(&json!({}), 10_000);
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["errorType"], "DeadlineExceeded");
    assert!(
        answer["duration_ms"].as_f64().unwrap() < 10_000.0,
        "{answer}"
    );
    assert_eq!(stack.calls_of("CancelStatement").len(), 1);

    // An ExecuteStatement that never answers.
    stack.script_data_api(json!({"stall_ms": {"ExecuteStatement": 60000}}));
    let answer = lambda.invoke(&json!({}), 10_000);
    assert_eq!(answer["status"], "error", "{answer}");
    assert!(answer["error"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("did not answer before the deadline"));
    assert!(
        answer["duration_ms"].as_f64().unwrap() < 10_000.0,
        "{answer}"
    );

    // A Slack that never answers.
    stack.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
    stack.script_slack(
        json!([{"delay_ms": 60000, "status": 200}, {"delay_ms": 60000, "status": 200}]),
    );
    let answer = lambda.invoke(&json!({}), 10_000);
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["errorType"], "DeadlineExceeded");
    assert_eq!(
        stack.slack_attempts().len(),
        1,
        "an unanswered message is not sent twice"
    );
    assert!(
        answer["duration_ms"].as_f64().unwrap() < 10_000.0,
        "{answer}"
    );

    // And the same warm process still serves a healthy run.
    stack.script_slack(json!([]));
    stack.script_rows(vec![], 0, 100);
    assert_eq!(lambda.invoke(&json!({}), 10_000)["status"], "ok");
}

#[test]
fn bad_event_values_name_the_key_and_the_accepted_range() {
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    for (event, key, range) in [
        (
            json!({"threshold_minutes": 0}),
            "threshold_minutes",
            "1 to 10080",
        ),
        (
            json!({"threshold_minutes": -30}),
            "threshold_minutes",
            "1 to 10080",
        ),
        (
            json!({"threshold_minutes": 20000}),
            "threshold_minutes",
            "1 to 10080",
        ),
        (json!({"dry_run": "yes"}), "dry_run", "true or false"),
        (json!({"timezone": "Mars/Olympus"}), "timezone", "IANA"),
        (json!([1, 2]), "JSON object", "object"),
    ] {
        let answer = lambda.invoke(&event, 10_000);
        assert_eq!(answer["status"], "error", "{event}: {answer}");
        assert_eq!(answer["error"]["errorType"], "ConfigError");
        let message = answer["error"]["errorMessage"].as_str().unwrap();
        assert!(
            message.contains(key) && message.contains(range),
            "{event}: {message}"
        );
    }
    assert!(stack.data_api_calls().is_empty(), "no call for a bad event");
}

#[test]
fn no_secret_value_reaches_any_output_even_at_trace_level() {
    // GIVEN a recognisable secret and every failure this run can hit, at the most verbose level
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET), ("RUST_LOG", "trace")]);
    let mut answers = String::new();

    type Scenario = Box<dyn Fn(&Stack)>;
    let scenarios: Vec<Scenario> = vec![
        Box::new(|s| s.script_data_api(json!({"outcome": "failed", "error": "ERROR: boom"}))),
        Box::new(|s| {
            s.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
            s.script_slack(json!([{"status": 404, "body": "no_service"}]));
        }),
        Box::new(|s| {
            s.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
            s.script_slack(
                json!([{"status": 500}, {"status": 500}, {"status": 500}, {"status": 500}]),
            );
        }),
        Box::new(|s| s.script_data_api(json!({"throttle": {"ExecuteStatement": 10}}))),
        Box::new(|s| {
            s.script_slack(json!([]));
            s.script_rows(vec![row(Some("a"), 1, 31, "select 1")], 0, 100);
        }),
    ];
    for scenario in scenarios {
        scenario(&stack);
        answers.push_str(&lambda.invoke(&json!({}), 10_000).to_string());
    }
    // A secret that does not exist.
    answers.push_str(
        &lambda
            .invoke(&json!({"secret_id": "nope/missing"}), 10_000)
            .to_string(),
    );

    // THEN neither the answers nor a byte of the logs holds a secret value
    let logs = lambda.logs();
    assert!(
        logs.contains("statement submitted"),
        "trace logs were written"
    );
    assert_no_secret(&answers);
    assert_no_secret(&logs);
}
