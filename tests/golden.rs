//! Golden messages: what the channel reads, in every language, for the same results. The files
//! under `tests/golden/<language>/` are the messages as a person sees them (header, context,
//! sections, the notification text), so a reviewer who reads the language checks them as text.
//!
//! A change to a message fails here until the files are regenerated and reviewed:
//! `UPDATE_GOLDEN=1 cargo test --test golden`, then `git diff tests/golden`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use redshift_long_query_alert::blocking::{self, Blocking, Holder, Wait};
use redshift_long_query_alert::copy;
use redshift_long_query_alert::idle_transactions::{self, IdleTransaction};
use redshift_long_query_alert::input::{Object, Quote};
use redshift_long_query_alert::long_queries::ended::Outcome;
use redshift_long_query_alert::long_queries::message::{self, Context};
use redshift_long_query_alert::long_queries::thread::{self, Status, ThreadContext};
use redshift_long_query_alert::long_queries::{LongQuery, Unreadable};
use redshift_long_query_alert::model::{Language, QueryState, Target, Window, Zone};
use redshift_long_query_alert::rules::{AlertRules, RulesPatch};
use redshift_long_query_alert::slack::blocks::Message;
use serde_json::{json, Value};

fn rules() -> AlertRules {
    let v = json!({"mention": "<!subteam^S0DATA>", "user_mentions": {"tanaka": "<@U0TANAKA>"}});
    AlertRules::default()
        .with(&RulesPatch::read(&Object::new(v.as_object().unwrap(), Quote::Values)).unwrap())
}

/// The cluster's clock in every case: 19:00 in Tokyo.
fn now() -> jiff::Timestamp {
    "2026-11-28T10:00:00Z".parse().unwrap()
}

fn query(i: i64, user: Option<&str>, minutes: i64, text: &str) -> LongQuery {
    LongQuery {
        user: user.map(str::to_owned),
        pid: 1073742000 + i,
        query_id: 880000 + i,
        start_time: jiff::Timestamp::from_second(now().as_second() - minutes * 60).unwrap(),
        elapsed_minutes: minutes,
        text: text.to_owned(),
        text_truncated: false,
        ..Default::default()
    }
}

