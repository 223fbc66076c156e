//! The messages' language, end to end: where it is set (secret, environment, event, flag), what
//! it changes (everything a Slack reader sees) and what it does not (logs, errors, the summary).

mod support;

use serde_json::{json, Value};
use support::cluster::minutes;
use support::thread::header;
use support::{at, block_texts, query, Stack, NOW};

const SECRET: &str = "prod/lang";

fn cluster() -> Value {
    at(
        NOW,
        vec![
            query(
                501,
                Some("tanaka"),
                minutes(42),
                "SELECT *\nFROM sales.orders",
            ),
            query(502, None, minutes(35), "VACUUM sales.orders"),
        ],
    )
}

fn stack_with(language: Option<&str>) -> Stack {
    let stack = Stack::start();
    let mut secret = stack.valid_secret();
    if let Some(l) = language {
        secret["language"] = json!(l);
    }
    stack.put_secret(SECRET, &secret);
    stack.load_cluster(cluster());
    stack
}

fn headers(payloads: &[Value]) -> Vec<String> {
    payloads
        .iter()
        .map(|p| {
            p["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn is_japanese(text: &str) -> bool {
    text.contains("件") && text.contains("実行中")
}

#[test]
fn the_secret_sets_the_language_and_the_environment_event_and_flag_override_it() {
    let stack = stack_with(Some("ja"));
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["check", "--secret-id", SECRET, "--minutes", "30"];
        all.extend_from_slice(args);
        let run = stack.run_cli(&all, env);
        let summary = run.summary();
        let posted = stack.slack_received();
        (summary, posted.last().cloned().unwrap())
    };

    let (summary, message) = check(&[], &[]);
    assert!(
        is_japanese(&headers(std::slice::from_ref(&message))[0]),
        "{message}"
    );
    let details = block_texts(std::slice::from_ref(&message), "query:").join("\n");
    assert!(
        details.contains("実行時間 *42分*") && details.contains("（削除済みのユーザー）"),
        "{details}"
    );
    assert!(details.contains("2026/11/28(土)"), "{details}");
    // The summary stays English: its keys and values are an API.
    assert_eq!(summary["language"], "ja");
    assert_eq!(summary["queries"][0]["user"], "tanaka");

    let (_, message) = check(&[], &[("MESSAGE_LANGUAGE", "en")]);
    assert!(headers(&[message])[0].contains("2 Redshift queries running for 30+ min"));
    let (_, message) = check(&["--language", "en"], &[]);
    assert!(headers(&[message])[0].contains("queries running"));

    // gettext's LANGUAGE is not ours: it changes nothing.
    let english = stack_with(None);
    english
        .run_cli(
            &["check", "--secret-id", SECRET, "--minutes", "30"],
            &[("LANGUAGE", "ja")],
        )
        .summary();
    assert!(headers(&english.slack_received())[0].contains("queries running"));
}

#[test]
fn a_lambda_event_picks_the_language_per_invocation() {
    let stack = stack_with(None);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET), ("THRESHOLD_MINUTES", "30")]);
    let answer = lambda.invoke(&json!({"language": "ja", "dry_run": true}), 30_000);
    let messages = answer["response"]["messages"].as_array().unwrap().clone();
    assert!(is_japanese(&headers(&messages)[0]), "{answer}");
    assert!(messages[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("【analytics-test/dev】"));

    let refused = lambda.invoke(&json!({"language": "jp"}), 30_000);
    assert_eq!(refused["error"]["errorType"], "ConfigError", "{refused}");
    let message = refused["error"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("`language`") && message.contains("\"en\"") && message.contains("\"ja\""),
        "{message}"
    );
}

#[test]
fn any_other_language_is_refused_with_the_accepted_ones_in_english() {
    let stack = stack_with(Some("fr"));
    let run = stack.run_cli(&["check", "--secret-id", SECRET], &[]);
    assert_eq!(run.output.status.code(), Some(1));
    let err = run.stderr();
    assert!(err.contains("language") && err.contains("\"ja\""), "{err}");

    let stack = stack_with(None);
    let run = stack.run_cli(
        &["check", "--secret-id", SECRET],
        &[("MESSAGE_LANGUAGE", "japanese")],
    );
    assert_eq!(run.output.status.code(), Some(2));
    assert!(
        run.stderr().contains("MESSAGE_LANGUAGE") && run.stderr().contains("\"en\""),
        "{}",
        run.stderr()
    );

    let run = stack.run_cli(&["check", "--secret-id", SECRET, "--language", "de"], &[]);
    assert_eq!(run.output.status.code(), Some(2));
    assert!(run.stderr().contains("ja"), "{}", run.stderr());
}

#[test]
fn thread_mode_speaks_the_language_too() {
    let stack = Stack::for_threads(SECRET);
    stack.load_cluster(at(
        NOW,
        vec![query(601, Some("sato"), minutes(58), "select 1")],
    ));
    let args = [
        "check",
        "--secret-id",
        SECRET,
        "--minutes",
        "30",
        "--language",
        "ja",
    ];
    stack.run_cli_with(stack.thread_env(), &args, &[]).summary();
    stack.advance_clock(180.0);
    stack.run_cli_with(stack.thread_env(), &args, &[]).summary();
    stack.end_query(601, "failed");
    stack.run_cli_with(stack.thread_env(), &args, &[]).summary();
    let parent = stack.channel().remove(0);
    assert_eq!(
        header(&parent),
        ":x: Redshiftクエリが失敗しました（実行時間1時間1分）",
        "{parent}"
    );
    let replies = support::thread::reply_texts(&parent);
    assert!(
        replies[0].contains("要対応の目安（60分）を超えました"),
        "{replies:?}"
    );
    assert!(replies[1].contains("失敗しました"), "{replies:?}");
}
