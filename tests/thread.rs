//! Thread mode end to end: the real binary against the local stack (the cluster model runs the
//! SQL, moto keeps the state in DynamoDB, the Slack stand-in keeps the channel), over advancing
//! cluster time. Every assertion is on the channel's final state or the table's items.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::cluster::minutes;
use support::thread::{header, parent_pid, reply_kinds};
use support::{assert_no_secret, at, query, Stack, BIN, NOW};

const SECRET: &str = "prod/thread";

fn check(stack: &Stack, extra: &[&str]) -> support::stack::CliRun {
    let mut args = vec!["check", "--secret-id", SECRET, "--minutes", "30"];
    args.extend_from_slice(extra);
    stack.run_cli_with(stack.thread_env(), &args, &[])
}

fn ok(stack: &Stack, extra: &[&str]) -> Value {
    let run = check(stack, extra);
    assert!(
        run.output.status.success(),
        "the run failed: {}\n{}\nchannel:\n{}",
        run.stderr(),
        run.stdout(),
        stack.rendered_channel()
    );
    run.summary()
}

/// Parents that were not deleted.
fn parents(stack: &Stack) -> Vec<Value> {
    stack
        .channel()
        .into_iter()
        .filter(|m| m["deleted"] != true)
        .collect()
}

fn one_query(seconds_ago: f64) -> Value {
    at(
        NOW,
        vec![query(
            4242,
            Some("alice"),
            seconds_ago,
            "SELECT * FROM events e JOIN users u ON u.id = e.user_id",
        )],
    )
}

fn item_phase(stack: &Stack, pid: i64) -> Option<String> {
    stack
        .state_items()
        .iter()
        .find(|i| {
            i["sk"]["S"]
                .as_str()
                .is_some_and(|s| s.starts_with(&format!("{pid}#")))
        })
        .and_then(|i| i["phase"]["S"].as_str().map(str::to_owned))
}

#[test]
fn a_query_is_followed_from_first_seen_through_critical_to_its_end() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(35)));

    let first = ok(&stack, &[]);
    assert_eq!(first["alert_mode"], "thread");
    assert_eq!(first["thread"]["posted"], 1, "{first}");
    let channel = parents(&stack);
    assert_eq!(channel.len(), 1);
    assert_eq!(parent_pid(&channel[0]), Some(4242));
    assert!(
        header(&channel[0]).contains("35 min"),
        "{}",
        header(&channel[0])
    );
    assert_eq!(item_phase(&stack, 4242).as_deref(), Some("open"));

    stack.advance_clock(600.0);
    let second = ok(&stack, &[]);
    assert_eq!(
        (
            second["thread"]["posted"].as_u64(),
            second["thread"]["updated"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let channel = parents(&stack);
    assert_eq!(channel.len(), 1, "updated in place, nothing new");
    assert!(header(&channel[0]).contains("45 min"));
    assert_eq!(channel[0]["edits"], 1);
    assert!(channel[0]["replies"].as_array().unwrap().is_empty());

    stack.advance_clock(17.0 * 60.0);
    let third = ok(&stack, &[]);
    assert_eq!(third["thread"]["escalated"], 1);
    let channel = parents(&stack);
    assert_eq!(reply_kinds(&channel[0]), ["critical"]);
    assert_eq!(channel[0]["replies"][0]["reply_broadcast"], true);
    assert!(header(&channel[0]).contains("still running after 1 h 2 min"));

    // Still running past critical: updated, no second critical reply.
    stack.advance_clock(600.0);
    ok(&stack, &[]);
    assert_eq!(reply_kinds(&parents(&stack)[0]), ["critical"]);

    stack.end_query(4242, "cancelled");
    stack.advance_clock(60.0);
    let last = ok(&stack, &[]);
    assert_eq!(last["thread"]["lookup_statements"], 1);
    assert_eq!(last["thread"]["ended"][0]["outcome"], "cancelled");
    let channel = parents(&stack);
    assert_eq!(channel.len(), 1);
    assert_eq!(reply_kinds(&channel[0]), ["critical", "ended:cancelled"]);
    assert!(
        header(&channel[0]).contains("cancelled after 1 h 12 min"),
        "{}",
        header(&channel[0])
    );
    assert_eq!(item_phase(&stack, 4242).as_deref(), Some("ended"));

    // Nothing left to do: no statement beyond the main one, nothing posted.
    let calls = stack.web_calls().len();
    let quiet = ok(&stack, &[]);
    assert_eq!(quiet["thread"]["lookup_statements"], 0);
    assert_eq!(stack.web_calls().len(), calls);
    assert_no_secret(&format!(
        "{}{}",
        serde_json::to_string(&quiet).unwrap(),
        stack.rendered_channel()
    ));
}

#[test]
fn each_way_a_query_ends_is_told_and_the_lookup_runs_only_when_one_vanished() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![
            query(101, Some("a"), minutes(40), "select 1"),
            query(102, Some("b"), minutes(40), "select 2"),
            query(103, Some("c"), minutes(40), "select 3"),
            query(104, Some("d"), minutes(40), "select 4"),
        ],
    ));
    assert_eq!(ok(&stack, &[])["thread"]["posted"], 4);
    let second = ok(&stack, &[]);
    assert_eq!(second["thread"]["lookup_statements"], 0, "nothing vanished");

    stack.end_query(101, "success");
    stack.end_query(102, "failed");
    stack.end_query(103, "cancelled");
    stack.advance_clock(120.0);
    let ended = ok(&stack, &[]);
    let outcomes: Vec<(i64, String)> = ended["thread"]["ended"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pid"].as_i64().unwrap(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (101, "finished".to_owned()),
            (102, "failed".to_owned()),
            (103, "cancelled".to_owned())
        ]
    );
    for parent in parents(&stack) {
        let pid = parent_pid(&parent).unwrap();
        let expected: &[&str] = match pid {
            101 => &["ended:finished"],
            102 => &["ended:failed"],
            103 => &["ended:cancelled"],
            _ => &[],
        };
        assert_eq!(reply_kinds(&parent), expected, "pid {pid}");
    }

    // The cluster forgets 104 entirely (a restart): its end is unknown.
    stack.load_cluster(at(NOW, vec![]));
    let unknown = ok(&stack, &[]);
    assert_eq!(unknown["thread"]["ended"][0]["outcome"], "unknown");
    let p104 = parents(&stack)
        .into_iter()
        .find(|p| parent_pid(p) == Some(104))
        .unwrap();
    assert_eq!(reply_kinds(&p104), ["ended:unknown"]);
    assert!(
        header(&p104).contains("no longer running"),
        "{}",
        header(&p104)
    );
}

