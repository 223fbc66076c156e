//! Every phrase a Slack reader sees, one table per language. Layout code (a check's
//! `message.rs`) decides where things go and renders values from outside safely; a table says
//! them in its language. Logs, errors and the JSON summary are not here: they stay English.
//!
//! Values passed in are already safe mrkdwn (escaped, in code spans): a table only adds words.

pub mod en;
pub mod ja;

use crate::interaction::Outcome as CancelOutcome;
use crate::long_queries::ended::Outcome;
use crate::model::{Language, QueryState, Window};

/// The phrase table of `language`. Adding a language is adding its table here and in
/// [`Language`]; the tests run every table.
pub fn table(language: Language) -> &'static dyn Phrases {
    match language {
        Language::En => &en::English,
        Language::Ja => &ja::Japanese,
    }
}

/// Facts for a message's context line.
#[derive(Debug, Clone, Copy)]
pub struct ContextFacts<'a> {
    /// `true` for a Serverless workgroup, `false` for a provisioned cluster.
    pub serverless: bool,
    /// The cluster or workgroup name, as an inline code span.
    pub target: &'a str,
    /// The database, as an inline code span.
    pub database: &'a str,
    pub window: Window,
    /// The time zone's name, escaped.
    pub timezone: &'a str,
    /// How many queries run past the threshold in all, when known.
    pub past_threshold_total: Option<i64>,
}

/// Facts for one query's details section.
#[derive(Debug, Clone, Copy)]
pub struct QueryFacts<'a> {
    /// Its place in the run's list, from 1 (`None` in a message of its own).
    pub number: Option<usize>,
    /// The user as an inline code span, or the table's dropped-user label; then any mention.
    pub user: &'a str,
    pub pid: i64,
    pub query_id: i64,
    /// The start time, rendered by [`Phrases::start_time`].
    pub started: &'a str,
    pub elapsed_minutes: i64,
    /// Still running: say for how long and how to stop it.
    pub running: bool,
    pub state: QueryState,
    /// Whole minutes it waited in its WLM queue, when the views say.
    pub queue_minutes: Option<i64>,
    /// Its WLM queue's name as an inline code span, when the views say.
    pub queue: Option<&'a str>,
}

/// Who holds a lock a reported query waits for.
#[derive(Debug, Clone, Copy)]
pub struct HolderFacts<'a> {
    pub pid: i64,
    /// The holder as an inline code span, or the table's dropped-user label.
    pub user: &'a str,
    pub lock_mode: &'a str,
    /// The table as an inline code span.
    pub table: &'a str,
    /// When its transaction began, rendered by [`Phrases::start_time`].
    pub since: &'a str,
    /// It is itself past the threshold: the root of the pile-up.
    pub root: bool,
}

/// A session idle in an open transaction.
#[derive(Debug, Clone, Copy)]
pub struct IdleFacts<'a> {
    pub pid: i64,
    /// The user as an inline code span, or the table's dropped-user label.
    pub user: &'a str,
    pub idle_minutes: i64,
    /// When its transaction began, rendered by [`Phrases::start_time`].
    pub transaction_start: &'a str,
    /// The tables it holds locks on, as inline code spans joined by the layout.
    pub tables: &'a str,
    /// Locked tables not named.
    pub more_tables: usize,
    pub sessions_blocked: i64,
}

/// Where a thread-mode query stands, for its parent message's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadState {
    Running {
        minutes: i64,
        critical: bool,
        /// Still waiting in its WLM queue.
        queued: bool,
    },
    Ended {
        outcome: Outcome,
        minutes: Option<i64>,
    },
}

/// Facts for a thread-mode parent's context line.
#[derive(Debug, Clone, Copy)]
pub struct ThreadContextFacts<'a> {
    pub serverless: bool,
    pub target: &'a str,
    pub database: &'a str,
    pub threshold_minutes: u32,
    pub critical_minutes: u32,
    /// The time zone's name, escaped.
    pub timezone: &'a str,
    /// When a run last looked, rendered by [`Phrases::clock_time`].
    pub checked: &'a str,
}

