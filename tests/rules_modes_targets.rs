//! Serverless and the SYS views, exactly-once alerts, mentions and rules, stop hints, metrics and
//! several targets, against the real binary and the local stack.

mod support;

use serde_json::{json, Value};
use support::cluster::minutes;
use support::{assert_no_secret, at, block_texts, event_file, pids_in, query, Stack, NOW};

const SECRET: &str = "prod/redshift-long-query-alert";
const SERVERLESS: &str = "prod/redshift-serverless-alert";

fn serverless_secret(stack: &Stack) -> Value {
    let mut secret = stack.valid_secret();
    let object = secret.as_object_mut().unwrap();
    object.remove("cluster_identifier");
    object.remove("db_user");
    object.insert("workgroup_name".into(), json!("analytics-wg"));
    secret
}

/// A Serverless workgroup: no SVV_QUERY_INFLIGHT there.
fn serverless(queries: Vec<Value>) -> Value {
    let mut scenario = at(NOW, queries);
    scenario["kind"] = json!("serverless");
    scenario
}

#[test]
fn a_serverless_workgroup_is_checked_through_the_sys_views() {
    let stack = Stack::start();
    stack.put_secret(SERVERLESS, &serverless_secret(&stack));
    stack.load_cluster(serverless(vec![query(
        1073750220,
        Some("analyst"),
        minutes(42),
        "select * from sales",
    )]));

    let summary = stack
        .run_cli(&["check", "--secret-id", SERVERLESS], &[])
        .summary();

    assert_eq!(summary["views"], "sys");
    assert_eq!(summary["queries"][0]["elapsed_minutes"], 42);
    let request = &stack.calls_of("ExecuteStatement")[0]["request"];
    assert_eq!(request["WorkgroupName"], "analytics-wg");
    assert!(request.get("ClusterIdentifier").is_none() && request.get("DbUser").is_none());
    let message = stack.slack_received();
    assert_eq!(pids_in(&message), [1073750220]);
    assert!(message[0].to_string().contains("Workgroup `analytics-wg`"));
}

#[test]
fn a_db_user_with_a_workgroup_and_svv_on_serverless_are_refused_before_any_statement() {
    let stack = Stack::start();
    let mut with_user = serverless_secret(&stack);
    with_user["db_user"] = json!(support::DB_USER);
    stack.put_secret("wg-with-user", &with_user);
    stack.put_secret(SERVERLESS, &serverless_secret(&stack));

    let run = stack.run_cli(&["check", "--secret-id", "wg-with-user"], &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr()
            .contains("`db_user` is not valid with `workgroup_name`"),
        "{}",
        run.stderr()
    );
    assert_no_secret(&run.all_output());

    let run = stack.run_cli(
        &["check", "--secret-id", SERVERLESS, "--query-source", "svv"],
        &[],
    );
    assert_eq!(
        run.output.status.code(),
        Some(2),
        "a flag that does not fit the target"
    );
    assert!(
        run.stderr().contains("Serverless does not have"),
        "{}",
        run.stderr()
    );
    assert!(stack.data_api_calls().is_empty());
}

#[test]
fn sys_views_can_be_chosen_on_a_provisioned_cluster() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(NOW, vec![query(5, Some("a"), minutes(33), "select 5")]));
    let summary = stack
        .run_cli(
            &["check", "--secret-id", SECRET],
            &[("QUERY_SOURCE", "sys")],
        )
        .summary();
    assert_eq!(summary["views"], "sys");
    assert_eq!(summary["queries"][0]["pid"], 5);
    let request = &stack.calls_of("ExecuteStatement")[0]["request"];
    assert_eq!(request["ClusterIdentifier"], "analytics-test");
    assert!(request["Sql"]
        .as_str()
        .unwrap()
        .contains("sys_query_history"));
}

#[test]
fn once_mode_measures_from_the_scheduled_time_and_reports_only_the_first_crossing() {
    // GIVEN a schedule every 10 minutes and N = 30: the window is [30, 40) at the event's time
    // (09:45:00), while the cluster's own clock already says 09:45:40
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        "2026-11-28T09:45:40Z",
        vec![
            // 34 minutes before 09:45:00, but 34.7 by the cluster's clock.
            query(1, Some("new"), 34.0 * 60.0 + 40.0, "select 1"),
            query(2, Some("old"), 47.0 * 60.0 + 40.0, "select 2"),
            // 39 min 50 s before 09:45:00: inside [30, 40) by the event's time, past 40 by the
            // cluster's clock.
            query(3, Some("edge"), 39.0 * 60.0 + 50.0 + 40.0, "select 3"),
        ],
    ));
    let lambda = stack.start_lambda(&[
        ("SECRET_ID", SECRET),
        ("ALERT_MODE", "once"),
        ("SCHEDULE_MINUTES", "10"),
    ]);

    // WHEN the scheduled event arrives (late does not matter: its `time` is what counts)
    let answer = lambda.invoke(&event_file("scheduled.json"), 30_000);

    // THEN the statement measured from 09:45:00 and only the queries that just crossed N are told
    assert_eq!(answer["status"], "ok", "{answer}");
    let summary = &answer["response"];
    assert_eq!(summary["alert_mode"], "once");
    assert_eq!(
        summary["window"],
        json!({"min_minutes": 30, "max_minutes": 40})
    );
    assert_eq!(summary["as_of"], "2026-11-28T09:45:00Z");
    let request = &stack.calls_of("ExecuteStatement")[0]["request"];
    let params: Vec<_> = request["Parameters"].as_array().unwrap().clone();
    assert!(
        params.contains(&json!({"name": "as_of", "value": "2026-11-28 09:45:00"})),
        "{params:?}"
    );
    assert_eq!(pids_in(&stack.slack_received()), [3, 1]);
    assert_eq!(summary["queries_past_threshold"], 3);
}

