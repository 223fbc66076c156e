//! The real binary's `check` command against the local stack: the statement runs on the local
//! Redshift's model of the cluster, so what Slack receives is what the SQL computed.

mod support;

use serde_json::{json, Value};
use support::cluster::minutes;
use support::slack::query_text;
use support::{assert_no_secret, at, pids_in, query, Stack, DB_USER, NOW};

const SECRET: &str = "test/redshift-long-query-alert";

#[test]
fn long_queries_are_posted_to_slack_with_the_right_payload() {
    // GIVEN two long-running queries, one with a space as the 200th character, where Redshift
    // cuts its first chunk, and a line break in the next chunk
    let stack = Stack::with_secret(SECRET);
    let head = "SELECT user_id, count(*) FROM events WHERE tag <> '";
    let filler = "x".repeat(199 - head.len() - "' GROUP".len());
    let boundary = format!("{head}{filler}' GROUP BY user_id");
    assert_eq!(&boundary[194..200], "GROUP ");
    let alice_text = format!("{boundary}\nORDER BY 2");
    stack.load_cluster(at(
        NOW,
        vec![
            // Started 09:15:00 UTC: 18:15 in Tokyo.
            query(4242, Some("alice"), 45.0 * 60.0, &alice_text),
            query(4343, None, minutes(55), "select * from big_table"),
            query(4444, Some("bob"), minutes(20), "select 1"),
        ],
    ));

    // WHEN one check runs with a time zone
    let run = stack.run_cli(
        &[
            "check",
            "--secret-id",
            SECRET,
            "--minutes",
            "37",
            "--timezone",
            "Asia/Tokyo",
        ],
        &[],
    );

    // THEN one message reached Slack, and it shows both long queries readably
    let summary = run.summary();
    let received = stack.slack_received();
    assert_eq!(received.len(), 1);
    assert_eq!(pids_in(&received), [4343, 4242], "oldest first");
    let message = &received[0];
    let all = message.to_string();
    assert!(
        all.contains("`alice`") && all.contains("(dropped user)"),
        "{all}"
    );
    assert!(all.contains("2026-11-28 18:15:00 JST"), "{all}");
    assert_eq!(
        query_text(&received, 4242).unwrap(),
        alice_text,
        "stitched, the boundary space kept, the line break restored"
    );
    assert!(message["text"]
        .as_str()
        .unwrap()
        .contains("2 Redshift queries running for 37+ min"));

    // AND the statement was submitted once, with the window as parameters
    let executes = stack.calls_of("ExecuteStatement");
    assert_eq!(executes.len(), 1);
    let request = &executes[0]["request"];
    assert_eq!(request["ClusterIdentifier"], "analytics-test");
    assert_eq!(request["Database"], "dev");
    assert_eq!(request["DbUser"], DB_USER);
    assert_eq!(request["StatementName"], "redshift-long-query-alert");
    let mut params: Vec<(String, String)> = request["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    params.sort();
    assert_eq!(
        params,
        [
            ("max_minutes".into(), "74".into()),
            ("min_minutes".into(), "37".into()),
            ("threshold_minutes".into(), "37".into())
        ]
    );
    let sql = request["Sql"].as_str().unwrap();
    assert!(
        !sql.contains("37") && !sql.contains("74"),
        "no window literal in the SQL"
    );

    // AND the summary says what happened, without query texts or secret values
    assert_eq!(summary["threshold_minutes"], 37);
    assert_eq!(
        summary["window"],
        json!({"min_minutes": 37, "max_minutes": 74})
    );
    assert_eq!(summary["timezone"], "Asia/Tokyo");
    assert_eq!(summary["messages_posted"], 1);
    assert_eq!(summary["dry_run"], false);
    assert_eq!(summary["queries"][1]["user"], "alice");
    assert_eq!(summary["queries"][1]["elapsed_minutes"], 45);
    assert_eq!(summary["queries"][1]["start_time"], "2026-11-28T09:15:00Z");
    assert_eq!(summary["queries"][0]["user"], Value::Null);
    assert_eq!(summary["queries_past_threshold"], 2);
    assert!(!run.stdout().contains("big_table"));
    assert_no_secret(&run.all_output());
}

#[test]
fn nothing_found_posts_nothing() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(NOW, vec![query(1, Some("a"), minutes(5), "select 1")]));
    let summary = stack
        .run_cli(&["check", "--secret-id", SECRET], &[])
        .summary();
    assert_eq!(summary["queries"], json!([]));
    assert_eq!(summary["queries_past_threshold"], 0);
    assert_eq!(summary["messages_posted"], 0);
    assert!(
        stack.slack_attempts().is_empty(),
        "no request reached Slack"
    );
}

