//! CloudWatch metrics through the Embedded Metric Format: one JSON line on stdout per check,
//! which CloudWatch Logs turns into metrics without an API call (and without the
//! `cloudwatch:PutMetricData` permission). Written in Lambda runs only.

use serde_json::{json, Value};

use crate::summary::Summary;

pub const NAMESPACE: &str = "RedshiftLongQueryAlert";

/// The EMF document for one check: `LongRunningQueries`, `LongestElapsedMinutes`,
/// `StatementWaitMs`, `QueriesPastThreshold` and `CheckFailed`, by `SecretId` (which names the
/// monitored cluster without revealing anything read from the secret).
pub fn document(secret_id: &str, summary: Option<&Summary>, now_ms: i64) -> Value {
    let mut doc = json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["SecretId"]],
                "Metrics": [
                    {"Name": "CheckFailed", "Unit": "Count"},
                ],
            }],
        },
        "SecretId": secret_id,
        "CheckFailed": u8::from(summary.is_none()),
    });
    if let Some(summary) = summary {
        let longest = summary
            .queries
            .iter()
            .map(|q| q.elapsed_minutes)
            .max()
            .unwrap_or(0);
        let mut metrics = vec![
            ("LongRunningQueries", "Count", json!(summary.queries.len())),
            ("LongestElapsedMinutes", "None", json!(longest)),
            (
                "StatementWaitMs",
                "Milliseconds",
                json!(summary.statement_wait_ms),
            ),
        ];
        if let Some(total) = summary.queries_past_threshold {
            metrics.push(("QueriesPastThreshold", "Count", json!(total)));
        }
        for (name, unit, value) in metrics {
            if let Some(declared) = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array_mut() {
                declared.push(json!({"Name": name, "Unit": unit}));
            }
            doc[name] = value;
        }
    }
    doc
}

/// Writes the document as one line on stdout, where Lambda's log capture picks it up. It
/// carries the application log level in force and a timestamp: Lambda's level filter reads a
/// JSON line without them as INFO, and would drop the metrics under a stricter level.
pub fn emit(secret_id: &str, summary: Option<&Summary>) {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let mut doc = document(secret_id, summary, now_ms);
    doc["level"] = json!(crate::logging::application_level());
    doc["timestamp"] = json!(crate::logging::timestamp());
    println!("{doc}");
}

/// The EMF document for one Cancel click: `CancelRequests` (1) by `Outcome`.
pub fn cancel_document(outcome: crate::interaction::Outcome, now_ms: i64) -> Value {
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Outcome"]],
                "Metrics": [{"Name": "CancelRequests", "Unit": "Count"}],
            }],
        },
        "Outcome": outcome.name(),
        "CancelRequests": 1,
    })
}

/// Writes a click's metric line, like [`emit`].
pub fn emit_cancel(outcome: crate::interaction::Outcome) {
    let mut doc = cancel_document(outcome, jiff::Timestamp::now().as_millisecond());
    doc["level"] = json!(crate::logging::application_level());
    doc["timestamp"] = json!(crate::logging::timestamp());
    println!("{doc}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_counts_by_its_outcome() {
        let doc = cancel_document(crate::interaction::Outcome::AlreadyEnded, 1);
        assert_eq!(doc["Outcome"], "already_ended");
        assert_eq!(doc["CancelRequests"], 1);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Outcome"
        );
    }

    #[test]
    fn a_failed_check_still_counts() {
        let doc = document("prod/x", None, 1_700_000_000_000);
        assert_eq!(doc["CheckFailed"], 1);
        assert_eq!(doc["SecretId"], "prod/x");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(doc.get("LongRunningQueries").is_none());
    }

    #[test]
    fn every_declared_metric_has_a_value() {
        let summary = sample();
        let doc = document("s", Some(&summary), 0);
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc.get(name).is_some_and(|v| v.is_number()), "{name}");
        }
        assert_eq!(doc["LongRunningQueries"], 2);
        assert_eq!(doc["LongestElapsedMinutes"], 55);
        assert_eq!(doc["QueriesPastThreshold"], 4);
        assert_eq!(doc["CheckFailed"], 0);
    }

    fn sample() -> Summary {
        use crate::summary::QuerySummary;
        let q = |elapsed| QuerySummary {
            user: None,
            pid: 1,
            query_id: 1,
            start_time: String::new(),
            elapsed_minutes: elapsed,
            text_chars: 0,
            text_truncated: false,
            state: Default::default(),
            queue_seconds: None,
            queue: None,
            blocked_by: Vec::new(),
            blocks: 0,
            blocking_root_pid: None,
        };
        Summary {
            secret_id: "s".into(),
            threshold_minutes: 30,
            window: crate::model::Window {
                min_minutes: 30,
                max_minutes: 60,
            },
            alert_mode: "window",
            as_of: None,
            views: crate::model::Views::Inflight,
            timezone: "UTC".into(),
            statement_id: "id".into(),
            statement_wait_ms: 120,
            describe_calls: 3,
            queries: vec![q(40), q(55)],
            queries_skipped: 0,
            unreadable_rows: vec![],
            queries_past_threshold: Some(4),
            queries_not_posted: 0,
            messages_posted: 1,
            dry_run: false,
            messages: None,
            messages_omitted: None,
            queries_omitted: None,
            thread: None,
            language: Default::default(),
            checks: Default::default(),
            idle_transactions: Vec::new(),
        }
    }
}
