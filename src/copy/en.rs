//! English.

use super::{
    ContextFacts, HolderFacts, IdleFacts, Phrases, QueryFacts, ThreadContextFacts, ThreadState,
};
use crate::interaction::Outcome as CancelOutcome;
use crate::long_queries::ended::Outcome;
use crate::model::QueryState;

pub struct English;

fn queries(count: usize) -> &'static str {
    if count == 1 {
        "query"
    } else {
        "queries"
    }
}

impl Phrases for English {
    fn header(&self, count: usize, min_minutes: u32) -> String {
        format!(
            "{count} Redshift {} running for {min_minutes}+ min",
            queries(count)
        )
    }

    fn part(&self, part: usize, parts: usize) -> String {
        format!(" (part {part} of {parts})")
    }

    fn context(&self, f: &ContextFacts<'_>) -> String {
        let kind = if f.serverless { "Workgroup" } else { "Cluster" };
        let mut line = format!(
            "{kind} {} · database {} · elapsed {}–{} min · times in {}",
            f.target,
            f.database,
            f.window.min_minutes,
            f.window.max_minutes.saturating_sub(1),
            f.timezone
        );
        if let Some(all) = f.past_threshold_total {
            line.push_str(&format!(
                " · {all} running past {} min in all",
                f.window.min_minutes
            ));
        }
        line
    }

    fn details(&self, f: &QueryFacts<'_>) -> String {
        let pid = f.pid;
        let number = f.number.map(|n| format!("*{n}.* ")).unwrap_or_default();
        let who = format!(
            "{number}User {} · pid `{pid}` · query id `{}`",
            f.user, f.query_id
        );
        if !f.running {
            return format!("{who}\nStarted {}", f.started);
        }
        let queue = f.queue.map(|q| format!(" {q}")).unwrap_or_default();
        let how = match f.state {
            QueryState::Queued => format!(
                "Submitted {} · *waiting in queue{queue} for {} min*",
                f.started, f.elapsed_minutes
            ),
            state => {
                let mut line = format!(
                    "Started {} · running *{} min*",
                    f.started, f.elapsed_minutes
                );
                if state == QueryState::Returning {
                    line.push_str(", returning its rows");
                }
                if let Some(waited) = f.queue_minutes.filter(|m| *m > 0) {
                    line.push_str(&format!(" (after {waited} min in queue{queue})"));
                }
                line
            }
        };
        format!(
            "{who}\n{how}\n\
             Stop it: `CANCEL {pid};` or `SELECT pg_terminate_backend({pid});`"
        )
    }

    fn blocked_by(&self, h: &HolderFacts<'_>) -> String {
        let root = if h.root { " — *the root*" } else { "" };
        format!(
            ":lock: Waits for a lock on {}: held by pid `{}` ({}, {}, since {}){root}",
            h.table, h.pid, h.user, h.lock_mode, h.since
        )
    }

    fn blocked_by_more(&self, more: usize) -> String {
        format!(":lock: … and {more} more holders")
    }

    fn blocks(&self, sessions: usize) -> String {
        let s = if sessions == 1 {
            "session waits"
        } else {
            "sessions wait"
        };
        format!(":no_entry: Blocks others: {sessions} {s} for its locks")
    }

    fn chain_root(&self, pid: i64) -> String {
        format!(":link: The pile-up starts at pid `{pid}`, *the root*")
    }

    fn idle_context(&self, f: &ContextFacts<'_>) -> String {
        let kind = if f.serverless { "Workgroup" } else { "Cluster" };
        format!(
            "{kind} {} · database {} · times in {}",
            f.target, f.database, f.timezone
        )
    }

