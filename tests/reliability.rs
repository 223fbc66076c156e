//! Faults injected into the local stack, against the real binary: each test is one row of the
//! fault table in docs/reliability.md. Services misbehave the ways the real ones can (throttle,
//! hang, answer garbage, redirect, loop, send absurd headers or huge bodies); the binary must
//! keep every promise: its deadline, no secret in any output, no panic, no duplicate, bounded
//! memory, every readable row reported.

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};
use support::cluster::minutes;
use support::{assert_no_secret, at, block_texts, pids_in, query, Stack, NOW, WEBHOOK_TOKEN};

const SECRET: &str = "faults/redshift-long-query-alert";

fn check(stack: &Stack, extra: &[&str]) -> support::stack::CliRun {
    let mut args = vec!["check", "--secret-id", SECRET];
    args.extend_from_slice(extra);
    stack.run_cli(&args, &[])
}

/// One long query in the window.
fn one_long_query(stack: &Stack) {
    stack.load_cluster(at(NOW, vec![query(1, Some("a"), minutes(31), "select 1")]));
}

/// pid → how many times it reached Slack, over every accepted message.
fn delivered_pids(stack: &Stack) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for pid in pids_in(&stack.slack_received()) {
        *counts.entry(pid).or_insert(0) += 1;
    }
    counts
}

fn exactly_once(pids: impl IntoIterator<Item = i64>) -> BTreeMap<i64, usize> {
    pids.into_iter().map(|p| (p, 1)).collect()
}

fn metrics_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|d| d.get("_aws").is_some())
        .collect()
}

// ----- the Data API ------------------------------------------------------------------------