#[test]
fn rules_from_the_secret_and_the_event_decide_who_is_told_about_what() {
    let stack = Stack::start();
    let mut secret = stack.valid_secret();
    secret["mention"] = json!("<!subteam^S0DATA>");
    secret["user_mentions"] = json!({"alice": "<@U0ALICE>"});
    secret["exclude_users"] = json!(["etl_loader"]);
    secret["user_thresholds"] = json!({"reporting": 120});
    stack.put_secret(SECRET, &secret);
    stack.load_cluster(at(
        NOW,
        vec![
            query(1, Some("alice"), minutes(35), "select 1"),
            query(2, Some("etl_loader"), minutes(50), "copy x from 's3://b/k'"),
            query(3, Some("reporting"), minutes(59), "select 3"),
            query(4, Some("reporting"), minutes(130), "select 4"),
            query(5, Some("someone"), minutes(300), "select 5"),
        ],
    ));

    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    let answer = lambda.invoke(&json!({"mention": "<!here>"}), 30_000);

    assert_eq!(answer["status"], "ok", "{answer}");
    let summary = &answer["response"];
    // The statement asked for the union window: [30, 60) and reporting's [120, 240).
    let params = stack.calls_of("ExecuteStatement")[0]["request"]["Parameters"].to_string();
    assert!(params.contains("\"240\""), "{params}");
    assert_eq!(pids_in(&stack.slack_received()), [4, 1]);
    assert_eq!(summary["queries_skipped"], 2);
    assert_eq!(summary["queries_past_threshold"], 5);
    let received = stack.slack_received();
    assert_eq!(
        block_texts(&received, "mention"),
        ["<!here>"],
        "the event's mention wins"
    );
    let all = received[0].to_string();
    assert!(!all.contains("S0DATA"));
    assert!(all.contains("`alice` (<@U0ALICE>)"), "{all}");
    assert!(all.contains("`CANCEL 1;`") && all.contains("`SELECT pg_terminate_backend(4);`"));
    assert!(all.contains("5 running past 30 min in all"), "{all}");
}

#[test]
fn every_check_writes_an_emf_metrics_line() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![
            query(1, Some("a"), minutes(44), "select 1"),
            query(2, Some("b"), minutes(31), "x"),
        ],
    ));
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
    assert_eq!(lambda.invoke(&json!({}), 30_000)["status"], "ok");
    assert_eq!(
        lambda.invoke(&json!({"secret_id": "missing"}), 30_000)["status"],
        "error"
    );

    let docs: Vec<Value> = lambda
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|d| d.get("_aws").is_some())
        .collect();
    assert_eq!(docs.len(), 2, "one metrics line per check");
    let ok = &docs[0];
    assert_eq!(
        ok["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "RedshiftLongQueryAlert"
    );
    assert_eq!(ok["SecretId"], SECRET);
    assert_eq!(ok["LongRunningQueries"], 2);
    assert_eq!(ok["LongestElapsedMinutes"], 44);
    assert_eq!(ok["QueriesPastThreshold"], 2);
    assert!(ok["StatementWaitMs"].is_number());
    assert_eq!(ok["CheckFailed"], 0);
    assert_eq!(docs[1]["CheckFailed"], 1);
    assert_eq!(docs[1]["SecretId"], "missing");
}

#[test]
fn several_targets_are_checked_and_one_failing_does_not_stop_the_others() {
    // GIVEN the sample event naming two secrets, of which only the cluster's exists
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(NOW, vec![query(7, Some("a"), minutes(40), "select 1")]));
    let lambda = stack.start_lambda(&[]);

    let answer = lambda.invoke(&event_file("targets.json"), 30_000);

    // THEN the existing one was checked and posted, and the error names the missing one
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["errorType"], "TargetsFailed");
    let message = answer["error"]["errorMessage"].as_str().unwrap();
    assert!(message.starts_with("1 of 2 targets failed"), "{message}");
    assert!(
        message.contains(SERVERLESS) && message.contains("was not found"),
        "{message}"
    );
    assert_eq!(pids_in(&stack.slack_received()), [7]);

    // WHEN both exist, both are checked concurrently with their own thresholds
    stack.put_secret(SERVERLESS, &serverless_secret(&stack));
    let answer = lambda.invoke(&event_file("targets.json"), 30_000);
    assert_eq!(answer["status"], "ok", "{answer}");
    let targets = answer["response"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["secret_id"], SECRET);
    assert_eq!(targets[0]["summary"]["threshold_minutes"], 30);
    assert_eq!(targets[1]["summary"]["threshold_minutes"], 60);
    assert_eq!(targets[1]["summary"]["views"], "sys");
    let workgroups: Vec<_> = stack
        .calls_of("ExecuteStatement")
        .iter()
        .filter_map(|c| c["request"]["WorkgroupName"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(workgroups, ["analytics-wg"]);
}