#[test]
fn a_failed_statement_reports_redshifts_message_and_posts_nothing() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({
        "delay_ms": 200, "outcome": "failed",
        "error": "ERROR: permission denied for relation stv_inflight"
    }));
    let run = stack.run_cli(&["check", "--secret-id", SECRET], &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert!(
        stderr.contains("permission denied for relation stv_inflight"),
        "{stderr}"
    );
    assert!(stderr.contains("FAILED"), "{stderr}");
    assert!(run.stdout().is_empty(), "no summary on failure");
    assert!(stack.slack_attempts().is_empty());
    assert_no_secret(&run.all_output());
}

#[test]
fn a_slow_statement_is_waited_for() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![query(7, Some("bob"), minutes(33), "select 1")],
    ));
    stack.script_data_api(json!({"delay_ms": 1500}));
    let summary = stack
        .run_cli(&["check", "--secret-id", SECRET], &[])
        .summary();
    assert_eq!(summary["messages_posted"], 1);
    // The stand-in's 1.5 s run from submission; the wait is measured from its answer.
    assert!(
        summary["statement_wait_ms"].as_u64().unwrap() >= 1_400,
        "{summary}"
    );
    let describes = stack.calls_of("DescribeStatement").len();
    assert!(describes >= 3, "polled {describes} times");
    assert_eq!(
        summary["describe_calls"].as_u64().unwrap() as usize,
        describes
    );
}

#[test]
fn every_page_of_the_result_is_reported() {
    // GIVEN 5 long queries served 2 per page: 3 pages
    let stack = Stack::with_secret(SECRET);
    let queries = (1..=5)
        .map(|i| query(100 + i, Some("etl"), minutes(40) + i as f64, "select 1"))
        .collect();
    stack.load_cluster(at(NOW, queries));
    stack.script_data_api(json!({"page_size": 2}));
    let summary = stack
        .run_cli(&["check", "--secret-id", SECRET], &[])
        .summary();
    assert_eq!(stack.calls_of("GetStatementResult").len(), 3);
    assert_eq!(summary["queries"].as_array().unwrap().len(), 5);
    // Oldest first.
    assert_eq!(pids_in(&stack.slack_received()), [105, 104, 103, 102, 101]);
}

#[test]
fn many_queries_are_split_over_messages_and_none_is_lost() {
    let stack = Stack::with_secret(SECRET);
    let text = "select x from t where y ".repeat(150);
    let queries = (0..40)
        .map(|i| query(1000 + i, Some("analyst"), minutes(45) - i as f64, &text))
        .collect();
    stack.load_cluster(at(NOW, queries));
    stack.script_data_api(json!({"page_size": 7}));
    let summary = stack
        .run_cli(&["check", "--secret-id", SECRET], &[])
        .summary();
    let received = stack.slack_received();
    assert_eq!(received.len(), 3, "15 + 15 + 10");
    assert_eq!(summary["messages_posted"], 3);
    assert_eq!(pids_in(&received), (1000..1040).collect::<Vec<_>>());
    assert_eq!(
        stack.slack_attempts().len(),
        3,
        "every message accepted at once"
    );
}

#[test]
fn slack_rate_limit_is_waited_out_and_the_message_delivered_once() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![query(1, Some("alice"), minutes(31), "select 1")],
    ));
    stack.script_slack(
        json!([{"status": 429, "headers": {"Retry-After": "1"}, "body": "rate_limited"}]),
    );
    let run = stack.run_cli(&["check", "--secret-id", SECRET], &[]);
    let summary = run.summary();
    assert_eq!(summary["messages_posted"], 1);
    assert_eq!(stack.slack_received().len(), 1);
    assert_eq!(stack.slack_attempts().len(), 2);
    assert!(run.elapsed.as_millis() >= 1_000, "waited as told");
}

#[test]
fn a_slack_rejection_quotes_slack_without_the_url() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![query(1, Some("alice"), minutes(31), "select 1")],
    ));
    stack.script_slack(json!([{"status": 404, "body": "no_service"}]));
    let run = stack.run_cli(&["check", "--secret-id", SECRET], &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(run.stderr().contains("no_service"), "{}", run.stderr());
    assert_eq!(stack.slack_attempts().len(), 1, "a 4xx is not retried");
    assert_no_secret(&run.all_output());
}