#[test]
fn throttling_on_execute_and_describe_is_retried_by_the_sdk() {
    let stack = Stack::with_secret(SECRET);
    one_long_query(&stack);
    stack.script_data_api(json!({
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
fn throttling_past_the_sdks_retries_is_called_throttling() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({"throttle": {"ExecuteStatement": 10}}));
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert!(
        stderr.contains("ThrottlingException") && stderr.contains("throttled"),
        "{stderr}"
    );
    assert_no_secret(&run.all_output());
}

#[test]
fn a_result_page_failing_once_is_retried_and_every_row_read() {
    let stack = Stack::with_secret(SECRET);
    let queries = (1..=6)
        .map(|i| query(i, Some("u"), minutes(40) + i as f64, "select 1"))
        .collect();
    stack.load_cluster(at(NOW, queries));
    stack.script_data_api(json!({"page_size": 2, "server_errors": {"GetStatementResult": 1}}));
    let summary = check(&stack, &[]).summary();
    assert_eq!(summary["queries"].as_array().unwrap().len(), 6);
    let pages = stack.calls_of("GetStatementResult");
    assert_eq!(pages.len(), 4, "3 pages + 1 retried");
    assert_eq!(pages.iter().filter(|c| c["status"] == 500).count(), 1);
    assert_eq!(delivered_pids(&stack), exactly_once(1..=6));
}

#[test]
fn a_data_api_that_repeats_its_next_token_cannot_loop_the_run() {
    let stack = Stack::with_secret(SECRET);
    let queries = (1..=4)
        .map(|i| query(i, Some("u"), minutes(40), "select 1"))
        .collect();
    stack.load_cluster(at(NOW, queries));
    stack.script_data_api(json!({"page_size": 1, "repeat_next_token": true}));
    let started = Instant::now();
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr().contains("repeated a NextToken"),
        "{}",
        run.stderr()
    );
    assert!(stack.calls_of("GetStatementResult").len() <= 3);
    assert!(started.elapsed().as_secs() < 10);
    assert!(stack.slack_attempts().is_empty());
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

// ----- rows from the database --------------------------------------------------------------

#[test]
fn hostile_query_texts_and_users_arrive_escaped_and_intact() {
    let stack = Stack::with_secret(SECRET);
    let long = "select 1 from t where a > 1 or b < 2 ".repeat(200);
    stack.load_cluster(at(
        NOW,
        vec![
            query(
                10,
                Some("<!channel>"),
                minutes(35),
                "select '<script>' & '```' from t -- `x`",
            ),
            query(11, None, minutes(35) - 1.0, "   "),
            query(
                12,
                Some("山田"),
                minutes(35) - 2.0,
                "SELECT 名前, '🙂🙃' FROM ユーザー WHERE note = 'a\nb'",
            ),
            query(
                13,
                Some("ops & co\n*bold* @here https://evil.example"),
                minutes(35) - 3.0,
                &long,
            ),
        ],
    ));
    let summary = check(&stack, &[]).summary();
    assert_eq!(summary["messages_posted"], 1);
    let received = stack.slack_received();
    let all = received[0].to_string();
    assert!(!all.contains("<!channel>") && all.contains("&lt;!channel&gt;"));
    assert!(
        all.contains("&lt;script&gt;' &amp; '`\u{200b}`\u{200b}`'"),
        "{all}"
    );
    assert!(all.contains("ユーザー") && all.contains("🙂🙃") && all.contains("山田"));
    assert!(all.contains("(no query text)") && all.contains("(dropped user)"));
    assert!(
        !all.contains("https://evil"),
        "no live link from the database: {all}"
    );
    for text in block_texts(&received, "text:") {
        if text.starts_with("```") {
            assert_eq!(text.matches("```").count(), 2, "code block intact: {text}");
        }
    }
    for details in block_texts(&received, "query:") {
        assert_eq!(details.lines().count(), 3, "no injected line: {details}");
    }
    assert_eq!(delivered_pids(&stack), exactly_once(10..14));
}

#[test]
fn a_5000_character_user_name_still_fits_slacks_limits() {
    let stack = Stack::with_secret(SECRET);
    let name = "u".repeat(5_000);
    stack.load_cluster(at(
        NOW,
        vec![query(21, Some(&name), minutes(40), "select 1")],
    ));
    let summary = check(&stack, &[]).summary();
    // The Slack stand-in refuses what Slack refuses (a section over 3,000 characters).
    assert_eq!(summary["messages_posted"], 1);
    assert_eq!(delivered_pids(&stack), exactly_once([21]));
}

#[test]
fn a_row_that_cannot_be_read_is_reported_and_the_others_are_posted() {
    // Rows no SQL could produce: a NULL start time, and a text with a lone UTF-16 surrogate,
    // which the SDK's JSON parser would refuse together with the whole page.
    let stack = Stack::with_secret(SECRET);
    stack.script_result_rows(
        r#"[
        ["alice", 1, 10, "2026-11-28 09:15:00", 45, "\u001eselect 1", false, 3],
        ["bob", 2, 20, null, 44, "\u001eselect 2", false, 3],
        ["carol", 3, 30, "2026-11-28 09:17:00", 43, "\u001eselect '\ud800' from t", false, 3]
    ]"#,
    );
    let run = check(&stack, &[]);
    let summary = run.summary();
    assert_eq!(summary["messages_posted"], 1);
    assert_eq!(delivered_pids(&stack), exactly_once([1, 3]));
    assert_eq!(
        summary["unreadable_rows"],
        json!([{"row": 2, "pid": 2, "problem": "`start_time` is NULL"}])
    );
    let received = stack.slack_received();
    let note = &block_texts(&received, "unreadable")[0];
    assert!(
        note.contains("pid `2`") && note.contains("start_time"),
        "{note}"
    );
    assert!(received[0].to_string().contains("select '\u{fffd}' from t"));
}

// ----- Slack -------------------------------------------------------------------------------

#[test]
fn slack_server_errors_are_retried_and_the_message_delivered_once() {
    let stack = Stack::with_secret(SECRET);
    one_long_query(&stack);
    stack.script_slack(json!([{"status": 500, "body": "internal_error"}, {"status": 503}]));
    let summary = check(&stack, &[]).summary();
    assert_eq!(summary["messages_posted"], 1);
    assert_eq!(stack.slack_attempts().len(), 3);
    assert_eq!(delivered_pids(&stack), exactly_once([1]));
}

#[test]
fn slack_failing_for_good_gives_up_after_bounded_retries() {
    let stack = Stack::with_secret(SECRET);
    one_long_query(&stack);
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
    one_long_query(&stack);
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
fn slack_answering_after_the_request_timeout_is_not_posted_twice() {
    // GIVEN a Slack that accepts the message but answers only after 12 s (the request timeout
    // is 10 s) and a deadline long enough for a retry
    let stack = Stack::with_secret(SECRET);
    one_long_query(&stack);
    stack.script_slack(json!([{"delay_ms": 12_000, "status": 200}]));
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);

    let answer = lambda.invoke(&json!({}), 40_000);

    // THEN the run reports the message as perhaps posted and never sends it again
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["errorType"], "SlackError");
    let message = answer["error"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("may or may not have been posted"),
        "{message}"
    );
    assert_eq!(stack.slack_attempts().len(), 1);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        delivered_pids(&stack),
        exactly_once([1]),
        "Slack got it once"
    );
}

