//! The thread-mode layout: one parent message per query, updated in place while it runs and
//! when it ends, and the replies in its thread (critical, ended). The parent carries the same
//! facts as a query in the window-mode alert, under the same `block_id`s, so readers and tests
//! find it the same way.

use std::collections::BTreeMap;

use crate::blocking::Blocking;
use crate::copy::{Phrases, ThreadContextFacts, ThreadState};
use crate::model::{QueryState, Target, Zone};
use crate::rules::AlertRules;
use crate::slack::blocks::{Block, BlockId, Message};
use crate::slack::mrkdwn::{self, inline_code};

use super::ended::Outcome;
use super::message::{cancel_button, code_block, query_details, NAME_CHARS};
use super::row::LongQuery;

/// Where the query runs and how the channel is told.
#[derive(Clone, Copy)]
pub struct ThreadContext<'a> {
    pub target: &'a Target,
    pub database: &'a str,
    pub timezone: &'a Zone,
    pub rules: &'a AlertRules,
    pub threshold_minutes: u32,
    pub critical_minutes: u32,
    /// When this run looked.
    pub checked: jiff::Timestamp,
    /// What the blocking check found, by pid (empty when it did not run).
    pub blocking: &'a BTreeMap<i64, Blocking>,
    /// The secret the Cancel button names, when cancelling is set up (`None`: no button).
    pub cancel: Option<&'a str>,
    pub phrases: &'a dyn Phrases,
}

/// Where a query stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Ended {
        outcome: Outcome,
        /// How long it ran, in whole minutes, when known.
        minutes: Option<i64>,
    },
}

/// The parent message of `query`'s thread.
pub fn parent(query: &LongQuery, status: Status, ctx: &ThreadContext<'_>) -> Message {
    let p = ctx.phrases;
    let running = status == Status::Running;
    let state = match status {
        Status::Running => ThreadState::Running {
            minutes: query.elapsed_minutes,
            critical: query.elapsed_minutes >= i64::from(ctx.critical_minutes),
            queued: query.state == QueryState::Queued,
        },
        Status::Ended { outcome, minutes } => ThreadState::Ended { outcome, minutes },
    };
    let header = p.thread_header(state);
    let checked = p.clock_time(&ctx.checked.to_zoned_datetime(ctx.timezone.tz().clone()));
    let context = p.thread_context(&ThreadContextFacts {
        serverless: matches!(ctx.target, Target::Workgroup(_)),
        target: &inline_code(ctx.target.name(), NAME_CHARS),
        database: &inline_code(ctx.database, NAME_CHARS),
        threshold_minutes: ctx.threshold_minutes,
        critical_minutes: ctx.critical_minutes,
        timezone: &mrkdwn::escape(ctx.timezone.name()),
        checked: &checked,
    });
    // The notification says the header without its emoji code.
    let plain_header = header
        .split_once(": ")
        .filter(|(icon, _)| icon.starts_with(':'))
        .map_or(header.as_str(), |(_, rest)| rest);
    let mention = ctx.rules.mention.as_ref().filter(|_| running);
    let mut fallback = String::new();
    if let Some(m) = mention {
        fallback.push_str(m.as_str());
        fallback.push(' ');
    }
    fallback.push_str(&p.thread_fallback(
        plain_header,
        &mrkdwn::plain(ctx.target.name(), NAME_CHARS),
        &mrkdwn::plain(ctx.database, NAME_CHARS),
    ));

    let mut message = Message::new(&fallback);
    message.push(Block::header(&header));
    message.push(Block::context(&context));
    if let Some(m) = mention {
        message.push(Block::section_with_id(BlockId::new("mention"), m.as_str()));
    }
    let button = ctx
        .cancel
        .filter(|_| running)
        .and_then(|s| cancel_button(query, s, p));
    message.push(
        Block::section_with_id(
            BlockId::new(format!("query:1:{}:{}", query.pid, query.query_id)),
            &query_details(
                None,
                query,
                running,
                ctx.blocking.get(&query.pid),
                ctx.rules,
                ctx.timezone,
                p,
            ),
        )
        .with_button(button),
    );
    message.push(Block::section_with_id(
        BlockId::new(format!("text:1:{}:{}", query.pid, query.query_id)),
        &code_block(query, p),
    ));
    message
}

/// The reply at the critical point, with the mentions (the channel's and the query owner's).
pub fn critical_reply(query: &LongQuery, ctx: &ThreadContext<'_>) -> Message {
    let mentions: Vec<&str> = ctx
        .rules
        .mention
        .iter()
        .chain(ctx.rules.mention_for(query.user.as_deref()))
        .map(|m| m.as_str())
        .collect();
    let text = ctx.phrases.critical_reply(
        &mentions.join(" "),
        query.elapsed_minutes,
        ctx.critical_minutes,
    );
    let mut message = Message::new(&text);
    message.push(Block::section_with_id(BlockId::new("critical"), &text));
    message
}

