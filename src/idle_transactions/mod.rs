//! The idle-transaction check: sessions that ran a statement inside a transaction, then went
//! quiet without ending it. They run nothing, so no long-query list shows them, yet they hold
//! their locks: `VACUUM`, DDL and writers on those tables wait behind them.
//!
//! An open transaction is the `ExclusiveLock` on its own `transactionid` that `SVV_TRANSACTIONS`
//! lists (granted); a session is idle when `SYS_QUERY_HISTORY` shows it running nothing, and
//! idle since its last statement ended (or since its transaction began, when the history has
//! none). Only sessions idle for `:threshold_minutes` or more that hold a table lock are
//! reported, one row per locked table, with how many sessions wait for them.

pub mod message;

use std::collections::BTreeMap;

use crate::long_queries::row::parse_redshift_timestamp;
use crate::redshift::{MissingColumn, ResultSet};

/// Rows read at most (one per idle session and locked table).
pub const MAX_ROWS: usize = 500;
/// Tables named per session; more are counted.
pub const TABLES_NAMED: usize = 10;

/// One session idle in an open transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdleTransaction {
    pub pid: i64,
    pub user: Option<String>,
    pub idle_minutes: i64,
    /// When its transaction began.
    pub transaction_start: String,
    /// The tables it holds locks on (`schema.table`), at most [`TABLES_NAMED`].
    pub locked_tables: Vec<String>,
    /// Locked tables past [`TABLES_NAMED`].
    pub more_tables: usize,
    /// Other sessions waiting for a lock it holds.
    pub sessions_blocked: i64,
    #[serde(skip)]
    pub transaction_start_ts: Option<jiff::Timestamp>,
}

/// The check's part of the run's statement (`:threshold_minutes`; `now` is the statement's
/// clock): one row per idle session and locked table, at most [`MAX_ROWS`].
pub fn ctes(now: &str) -> String {
    let conflict = crate::blocking::conflicts("w.lock_mode", "h.lock_mode");
    format!(
        "\
open_transactions AS (
    SELECT DISTINCT pid, TRIM(txn_owner) AS user_name, txn_start
    FROM svv_transactions
    WHERE lockable_object_type = 'transactionid'
      AND granted
      AND pid <> pg_backend_pid()
),
busy AS (
    SELECT DISTINCT session_id
    FROM sys_query_history
    WHERE status IN ('running', 'queued', 'returning', 'planning')
),
last_end AS (
    SELECT session_id, MAX(end_time) AS last_end
    FROM sys_query_history
    WHERE session_id IN (SELECT pid FROM open_transactions)
    GROUP BY session_id
),
idle AS (
    SELECT o.pid,
           o.user_name,
           o.txn_start,
           DATEDIFF(second, COALESCE(l.last_end, o.txn_start), {now}) / 60 AS idle_minutes
    FROM open_transactions o
    LEFT JOIN last_end l ON l.session_id = o.pid
    WHERE o.pid NOT IN (SELECT session_id FROM busy)
),
held AS (
    SELECT pid, relation, TRIM(lock_mode) AS lock_mode
    FROM svv_transactions
    WHERE lockable_object_type = 'relation' AND granted
),
wanted AS (
    SELECT pid, relation, TRIM(lock_mode) AS lock_mode
    FROM svv_transactions
    WHERE lockable_object_type = 'relation' AND NOT granted
),
blocked AS (
    SELECT h.pid, COUNT(DISTINCT w.pid) AS sessions_blocked
    FROM held h
    JOIN wanted w
      ON w.relation = h.relation
     AND w.pid <> h.pid
     AND {conflict}
    GROUP BY h.pid
),
idle_rows AS (
    SELECT i.pid,
           i.user_name,
           i.txn_start,
           i.idle_minutes,
           COALESCE(TRIM(n.nspname) || '.' || TRIM(c.relname), CAST(h.relation AS VARCHAR))
               AS table_name,
           COALESCE(b.sessions_blocked, 0) AS sessions_blocked
    FROM idle i
    JOIN held h ON h.pid = i.pid
    LEFT JOIN pg_class c ON c.oid = h.relation
    LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN blocked b ON b.pid = i.pid
    WHERE i.idle_minutes >= CAST(:threshold_minutes AS INTEGER)
    ORDER BY i.txn_start, i.pid, table_name
    LIMIT {MAX_ROWS}
)"
    )
}

