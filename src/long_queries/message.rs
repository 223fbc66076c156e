//! The long-query alert's layout in Block Kit: where each fact goes, with values from the
//! database made safe. The words come from the language's phrase table ([`crate::copy`]).
//!
//! One message holds at most [`QUERIES_PER_MESSAGE`] queries; more go into further messages
//! ("part 2 of 3"), none is lost, up to [`MAX_MESSAGES`] a run. Past that one last message says
//! how many more there are: a runaway cluster must not flood the channel.

use std::collections::BTreeMap;

use crate::blocking::Blocking;
use crate::copy::{ContextFacts, HolderFacts, Phrases, QueryFacts};
use crate::interaction::request::{ButtonValue, CANCEL_ACTION};
use crate::model::{Target, Window, Zone};
use crate::rules::AlertRules;
use crate::slack::blocks::{Block, BlockId, Button, Confirm, Message, MAX_BLOCKS};
use crate::slack::mrkdwn::{self, code_block_body, inline_code, utf16_len, SECTION_TEXT_LIMIT};

use super::row::{LongQuery, Unreadable};

/// Queries in one message.
pub const QUERIES_PER_MESSAGE: usize = 15;
/// Messages one run posts at most (the last may be the overflow note).
pub const MAX_MESSAGES: usize = 10;
/// Header, context, mention and the unreadable-rows note, then three blocks a query (details,
/// text, divider) less the last divider.
const FIXED_BLOCKS: usize = 4;
const _: () = assert!(FIXED_BLOCKS + QUERIES_PER_MESSAGE * 3 - 1 <= MAX_BLOCKS);
/// User and object names are short in Redshift (127 bytes at most); a longer value is not a name.
pub(crate) const NAME_CHARS: usize = 128;
/// Unreadable rows listed by row; the rest are counted.
const UNREADABLE_LISTED: usize = 10;

/// Where the queries ran, how they were selected, and in which words to say it.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub target: &'a Target,
    pub database: &'a str,
    /// The base threshold's window (per-user thresholds may differ).
    pub window: Window,
    pub timezone: &'a Zone,
    pub rules: &'a AlertRules,
    pub past_threshold_total: Option<i64>,
    /// What the blocking check found, by pid (empty when it did not run).
    pub blocking: &'a BTreeMap<i64, Blocking>,
    /// The secret the Cancel buttons name, when cancelling is set up (`None`: no buttons).
    pub cancel: Option<&'a str>,
    pub phrases: &'a dyn Phrases,
}

/// How many of `count` reported queries the messages show (the rest are counted in the last).
pub fn shown(count: usize) -> usize {
    if count.div_ceil(QUERIES_PER_MESSAGE) > MAX_MESSAGES {
        (MAX_MESSAGES - 1) * QUERIES_PER_MESSAGE
    } else {
        count
    }
}

/// What a run posts for these queries: nothing when there is nothing to say.
pub fn build(queries: &[LongQuery], unreadable: &[Unreadable], ctx: &Context<'_>) -> Vec<Message> {
    if queries.is_empty() && unreadable.is_empty() {
        return Vec::new();
    }
    let shown = shown(queries.len());
    let parts = shown.div_ceil(QUERIES_PER_MESSAGE).max(1);
    let total = queries.len() + unreadable.len();
    let mut messages: Vec<Message> = (0..parts)
        .map(|part| {
            let start = part * QUERIES_PER_MESSAGE;
            let end = (start + QUERIES_PER_MESSAGE).min(shown);
            let first = (part == 0).then_some(unreadable);
            one_message(
                &queries[start..end],
                start,
                total,
                part + 1,
                parts,
                first,
                ctx,
            )
        })
        .collect();
    if shown < queries.len() {
        messages.push(overflow(queries.len() - shown, shown, ctx));
    }
    messages
}