#[test]
fn two_runs_started_together_post_one_parent_per_query() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(at(
        NOW,
        (1..=3)
            .map(|i| query(300 + i, Some("x"), minutes(31), "select 1"))
            .collect(),
    ));
    // Slack answers slowly, so both runs are posting at the same time.
    stack.script_web(
        "chat.postMessage",
        json!([{"delay_ms": 300}, {"delay_ms": 300}]),
    );
    let spawn = || {
        Command::new(BIN)
            .args(["check", "--secret-id", SECRET, "--minutes", "30"])
            .env_clear()
            .envs(stack.thread_env())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let channel = parents(&stack);
    let mut pids: Vec<i64> = channel.iter().filter_map(parent_pid).collect();
    pids.sort();
    assert_eq!(
        pids,
        [301, 302, 303],
        "a: {}\nb: {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let summaries: Vec<Value> = [&a, &b]
        .iter()
        .map(|o| serde_json::from_slice(&o.stdout).unwrap())
        .collect();
    let posted: u64 = summaries
        .iter()
        .map(|s| s["thread"]["posted"].as_u64().unwrap())
        .sum();
    assert_eq!(posted, 3, "{summaries:?}");
}

#[test]
fn a_run_killed_between_its_claim_and_its_post_is_taken_over_after_its_lease() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(33)));
    // The post hangs, then the connection drops without Slack posting anything.
    stack.script_web(
        "chat.postMessage",
        json!([{"delay_ms": 20000, "close": true}]),
    );
    let mut child = Command::new(BIN)
        .args([
            "check",
            "--secret-id",
            SECRET,
            "--minutes",
            "30",
            "--timeout",
            "4",
        ])
        .env_clear()
        .envs(stack.thread_env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while item_phase(&stack, 4242).as_deref() != Some("claimed") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no claim was written"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    stack.script_web("chat.postMessage", json!([]));

    // Within the lease, the claim belongs to the dead run: nobody posts.
    let within = ok(&stack, &[]);
    assert_eq!(within["thread"]["busy"], 1, "{within}");
    assert!(parents(&stack).is_empty());

    // The lease is the dead run's deadline (4 s) plus 5 s.
    std::thread::sleep(Duration::from_secs(10).saturating_sub(started.elapsed()));
    let after = ok(&stack, &[]);
    assert_eq!(after["thread"]["posted"], 1, "{after}");
    assert_eq!(parents(&stack).len(), 1);
    assert_eq!(item_phase(&stack, 4242).as_deref(), Some("open"));
}

