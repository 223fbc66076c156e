//! What a run found and did: returned by the Lambda function, printed by the CLI. It never holds
//! a query's text or anything read from the secret.

use serde::Serialize;
use serde_json::Value;

use crate::blocking::{Blocking, Holder};
use crate::idle_transactions::IdleTransaction;
use crate::long_queries::ended::Outcome;
use crate::long_queries::{LongQuery, Unreadable};
use crate::model::{Checks, Language, QueryState, Views, Window};

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub secret_id: String,
    pub threshold_minutes: u32,
    pub window: Window,
    pub alert_mode: &'static str,
    /// The time elapsed minutes were measured from, in `once` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    pub views: Views,
    pub timezone: String,
    pub statement_id: String,
    pub statement_wait_ms: u64,
    pub describe_calls: u32,
    pub queries: Vec<QuerySummary>,
    /// Rows left out by `exclude_users` or per-user thresholds.
    pub queries_skipped: usize,
    /// Rows that could not be read; the other queries were still reported.
    pub unreadable_rows: Vec<Unreadable>,
    /// How many queries run past the base threshold in all, in the window or not.
    pub queries_past_threshold: Option<i64>,
    /// Reported queries beyond the per-run message cap: listed here, not posted.
    pub queries_not_posted: usize,
    pub messages_posted: usize,
    pub dry_run: bool,
    /// The messages that would have been posted; only in a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Value>>,
    /// How many dry-run messages were left out to keep the Lambda answer small.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_omitted: Option<usize>,
    /// How many entries of `queries` were left out to keep the Lambda answer small.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queries_omitted: Option<usize>,
    /// The language of the Slack messages (the summary itself is always English).
    pub language: Language,
    /// Which checks ran beside the long-query check.
    pub checks: Checks,
    /// Sessions idle in an open transaction past the threshold, holding locks.
    pub idle_transactions: Vec<IdleTransaction>,

    /// What thread mode did (or, in a dry run, would do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<ThreadSummary>,
}

/// Thread mode's work in one run, counted.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ThreadSummary {
    /// Queries the channel follows in this target (the state's items, ended ones included).
    pub followed: usize,
    /// New parent messages.
    pub posted: usize,
    /// Parents updated in place.
    pub updated: usize,
    /// Critical replies.
    pub escalated: usize,
    /// Queries found ended, parent and thread told.
    pub ended: Vec<EndedSummary>,
    /// Parents deleted by hand and posted again.
    pub reposted: usize,
    /// Left to another run that holds them.
    pub busy: usize,
    /// New parents past the per-run cap, left to the next run.
    pub deferred: usize,
    /// Claims of dead runs whose query is gone, removed.
    pub abandoned: usize,
    /// DynamoDB calls: reads (`Query` pages) and conditional writes.
    pub state_reads: usize,
    pub state_writes: usize,
    /// Extra statements to look up how queries ended (0 or 1).
    pub lookup_statements: usize,
}

/// A followed query that ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EndedSummary {
    pub pid: i64,
    pub query_id: i64,
    pub outcome: Outcome,
    /// How long it ran, when known (for `unknown`: at least this long).
    pub minutes: Option<i64>,
}

/// One long-running query, without its text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuerySummary {
    pub user: Option<String>,
    pub pid: i64,
    pub query_id: i64,
    pub start_time: String,
    pub elapsed_minutes: i64,
    pub text_chars: usize,
    pub text_truncated: bool,
    pub state: QueryState,
    /// How long it waited in its WLM queue (so far, when still queued), when the views say.
    pub queue_seconds: Option<i64>,
    /// Its WLM queue, when the views say (Serverless has none).
    pub queue: Option<String>,
    /// Who holds the locks it waits for (the blocking check).
    pub blocked_by: Vec<Holder>,
    /// How many other sessions wait for its locks.
    pub blocks: usize,
    /// Where the pile-up it waits in starts, when none of its own holders is that root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking_root_pid: Option<i64>,
}

impl From<&LongQuery> for QuerySummary {
    fn from(q: &LongQuery) -> Self {
        QuerySummary::new(q, None)
    }
}

impl QuerySummary {
    pub fn new(q: &LongQuery, blocking: Option<&Blocking>) -> Self {
        QuerySummary {
            blocked_by: blocking.map(|b| b.blocked_by.clone()).unwrap_or_default(),
            blocks: blocking.map_or(0, |b| b.blocks),
            blocking_root_pid: blocking.and_then(|b| b.root_pid),
            user: q.user.clone(),
            pid: q.pid,
            query_id: q.query_id,
            start_time: q.start_time.to_string(),
            elapsed_minutes: q.elapsed_minutes,
            text_chars: q.text.chars().count(),
            text_truncated: q.text_truncated,
            state: q.state,
            queue_seconds: q.queue_seconds,
            queue: q.queue.clone(),
        }
    }
}