/// The reply when the query ended.
pub fn ended_reply(
    outcome: Outcome,
    minutes: Option<i64>,
    ended: Option<jiff::Timestamp>,
    ctx: &ThreadContext<'_>,
) -> Message {
    let p = ctx.phrases;
    let ended = ended.map(|t| p.clock_time(&t.to_zoned_datetime(ctx.timezone.tz().clone())));
    let text = p.ended_reply(outcome, minutes, ended.as_deref());
    let mut message = Message::new(&text);
    message.push(Block::section_with_id(
        BlockId::new(format!("ended:{}", outcome.name())),
        &text,
    ));
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::en::English;
    use crate::input::{Object, Quote};
    use crate::rules::RulesPatch;
    use serde_json::{json, Value};

    fn query(elapsed: i64) -> LongQuery {
        LongQuery {
            user: Some("alice".into()),
            pid: 4242,
            query_id: 99,
            start_time: "2026-11-28T09:00:00Z".parse().unwrap(),
            elapsed_minutes: elapsed,
            text: "select *\nfrom events".into(),
            text_truncated: false,
            ..Default::default()
        }
    }

    fn rules() -> AlertRules {
        let v = json!({"mention": "<!subteam^S0DATA>", "user_mentions": {"alice": "<@U0ALICE>"}});
        let patch = RulesPatch::read(&Object::new(v.as_object().unwrap(), Quote::Values));
        AlertRules::default().with(&patch.unwrap())
    }

    fn texts(message: &Message) -> Vec<String> {
        message.to_json()["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| {
                let t = &b["text"];
                t["text"]
                    .as_str()
                    .or_else(|| b["elements"][0]["text"].as_str())
                    .map(str::to_owned)
            })
            .collect()
    }

    fn with_ctx<T>(f: impl FnOnce(&ThreadContext<'_>) -> T) -> T {
        let target = Target::Cluster("analytics".into());
        let zone = Zone::parse("Asia/Tokyo").unwrap();
        let rules = rules();
        f(&ThreadContext {
            target: &target,
            database: "dev",
            timezone: &zone,
            rules: &rules,
            threshold_minutes: 30,
            critical_minutes: 60,
            checked: "2026-11-28T10:05:00Z".parse().unwrap(),
            blocking: &BTreeMap::new(),
            cancel: None,
            phrases: &English,
        })
    }

    #[test]
    fn a_running_parent_says_how_long_and_when_it_was_checked() {
        let m = with_ctx(|ctx| parent(&query(42), Status::Running, ctx));
        let t = texts(&m);
        assert!(t[0].contains("running for 42 min"), "{t:?}");
        assert!(t[1].contains("last checked 19:05 JST"), "{t:?}");
        assert!(t.iter().any(|s| s.contains("CANCEL 4242;")), "{t:?}");
        let json: Value = m.to_json();
        assert_eq!(json["blocks"][3]["block_id"], "query:1:4242:99");
        assert!(json["text"]
            .as_str()
            .unwrap()
            .starts_with("<!subteam^S0DATA> Redshift"));
    }

    #[test]
    fn an_ended_parent_has_its_duration_and_no_stop_hint() {
        let ended = Status::Ended {
            outcome: Outcome::Cancelled,
            minutes: Some(65),
        };
        let t = with_ctx(|ctx| texts(&parent(&query(62), ended, ctx)));
        assert!(t[0].contains("cancelled after 1 h 5 min"), "{t:?}");
        assert!(!t.iter().any(|s| s.contains("CANCEL")), "{t:?}");
        assert!(
            !t.iter().any(|s| s.contains("<!subteam")),
            "no mention once ended"
        );
    }

    #[test]
    fn the_critical_reply_mentions_the_channel_and_the_owner() {
        let t = with_ctx(|ctx| texts(&critical_reply(&query(61), ctx)));
        assert!(t[0].starts_with("<!subteam^S0DATA> <@U0ALICE> "), "{t:?}");
        assert!(
            t[0].contains("1 h 1 min") && t[0].contains("60 min"),
            "{t:?}"
        );
        let t = with_ctx(|ctx| {
            texts(&ended_reply(
                Outcome::Finished,
                Some(75),
                Some("2026-11-28T10:15:00Z".parse().unwrap()),
                ctx,
            ))
        });
        assert_eq!(
            t[0],
            ":white_check_mark: Finished at 19:15 JST after 1 h 15 min."
        );
    }
}
