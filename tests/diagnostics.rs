//! The side checks end to end, over the local Redshift's model of WLM queues, locks and
//! sessions: the real statement runs, and the channel and the summary say what is slow and why.

mod support;

use support::stack::summary_query as query;

use serde_json::{json, Value};
use support::cluster::minutes;
use support::{block_texts, Stack, NOW};

const SECRET: &str = "prod/diag";

/// A lock pile-up and a queue:
/// - session 900 went idle 50 minutes ago in a transaction that locked `sales.orders` for good;
/// - query 201 (40 min, waited 3 min in queue `etl`) waits for `sales.orders`, and holds a
///   write lock on `sales.items`;
/// - query 202 (35 min) waits for `sales.items`: behind 201, behind 900;
/// - query 203 has waited 33 minutes in queue `adhoc` and never started.
fn pile_up(kind: &str) -> Value {
    let provisioned = kind == "provisioned";
    let queue = |name: &str| {
        if provisioned {
            json!(name)
        } else {
            Value::Null
        }
    };
    let mut scenario = json!({
        "kind": kind,
        "now": NOW,
        "frozen": true,
        "queries": [
            {"pid": 201, "query_id": 2010, "user": "etl_loader", "started_seconds_ago": minutes(40),
             "text": "DELETE FROM sales.orders WHERE day < '2026-01-01'",
             "queued_seconds": if provisioned { 180 } else { 0 },
             "locks": [
                {"table": "sales.items", "mode": "ShareRowExclusiveLock", "granted": true},
                {"table": "sales.orders", "mode": "ShareRowExclusiveLock", "granted": false}
             ]},
            {"pid": 202, "query_id": 2020, "user": "tanaka", "started_seconds_ago": minutes(35),
             "text": "INSERT INTO sales.items SELECT * FROM stage.items",
             "locks": [{"table": "sales.items", "mode": "ShareRowExclusiveLock", "granted": false}]},
            {"pid": 203, "query_id": 2030, "user": "analyst", "started_seconds_ago": minutes(33),
             "text": "SELECT COUNT(*) FROM big.events", "state": "queued"}
        ],
        "sessions": [
            {"pid": 900, "user": "forgetful", "transaction_started_seconds_ago": minutes(60),
             "idle_seconds": minutes(50),
             "locks": [{"table": "sales.orders", "mode": "AccessExclusiveLock", "granted": true}]}
        ]
    });
    if provisioned {
        scenario["queries"][0]["queue"] = queue("etl");
        scenario["queries"][2]["queue"] = queue("adhoc");
    } else {
        scenario["queries"][0]
            .as_object_mut()
            .unwrap()
            .remove("queued_seconds");
    }
    scenario
}

fn check(stack: &Stack, extra: &[&str]) -> Value {
    let mut args = vec!["check", "--secret-id", SECRET, "--minutes", "30"];
    args.extend_from_slice(extra);
    stack.run_cli(&args, &[]).summary()
}

#[test]
fn a_queue_a_lock_chain_and_an_idle_transaction_are_told_in_one_statement() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(pile_up("provisioned"));
    let summary = check(&stack, &[]);

    assert_eq!(
        stack.calls_of("ExecuteStatement").len(),
        1,
        "one statement a run"
    );
    let pids: Vec<i64> = summary["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(
        pids,
        [201, 202, 203],
        "oldest first, the queued one included"
    );

    let q201 = query(&summary, 201);
    assert_eq!(q201["state"], "running");
    assert_eq!(
        (q201["queue"].as_str(), q201["queue_seconds"].as_i64()),
        (Some("etl"), Some(180))
    );
    assert_eq!(q201["blocked_by"][0]["pid"], 900);
    assert_eq!(q201["blocked_by"][0]["table"], "sales.orders");
    assert_eq!(q201["blocked_by"][0]["lock_mode"], "AccessExclusiveLock");
    assert_eq!(q201["blocked_by"][0]["user"], "forgetful");
    assert_eq!(
        q201["blocked_by"][0]["root"], true,
        "idle for an hour, waits for nobody"
    );
    assert_eq!(q201["blocks"], 1, "202 waits for it");

    let q202 = query(&summary, 202);
    assert_eq!(q202["blocked_by"][0]["pid"], 201);
    assert_eq!(q202["blocked_by"][0]["root"], false, "201 waits itself");
    assert_eq!(q202["blocking_root_pid"], 900);

    let q203 = query(&summary, 203);
    assert_eq!(q203["state"], "queued");
    assert_eq!(q203["queue"], "adhoc");
    assert!(q203["queue_seconds"].as_i64().unwrap() >= 33 * 60);

    let idle = &summary["idle_transactions"];
    assert_eq!(idle.as_array().unwrap().len(), 1, "{idle}");
    assert_eq!(idle[0]["pid"], 900);
    assert_eq!(idle[0]["idle_minutes"], 50);
    assert_eq!(idle[0]["locked_tables"], json!(["sales.orders"]));
    assert_eq!(idle[0]["sessions_blocked"], 1);

    // The channel: the queries' message and the idle sessions' message.
    let posted = stack.slack_received();
    assert_eq!(posted.len(), 2);
    let details = block_texts(&posted, "query:").join("\n");
    assert!(
        details.contains("waiting in queue `adhoc` for 33 min"),
        "{details}"
    );
    assert!(details.contains("after 3 min in queue `etl`"), "{details}");
    assert!(
        details.contains("held by pid `900`") && details.contains("*the root*"),
        "{details}"
    );
    assert!(
        details.contains("The pile-up starts at pid `900`"),
        "{details}"
    );
    assert!(
        details.contains("1 session waits for its locks"),
        "{details}"
    );
    let idle_text = block_texts(&posted, "idle:").join("\n");
    assert!(
        idle_text.contains("pg_terminate_backend(900)") && idle_text.contains("`sales.orders`"),
        "{idle_text}"
    );
}