#[test]
fn a_redirect_is_never_followed_and_the_credential_stays_with_slack() {
    for status in [302, 307, 308] {
        // GIVEN a webhook host that redirects elsewhere
        let stack = Stack::with_secret(SECRET);
        one_long_query(&stack);
        let elsewhere = format!("{}/elsewhere/collect", Stack::url(stack.ports.slack));
        stack.script_slack(json!([{"status": status, "headers": {"Location": elsewhere}}]));

        // WHEN a check posts
        let run = check(&stack, &[]);

        // THEN nothing went to the other place, no Referer was sent, and the run failed saying so
        assert_eq!(run.output.status.code(), Some(1), "{status}");
        let attempts = stack.slack_attempts();
        assert_eq!(attempts.len(), 1, "{status}: {attempts:?}");
        assert!(attempts
            .iter()
            .all(|a| !a["path"].as_str().unwrap().starts_with("/elsewhere")));
        assert!(
            attempts.iter().all(|a| a["referer"].is_null()),
            "{attempts:?}"
        );
        assert!(
            run.stderr().contains("redirect") && run.stderr().contains("not followed"),
            "{}",
            run.stderr()
        );
        assert!(stack.slack_received().is_empty());
        assert_no_secret(&run.all_output());
    }
}

#[test]
fn an_absurd_retry_after_cannot_crash_the_run() {
    let stack = Stack::with_secret(SECRET);
    one_long_query(&stack);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    for value in [
        "18446744073709551615",
        "99999999999999999999999",
        "-1",
        "soon",
    ] {
        stack.script_slack(json!([{"status": 429, "headers": {"Retry-After": value}}]));
        let answer = lambda.invoke(&json!({}), 10_000);
        let error_type = &answer["error"]["errorType"];
        assert!(
            answer["status"] == "ok"
                || error_type == "DeadlineExceeded"
                || error_type == "SlackError",
            "{value}: {answer}"
        );
    }
    let logs = lambda.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    assert_eq!(
        metrics_lines(&logs).len(),
        4,
        "a metrics line for every run"
    );
}