/// One language's phrases.
pub trait Phrases: Sync {
    /// `3 Redshift queries running for 30+ min`.
    fn header(&self, count: usize, min_minutes: u32) -> String;
    /// Appended to the header of a message that is one of several: ` (part 2 of 3)`.
    fn part(&self, part: usize, parts: usize) -> String;
    /// The line under the header: where, which window, which time zone, how many in all.
    fn context(&self, facts: &ContextFacts<'_>) -> String;
    /// One query: who, pid, query id, since when, how long, and how to stop it.
    fn details(&self, facts: &QueryFacts<'_>) -> String;
    /// A start time in the run's time zone, as readers of this language write it.
    fn start_time(&self, at: &jiff::ZonedDateTime) -> String;
    /// Stands for the user of a query whose user was dropped.
    fn dropped_user(&self) -> &'static str;
    /// Stands for an empty query text.
    fn no_text(&self) -> &'static str;
    /// Under a code block cut to fit: how many characters are not shown.
    fn cut_chars(&self, omitted: usize) -> String;
    /// Under a code block whose text Redshift itself only partly gave.
    fn cut_by_redshift(&self) -> &'static str;
    /// The first line of the notification text: `{header} on {target}/{database}:`.
    fn fallback_intro(&self, header: &str, target: &str, database: &str) -> String;
    /// One query in the notification text.
    fn fallback_line(&self, number: usize, user: &str, pid: i64, elapsed_minutes: i64) -> String;
    /// Rows the run could not read, as a heading for their list.
    fn unreadable_heading(&self, count: usize) -> String;
    /// One unreadable row: its number in the result, its pid if known, what was wrong.
    fn unreadable_row(&self, row: usize, pid: Option<i64>, problem: &str) -> String;
    /// Header of the message that stands for queries past the per-run message cap.
    fn overflow_header(&self, more: usize) -> String;
    /// Its body: where to find the rest.
    fn overflow_body(&self, more: usize, shown: usize) -> String;

    // What a query waits for, and whom it keeps waiting (the blocking check).
    /// One holder of a lock the query waits for.
    fn blocked_by(&self, holder: &HolderFacts<'_>) -> String;
    /// Holders past those listed.
    fn blocked_by_more(&self, more: usize) -> String;
    /// How many other sessions wait for the query's locks.
    fn blocks(&self, sessions: usize) -> String;
    /// Where a chain of waits starts, when none of the query's own holders is its root.
    fn chain_root(&self, pid: i64) -> String;

    // Sessions idle in a transaction (their own message).
    /// `2 sessions idle in a transaction for 30+ min, holding locks`.
    fn idle_header(&self, count: usize, min_minutes: u32) -> String;
    /// The line under it: where, and which time zone (no window: idle sessions run nothing).
    fn idle_context(&self, facts: &ContextFacts<'_>) -> String;
    /// Between the items of an inline list (table names).
    fn list_separator(&self) -> &'static str;
    /// One session: who, since when, what it holds, whom it blocks, how to end it.
    fn idle_session(&self, facts: &IdleFacts<'_>) -> String;
    /// One session in the notification text.
    fn idle_fallback_line(&self, pid: i64, user: &str, idle_minutes: i64) -> String;
    /// Sessions past those listed.
    fn idle_more(&self, more: usize) -> String;

    // The Cancel button.
    /// The button's label.
    fn cancel_button(&self) -> &'static str;
    /// The confirmation dialog's title.
    fn cancel_confirm_title(&self) -> &'static str;
    /// The dialog's text: which query (`user` a code span or the dropped-user label, `sql` the
    /// first line of its text as a code span).
    fn cancel_confirm_text(&self, user: &str, pid: i64, elapsed_minutes: i64, sql: &str) -> String;
    /// The dialog's two choices.
    fn cancel_confirm_yes(&self) -> &'static str;
    fn cancel_confirm_no(&self) -> &'static str;
    /// What the thread (or the clicker) is told, `who` a mention, `at` rendered by
    /// [`Phrases::clock_time`].
    fn cancel_reply(&self, outcome: CancelOutcome, who: &str, pid: i64, at: &str) -> String;

    // Thread mode.
    /// The parent's header: the query's state and how long it ran.
    fn thread_header(&self, state: ThreadState) -> String;
    /// The parent's context line.
    fn thread_context(&self, facts: &ThreadContextFacts<'_>) -> String;
    /// The parent's notification text.
    fn thread_fallback(&self, header: &str, target: &str, database: &str) -> String;
    /// A time of day as this language writes it, with the zone (`10:05 UTC`).
    fn clock_time(&self, at: &jiff::ZonedDateTime) -> String;
    /// The reply at the critical point; `mentions` may be empty.
    fn critical_reply(&self, mentions: &str, minutes: i64, critical_minutes: u32) -> String;
    /// The reply when the query ended; `ended` is rendered by [`Phrases::clock_time`].
    fn ended_reply(&self, outcome: Outcome, minutes: Option<i64>, ended: Option<&str>) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Window;

    /// Every phrase of a table, said with the same facts: a table that left one out (or said it
    /// in English) shows up here.
    fn every_phrase(p: &dyn Phrases) -> Vec<(&'static str, String)> {
        let at: jiff::Timestamp = "2026-11-28T09:15:00Z".parse().unwrap();
        let zoned = at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let window = Window {
            min_minutes: 30,
            max_minutes: 60,
        };
        let context = ContextFacts {
            serverless: false,
            target: "`analytics`",
            database: "`dev`",
            window,
            timezone: "UTC",
            past_threshold_total: Some(4),
        };
        let facts = |running| QueryFacts {
            number: Some(1),
            user: "`alice`",
            pid: 4242,
            query_id: 99,
            started: "2026-11-28 09:15",
            elapsed_minutes: 65,
            running,
            state: QueryState::Running,
            queue_minutes: None,
            queue: None,
        };
        let thread_context = ThreadContextFacts {
            serverless: true,
            target: "`wg`",
            database: "`dev`",
            threshold_minutes: 30,
            critical_minutes: 60,
            timezone: "UTC",
            checked: "10:05 UTC",
        };
        let mut said = vec![
            ("header", p.header(3, 30)),
            ("part", p.part(2, 3)),
            ("context", p.context(&context)),
            ("details", p.details(&facts(true))),
            ("details (ended)", p.details(&facts(false))),
            ("start_time", p.start_time(&zoned)),
            ("dropped_user", p.dropped_user().to_owned()),
            ("no_text", p.no_text().to_owned()),
            ("cut_chars", p.cut_chars(120)),
            ("cut_by_redshift", p.cut_by_redshift().to_owned()),
            ("fallback_intro", p.fallback_intro("H", "analytics", "dev")),
            ("fallback_line", p.fallback_line(1, "alice", 4242, 65)),
            ("unreadable_heading", p.unreadable_heading(2)),
            ("unreadable_row", p.unreadable_row(3, Some(7), "x")),
            ("overflow_header", p.overflow_header(9)),
            ("overflow_body", p.overflow_body(9, 135)),
            ("thread_context", p.thread_context(&thread_context)),
            ("thread_fallback", p.thread_fallback("H", "wg", "dev")),
            ("clock_time", p.clock_time(&zoned)),
            ("critical_reply", p.critical_reply("<!here>", 61, 60)),
        ];
        for (critical, queued) in [(false, false), (true, false), (false, true)] {
            said.push((
                "thread_header (running)",
                p.thread_header(ThreadState::Running {
                    minutes: 61,
                    critical,
                    queued,
                }),
            ));
        }
        for state in [QueryState::Queued, QueryState::Returning] {
            said.push((
                "details (state)",
                p.details(&QueryFacts {
                    state,
                    queue_minutes: Some(3),
                    queue: Some("`etl`"),
                    ..facts(true)
                }),
            ));
        }
        let holder = |root| HolderFacts {
            pid: 7,
            user: "`etl`",
            lock_mode: "AccessExclusiveLock",
            table: "`public.orders`",
            since: "09:00",
            root,
        };
        said.push(("blocked_by", p.blocked_by(&holder(false))));
        said.push(("blocked_by (root)", p.blocked_by(&holder(true))));
        said.push(("blocked_by_more", p.blocked_by_more(2)));
        said.push(("blocks", p.blocks(3)));
        said.push(("chain_root", p.chain_root(7)));
        said.push(("idle_context", p.idle_context(&context)));
        said.push(("list_separator", p.list_separator().to_owned()));
        said.push(("idle_header", p.idle_header(2, 30)));
        said.push((
            "idle_session",
            p.idle_session(&IdleFacts {
                pid: 9,
                user: "`bob`",
                idle_minutes: 75,
                transaction_start: "08:45",
                tables: "`public.orders`",
                more_tables: 1,
                sessions_blocked: 2,
            }),
        ));
        said.push(("idle_fallback_line", p.idle_fallback_line(9, "bob", 75)));
        said.push(("idle_more", p.idle_more(4)));
        said.push(("cancel_button", p.cancel_button().to_owned()));
        said.push(("cancel_confirm_title", p.cancel_confirm_title().to_owned()));
        said.push((
            "cancel_confirm_text",
            p.cancel_confirm_text("`alice`", 7, 65, "`select 1`"),
        ));
        said.push(("cancel_confirm_yes", p.cancel_confirm_yes().to_owned()));
        said.push(("cancel_confirm_no", p.cancel_confirm_no().to_owned()));
        for outcome in [
            CancelOutcome::Cancelled,
            CancelOutcome::AlreadyEnded,
            CancelOutcome::Pending,
            CancelOutcome::Failed,
            CancelOutcome::NotAllowed,
            CancelOutcome::NotConfigured,
        ] {
            said.push((
                "cancel_reply",
                p.cancel_reply(outcome, "<@U0A>", 7, "10:05"),
            ));
        }
        for outcome in [
            Outcome::Finished,
            Outcome::Failed,
            Outcome::Cancelled,
            Outcome::Unknown,
        ] {
            for minutes in [Some(65), None] {
                said.push((
                    "thread_header (ended)",
                    p.thread_header(ThreadState::Ended { outcome, minutes }),
                ));
            }
            said.push((
                "ended_reply",
                p.ended_reply(outcome, Some(65), Some("10:20")),
            ));
        }
        said
    }

    #[test]
    fn every_table_says_every_phrase_and_in_its_own_words() {
        let english = every_phrase(table(Language::En));
        for language in Language::ALL {
            let said = every_phrase(table(language));
            assert_eq!(said.len(), english.len());
            for ((name, text), (_, in_english)) in said.iter().zip(&english) {
                assert!(!text.trim().is_empty(), "{language:?}: {name} is empty");
                // Times and the separator between them are the same in every language.
                let language_neutral = *name == "clock_time";
                if language != Language::En && !language_neutral {
                    assert_ne!(text, in_english, "{language:?}: {name} is still English");
                }
            }
        }
    }

    #[test]
    fn japanese_durations_counters_and_brackets() {
        let ja = table(Language::Ja);
        assert_eq!(ja.header(3, 30), "30分以上実行中のRedshiftクエリ：3件");
        assert_eq!(ja.part(2, 3), "（2/3）");
        assert!(ja
            .details(&QueryFacts {
                number: None,
                user: "`a`",
                pid: 1,
                query_id: 2,
                started: "s",
                elapsed_minutes: 65,
                running: true,
                state: QueryState::Running,
                queue_minutes: None,
                queue: None,
            })
            .contains("実行時間 *1時間5分*"));
    }
}