#[test]
fn a_failed_post_releases_its_claim_and_the_next_run_posts_once() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(31)));
    stack.script_web("chat.postMessage", json!([{"error": "not_in_channel"}]));
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let err = run.all_output();
    assert!(
        err.contains("not_in_channel") && err.contains("/invite"),
        "{err}"
    );
    assert_eq!(item_phase(&stack, 4242), None, "the claim was released");

    assert_eq!(ok(&stack, &[])["thread"]["posted"], 1);
    assert_eq!(parents(&stack).len(), 1);
}

#[test]
fn a_failed_critical_or_end_reply_is_sent_by_the_next_run_exactly_once() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(50)));
    ok(&stack, &[]);
    stack.advance_clock(15.0 * 60.0);
    stack.script_web(
        "chat.postMessage",
        Value::Array(vec![json!({"status": 500, "body": "oops"}); 4]),
    );
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.all_output());
    assert!(
        run.all_output().contains("critical reply"),
        "{}",
        run.all_output()
    );
    assert_eq!(
        item_phase(&stack, 4242).as_deref(),
        Some("open"),
        "rolled back"
    );
    ok(&stack, &[]);
    assert_eq!(reply_kinds(&parents(&stack)[0]), ["critical"]);

    stack.end_query(4242, "success");
    stack.script_web(
        "chat.update",
        Value::Array(vec![json!({"error": "internal_error"}); 4]),
    );
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.all_output());
    assert_eq!(
        item_phase(&stack, 4242).as_deref(),
        Some("critical"),
        "rolled back"
    );
    ok(&stack, &[]);
    ok(&stack, &[]);
    assert_eq!(
        reply_kinds(&parents(&stack)[0]),
        ["critical", "ended:finished"]
    );
}

#[test]
fn a_parent_deleted_by_hand_is_posted_again_once() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(31)));
    ok(&stack, &[]);
    let ts = parents(&stack)[0]["ts"].as_str().unwrap().to_owned();
    stack.delete_message(&ts);
    let again = ok(&stack, &[]);
    assert_eq!(again["thread"]["reposted"], 1, "{again}");
    let channel = parents(&stack);
    assert_eq!(channel.len(), 1);
    assert_ne!(channel[0]["ts"], ts);
    ok(&stack, &[]);
    assert_eq!(parents(&stack).len(), 1, "and then only updated");
}

#[test]
fn thread_mode_says_what_it_is_missing() {
    let stack = Stack::for_threads(SECRET);
    stack.put_secret("webhook-only", &stack.valid_secret());
    let run = stack.run_cli_with(
        stack.thread_env(),
        &["check", "--secret-id", "webhook-only"],
        &[],
    );
    assert_eq!(run.output.status.code(), Some(2), "a setting is missing");
    assert!(
        run.all_output().contains("slack_bot_token"),
        "{}",
        run.all_output()
    );

    let run = stack.run_cli(
        &["check", "--secret-id", SECRET, "--alert-mode", "thread"],
        &[],
    );
    assert!(
        run.all_output().contains("STATE_TABLE"),
        "{}",
        run.all_output()
    );

    let run = stack.run_cli_with(
        stack.thread_env(),
        &["check", "--secret-id", SECRET],
        &[("SLACK_API_URL", "http://slack.example.com/api")],
    );
    assert!(
        run.all_output().contains("SLACK_API_URL"),
        "{}",
        run.all_output()
    );
    assert!(stack.web_calls().is_empty());
}

#[test]
fn a_dead_token_fails_clearly_and_is_never_shown() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(31)));
    stack.script_web(
        "chat.postMessage",
        json!([{"status": 200, "body": {"ok": false, "error": "invalid_auth", "echo": support::stack::BOT_TOKEN}}]),
    );
    let run = check(&stack, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let out = run.all_output();
    assert!(
        out.contains("invalid_auth") && out.contains("slack_bot_token"),
        "{out}"
    );
    assert_no_secret(&out);
    let traced = stack.run_cli_with(
        stack.thread_env(),
        &["check", "--secret-id", SECRET, "--minutes", "30"],
        &[("RUST_LOG", "trace")],
    );
    assert_no_secret(&traced.all_output());
}

