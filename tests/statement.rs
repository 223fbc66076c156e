//! The product's statement, executed: every variant the binary can send (SVV_QUERY_INFLIGHT or
//! the SYS views, the cluster's clock or the scheduled `:as_of`) runs on the local Redshift over
//! cases chosen to catch wrong SQL: window edges to the second, a real space as a chunk's last
//! character, a line break across two chunks, multibyte text, a query on two slices, suspended
//! queries, the monitor's own pid, a dropped user, more than fifteen chunks, and the total past
//! the threshold.

mod support;

use support::stack::summary_query as find;

use serde_json::{json, Value};
use support::slack::query_text;
use support::{at, query, Stack};

const SECRET: &str = "sql/redshift-long-query-alert";
/// The clock; the scheduled time of the once-mode variant is the same instant.
const NOW: &str = "2026-11-28T10:00:00Z";
const MONITOR_PID: i64 = 777;

/// The texts whose round trip through chunks and LISTAGG is checked.
fn boundary_space() -> String {
    // `GROUP` ends at character 199: the 200th character, a real space, ends the first chunk.
    let head = format!("SELECT {} FROM t GROUP", "a".repeat(187));
    let text = format!("{head} BY a");
    assert_eq!(text.chars().nth(199), Some(' '));
    text
}

fn straddling_line_break() -> String {
    // Stored as `\` + `n`: the backslash is character 200 of chunk one, `n` starts chunk two.
    format!("{}\nFROM t", "x".repeat(199))
}

fn multibyte() -> String {
    // 199 three-byte characters and a space end chunk one; more after it.
    format!(
        "{} {}",
        "日".repeat(199),
        "本語 FROM ユーザー WHERE 名前 = '山田'"
    )
}

fn long_text() -> String {
    // 3,600 characters: 18 chunks, more than the 15 the statement aggregates.
    let text: String = (0..60).map(|i| format!("col_{i:04} + {i:<48}|")).collect();
    assert_eq!(text.chars().count(), 3_600);
    text
}

/// The scenario: seconds before the clock, and what each query is.
fn scenario(serverless: bool) -> Value {
    let mut queries = vec![
        query(1, Some("edge"), 30.0 * 60.0 - 1.0, "select 'N - 1 s'"),
        query(2, Some("edge"), 30.0 * 60.0, "select 'N'"),
        query(3, Some("edge"), 60.0 * 60.0 - 1.0, "select '2N - 1 s'"),
        query(4, Some("edge"), 60.0 * 60.0, "select '2N'"),
        query(5, Some("space"), 35.0 * 60.0, &boundary_space()),
        query(6, Some("newline"), 36.0 * 60.0, &straddling_line_break()),
        query(7, Some("山田"), 37.0 * 60.0, &multibyte()),
        query(8, None, 38.0 * 60.0, "select 'dropped user'"),
        query(9, Some("long"), 39.0 * 60.0, &long_text()),
        query(
            MONITOR_PID,
            Some("monitor"),
            40.0 * 60.0,
            "select 'the monitor itself'",
        ),
        query(
            11,
            Some("past"),
            300.0 * 60.0,
            "select 'past 2N, counted, not shown'",
        ),
    ];
    let mut sliced = query(12, Some("sliced"), 41.0 * 60.0, "select 'on two slices'");
    sliced["slices"] = json!(2);
    queries.push(sliced);
    let mut suspended = query(13, Some("paused"), 42.0 * 60.0, "select 'suspended'");
    suspended["suspended"] = json!(true);
    queries.push(suspended);
    let mut scenario = at(NOW, queries);
    scenario["monitor_pid"] = json!(MONITOR_PID);
    if serverless {
        scenario["kind"] = json!("serverless");
    }
    scenario
}

/// Runs one check on the variant and returns the summary and the messages it would post.
fn run_variant(query_source: &str, once: bool) -> (Value, Vec<Value>) {
    let stack = Stack::start();
    let mut secret = stack.valid_secret();
    let serverless = query_source == "sys-serverless";
    if serverless {
        let object = secret.as_object_mut().unwrap();
        object.remove("cluster_identifier");
        object.remove("db_user");
        object.insert("workgroup_name".into(), json!("wg"));
    }
    stack.put_secret(SECRET, &secret);
    stack.load_cluster(scenario(serverless));
    let summary = if once {
        // The Lambda path, with the scheduled time as `as_of`.
        let lambda = stack.start_lambda(&[("SECRET_ID", SECRET)]);
        let answer = lambda.invoke(
            &json!({"dry_run": true, "alert_mode": "once", "schedule_minutes": 30,
                    "scheduled_time": NOW, "query_source": query_source.replace("-serverless", "")}),
            30_000,
        );
        assert_eq!(answer["status"], "ok", "{answer}");
        let sql = &stack.calls_of("ExecuteStatement")[0]["request"]["Sql"];
        assert!(sql.as_str().unwrap().contains(":as_of"));
        answer["response"].clone()
    } else {
        let source = query_source.replace("-serverless", "");
        stack
            .run_cli(
                &[
                    "check",
                    "--secret-id",
                    SECRET,
                    "--dry-run",
                    "--query-source",
                    &source,
                ],
                &[],
            )
            .summary()
    };
    let messages = summary["messages"].as_array().cloned().unwrap_or_default();
    (summary, messages)
}