#[test]
fn a_huge_error_body_from_slack_is_read_only_in_part() {
    let stack = Stack::with_secret(SECRET);
    one_long_query(&stack);
    stack.script_slack(json!([{"status": 400, "body_bytes": 50_000_000}]));
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(run.stderr().len() < 2_000, "the error quotes a short part");
    assert!(run.elapsed.as_secs() < 10);
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
        "http://127.0.0.1:{closed_port}/services/T0001/B0001/{WEBHOOK_TOKEN}"
    ));
    stack.put_secret(SECRET, &secret);
    one_long_query(&stack);
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
    let queries = (0..40)
        .map(|i| query(100 + i, Some("u"), minutes(50) - i as f64, "select 1"))
        .collect();
    stack.load_cluster(at(NOW, queries));
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
fn past_the_message_cap_one_message_says_how_many_more() {
    let stack = Stack::with_secret(SECRET);
    let queries = (0..200)
        .map(|i| {
            query(
                1000 + i,
                Some("u"),
                minutes(55) - i as f64 / 10.0,
                "select 1",
            )
        })
        .collect();
    stack.load_cluster(at(NOW, queries));
    let summary = check(&stack, &[]).summary();
    assert_eq!(
        summary["messages_posted"], 10,
        "nine of queries, one that counts the rest"
    );
    assert_eq!(summary["queries_not_posted"], 200 - 135);
    let received = stack.slack_received();
    assert_eq!(pids_in(&received).len(), 135);
    assert!(block_texts(&received, "overflow")[0].contains("65 more"));
}

// ----- Secrets Manager ----------------------------------------------------------------------