fn one_message(
    chunk: &[LongQuery],
    first_index: usize,
    total: usize,
    part: usize,
    parts: usize,
    unreadable: Option<&[Unreadable]>,
    ctx: &Context<'_>,
) -> Message {
    let p = ctx.phrases;
    let mut header = p.header(total, ctx.window.min_minutes);
    if parts > 1 {
        header.push_str(&p.part(part, parts));
    }
    let context = context_line(ctx);

    // The fallback `text` is what notifications show. Mentions are validated, so they go in
    // as they are; the channel mention only in the first message, to ping once.
    let mention = ctx.rules.mention.as_ref().filter(|_| part == 1);
    let mut fallback = String::new();
    if let Some(m) = mention {
        fallback.push_str(m.as_str());
        fallback.push(' ');
    }
    fallback.push_str(&p.fallback_intro(
        &header,
        &mrkdwn::plain(ctx.target.name(), NAME_CHARS),
        &mrkdwn::plain(ctx.database, NAME_CHARS),
    ));
    for (offset, query) in chunk.iter().enumerate() {
        let user = query.user.as_deref().map_or_else(
            || p.dropped_user().to_owned(),
            |u| mrkdwn::plain(u, NAME_CHARS),
        );
        fallback.push('\n');
        fallback.push_str(&p.fallback_line(
            first_index + offset + 1,
            &user,
            query.pid,
            query.elapsed_minutes,
        ));
    }

    let mut message = Message::new(&fallback);
    message.push(Block::header(&format!(":rotating_light: {header}")));
    message.push(Block::context(&context));
    if let Some(m) = mention {
        message.push(Block::section_with_id(BlockId::new("mention"), m.as_str()));
    }
    if let Some(rows) = unreadable.filter(|r| !r.is_empty()) {
        message.push(Block::section_with_id(
            BlockId::new("unreadable"),
            &unreadable_note(rows, p),
        ));
    }
    for (offset, query) in chunk.iter().enumerate() {
        let number = first_index + offset + 1;
        if offset > 0 {
            message.push(Block::Divider);
        }
        message.push(
            Block::section_with_id(
                BlockId::new(format!("query:{number}:{}:{}", query.pid, query.query_id)),
                &details(number, query, ctx),
            )
            .with_button(
                ctx.cancel
                    .and_then(|s| cancel_button(query, s, ctx.phrases)),
            ),
        );
        message.push(Block::section_with_id(
            BlockId::new(format!("text:{number}:{}:{}", query.pid, query.query_id)),
            &code_block(query, p),
        ));
    }
    message
}

/// The line under a header: where, which window, which time zone, how many in all.
pub(crate) fn context_line(ctx: &Context<'_>) -> String {
    with_context_facts(ctx, |facts| ctx.phrases.context(facts))
}