fn reported(summary: &Value) -> Vec<(i64, i64)> {
    summary["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["pid"].as_i64().unwrap(),
                q["elapsed_minutes"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// What every variant must agree on.
fn assert_common(variant: &str, summary: &Value, messages: &[Value]) {
    let pids: Vec<i64> = reported(summary).iter().map(|(p, _)| *p).collect();
    // Window [30, 60): N - 1 s and 2N are out, N and 2N - 1 s are in.
    assert!(
        !pids.contains(&1) && !pids.contains(&4),
        "{variant}: {pids:?}"
    );
    assert_eq!(find(summary, 2)["elapsed_minutes"], 30, "{variant}");
    assert_eq!(find(summary, 3)["elapsed_minutes"], 59, "{variant}");
    // Never the monitor's own session, never a query past 2N.
    assert!(
        !pids.contains(&MONITOR_PID) && !pids.contains(&11),
        "{variant}: {pids:?}"
    );
    // The dropped user's query is reported without a name.
    assert_eq!(find(summary, 8)["user"], Value::Null, "{variant}");
    // A query on two slices is reported once, its text not doubled.
    assert_eq!(pids.iter().filter(|p| **p == 12).count(), 1, "{variant}");
    assert_eq!(
        query_text(messages, 12).unwrap(),
        "select 'on two slices'",
        "{variant}"
    );
    // Texts come back exactly.
    assert_eq!(
        query_text(messages, 5).unwrap(),
        boundary_space(),
        "{variant}"
    );
    assert_eq!(
        query_text(messages, 6).unwrap(),
        straddling_line_break(),
        "{variant}"
    );
    assert_eq!(query_text(messages, 7).unwrap(), multibyte(), "{variant}");
    assert_eq!(find(summary, 7)["user"], "山田", "{variant}");
    // Oldest first.
    let mut by_age = reported(summary);
    by_age.sort_by_key(|(_, elapsed)| -elapsed);
    assert_eq!(
        reported(summary)
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>(),
        by_age.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        "{variant}"
    );
}

#[test]
fn the_inflight_statement_on_the_clusters_clock() {
    let (summary, messages) = run_variant("svv", false);
    assert_common("svv", &summary, &messages);
    // Suspended queries are left out of SVV_QUERY_INFLIGHT's report.
    assert!(!reported(&summary).iter().any(|(p, _)| *p == 13));
    // 18 chunks: the first 15 aggregated, marked as cut.
    let long = find(&summary, 9);
    assert_eq!(long["text_truncated"], true);
    assert_eq!(long["text_chars"], 3_000);
    assert!(long_text().starts_with(&query_text(&messages, 9).unwrap()));
    // Everything at or past N counts: 2, 3, 4, 5, 6, 7, 8, 9, 11, 12; not the monitor, not the
    // suspended query.
    assert_eq!(summary["queries_past_threshold"], 10);
}

#[test]
fn the_inflight_statement_as_of_the_scheduled_time() {
    let (summary, messages) = run_variant("svv", true);
    assert_common("svv as_of", &summary, &messages);
    assert_eq!(summary["as_of"], NOW);
    assert_eq!(summary["queries_past_threshold"], 10);
}

#[test]
fn the_sys_statement_on_a_provisioned_cluster() {
    let (summary, messages) = run_variant("sys", false);
    assert_common("sys", &summary, &messages);
    // SYS_QUERY_HISTORY keeps the first 4,000 characters: the whole 3,600 here.
    let long = find(&summary, 9);
    assert_eq!(long["text_chars"], 3_600);
    assert_eq!(long["text_truncated"], false);
}

#[test]
fn the_sys_statement_on_serverless_as_of_the_scheduled_time() {
    let (summary, messages) = run_variant("sys-serverless", true);
    assert_common("sys serverless as_of", &summary, &messages);
    assert_eq!(summary["views"], "sys");
}
