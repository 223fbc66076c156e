//! Property tests for the pieces that read untrusted bytes: the secret JSON, the event JSON, the
//! Data API's result cells, and the Slack message builder fed arbitrary database text.
//! `PROPTEST_CASES=20000 cargo test --release --test properties` runs them long (see
//! docs/reliability.md for the figures).

mod support;

use aws_sdk_redshiftdata::types::{ColumnMetadata, Field};
use proptest::prelude::*;
use redshift_long_query_alert::copy;
use redshift_long_query_alert::input::{Object, Quote};
use redshift_long_query_alert::long_queries::message::{build, Context};
use redshift_long_query_alert::long_queries::row::{read, LongQuery, Unreadable};
use redshift_long_query_alert::long_queries::sql::COLUMNS;
use redshift_long_query_alert::model::{Language, Minutes, Target, Window, Zone};
use redshift_long_query_alert::redshift::{ResultLimits, ResultSet};
use redshift_long_query_alert::rules::{AlertRules, RulesPatch};
use redshift_long_query_alert::secret::parse_secret;
use redshift_long_query_alert::settings::Event;
use redshift_long_query_alert::slack::blocks::MAX_BLOCKS;
use redshift_long_query_alert::slack::mrkdwn::{HEADER_TEXT_LIMIT, SECTION_TEXT_LIMIT};
use serde_json::{json, Map, Value};

const TOKEN: &str = "T0KENxq81zz";

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!(format!("https://hooks.slack.com/services/{TOKEN}"))),
        Just(json!(format!("http://10.1.2.3/{TOKEN}"))),
        Just(json!(format!("{TOKEN} not a url"))),
        Just(json!(TOKEN)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn secret_object() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("slack_webhook_url".to_owned()),
        Just("cluster_identifier".to_owned()),
        Just("database".to_owned()),
        Just("db_user".to_owned()),
        Just("redshift_secret_arn".to_owned()),
        Just("mention".to_owned()),
        Just("user_thresholds".to_owned()),
        "[a-z_]{1,10}",
    ];
    prop::collection::btree_map(key, json_value(), 0..7)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    #[test]
    fn the_secret_parser_never_panics_or_repeats_a_value(secret in secret_object(), cut in 0usize..400) {
        let text = secret.to_string();
        for candidate in [text.as_str(), &text[..text.floor_char_boundary(cut.min(text.len()))]] {
            let shown = match parse_secret("s", candidate) {
                Ok(config) => format!("{config:?}"),
                Err(err) => format!("{err} {err:?}"),
            };
            prop_assert!(!shown.contains(TOKEN), "{}", shown);
        }
    }

    #[test]
    fn the_event_parser_never_panics_and_only_accepts_valid_thresholds(event in json_value()) {
        if let Ok(event) = Event::read(&event) {
            for threshold in event.targets.iter().filter_map(|t| t.threshold).chain(event.layer.threshold) {
                prop_assert!((1..=Minutes::MAX).contains(&threshold.get()));
            }
        }
    }

    #[test]
    fn any_result_cells_read_or_are_set_aside_one_row_at_a_time(
        cells in prop::collection::vec(prop::collection::vec(field(), 0..9), 0..6)
    ) {
        // A row without pid, query id and start time is the statement's totals-only row.
        let totals_only = cells
            .iter()
            .filter(|r| [1, 2, 3].iter().all(|&i| r.get(i).is_none_or(|f| matches!(f, Field::IsNull(_)))))
            .count();
        let rows_in = cells.len();
        let mut set = ResultSet::default();
        set.add_page(&columns(), cells, &ResultLimits::default()).unwrap();
        let rows = read(&set).unwrap();
        prop_assert_eq!(rows.queries.len() + rows.unreadable.len() + totals_only, rows_in);
    }
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        any::<i64>().prop_map(Field::LongValue),
        any::<bool>().prop_map(Field::BooleanValue),
        any::<f64>().prop_map(Field::DoubleValue),
        Just(Field::IsNull(true)),
        ".{0,30}".prop_map(Field::StringValue),
        "20[0-9]{2}-[0-1][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?"
            .prop_map(Field::StringValue),
    ]
}