    fn list_separator(&self) -> &'static str {
        ", "
    }

    fn idle_header(&self, count: usize, min_minutes: u32) -> String {
        let s = if count == 1 { "session" } else { "sessions" };
        format!("{count} {s} idle in a transaction for {min_minutes}+ min, holding locks")
    }

    fn idle_session(&self, f: &IdleFacts<'_>) -> String {
        let pid = f.pid;
        let more = if f.more_tables > 0 {
            format!(" and {} more", f.more_tables)
        } else {
            String::new()
        };
        let blocked = match f.sessions_blocked {
            0 => String::new(),
            1 => " · *blocks 1 session*".to_owned(),
            n => format!(" · *blocks {n} sessions*"),
        };
        format!(
            "User {} · pid `{pid}` · idle *{} min* in a transaction open since {}\n\
             Holds locks on {}{more}{blocked}\n\
             End it: `SELECT pg_terminate_backend({pid});` (rolls its transaction back)",
            f.user, f.idle_minutes, f.transaction_start, f.tables
        )
    }

    fn idle_fallback_line(&self, pid: i64, user: &str, idle_minutes: i64) -> String {
        format!("{user} pid {pid} idle {idle_minutes} min")
    }

    fn idle_more(&self, more: usize) -> String {
        format!("… and {more} more idle sessions, listed in the run's JSON summary")
    }

    fn start_time(&self, at: &jiff::ZonedDateTime) -> String {
        at.strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
    }

    fn dropped_user(&self) -> &'static str {
        "(dropped user)"
    }

    fn no_text(&self) -> &'static str {
        "_(no query text)_"
    }

    fn cut_chars(&self, omitted: usize) -> String {
        format!("_… cut: {omitted} more characters not shown_")
    }

    fn cut_by_redshift(&self) -> &'static str {
        "_… cut: the query is longer than Redshift's text shown here_"
    }

    fn fallback_intro(&self, header: &str, target: &str, database: &str) -> String {
        format!("{header} on {target}/{database}:")
    }

    fn fallback_line(&self, number: usize, user: &str, pid: i64, elapsed_minutes: i64) -> String {
        format!("{number}. {user} pid {pid} running {elapsed_minutes} min")
    }

    fn unreadable_heading(&self, count: usize) -> String {
        let rows = if count == 1 { "row" } else { "rows" };
        format!(":warning: {count} result {rows} could not be read (the other queries are shown):")
    }

    fn unreadable_row(&self, row: usize, pid: Option<i64>, problem: &str) -> String {
        match pid {
            Some(pid) => format!("• row {row} (pid `{pid}`): {problem}"),
            None => format!("• row {row}: {problem}"),
        }
    }

    fn overflow_header(&self, more: usize) -> String {
        format!("… and {more} more long-running {}", queries(more))
    }

    fn overflow_body(&self, more: usize, shown: usize) -> String {
        format!(
            "Only the first {shown} queries are posted per run; {more} more are listed in the \
             run's JSON summary and counted in its metrics."
        )
    }

    fn cancel_button(&self) -> &'static str {
        "Cancel query"
    }

    fn cancel_confirm_title(&self) -> &'static str {
        "Cancel this query?"
    }

    fn cancel_confirm_text(&self, user: &str, pid: i64, elapsed_minutes: i64, sql: &str) -> String {
        format!(
            "User {user} · pid `{pid}` · running {}\n{sql}\nIts transaction is rolled back.",
            duration(elapsed_minutes)
        )
    }

    fn cancel_confirm_yes(&self) -> &'static str {
        "Cancel it"
    }

    fn cancel_confirm_no(&self) -> &'static str {
        "Keep it running"
    }

    fn cancel_reply(&self, outcome: CancelOutcome, who: &str, pid: i64, at: &str) -> String {
        match outcome {
            CancelOutcome::Cancelled => {
                format!(":octagonal_sign: Cancelled by {who} at {at} (pid `{pid}`).")
            }
            CancelOutcome::AlreadyEnded => format!(
                ":information_source: {who} asked to cancel at {at}, but the query had already \
                 ended (pid `{pid}` no longer runs it): nothing was cancelled."
            ),
            CancelOutcome::Pending => format!(
                ":hourglass: Cancel requested by {who} at {at} (pid `{pid}`); Redshift had not \
                 confirmed it yet. The next check shows how the query ended."
            ),
            CancelOutcome::Failed => format!(
                ":warning: {who} asked to cancel at {at}, but Redshift refused or failed the \
                 cancel (pid `{pid}`): nothing was cancelled. The function's log says why."
            ),
            CancelOutcome::NotAllowed => format!(
                ":no_entry: {who}, you are not allowed to cancel queries here: nothing was done."
            ),
            CancelOutcome::NotConfigured => format!(
                ":no_entry: {who}, cancelling is not set up for this cluster (no cancel identity \
                 in the secret): nothing was done."
            ),
        }
    }

    fn thread_header(&self, state: ThreadState) -> String {
        match state {
            ThreadState::Running {
                minutes,
                queued: true,
                ..
            } => format!(
                ":hourglass_flowing_sand: Redshift query waiting in its queue for {}",
                duration(minutes)
            ),
            ThreadState::Running {
                minutes,
                critical: false,
                ..
            } => format!(
                ":hourglass_flowing_sand: Redshift query running for {}",
                duration(minutes)
            ),
            ThreadState::Running {
                minutes,
                critical: true,
                ..
            } => format!(
                ":rotating_light: Redshift query still running after {}",
                duration(minutes)
            ),
            ThreadState::Ended { outcome, minutes } => {
                let (icon, what) = match outcome {
                    Outcome::Finished => (":white_check_mark:", "finished"),
                    Outcome::Failed => (":x:", "failed"),
                    Outcome::Cancelled => (":no_entry_sign:", "cancelled"),
                    Outcome::Unknown => {
                        return match minutes {
                            Some(m) => format!(
                            ":grey_question: Redshift query no longer running (ran at least {})",
                            duration(m)
                        ),
                            None => ":grey_question: Redshift query no longer running".to_owned(),
                        }
                    }
                };
                match minutes {
                    Some(m) => format!("{icon} Redshift query {what} after {}", duration(m)),
                    None => format!("{icon} Redshift query {what}"),
                }
            }
        }
    }

    fn thread_context(&self, f: &ThreadContextFacts<'_>) -> String {
        let kind = if f.serverless { "Workgroup" } else { "Cluster" };
        format!(
            "{kind} {} · database {} · alert at {} min, critical at {} min · times in {} · \
             last checked {}",
            f.target, f.database, f.threshold_minutes, f.critical_minutes, f.timezone, f.checked
        )
    }

    fn thread_fallback(&self, header: &str, target: &str, database: &str) -> String {
        format!("{header} on {target}/{database}")
    }

    fn clock_time(&self, at: &jiff::ZonedDateTime) -> String {
        at.strftime("%H:%M %Z").to_string()
    }

    fn critical_reply(&self, mentions: &str, minutes: i64, critical_minutes: u32) -> String {
        let lead = if mentions.is_empty() {
            String::new()
        } else {
            format!("{mentions} ")
        };
        format!(
            "{lead}:rotating_light: Still running after {}: past the critical point of \
             {critical_minutes} min.",
            duration(minutes)
        )
    }

    fn ended_reply(&self, outcome: Outcome, minutes: Option<i64>, ended: Option<&str>) -> String {
        let after = minutes
            .map(|m| format!(" after {}", duration(m)))
            .unwrap_or_default();
        let at = ended.map(|t| format!(" at {t}")).unwrap_or_default();
        match outcome {
            Outcome::Finished => format!(":white_check_mark: Finished{at}{after}."),
            Outcome::Failed => format!(":x: Failed{at}{after}."),
            Outcome::Cancelled => format!(":no_entry_sign: Cancelled{at}{after}."),
            Outcome::Unknown => format!(
                ":grey_question: No longer running{after}; the system views no longer say how it \
                 ended."
            ),
        }
    }
}

/// `45 min`, `1 h 5 min`, `2 h`.
fn duration(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}