#[test]
fn dry_run_returns_the_messages_and_posts_nothing() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![query(9, Some("alice"), minutes(20), "select 1")],
    ));
    let summary = stack
        .run_cli(
            &[
                "check",
                "--secret-id",
                SECRET,
                "--minutes",
                "15",
                "--dry-run",
            ],
            &[],
        )
        .summary();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["messages_posted"], 0);
    assert_eq!(summary["messages"].as_array().unwrap().len(), 1);
    assert!(stack.slack_attempts().is_empty());
    let params = &stack.calls_of("ExecuteStatement")[0]["request"]["Parameters"];
    assert!(params.to_string().contains("\"15\"") && params.to_string().contains("\"30\""));
}

#[test]
fn environment_defaults_apply_when_no_flag_is_given() {
    let stack = Stack::with_secret(SECRET);
    let summary = stack
        .run_cli(
            &["check"],
            &[
                ("SECRET_ID", SECRET),
                ("THRESHOLD_MINUTES", "45"),
                ("TIMEZONE", "Europe/Paris"),
            ],
        )
        .summary();
    assert_eq!(summary["threshold_minutes"], 45);
    assert_eq!(summary["window"]["max_minutes"], 90);
    assert_eq!(summary["timezone"], "Europe/Paris");
}

#[test]
fn bad_secrets_fail_with_a_named_problem_and_no_value() {
    let stack = Stack::start();
    let mut no_db = stack.valid_secret();
    no_db.as_object_mut().unwrap().remove("database");
    let mut http_hook = stack.valid_secret();
    http_hook["slack_webhook_url"] = json!(format!(
        "http://hooks.example.com/{}",
        support::WEBHOOK_TOKEN
    ));
    stack.put_secret("no-db", &no_db);
    stack.put_secret("http-hook", &http_hook);
    stack.put_secret_text(
        "not-json",
        &format!("{{\"slack_webhook_url\": \"{}\"", stack.webhook_url()),
    );

    for (secret_id, expected) in [
        ("missing/secret", "was not found"),
        ("no-db", "lacks the required key `database`"),
        ("http-hook", "must use https"),
        ("not-json", "is not valid JSON"),
    ] {
        let run = stack.run_cli(&["check", "--secret-id", secret_id], &[]);
        assert_eq!(run.output.status.code(), Some(1), "{secret_id}");
        let stderr = run.stderr();
        assert!(stderr.contains(expected), "{secret_id}: {stderr}");
        assert!(stderr.contains(secret_id), "names the secret: {stderr}");
        assert_no_secret(&run.all_output());
    }
    assert!(
        stack.data_api_calls().is_empty(),
        "no statement without a valid secret"
    );
    assert!(stack.slack_attempts().is_empty());
}

#[test]
fn a_statement_that_never_finishes_is_cancelled_within_the_timeout() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({"outcome": "hang"}));
    let run = stack.run_cli(&["check", "--secret-id", SECRET, "--timeout", "5"], &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(run.elapsed.as_secs_f64() < 5.5, "took {:?}", run.elapsed);
    let stderr = run.stderr();
    assert!(
        stderr.contains("did not finish") && stderr.contains("was cancelled"),
        "{stderr}"
    );
    assert_eq!(stack.calls_of("CancelStatement").len(), 1);
    assert!(stack.slack_attempts().is_empty());
}

#[test]
fn help_explains_every_flag() {
    let output = std::process::Command::new(support::BIN)
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--secret-id",
        "--minutes",
        "--timezone",
        "--dry-run",
        "--timeout",
        "--output",
    ] {
        assert!(help.contains(flag), "{flag} missing in:\n{help}");
    }
    assert!(output.status.success());
}

#[test]
fn an_unknown_time_zone_fails_before_any_call() {
    let stack = Stack::with_secret(SECRET);
    let run = stack.run_cli(
        &["check", "--secret-id", SECRET, "--timezone", "Mars/Base"],
        &[],
    );
    assert_eq!(run.output.status.code(), Some(2), "a usage error");
    assert!(
        run.stderr()
            .contains("flag --timezone names an unknown time zone \"Mars/Base\""),
        "{}",
        run.stderr()
    );
    assert!(stack.data_api_calls().is_empty());
}