#[test]
fn a_secrets_manager_that_never_answers_cannot_hold_the_cli_past_its_timeout() {
    let stack = Stack::with_secret(SECRET);
    stack.script_secret_faults(json!({ SECRET: {"hang_ms": 60_000} }));
    let run = stack.run_cli_with(
        stack.faulty_secrets_env(),
        &["check", "--secret-id", SECRET, "--timeout", "5"],
        &[],
    );
    assert_eq!(run.output.status.code(), Some(1));
    assert!(run.elapsed.as_secs_f64() < 6.0, "took {:?}", run.elapsed);
    let stderr = run.stderr();
    assert!(
        stderr.contains("GetSecretValue") && stderr.contains("did not answer before the deadline"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ExecuteStatement"),
        "not blamed on the Data API: {stderr}"
    );
}

#[test]
fn a_hanging_secret_fails_its_target_alone_within_the_deadline_with_metrics() {
    // GIVEN three targets, one of whose secrets never comes
    let stack = Stack::with_secret(SECRET);
    stack.put_secret("faults/second", &stack.valid_secret());
    stack.put_secret("faults/slow", &stack.valid_secret());
    one_long_query(&stack);
    stack.script_secret_faults(json!({"faults/slow": {"hang_ms": 60_000}}));
    let lambda = stack.start_lambda_with(stack.faulty_secrets_env(), &[]);

    // WHEN they are checked with a 5 s deadline
    let event = json!({"targets": [
        {"secret_id": SECRET}, {"secret_id": "faults/slow"}, {"secret_id": "faults/second"}
    ]});
    let answer = lambda.invoke(&event, 5_000);

    // THEN the other two posted, the slow one failed naming the call, all before the deadline
    assert!(
        answer["duration_ms"].as_f64().unwrap() < 5_000.0,
        "{answer}"
    );
    assert_eq!(answer["error"]["errorType"], "TargetsFailed", "{answer}");
    let message = answer["error"]["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("1 of 3 targets failed") && message.contains("GetSecretValue"),
        "{message}"
    );
    assert_eq!(
        delivered_pids(&stack),
        BTreeMap::from([(1, 2)]),
        "one message per healthy target"
    );
    let metrics = metrics_lines(&lambda.logs());
    assert_eq!(metrics.len(), 3, "a metrics line for every target");
    assert!(metrics
        .iter()
        .any(|m| m["SecretId"] == "faults/slow" && m["CheckFailed"] == 1));
}

#[test]
fn secrets_manager_answers_that_cannot_be_read_never_leak_the_secret() {
    let stack = Stack::with_secret(SECRET);
    let secret = stack.valid_secret().to_string();
    let truncated = json!({"SecretString": secret}).to_string();
    let truncated = &truncated[..truncated.len() / 2];
    stack.script_secret_faults(json!({
        "faults/truncated": {"status": 200, "body": truncated},
        "faults/wrong-type": {"status": 200, "body": format!("{{\"SecretString\": {secret}}}")},
        "faults/echo": {"status": 400, "error": {"__type": "ValidationException", "message": format!("value {secret} is invalid")}},
        "faults/throttled": {"status": 400, "error": {"__type": "ThrottlingException", "message": format!("Rate exceeded for {secret}")}},
        "faults/denied": {"status": 400, "error": {"__type": "AccessDeniedException", "message": format!("not authorized to read {secret}")}},
    }));
    for (secret_id, expected) in [
        ("faults/truncated", "could not be read"),
        ("faults/wrong-type", "could not be read"),
        ("faults/echo", "ValidationException"),
        ("faults/throttled", "throttled"),
        ("faults/denied", "secretsmanager:GetSecretValue"),
    ] {
        let run = stack.run_cli_with(
            stack.faulty_secrets_env(),
            &["check", "--secret-id", secret_id],
            &[("RUST_LOG", "trace")],
        );
        assert_eq!(run.output.status.code(), Some(1), "{secret_id}");
        assert!(
            run.stderr().contains(expected),
            "{secret_id}: {}",
            run.stderr()
        );
        assert!(
            !run.stderr().contains("ExecuteStatement"),
            "{secret_id}: {}",
            run.stderr()
        );
        assert_no_secret(&run.all_output());
    }
    assert!(stack.data_api_calls().is_empty());
}

// ----- the deadline, events, and secrets in every output -------------------------------------

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
    assert_eq!(answer["error"]["errorType"], "DeadlineExceeded", "{answer}");
    assert!(answer["error"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("ExecuteStatement did not answer before the deadline"));
    assert!(
        answer["duration_ms"].as_f64().unwrap() < 10_000.0,
        "{answer}"
    );

    // A Slack that never answers.
    stack.script_data_api(json!({}));
    one_long_query(&stack);
    stack.script_slack(
        json!([{"delay_ms": 60000, "status": 200}, {"delay_ms": 60000, "status": 200}]),
    );
    let answer = lambda.invoke(&json!({}), 10_000);
    assert_eq!(answer["error"]["errorType"], "DeadlineExceeded", "{answer}");
    assert!(
        answer["duration_ms"].as_f64().unwrap() < 10_000.0,
        "{answer}"
    );
    assert_eq!(
        stack.slack_attempts().len(),
        1,
        "an unanswered message is not sent twice"
    );

    // And the same warm process still serves a healthy run, each with its metrics line.
    stack.script_slack(json!([]));
    stack.load_cluster(at(NOW, vec![]));
    assert_eq!(lambda.invoke(&json!({}), 10_000)["status"], "ok");
    assert_eq!(metrics_lines(&lambda.logs()).len(), 4);
}

#[test]
fn bad_event_values_name_the_key_and_the_accepted_range() {
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    let too_many: Vec<Value> = (0..10_000)
        .map(|i| json!({"secret_id": format!("s{i}")}))
        .collect();
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
        (json!({"targets": too_many}), "targets", "1 to 50"),
    ] {
        let answer = lambda.invoke(&event, 10_000);
        assert_eq!(answer["status"], "error", "{key}: {answer}");
        assert_eq!(answer["error"]["errorType"], "ConfigError");
        let message = answer["error"]["errorMessage"].as_str().unwrap();
        assert!(
            message.contains(key) && message.contains(range),
            "{key}: {message}"
        );
    }
    let answer = lambda.invoke_raw("{not json at all", 10_000);
    assert_eq!(answer["error"]["errorType"], "ConfigError", "{answer}");
    assert!(stack.data_api_calls().is_empty(), "no call for a bad event");
}