/// The check's rows in the run's result (`row_kind = 'idle'`): the session's user, pid,
/// transaction start (`start_time`) and idle minutes (`elapsed_minutes`).
pub fn rows() -> String {
    crate::long_queries::sql::side_row(
        "user_name",
        "pid",
        "txn_start",
        "idle_minutes",
        KIND,
        [
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "table_name",
            "sessions_blocked",
        ],
        "idle_rows",
    )
}

/// This check's `row_kind`.
pub const KIND: &str = "idle";

/// Reads the rows into sessions, oldest transaction first.
pub fn read(set: &ResultSet) -> Result<Vec<IdleTransaction>, MissingColumn> {
    let Some(kind) = set.column("row_kind") else {
        return Ok(Vec::new());
    };
    let [pid, user, start, idle, table, blocked] = [
        set.require("pid")?,
        set.require("user_name")?,
        set.require("start_time")?,
        set.require("elapsed_minutes")?,
        set.require("table_name")?,
        set.require("sessions_blocked")?,
    ];
    let mut sessions: Vec<IdleTransaction> = Vec::new();
    let mut index: BTreeMap<i64, usize> = BTreeMap::new();
    for row in &set.rows {
        let text = |i: usize| {
            row.get(i)
                .and_then(|c| c.text().ok().flatten())
                .map(|t| t.trim().to_owned())
        };
        let long = |i: usize| row.get(i).and_then(|c| c.long().ok().flatten());
        if text(kind).as_deref() != Some(KIND) {
            continue;
        }
        let Some(session_pid) = long(pid) else {
            continue;
        };
        let at = *index.entry(session_pid).or_insert_with(|| {
            let start_text = text(start).unwrap_or_default();
            sessions.push(IdleTransaction {
                pid: session_pid,
                user: text(user).filter(|u| !u.is_empty()),
                idle_minutes: long(idle).unwrap_or(0),
                transaction_start_ts: parse_redshift_timestamp(&start_text),
                transaction_start: start_text,
                locked_tables: Vec::new(),
                more_tables: 0,
                sessions_blocked: long(blocked).unwrap_or(0),
            });
            sessions.len() - 1
        });
        if let Some(table) = text(table) {
            let session = &mut sessions[at];
            if session.locked_tables.contains(&table) {
                continue;
            }
            if session.locked_tables.len() < TABLES_NAMED {
                session.locked_tables.push(table);
            } else {
                session.more_tables += 1;
            }
        }
    }
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::types::{ColumnMetadata, Field};

    fn set(rows: Vec<Vec<Field>>) -> ResultSet {
        let names = [
            "row_kind",
            "pid",
            "user_name",
            "start_time",
            "elapsed_minutes",
            "table_name",
            "sessions_blocked",
        ];
        let meta: Vec<ColumnMetadata> = names
            .iter()
            .map(|n| ColumnMetadata::builder().name(*n).build())
            .collect();
        let mut set = ResultSet::default();
        set.add_page(&meta, rows, &crate::redshift::ResultLimits::default())
            .unwrap();
        set
    }

    fn row(pid: i64, table: &str, blocked: i64) -> Vec<Field> {
        vec![
            Field::StringValue("idle".into()),
            Field::LongValue(pid),
            Field::StringValue("alice   ".into()),
            Field::StringValue("2026-11-28 09:00:00".into()),
            Field::LongValue(45),
            Field::StringValue(table.into()),
            Field::LongValue(blocked),
        ]
    }

    #[test]
    fn rows_of_one_session_become_one_entry_with_its_tables() {
        let mut query_row = row(8, "not.this", 0);
        query_row[0] = Field::StringValue("query".into());
        let sessions = read(&set(vec![
            row(7, "public.orders", 2),
            query_row,
            row(7, "public.items", 2),
            row(9, "sales.x", 0),
        ]))
        .unwrap();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].locked_tables, ["public.orders", "public.items"]);
        assert_eq!(sessions[0].user.as_deref(), Some("alice"));
        assert_eq!(sessions[0].sessions_blocked, 2);
        assert_eq!(sessions[1].pid, 9);
    }

    #[test]
    fn the_threshold_travels_as_a_parameter() {
        let sql = ctes("GETDATE()");
        assert!(sql.contains("CAST(:threshold_minutes AS INTEGER)"));
        assert!(!sql.contains("30"), "{sql}");
        assert!(sql.contains("pid <> pg_backend_pid()"));
    }
}