#[test]
fn the_lambda_function_runs_thread_mode_and_a_dry_run_changes_nothing() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(31)));
    let env: Vec<(String, String)> = stack.thread_env();
    let lambda =
        stack.start_lambda_with(env, &[("SECRET_ID", SECRET), ("THRESHOLD_MINUTES", "30")]);
    let dry = &lambda.invoke(&json!({"dry_run": true}), 30_000)["response"];
    assert_eq!(dry["thread"]["posted"], 1, "{dry}");
    assert_eq!(dry["messages"].as_array().unwrap().len(), 1);
    assert!(stack.state_items().is_empty() && parents(&stack).is_empty());

    let real = &lambda.invoke(&json!({"critical_minutes": 31}), 30_000)["response"];
    assert_eq!(
        (
            real["thread"]["posted"].as_u64(),
            real["thread"]["escalated"].as_u64()
        ),
        (Some(1), Some(1)),
        "{real}"
    );
    assert_eq!(reply_kinds(&parents(&stack)[0]), ["critical"]);
    assert_no_secret(&lambda.logs());
}

#[test]
fn dynamodb_throttled_or_unreachable_fails_the_run_clearly_and_the_next_one_recovers() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(one_query(minutes(31)));
    let args = [
        "check",
        "--secret-id",
        SECRET,
        "--minutes",
        "30",
        "--timeout",
        "20",
    ];

    // Every claim throttled, past the SDK's own retries.
    stack.script_dynamo_faults(json!([
        {"operation": "PutItem", "error": "ProvisionedThroughputExceededException", "times": -1}
    ]));
    let run = stack.run_cli_with(stack.faulty_dynamodb_env(), &args, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let out = run.all_output();
    assert!(
        out.contains("state error") && out.contains("throttled"),
        "{out}"
    );
    assert!(
        parents(&stack).is_empty(),
        "nothing is posted without a claim"
    );

    // DynamoDB cannot be reached at all.
    let unreachable = support::stack::with_var(
        stack.thread_env(),
        "AWS_ENDPOINT_URL_DYNAMODB",
        "http://127.0.0.1:9",
    );
    let run = stack.run_cli_with(unreachable, &args, &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let out = run.all_output();
    assert!(out.contains("AWS_ENDPOINT_URL_DYNAMODB"), "{out}");
    assert!(parents(&stack).is_empty());

    // The recording of a posted parent is throttled once: the run retries it, no duplicate.
    stack.script_dynamo_faults(json!([
        {"operation": "UpdateItem", "error": "ThrottlingException", "times": 1}
    ]));
    assert_eq!(
        ok_with(&stack, stack.faulty_dynamodb_env())["thread"]["posted"],
        1
    );
    stack.script_dynamo_faults(json!([]));
    ok_with(&stack, stack.faulty_dynamodb_env());
    ok(&stack, &[]);
    assert_eq!(parents(&stack).len(), 1);
    assert_eq!(item_phase(&stack, 4242).as_deref(), Some("open"));
}

fn ok_with(stack: &Stack, env: Vec<(String, String)>) -> Value {
    let run = stack.run_cli_with(
        env,
        &["check", "--secret-id", SECRET, "--minutes", "30"],
        &[],
    );
    assert!(run.output.status.success(), "{}", run.all_output());
    run.summary()
}

#[test]
fn a_queued_query_keeps_its_one_parent_when_it_starts_running() {
    let stack = Stack::for_threads(SECRET);
    let queued = json!({"pid": 4300, "query_id": 43000, "user": "analyst",
                        "started_seconds_ago": minutes(34), "text": "select 1",
                        "state": "queued", "queue": "adhoc"});
    stack.load_cluster(json!({"now": NOW, "frozen": true, "queries": [queued]}));
    ok(&stack, &[]);
    assert!(
        header(&parents(&stack)[0]).contains("waiting in its queue for 34 min"),
        "{}",
        stack.rendered_channel()
    );
    // It leaves the queue and runs: the same query, followed by its SYS id.
    let mut running = queued.clone();
    running["state"] = json!("running");
    running["queued_seconds"] = json!(minutes(34));
    running["started_seconds_ago"] = json!(minutes(36));
    stack.load_cluster(json!({"now": NOW, "frozen": true, "queries": [running]}));
    let summary = ok(&stack, &[]);
    assert_eq!(summary["thread"]["posted"], 0, "{summary}");
    let channel = parents(&stack);
    assert_eq!(channel.len(), 1);
    assert!(
        header(&channel[0]).contains("running for 36 min"),
        "{}",
        header(&channel[0])
    );
}
