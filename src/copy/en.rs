//! English.

use super::{ContextFacts, Phrases, QueryFacts};

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
        format!(
            "*{}.* User {} · pid `{pid}` · query id `{}`\nStarted {} · running *{} min*\n\
             Stop it: `CANCEL {pid};` or `SELECT pg_terminate_backend({pid});`",
            f.number, f.user, f.query_id, f.started, f.elapsed_minutes
        )
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
}