/// A message as a person reads it, with each block's id where it has one.
fn render(message: &Message) -> String {
    let json = message.to_json();
    let mut out = format!("notification: {}\n", json["text"].as_str().unwrap());
    for block in json["blocks"].as_array().unwrap() {
        let id = block["block_id"]
            .as_str()
            .map(|id| format!(" {id}"))
            .unwrap_or_default();
        let text = match block["type"].as_str().unwrap() {
            "header" => block["text"]["text"].as_str().unwrap().to_owned(),
            "context" => block["elements"][0]["text"].as_str().unwrap().to_owned(),
            "section" => block["text"]["text"].as_str().unwrap().to_owned(),
            _ => String::new(),
        };
        out.push_str(&format!("[{}{id}]\n", block["type"].as_str().unwrap()));
        if !text.is_empty() {
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        let button = &block["accessory"];
        if button.is_object() {
            let confirm = &button["confirm"];
            out.push_str(&format!(
                "  [button {}: {}]\n  [dialog: {}]\n",
                button["action_id"].as_str().unwrap(),
                button["text"]["text"].as_str().unwrap(),
                confirm["title"]["text"].as_str().unwrap(),
            ));
            for line in confirm["text"]["text"].as_str().unwrap().lines() {
                out.push_str(&format!("  | {line}\n"));
            }
            out.push_str(&format!(
                "  [{}] [{}]\n  [value: {}]\n",
                confirm["confirm"]["text"].as_str().unwrap(),
                confirm["deny"]["text"].as_str().unwrap(),
                button["value"].as_str().unwrap()
            ));
        }
    }
    out
}

fn render_all(messages: &[Message]) -> String {
    if messages.is_empty() {
        return "(no message is posted)\n".to_owned();
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("=== message {} of {}\n{}", i + 1, messages.len(), render(m)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn window_messages(
    language: Language,
    queries: &[LongQuery],
    unreadable: &[Unreadable],
    total: Option<i64>,
) -> Vec<Message> {
    diagnosed_messages(language, queries, unreadable, total, &BTreeMap::new(), &[])
}

/// The messages of a run whose side checks found `blocking` and `idle`.
fn diagnosed_messages(
    language: Language,
    queries: &[LongQuery],
    unreadable: &[Unreadable],
    total: Option<i64>,
    blocking: &BTreeMap<i64, Blocking>,
    idle: &[IdleTransaction],
) -> Vec<Message> {
    let tokyo = Zone::parse("Asia/Tokyo").unwrap();
    let rules = rules();
    let ctx = Context {
        target: &Target::Cluster("analytics".into()),
        database: "dev",
        window: Window {
            min_minutes: 30,
            max_minutes: 60,
        },
        timezone: &tokyo,
        rules: &rules,
        past_threshold_total: total,
        blocking,
        cancel: None,
        phrases: copy::table(language),
    };
    let mut messages = message::build(queries, unreadable, &ctx);
    messages.extend(idle_transactions::message::build(idle, &ctx));
    messages
}

/// A queued query, one that waited before running, and a lock pile-up: 2 waits for an idle
/// session's lock (the root), and 3 waits for 2.
fn diagnostics_case(language: Language) -> String {
    let mut queued = query(1, Some("analyst"), 38, "SELECT COUNT(*) FROM big.events");
    queued.state = QueryState::Queued;
    queued.queue_seconds = Some(38 * 60);
    queued.queue = Some("adhoc".into());
    queued.sys_id = true;
    let mut waited = query(
        2,
        Some("etl_loader"),
        45,
        "DELETE FROM sales.orders WHERE day < '2026-01-01'",
    );
    waited.queue_seconds = Some(180);
    waited.queue = Some("etl".into());
    let blocked = query(3, Some("tanaka"), 33, "SELECT * FROM sales.orders");
    let waits = [
        wait(
            1073742002,
            1073742009,
            "idle_user",
            "AccessExclusiveLock",
            75,
        ),
        wait(
            1073742003,
            1073742002,
            "etl_loader",
            "ShareRowExclusiveLock",
            45,
        ),
    ];
    let pids = [1073742001, 1073742002, 1073742003];
    let blocking = blocking::attach(&waits, &pids, 30);
    let idle = [IdleTransaction {
        pid: 1073742009,
        user: Some("idle_user".into()),
        idle_minutes: 72,
        transaction_start: "2026-11-28 08:45:00".into(),
        transaction_start_ts: Some("2026-11-28T08:45:00Z".parse().unwrap()),
        locked_tables: vec!["sales.orders".into(), "sales.items".into()],
        more_tables: 0,
        sessions_blocked: 1,
    }];
    render_all(&diagnosed_messages(
        language,
        &[queued, waited, blocked],
        &[],
        Some(3),
        &blocking,
        &idle,
    ))
}

fn wait(waiting: i64, blocker: i64, user: &str, mode: &str, minutes: i64) -> Wait {
    let since = now().as_second() - minutes * 60;
    let since = jiff::Timestamp::from_second(since).unwrap();
    Wait {
        waiting_pid: waiting,
        wanted_mode: "AccessShareLock".into(),
        blocker: Holder {
            pid: blocker,
            user: Some(user.into()),
            lock_mode: mode.into(),
            table: "sales.orders".into(),
            held_since: since.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            held_minutes: minutes,
            root: false,
            held_since_ts: Some(since),
        },
    }
}

fn cases(language: Language) -> Vec<(&'static str, String)> {
    let found = vec![
        query(
            1,
            Some("tanaka"),
            42,
            "SELECT *\nFROM sales.orders o\nJOIN sales.items i ON i.order_id = o.id",
        ),
        query(2, None, 35, "VACUUM sales.orders;"),
        query(
            3,
            Some("etl_loader"),
            31,
            "INSERT INTO mart.daily SELECT * FROM stage.daily",
        ),
    ];
    let long = {
        let mut q = query(
            4,
            Some("sato"),
            47,
            &"SELECT '集計', col_a, col_b FROM wide_table UNION ALL ".repeat(120),
        );
        q.text_truncated = true;
        vec![q]
    };
    let many: Vec<LongQuery> = (0..17)
        .map(|i| query(i, Some("analyst"), 30 + i, "select 1"))
        .collect();
    let overflow: Vec<LongQuery> = (0..160)
        .map(|i| query(i, Some("analyst"), 30 + i % 29, "select 1"))
        .collect();
    let unreadable = [Unreadable {
        row: 2,
        pid: Some(1073742002),
        problem: "`start_time` is NULL".into(),
    }];

    let overflow_messages = window_messages(language, &overflow, &[], Some(160));
    let count = overflow_messages.len();
    let overflow_view = format!(
        "=== message 1 of {count}\n{}\n=== message {count} of {count}\n{}",
        render(&overflow_messages[0]),
        render(&overflow_messages[count - 1])
    );
    let mut cases = vec![
        (
            "found",
            render_all(&window_messages(language, &found, &[], Some(5))),
        ),
        (
            "none_in_the_window",
            render_all(&window_messages(language, &[], &[], Some(2))),
        ),
        (
            "unreadable_only",
            render_all(&window_messages(language, &[], &unreadable, Some(1))),
        ),
        (
            "long_text_cut",
            render_all(&window_messages(language, &long, &[], Some(1))),
        ),
        (
            "many_queries",
            render_all(&window_messages(language, &many, &[], Some(17))),
        ),
        ("overflow_first_and_last", overflow_view),
    ];
    cases.push(("thread", thread_case(language)));
    cases.push(("diagnostics", diagnostics_case(language)));
    cases
}

fn thread_case(language: Language) -> String {
    let tokyo = Zone::parse("Asia/Tokyo").unwrap();
    let rules = rules();
    let target = Target::Cluster("analytics".into());
    let ctx = ThreadContext {
        target: &target,
        database: "dev",
        timezone: &tokyo,
        rules: &rules,
        threshold_minutes: 30,
        critical_minutes: 60,
        checked: "2026-11-28T10:05:00Z".parse().unwrap(),
        blocking: &BTreeMap::new(),
        cancel: Some("prod/redshift-long-query-alert"),
        phrases: copy::table(language),
    };
    let text = "SELECT customer_id, SUM(amount)\nFROM sales.orders\nGROUP BY 1";
    let mut out = String::new();
    let mut part = |title: &str, message: Message| {
        out.push_str(&format!("=== {title}\n{}\n", render(&message)));
    };
    part(
        "first seen: the parent",
        thread::parent(&query(1, Some("tanaka"), 35, text), Status::Running, &ctx),
    );
    part(
        "a later run: the parent updated",
        thread::parent(&query(1, Some("tanaka"), 45, text), Status::Running, &ctx),
    );
    let critical = query(1, Some("tanaka"), 62, text);
    part(
        "critical: the parent updated",
        thread::parent(&critical, Status::Running, &ctx),
    );
    part(
        "critical: the reply",
        thread::critical_reply(&critical, &ctx),
    );
    let ended_at: jiff::Timestamp = "2026-11-28T10:20:00Z".parse().unwrap();
    for outcome in [
        Outcome::Finished,
        Outcome::Failed,
        Outcome::Cancelled,
        Outcome::Unknown,
    ] {
        let (minutes, end) = match outcome {
            Outcome::Unknown => (Some(62), None),
            _ => (Some(75), Some(ended_at)),
        };
        part(
            &format!("ended ({}): the parent", outcome.name()),
            thread::parent(
                &query(1, Some("tanaka"), 75, text),
                Status::Ended { outcome, minutes },
                &ctx,
            ),
        );
        part(
            &format!("ended ({}): the reply", outcome.name()),
            thread::ended_reply(outcome, minutes, end, &ctx),
        );
    }
    out
}

#[test]
fn messages_match_their_golden_files_in_every_language() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatched = Vec::new();
    for language in Language::ALL {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(language.code());
        for (name, rendered) in cases(language) {
            let path = dir.join(format!("{name}.txt"));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &rendered).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; write it with UPDATE_GOLDEN=1 cargo test --test golden",
                    path.display()
                )
            });
            if golden != rendered {
                mismatched.push(format!(
                    "{}\n--- expected\n{golden}\n--- got\n{rendered}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "messages changed (UPDATE_GOLDEN=1 cargo test --test golden, then review git diff):\n{}",
        mismatched.join("\n")
    );
}

#[test]
fn the_same_result_carries_the_same_queries_in_every_language() {
    let found = vec![
        query(1, Some("a"), 40, "select 1"),
        query(2, None, 33, "select 2"),
    ];
    let ids = |language| -> Vec<Value> {
        window_messages(language, &found, &[], None)
            .iter()
            .flat_map(|m| m.to_json()["blocks"].as_array().unwrap().clone())
            .map(|b| b["block_id"].clone())
            .collect()
    };
    let english = ids(Language::En);
    for language in Language::ALL {
        assert_eq!(ids(language), english, "{language:?}");
    }
}