#[test]
fn a_large_answer_is_kept_within_lambdas_response_limit() {
    // GIVEN a dry run over five targets with many long queries each: megabytes of messages
    let stack = Stack::with_secret(SECRET);
    let text = "select some_column from a_table where x = 1 ".repeat(70);
    let queries = (1..=150)
        .map(|i| query(i, Some("u"), minutes(40) + i as f64 / 10.0, &text))
        .collect();
    stack.load_cluster(at(NOW, queries));
    let lambda = stack.start_lambda(&[]);
    let targets: Vec<Value> = (0..5).map(|_| json!({"secret_id": SECRET})).collect();

    let answer = lambda.invoke(&json!({"dry_run": true, "targets": targets}), 30_000);

    // THEN the answer stays under a megabyte, saying what it left out
    assert_eq!(answer["status"], "ok");
    assert!(answer["response"].to_string().len() <= 1024 * 1024);
    let first = &answer["response"]["targets"][0]["summary"];
    assert_eq!(first["messages_omitted"], 10, "{first}");
    assert_eq!(first["queries"].as_array().unwrap().len(), 150);
}

#[test]
fn no_secret_value_reaches_any_output_even_at_trace_level() {
    // GIVEN a recognisable secret and every failure a run can hit, at the most verbose level
    let stack = Stack::with_secret(SECRET);
    stack.put_secret("faults/slow", &stack.valid_secret());
    let secret = stack.valid_secret().to_string();
    stack.script_secret_faults(json!({
        "faults/slow": {"hang_ms": 60_000},
        "faults/garbage": {"status": 200, "body": format!("{{\"SecretString\": \"{}", &secret[..40])},
        "faults/echo": {"status": 400, "error": {"__type": "InternalServiceError", "message": secret}},
    }));
    let lambda = stack.start_lambda_with(
        stack.faulty_secrets_env(),
        &[
            ("SECRET_ID", SECRET),
            ("RUST_LOG", "trace"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ],
    );
    let mut answers = String::new();

    type Scenario = Box<dyn Fn(&Stack)>;
    let scenarios: Vec<Scenario> = vec![
        Box::new(|s| s.script_data_api(json!({"outcome": "failed", "error": "ERROR: boom"}))),
        Box::new(|s| {
            s.script_data_api(json!({}));
            one_long_query(s);
            s.script_slack(json!([{"status": 404, "body": "no_service"}]));
        }),
        Box::new(|s| {
            s.script_slack(
                json!([{"status": 500}, {"status": 500}, {"status": 500}, {"status": 500}]),
            )
        }),
        Box::new(|s| {
            s.script_slack(
                json!([{"status": 302, "headers": {"Location": "http://127.0.0.1:9/x"}}]),
            )
        }),
        Box::new(|s| s.script_slack(json!([{"close": true}]))),
        Box::new(|s| {
            s.script_slack(
                json!([{"status": 429, "headers": {"Retry-After": "99999999999999999999"}}]),
            )
        }),
        Box::new(|s| s.script_data_api(json!({"throttle": {"ExecuteStatement": 10}}))),
        Box::new(|s| s.script_data_api(json!({"page_size": 1, "repeat_next_token": true}))),
        Box::new(|s| {
            s.script_data_api(json!({}));
            s.script_slack(json!([]));
        }),
    ];
    for scenario in scenarios {
        scenario(&stack);
        answers.push_str(&lambda.invoke(&json!({}), 10_000).to_string());
    }
    for secret_id in [
        "nope/missing",
        "faults/slow",
        "faults/garbage",
        "faults/echo",
    ] {
        answers.push_str(
            &lambda
                .invoke(&json!({"secret_id": secret_id}), 5_000)
                .to_string(),
        );
    }

    // THEN neither the answers nor a byte of the logs holds a secret value
    let logs = lambda.logs();
    assert!(
        logs.contains("statement submitted"),
        "trace logs were written"
    );
    assert!(
        logs.contains("\"level\":\"TRACE\"")
            || logs.contains("\"level\":\"DEBUG\"")
            || logs.contains("statement submitted")
    );
    assert_no_secret(&answers);
    assert_no_secret(&logs);
}