#[test]
fn the_checks_are_chosen_per_event_and_in_the_secret() {
    let stack = Stack::start();
    let mut secret = stack.valid_secret();
    secret["checks"] = json!(["long_queries"]);
    stack.put_secret(SECRET, &secret);
    stack.load_cluster(pile_up("provisioned"));

    // The secret turns every side check off: no queued query, no locks, no idle message.
    let summary = check(&stack, &[]);
    let pids: Vec<i64> = summary["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids, [201, 202]);
    assert!(query(&summary, 201)["blocked_by"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(summary["idle_transactions"].as_array().unwrap().is_empty());
    let sql = stack.calls_of("ExecuteStatement")[0]["request"]["Sql"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !sql.contains("svv_transactions"),
        "a check that is off costs nothing"
    );

    // An event turns blocking back on, for one invocation.
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET), ("THRESHOLD_MINUTES", "30")]);
    let answer = lambda.invoke(&json!({"checks": ["blocking"], "dry_run": true}), 30_000);
    let response = &answer["response"];
    assert_eq!(
        query(response, 201)["blocked_by"][0]["pid"],
        900,
        "{answer}"
    );
    assert!(response["queries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|q| q["pid"] != 203));
    assert_eq!(
        response["messages"].as_array().unwrap().len(),
        1,
        "no idle message"
    );

    let refused = lambda.invoke(&json!({"checks": ["locks"]}), 30_000);
    assert_eq!(refused["error"]["errorType"], "ConfigError");
    assert!(refused["error"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("idle_transactions"));
    let run = stack.run_cli(
        &["check", "--secret-id", SECRET, "--checks", "queued,lockz"],
        &[],
    );
    assert_eq!(run.output.status.code(), Some(2));
    assert!(run.stderr().contains("--checks"), "{}", run.stderr());
    let flag = check(&stack, &["--checks", "queued,idle_transactions"]);
    assert!(flag["queries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["pid"] == 203));
    assert_eq!(flag["idle_transactions"][0]["pid"], 900);
}

#[test]
fn serverless_reads_the_queue_and_the_locks_from_its_own_views() {
    let stack = Stack::start();
    let mut secret = stack.valid_secret();
    let map = secret.as_object_mut().unwrap();
    map.remove("cluster_identifier");
    map.remove("db_user");
    map.insert("workgroup_name".into(), json!("wg"));
    stack.put_secret(SECRET, &secret);
    stack.load_cluster(pile_up("serverless"));
    let summary = check(&stack, &[]);
    assert_eq!(summary["views"], "sys");
    let q203 = query(&summary, 203);
    assert_eq!(q203["state"], "queued");
    assert!(q203["queue"].is_null(), "Serverless has no WLM queues");
    assert_eq!(query(&summary, 201)["blocked_by"][0]["pid"], 900);
    assert_eq!(summary["idle_transactions"][0]["pid"], 900);
}

#[test]
fn an_idle_transaction_alone_is_reported_and_nothing_at_all_posts_nothing() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(json!({
        "now": NOW, "frozen": true, "queries": [],
        "sessions": [{"pid": 950, "user": "bi_tool", "idle_seconds": minutes(45),
                      "locks": [{"table": "mart.daily", "mode": "AccessShareLock"}]}]
    }));
    let summary = check(&stack, &["--language", "ja"]);
    assert!(summary["queries"].as_array().unwrap().is_empty());
    assert_eq!(summary["idle_transactions"][0]["pid"], 950);
    let posted = stack.slack_received();
    assert_eq!(posted.len(), 1);
    let idle = block_texts(&posted, "idle:").join("\n");
    assert!(
        idle.contains("`mart.daily`") && idle.contains("45分"),
        "{idle}"
    );

    // A short idle session is no one's business.
    let quiet = Stack::with_secret(SECRET);
    quiet.load_cluster(json!({
        "now": NOW, "frozen": true, "queries": [],
        "sessions": [{"pid": 951, "user": "bi_tool", "idle_seconds": minutes(5),
                      "locks": [{"table": "mart.daily", "mode": "AccessShareLock"}]}]
    }));
    let summary = check(&quiet, &[]);
    assert!(summary["idle_transactions"].as_array().unwrap().is_empty());
    assert!(quiet.slack_received().is_empty());
}