/// The facts of a context line, rendered safe, for `say`.
pub(crate) fn with_context_facts<T>(
    ctx: &Context<'_>,
    say: impl FnOnce(&ContextFacts<'_>) -> T,
) -> T {
    let target = inline_code(ctx.target.name(), NAME_CHARS);
    let database = inline_code(ctx.database, NAME_CHARS);
    say(&ContextFacts {
        serverless: matches!(ctx.target, Target::Workgroup(_)),
        target: &target,
        database: &database,
        window: ctx.window,
        timezone: &mrkdwn::escape(ctx.timezone.name()),
        past_threshold_total: ctx.past_threshold_total,
    })
}

/// A database user as a reader sees it: a code span, or the dropped-user label.
pub(crate) fn user_label(user: Option<&str>, p: &dyn Phrases) -> String {
    user.map_or_else(
        || format!("_{}_", p.dropped_user()),
        |u| inline_code(u, NAME_CHARS),
    )
}

fn details(number: usize, query: &LongQuery, ctx: &Context<'_>) -> String {
    query_details(
        Some(number),
        query,
        true,
        ctx.blocking.get(&query.pid),
        ctx.rules,
        ctx.timezone,
        ctx.phrases,
    )
}

/// One query's details section: who, pid, query id, since when; while it runs, for how long and
/// how to stop it.
pub(crate) fn query_details(
    number: Option<usize>,
    query: &LongQuery,
    running: bool,
    blocking: Option<&Blocking>,
    rules: &AlertRules,
    timezone: &Zone,
    p: &dyn Phrases,
) -> String {
    let mut user = user_label(query.user.as_deref(), p);
    if let Some(owner) = rules.mention_for(query.user.as_deref()) {
        user.push_str(&format!(" ({})", owner.as_str()));
    }
    let started = p.start_time(&query.start_time.to_zoned_datetime(timezone.tz().clone()));
    let queue = query.queue.as_deref().map(|q| inline_code(q, NAME_CHARS));
    let mut text = p.details(&QueryFacts {
        number,
        user: &user,
        pid: query.pid,
        query_id: query.query_id,
        started: &started,
        elapsed_minutes: query.elapsed_minutes,
        running,
        state: query.state,
        queue_minutes: query.queue_seconds.map(|s| s / 60),
        queue: queue.as_deref(),
    });
    if let Some(blocking) = blocking.filter(|_| running) {
        for holder in blocking.blocked_by.iter().take(HOLDERS_LISTED) {
            let since = holder.held_since_ts.map_or_else(
                || mrkdwn::plain(&holder.held_since, NAME_CHARS),
                |t| p.start_time(&t.to_zoned_datetime(timezone.tz().clone())),
            );
            text.push('\n');
            text.push_str(&p.blocked_by(&HolderFacts {
                pid: holder.pid,
                user: &user_label(holder.user.as_deref(), p),
                lock_mode: &mrkdwn::plain(&holder.lock_mode, NAME_CHARS),
                table: &inline_code(&holder.table, NAME_CHARS * 2),
                since: &since,
                root: holder.root,
            }));
        }
        if blocking.blocked_by.len() > HOLDERS_LISTED {
            text.push('\n');
            text.push_str(&p.blocked_by_more(blocking.blocked_by.len() - HOLDERS_LISTED));
        }
        if let Some(root) = blocking.root_pid {
            text.push('\n');
            text.push_str(&p.chain_root(root));
        }
        if blocking.blocks > 0 {
            text.push('\n');
            text.push_str(&p.blocks(blocking.blocks));
        }
    }
    text
}

/// The Cancel button of a running query, with a dialog that names it. Its value names the
/// secret, the session and the query (by its SYS id when known: it survives pid reuse) and the
/// database user, for the owner rule.
pub(crate) fn cancel_button(query: &LongQuery, secret_id: &str, p: &dyn Phrases) -> Option<Button> {
    let value = serde_json::to_string(&ButtonValue {
        secret_id: secret_id.to_owned(),
        pid: query.pid,
        query_id: query.sys_query_id.unwrap_or(query.query_id),
        sys_id: query.sys_query_id.is_some(),
        // Redshift names are at most 127 bytes; a longer value is no user the owner rule knows,
        // and would only crowd the value's 2,000 bytes.
        user: query.user.clone().filter(|u| u.len() <= NAME_CHARS),
    })
    .ok()?;
    let first_line = query
        .text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let text = p.cancel_confirm_text(
        &user_label(query.user.as_deref(), p),
        query.pid,
        query.elapsed_minutes,
        &inline_code(first_line, CONFIRM_SQL_CHARS),
    );
    Button::new(
        CANCEL_ACTION,
        p.cancel_button(),
        value,
        true,
        Confirm {
            title: p.cancel_confirm_title().to_owned(),
            text,
            yes: p.cancel_confirm_yes().to_owned(),
            no: p.cancel_confirm_no().to_owned(),
        },
    )
}

/// SQL characters in the dialog (its text holds 300 in all).
const CONFIRM_SQL_CHARS: usize = 100;

/// Holders of a lock listed per query; more are counted.
const HOLDERS_LISTED: usize = 3;

const FENCE_OPEN: &str = "```\n";
const FENCE_CLOSE: &str = "\n```";
/// Room kept under a code block for the note that says it was cut.
const NOTE_ROOM: usize = 120;

/// The query text in a code block, cut to fit one section with a visible note.
pub(crate) fn code_block(query: &LongQuery, p: &dyn Phrases) -> String {
    if query.text.trim().is_empty() {
        return p.no_text().to_owned();
    }
    let budget = SECTION_TEXT_LIMIT - utf16_len(FENCE_OPEN) - utf16_len(FENCE_CLOSE) - NOTE_ROOM;
    let (body, omitted) = code_block_body(&query.text, budget);
    let mut text = format!("{FENCE_OPEN}{body}{FENCE_CLOSE}");
    if omitted > 0 {
        text.push('\n');
        text.push_str(&p.cut_chars(omitted));
    } else if query.text_truncated {
        text.push('\n');
        text.push_str(p.cut_by_redshift());
    }
    text
}

fn unreadable_note(rows: &[Unreadable], p: &dyn Phrases) -> String {
    let mut note = p.unreadable_heading(rows.len());
    for row in rows.iter().take(UNREADABLE_LISTED) {
        note.push('\n');
        note.push_str(&p.unreadable_row(row.row, row.pid, &mrkdwn::plain(&row.problem, 200)));
    }
    if rows.len() > UNREADABLE_LISTED {
        note.push_str("\n…");
    }
    note
}

fn overflow(more: usize, shown: usize, ctx: &Context<'_>) -> Message {
    let p = ctx.phrases;
    let header = p.overflow_header(more);
    let mut message = Message::new(&header);
    message.push(Block::header(&format!(":rotating_light: {header}")));
    message.push(Block::section_with_id(
        BlockId::new("overflow"),
        &p.overflow_body(more, shown),
    ));
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::en::English;
    use crate::input::{Object, Quote};
    use crate::rules::RulesPatch;
    use crate::slack::mrkdwn::HEADER_TEXT_LIMIT;
    use serde_json::{json, Value};

    fn zone(name: &str) -> Zone {
        Zone::parse(name).unwrap()
    }

    fn query(i: usize, text: &str) -> LongQuery {
        LongQuery {
            user: Some(format!("user{i}")),
            pid: 1000 + i as i64,
            query_id: 5000 + i as i64,
            start_time: "2026-11-28T09:15:00Z".parse().unwrap(),
            elapsed_minutes: 42,
            text: text.to_owned(),
            text_truncated: false,
            ..Default::default()
        }
    }

    fn rules(value: Value) -> AlertRules {
        let patch = RulesPatch::read(&Object::new(value.as_object().unwrap(), Quote::Values));
        AlertRules::default().with(&patch.unwrap())
    }

    fn build_with(
        queries: &[LongQuery],
        tz: &Zone,
        rules: &AlertRules,
        target: &Target,
        total: Option<i64>,
    ) -> Vec<Value> {
        let ctx = Context {
            target,
            database: "dev",
            window: Window {
                min_minutes: 30,
                max_minutes: 60,
            },
            timezone: tz,
            rules,
            past_threshold_total: total,
            blocking: &BTreeMap::new(),
            cancel: None,
            phrases: &English,
        };
        build(queries, &[], &ctx)
            .iter()
            .map(Message::to_json)
            .collect()
    }

    fn plain_build(queries: &[LongQuery], tz: &str) -> Vec<Value> {
        build_with(
            queries,
            &zone(tz),
            &AlertRules::default(),
            &Target::Cluster("analytics".into()),
            None,
        )
    }

    /// Every limit Slack enforces on what we send.
    fn assert_within_slack_limits(message: &Value) {
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS, "{} blocks", blocks.len());
        assert!(!message["text"].as_str().unwrap().is_empty());
        for block in blocks {
            let limit = match block["type"].as_str().unwrap() {
                "header" => HEADER_TEXT_LIMIT,
                "section" => SECTION_TEXT_LIMIT,
                _ => continue,
            };
            let text = block["text"]["text"].as_str().unwrap();
            assert!(utf16_len(text) <= limit, "{} > {limit}", utf16_len(text));
        }
    }

    fn block<'a>(message: &'a Value, prefix: &str) -> Vec<&'a str> {
        message["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| {
                b["block_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(prefix))
            })
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect()
    }

    fn pids(messages: &[Value]) -> Vec<i64> {
        messages
            .iter()
            .flat_map(|m| m["blocks"].as_array().unwrap().iter())
            .filter_map(|b| b["block_id"].as_str()?.strip_prefix("query:"))
            .map(|id| id.split(':').nth(1).unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn nothing_found_builds_no_message() {
        assert!(plain_build(&[], "UTC").is_empty());
    }

    #[test]
    fn one_query_shows_user_pid_start_elapsed_text_and_how_to_stop_it() {
        let messages = plain_build(&[query(1, "select *\nfrom big_table")], "Asia/Tokyo");
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_within_slack_limits(m);
        let details = block(m, "query:")[0];
        assert!(
            details.contains("User `user1`") && details.contains("pid `1001`"),
            "{details}"
        );
        assert!(details.contains("query id `5001`") && details.contains("running *42 min*"));
        assert!(
            details.contains("2026-11-28 18:15:00 JST"),
            "09:15 UTC is 18:15 in Tokyo"
        );
        assert!(
            details.contains("`CANCEL 1001;`")
                && details.contains("`SELECT pg_terminate_backend(1001);`")
        );
        assert_eq!(block(m, "text:"), ["```\nselect *\nfrom big_table\n```"]);
        assert!(m["text"]
            .as_str()
            .unwrap()
            .contains("user1 pid 1001 running 42 min"));
        let context = m["blocks"][1]["elements"][0]["text"].as_str().unwrap();
        assert!(
            context.contains("Cluster `analytics`") && context.contains("30–59 min"),
            "{context}"
        );
    }

    #[test]
    fn the_total_past_the_threshold_is_shown_and_a_workgroup_named_as_such() {
        let wg = Target::Workgroup("serverless-wg".into());
        let m = &build_with(
            &[query(1, "x")],
            &zone("UTC"),
            &AlertRules::default(),
            &wg,
            Some(7),
        )[0];
        let context = m["blocks"][1]["elements"][0]["text"].as_str().unwrap();
        assert!(context.contains("Workgroup `serverless-wg`"), "{context}");
        assert!(
            context.contains("7 running past 30 min in all"),
            "{context}"
        );
    }

    #[test]
    fn mentions_ping_the_channel_once_and_each_owner_at_their_query() {
        let r = rules(
            json!({"mention": "<!subteam^S0DATA>", "user_mentions": {"user3": "<@U0THREE>"}}),
        );
        let queries: Vec<_> = (0..20).map(|i| query(i, "select 1")).collect();
        let messages = build_with(
            &queries,
            &zone("UTC"),
            &r,
            &Target::Cluster("c".into()),
            None,
        );
        assert_eq!(messages.len(), 2);
        assert_eq!(block(&messages[0], "mention"), ["<!subteam^S0DATA>"]);
        assert!(messages[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("<!subteam^S0DATA> "));
        assert!(!messages[1].to_string().contains("S0DATA"), "pinged once");
        assert!(messages[0].to_string().contains("`user3` (<@U0THREE>)"));
        assert_eq!(messages[0].to_string().matches("<@U0THREE>").count(), 1);
        messages.iter().for_each(assert_within_slack_limits);
    }

    #[test]
    fn a_100_kb_query_is_cut_visibly_within_the_section_limit() {
        let text = "select 1 union all ".repeat(100_000 / 19 + 1);
        let messages = plain_build(&[query(1, &text)], "UTC");
        assert_within_slack_limits(&messages[0]);
        let code = block(&messages[0], "text:")[0];
        assert!(code.starts_with("```\nselect 1 union all"));
        assert!(code.contains("more characters not shown"), "{code}");
    }

    #[test]
    fn text_cut_by_redshift_is_marked_even_when_it_fits() {
        let mut q = query(1, "select 1");
        q.text_truncated = true;
        let code = block(&plain_build(&[q], "UTC")[0], "text:")[0].to_owned();
        assert!(code.contains("cut:"), "{code}");
    }

    #[test]
    fn multibyte_text_is_cut_on_a_character_boundary() {
        let text = "日本語🙂".repeat(2_000);
        let messages = plain_build(&[query(1, &text)], "UTC");
        assert_within_slack_limits(&messages[0]);
        let code = block(&messages[0], "text:")[0];
        let body = code
            .trim_start_matches("```\n")
            .split("\n```")
            .next()
            .unwrap();
        assert!(
            text.starts_with(body),
            "the kept part is a prefix of whole characters"
        );
        assert!(body.chars().count() > 1000);
    }

    #[test]
    fn database_text_cannot_inject_mentions_lines_or_markup() {
        let mut q = query(1, "select '<b>' & '```' as x -- 🙂 日本");
        q.user = Some("<!channel> & co\n*evil* https://x.example \u{202e}".into());
        let m = &plain_build(&[q], "UTC")[0];
        let code = block(m, "text:")[0];
        assert!(
            code.contains("&lt;b&gt;' &amp; '`\u{200b}`\u{200b}`'"),
            "{code}"
        );
        assert_eq!(code.matches("```").count(), 2, "only the fences: {code}");
        let all = m.to_string();
        assert!(!all.contains("<!channel>"), "no mention can be smuggled in");
        let details = block(m, "query:")[0];
        assert_eq!(details.lines().count(), 3, "no injected line: {details}");
        assert!(
            details
                .contains("`&lt;!channel&gt; &amp; co *evil* https:\u{200b}//x.example \u{fffd}`"),
            "{details}"
        );
    }

    #[test]
    fn a_5000_character_user_name_keeps_every_section_within_limits() {
        let mut q = query(1, "select 1");
        q.user = Some("u".repeat(5_000));
        let messages = plain_build(&[q], "UTC");
        assert_within_slack_limits(&messages[0]);
        assert!(messages[0]["text"].as_str().unwrap().len() < 3_000);
    }

    #[test]
    fn empty_text_and_dropped_user_read_sensibly() {
        let mut q = query(1, "   ");
        q.user = None;
        let all = plain_build(&[q], "UTC")[0].to_string();
        assert!(all.contains("_(dropped user)_") && all.contains("(no query text)"));
    }

    #[test]
    fn one_hundred_twenty_queries_are_split_and_none_is_lost() {
        let queries: Vec<_> = (0..120).map(|i| query(i, &"x".repeat(2_000))).collect();
        let messages = plain_build(&queries, "UTC");
        assert_eq!(messages.len(), 120usize.div_ceil(QUERIES_PER_MESSAGE));
        for (i, m) in messages.iter().enumerate() {
            assert_within_slack_limits(m);
            let header = m["blocks"][0]["text"]["text"].as_str().unwrap();
            assert!(header.contains(&format!("part {} of {}", i + 1, messages.len())));
        }
        assert_eq!(
            pids(&messages),
            (0..120).map(|i| 1000 + i).collect::<Vec<_>>()
        );
    }

    #[test]
    fn past_the_message_cap_one_last_message_says_how_many_more() {
        let queries: Vec<_> = (0..400).map(|i| query(i, "select 1")).collect();
        let messages = plain_build(&queries, "UTC");
        assert_eq!(messages.len(), MAX_MESSAGES);
        let shown = (MAX_MESSAGES - 1) * QUERIES_PER_MESSAGE;
        assert_eq!(pids(&messages).len(), shown);
        let last = &messages[MAX_MESSAGES - 1];
        assert!(last["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{} more", 400 - shown)));
        assert!(messages[0]["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with(":rotating_light: 400 Redshift queries"));
    }

    #[test]
    fn unreadable_rows_are_reported_beside_the_readable_ones() {
        let ctx_rules = AlertRules::default();
        let tz = zone("UTC");
        let target = Target::Cluster("c".into());
        let ctx = Context {
            target: &target,
            database: "dev",
            window: Window {
                min_minutes: 30,
                max_minutes: 60,
            },
            timezone: &tz,
            rules: &ctx_rules,
            past_threshold_total: None,
            blocking: &BTreeMap::new(),
            cancel: None,
            phrases: &English,
        };
        let bad = Unreadable {
            row: 2,
            pid: Some(77),
            problem: "`start_time` is NULL".into(),
        };
        let messages = build(&[query(1, "select 1")], std::slice::from_ref(&bad), &ctx);
        let m = messages[0].to_json();
        let note = block(&m, "unreadable")[0];
        assert!(
            note.contains("1 result row could not be read") && note.contains("pid `77`"),
            "{note}"
        );
        assert_eq!(pids(&[m]), [1001]);
        let only_bad = build(&[], &[bad], &ctx);
        assert_eq!(only_bad.len(), 1, "an unreadable row alone is still said");
    }

    #[test]
    fn start_times_follow_the_time_zone() {
        let t: jiff::Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
        let shown = |tz: &str| English.start_time(&t.to_zoned_datetime(zone(tz).tz().clone()));
        assert_eq!(shown("UTC"), "2026-07-01 12:00:00 UTC");
        assert_eq!(shown("Asia/Tokyo"), "2026-07-01 21:00:00 JST");
        assert_eq!(shown("Europe/Paris"), "2026-07-01 14:00:00 CEST");
        assert_eq!(shown("America/New_York"), "2026-07-01 08:00:00 EDT");
    }
}
