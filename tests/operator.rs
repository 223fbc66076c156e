//! The operator's world: the CLI run from cron (stderr to a file, stdout into a pipe), usage
//! errors, and the Lambda path under the logging variables Lambda sets, read the way Lambda's
//! log-level filter reads them.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use support::cluster::minutes;
use support::{at, query, Stack, BIN, NOW};

const SECRET: &str = "ops/redshift-long-query-alert";

#[test]
fn a_cron_run_writes_plain_lines_to_its_log_and_one_json_line_to_a_pipe() {
    // GIVEN a cron-like shell: stderr to a file, stdout to a pipe
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(NOW, vec![query(7, Some("a"), minutes(31), "select 1")]));
    let log = std::env::temp_dir().join(format!("rlqa-cron-{}.log", std::process::id()));
    let output = Command::new(BIN)
        .args(["check", "--secret-id", SECRET])
        .env_clear()
        .envs(stack.env())
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .output()
        .unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);

    // THEN the log has no colour codes, one event per line, and stdout is one JSON line
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a log file:\n{stderr}"
    );
    assert!(stderr.lines().any(|l| l.contains("check done")), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line for cron: {stdout}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["messages_posted"], 1);
}

#[test]
fn colour_is_used_on_a_terminal_but_never_with_no_color() {
    // `script` (util-linux) gives the binary a pseudo-terminal, as a person at a shell has.
    let stack = Stack::with_secret(SECRET);
    let run = |no_color: bool| {
        let mut env = stack.env();
        if no_color {
            env.push(("NO_COLOR".into(), "1".into()));
        }
        let command = format!("{BIN} check --secret-id {SECRET} --output pretty");
        let output = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_clear()
            .envs(env)
            .env("TERM", "xterm")
            .output()
            .expect("`script` (util-linux) runs the binary on a pseudo-terminal: apt-get install util-linux");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(run(false).contains('\u{1b}'), "colour on a terminal");
    assert!(!run(true).contains('\u{1b}'), "NO_COLOR wins");
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    let stack = Stack::with_secret(SECRET);
    stack.load_cluster(at(NOW, vec![query(7, Some("a"), minutes(31), "select 1")]));
    stack.script_data_api(json!({"delay_ms": 300}));
    let mut child = Command::new(BIN)
        .args(["check", "--secret-id", SECRET, "--dry-run"])
        .env_clear()
        .envs(stack.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -c0`: the reader closes before the summary is written.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        status.code(),
        Some(141),
        "the status a shell shows for SIGPIPE"
    );
}

#[test]
fn usage_errors_name_the_flag_and_exit_2() {
    let stack = Stack::with_secret(SECRET);
    for (args, expected) in [
        (vec!["check"], "--secret-id"),
        (
            vec!["check", "--secret-id", SECRET, "--timezone", "Mars/Base"],
            "flag --timezone",
        ),
        (
            vec!["check", "--secret-id", SECRET, "--alert-mode", "once"],
            "--schedule-minutes",
        ),
        (vec!["check", "--minutes", "0"], "--minutes"),
    ] {
        let run = stack.run_cli(&args, &[]);
        assert_eq!(
            run.output.status.code(),
            Some(2),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(
            run.stderr().contains(expected),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(
            !run.stderr().contains("event key"),
            "CLI errors speak CLI: {}",
            run.stderr()
        );
    }
    assert!(stack.data_api_calls().is_empty());
}

#[test]
fn environment_errors_name_the_variable() {
    let stack = Stack::with_secret(SECRET);
    let run = stack.run_cli(
        &["check"],
        &[("SECRET_ID", SECRET), ("THRESHOLD_MINUTES", "soon")],
    );
    assert_eq!(run.output.status.code(), Some(2));
    assert!(
        run.stderr()
            .contains("environment variable THRESHOLD_MINUTES"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_missing_region_is_one_readable_sentence() {
    let stack = Stack::with_secret(SECRET);
    let env: Vec<(String, String)> = stack
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_REGION")
        .collect();
    let output = Command::new(BIN)
        .args(["check", "--secret-id", SECRET, "--timeout", "10"])
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    assert!(
        error.contains("no AWS region is set (set AWS_REGION)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ConstructionFailure") && !stderr.contains("{ "),
        "no SDK debug output: {stderr}"
    );
}

#[test]
fn a_timeout_on_the_cli_does_not_talk_about_a_function() {
    let stack = Stack::with_secret(SECRET);
    stack.script_data_api(json!({"outcome": "hang"}));
    let run = stack.run_cli(&["check", "--secret-id", SECRET, "--timeout", "3"], &[]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(run.stderr().contains("did not finish"), "{}", run.stderr());
    assert!(
        !run.stderr().contains("function timeout"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_lambda_entry_outside_lambda_says_so_and_exits_2() {
    let output = Command::new(BIN)
        .arg("lambda")
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("AWS_LAMBDA_RUNTIME_API") && stderr.contains("`check`"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// What Lambda's application log filter keeps of the function's output at `level`: JSON lines
/// whose `level` is at least that (a line with no valid level or timestamp counts as INFO).
fn kept_by_lambda(logs: &str, level: &str) -> Vec<Value> {
    let rank = |l: &str| {
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
            .iter()
            .position(|x| x.eq_ignore_ascii_case(l))
    };
    let threshold = rank(level).unwrap();
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|line| {
            let valid_time = line["timestamp"]
                .as_str()
                .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok());
            let own = line["level"].as_str().and_then(rank).filter(|_| valid_time);
            own.unwrap_or(2) >= threshold
        })
        .collect()
}

#[test]
fn metrics_survive_lambdas_strictest_log_levels() {
    for level in ["WARN", "ERROR"] {
        // GIVEN the application log level set in the function's LoggingConfig
        let stack = Stack::with_secret(SECRET);
        stack.load_cluster(at(NOW, vec![query(7, Some("a"), minutes(31), "select 1")]));
        let lambda = stack.start_lambda(&[("SECRET_ID", SECRET), ("AWS_LAMBDA_LOG_LEVEL", level)]);

        // WHEN it runs, and once more with a failing check
        assert_eq!(lambda.invoke(&json!({}), 30_000)["status"], "ok");
        assert_eq!(
            lambda.invoke(&json!({"secret_id": "missing"}), 30_000)["status"],
            "error"
        );

        // THEN what Lambda keeps still holds both metrics lines, and no INFO line
        let kept = kept_by_lambda(&lambda.logs(), level);
        let metrics: Vec<&Value> = kept.iter().filter(|l| l.get("_aws").is_some()).collect();
        assert_eq!(metrics.len(), 2, "{level}: {kept:?}");
        assert_eq!(metrics[0]["LongRunningQueries"], 1);
        assert_eq!(metrics[1]["CheckFailed"], 1);
        assert!(
            kept.iter()
                .all(|l| l.get("_aws").is_some() || l["level"] != "INFO"),
            "{level}: {kept:?}"
        );
        if level == "ERROR" {
            let failed = kept
                .iter()
                .find(|l| l["message"] == "check failed")
                .unwrap();
            assert!(failed["requestId"].is_string(), "{failed}");
        }
    }
}

#[test]
fn the_text_log_format_writes_plain_lines() {
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[("SECRET_ID", SECRET), ("AWS_LAMBDA_LOG_FORMAT", "Text")]);
    assert_eq!(lambda.invoke(&json!({}), 30_000)["status"], "ok");
    let logs = lambda.logs();
    let done = logs
        .lines()
        .find(|l| l.contains("check done"))
        .unwrap_or("");
    assert!(
        serde_json::from_str::<Value>(done).is_err(),
        "text, not JSON: {done}"
    );
    assert!(
        done.contains("INFO") && done.contains("requestId="),
        "{done}"
    );
    assert!(!logs.contains('\u{1b}'));
}

#[test]
fn the_scheduler_sample_passes_its_scheduled_time() {
    let stack = Stack::with_secret(SECRET);
    let lambda = stack.start_lambda(&[
        ("SECRET_ID", SECRET),
        ("ALERT_MODE", "once"),
        ("SCHEDULE_MINUTES", "10"),
    ]);
    let answer = lambda.invoke(&support::event_file("scheduler.json"), 30_000);
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["response"]["as_of"], "2026-11-28T09:45:00Z");
}