fn columns() -> Vec<ColumnMetadata> {
    COLUMNS
        .iter()
        .map(|n| ColumnMetadata::builder().name(*n).build())
        .collect()
}

/// Database text at its worst: markup, fences, mentions, URLs, line breaks, controls, bidi
/// overrides, emoji and CJK.
fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        "[`<>&*_~@:/a-z \n\r\t]{0,4000}",
        "[\\PC`&<>🙂日本\u{202e}\u{2066}\u{0}-\u{1f}]{0,1600}",
    ]
}

proptest! {
    // Fewer cases by default (each builds up to 34 queries' messages); PROPTEST_CASES still
    // sets the count for long runs.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn messages_stay_within_slack_limits_and_carry_every_query_once(
        texts in prop::collection::vec((query_text(), proptest::option::of(query_text())), 0..34),
        unreadable in prop::collection::vec(query_text(), 0..3),
        language in prop::sample::select(Language::ALL.to_vec()),
    ) {
        let tz = Zone::parse("Asia/Tokyo").unwrap();
        let queries: Vec<LongQuery> = texts
            .iter()
            .enumerate()
            .map(|(i, (text, user))| LongQuery {
                user: user.clone(),
                pid: 10_000 + i as i64,
                query_id: i as i64,
                start_time: "2026-11-28T09:15:00Z".parse().unwrap(),
                elapsed_minutes: 45,
                text: text.clone(),
                text_truncated: i % 3 == 0,
                ..Default::default()
            })
            .collect();
        let unreadable: Vec<Unreadable> = unreadable
            .into_iter()
            .enumerate()
            .map(|(i, problem)| Unreadable { row: i + 1, pid: None, problem })
            .collect();
        let target = Target::Cluster("分析c<&>\n`x`".into());
        let rules_json = json!({"mention": "<!here>", "user_mentions": {"a": "<@U0A>"}});
        let patch = RulesPatch::read(&Object::new(rules_json.as_object().unwrap(), Quote::Values)).unwrap();
        let rules = AlertRules::default().with(&patch);
        let ctx = Context {
            target: &target,
            database: "d",
            window: Window { min_minutes: 30, max_minutes: 60 },
            timezone: &tz,
            rules: &rules,
            past_threshold_total: Some(texts.len() as i64 + 3),
            blocking: &Default::default(),
            cancel: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/alert-AbCdEf"),
            phrases: copy::table(language),
        };
        let messages: Vec<Value> = build(&queries, &unreadable, &ctx).iter().map(|m| m.to_json()).collect();
        prop_assert_eq!(messages.is_empty(), queries.is_empty() && unreadable.is_empty());
        for message in &messages {
            let blocks = message["blocks"].as_array().unwrap();
            prop_assert!(blocks.len() <= MAX_BLOCKS);
            let fallback = message["text"].as_str().unwrap();
            prop_assert!(!fallback.is_empty());
            prop_assert!(fallback.encode_utf16().count() <= SECTION_TEXT_LIMIT);
            for block in blocks {
                let Some(text) = block["text"]["text"].as_str().or(block["elements"][0]["text"].as_str()) else { continue };
                let limit = if block["type"] == "header" { HEADER_TEXT_LIMIT } else { SECTION_TEXT_LIMIT };
                prop_assert!(text.encode_utf16().count() <= limit);
                button_within_limits(&block["accessory"])?;
                if block["block_id"].as_str().is_some_and(|id| id.starts_with("query:")) {
                    prop_assert!(block["accessory"]["action_id"] == "cancel_query", "every query has its button");
                }
                if block["block_id"].as_str().is_some_and(|id| id.starts_with("text:")) && text.starts_with("```") {
                    prop_assert_eq!(text.matches("```").count(), 2, "{}", text);
                }
                if block["block_id"].as_str().is_some_and(|id| id.starts_with("query:")) {
                    prop_assert_eq!(text.lines().count(), 3, "no injected line: {}", text);
                }
                // Only validated mentions may carry `<`/`>`; everything else is escaped.
                let without_mentions = text.replace("<!here>", "").replace("<@U0A>", "");
                prop_assert!(!without_mentions.contains('<') && !without_mentions.contains('>'), "{}", text);
                prop_assert!(!text.contains('\u{202e}') && !text.contains('\u{2066}'), "{}", text);
                prop_assert!(!text.contains("://"), "no live link: {}", text);
            }
        }
        let expected: Vec<i64> = (0..queries.len() as i64).map(|i| 10_000 + i).collect();
        prop_assert_eq!(support::pids_in(&messages), expected);
    }
}

/// A button's and its dialog's limits, when the block has one.
fn button_within_limits(button: &Value) -> Result<(), TestCaseError> {
    if !button.is_object() {
        return Ok(());
    }
    let chars = |v: &Value| v.as_str().unwrap().encode_utf16().count();
    prop_assert!(chars(&button["text"]["text"]) <= 75);
    prop_assert!(button["value"].as_str().unwrap().len() <= 2000);
    let confirm = &button["confirm"];
    prop_assert!(chars(&confirm["title"]["text"]) <= 100);
    prop_assert!(
        chars(&confirm["text"]["text"]) <= 300,
        "{}",
        confirm["text"]["text"]
    );
    prop_assert!(chars(&confirm["confirm"]["text"]) <= 30);
    prop_assert!(chars(&confirm["deny"]["text"]) <= 30);
    Ok(())
}

/// Every limit Slack enforces, on one message's JSON.
fn within_slack_limits(message: &Value) -> Result<(), TestCaseError> {
    let fallback = message["text"].as_str().unwrap();
    prop_assert!(!fallback.is_empty());
    prop_assert!(fallback.encode_utf16().count() <= SECTION_TEXT_LIMIT);
    let blocks = message["blocks"].as_array().unwrap();
    prop_assert!(blocks.len() <= MAX_BLOCKS);
    for block in blocks {
        let Some(text) = block["text"]["text"]
            .as_str()
            .or(block["elements"][0]["text"].as_str())
        else {
            continue;
        };
        let limit = if block["type"] == "header" {
            HEADER_TEXT_LIMIT
        } else {
            SECTION_TEXT_LIMIT
        };
        prop_assert!(
            text.encode_utf16().count() <= limit,
            "{} > {}",
            text.encode_utf16().count(),
            limit
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    /// Thread mode's parent and replies, in every language, over the same hostile text (a
    /// Japanese sentence is three bytes a character; the limits count characters).
    #[test]
    fn thread_messages_stay_within_slack_limits_in_every_language(
        text in query_text(),
        user in proptest::option::of(query_text()),
        target in query_text(),
        minutes in 0i64..200_000,
        language in prop::sample::select(Language::ALL.to_vec()),
    ) {
        use redshift_long_query_alert::long_queries::ended::Outcome;
        use redshift_long_query_alert::long_queries::thread::{critical_reply, ended_reply, parent, Status, ThreadContext};
        let tz = Zone::parse("Asia/Tokyo").unwrap();
        let target = Target::Workgroup(target);
        let rules = AlertRules::default();
        let ctx = ThreadContext {
            target: &target,
            database: "データベース",
            timezone: &tz,
            rules: &rules,
            threshold_minutes: 30,
            critical_minutes: 60,
            checked: "2026-11-28T10:05:00Z".parse().unwrap(),
            blocking: &Default::default(),
            cancel: Some("prod/alert"),
            phrases: copy::table(language),
        };
        let query = LongQuery {
            user,
            pid: 1,
            query_id: 2,
            start_time: "2026-11-28T09:15:00Z".parse().unwrap(),
            elapsed_minutes: minutes,
            text,
            text_truncated: minutes % 2 == 0,
            ..Default::default()
        };
        within_slack_limits(&parent(&query, Status::Running, &ctx).to_json())?;
        within_slack_limits(&critical_reply(&query, &ctx).to_json())?;
        for outcome in [Outcome::Finished, Outcome::Failed, Outcome::Cancelled, Outcome::Unknown] {
            let ended = Status::Ended { outcome, minutes: Some(minutes) };
            within_slack_limits(&parent(&query, ended, &ctx).to_json())?;
            within_slack_limits(&ended_reply(outcome, Some(minutes), None, &ctx).to_json())?;
        }
    }
}
