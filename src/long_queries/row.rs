//! Reading the statement's rows into long queries. Rows are independent: a row that cannot be
//! read is set aside as [`Unreadable`] (with its pid when that much could be read) and every
//! other row is still reported.

use super::sql::COLUMNS;
use super::text::{keep_prefix, stitch, MAX_TEXT_BYTES};
use crate::model::QueryState;
use crate::redshift::{Cell, CellProblem, MissingColumn, ResultSet};

/// A long-running query, as one result row describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LongQuery {
    /// `None` when the user was dropped while the query ran.
    pub user: Option<String>,
    pub pid: i64,
    pub query_id: i64,
    pub start_time: jiff::Timestamp,
    pub elapsed_minutes: i64,
    /// Stitched, with line breaks restored.
    pub text: String,
    /// Only part of the text was available: it stops early.
    pub text_truncated: bool,
    pub state: QueryState,
    /// How long it waited in its WLM queue (so far, when still queued), when the views say.
    pub queue_seconds: Option<i64>,
    /// Its WLM queue's name, when the views say (Serverless has none).
    pub queue: Option<String>,
    /// Its query id is `SYS_QUERY_HISTORY`'s, not `SVV_QUERY_INFLIGHT`'s.
    pub sys_id: bool,
    /// Its id in `SYS_QUERY_HISTORY`, when known: the same from queued to running.
    pub sys_query_id: Option<i64>,
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    /// Its place in the result, from 1.
    pub row: usize,
    pub pid: Option<i64>,
    pub problem: String,
}

/// Every row of the result, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    pub queries: Vec<LongQuery>,
    pub unreadable: Vec<Unreadable>,
    /// How many queries run past the base threshold in all (window or not), when the result
    /// says so: it is the same on every row.
    pub past_threshold_total: Option<i64>,
}

/// Where each column sits: rows are read by column name, not position.
struct Columns {
    user_name: usize,
    pid: usize,
    query_id: usize,
    start_time: usize,
    elapsed_minutes: usize,
    query_text: usize,
    text_truncated: usize,
    /// Optional, like the five below: results of older statements may lack them.
    past_threshold_total: Option<usize>,
    state: Option<usize>,
    queue_seconds: Option<usize>,
    queue: Option<usize>,
    sys_id: Option<usize>,
    sys_query_id: Option<usize>,
    /// Which check a row belongs to; rows of the side checks are theirs to read.
    row_kind: Option<usize>,
}

const _: () = assert!(COLUMNS.len() == 13);

/// Reads every row. Only a missing column fails the whole result: then no row can be read.
pub fn read(set: &ResultSet) -> Result<Rows, MissingColumn> {
    let columns = Columns {
        user_name: set.require(COLUMNS[0])?,
        pid: set.require(COLUMNS[1])?,
        query_id: set.require(COLUMNS[2])?,
        start_time: set.require(COLUMNS[3])?,
        elapsed_minutes: set.require(COLUMNS[4])?,
        query_text: set.require(COLUMNS[5])?,
        text_truncated: set.require(COLUMNS[6])?,
        past_threshold_total: set.column(COLUMNS[7]),
        state: set.column(COLUMNS[8]),
        queue_seconds: set.column(COLUMNS[9]),
        queue: set.column(COLUMNS[10]),
        sys_id: set.column(COLUMNS[11]),
        sys_query_id: set.column(COLUMNS[12]),
        row_kind: set.column("row_kind"),
    };
    let mut rows = Rows::default();
    for (index, record) in set.rows.iter().enumerate() {
        let cell = |i: usize| record.get(i).unwrap_or(&Cell::Null);
        let kind = columns.row_kind.and_then(|i| cell(i).text().ok().flatten());
        if kind.is_some_and(|k| k != "query") {
            continue;
        }
        if rows.past_threshold_total.is_none() {
            rows.past_threshold_total = columns
                .past_threshold_total
                .and_then(|i| cell(i).long().ok().flatten());
        }
        // The totals-only row the statement returns when no query is in the window.
        let no_query = [columns.pid, columns.query_id, columns.start_time]
            .iter()
            .all(|&i| *cell(i) == Cell::Null);
        if no_query {
            continue;
        }
        match read_row(&columns, &cell) {
            Ok(query) => rows.queries.push(query),
            Err(problem) => rows.unreadable.push(Unreadable {
                row: index + 1,
                pid: cell(columns.pid).long().ok().flatten(),
                problem,
            }),
        }
    }
    Ok(rows)
}

fn read_row<'a>(columns: &Columns, cell: &impl Fn(usize) -> &'a Cell) -> Result<LongQuery, String> {
    let named = |column: &'static str| move |p: CellProblem| format!("`{column}` {p}");
    let required = |column: &'static str, value: Option<i64>| {
        value.ok_or_else(|| format!("`{column}` is NULL"))
    };
    let start_text = cell(columns.start_time)
        .text()
        .map_err(named("start_time"))?
        .ok_or("`start_time` is NULL")?;
    let start_time = parse_redshift_timestamp(start_text)
        .ok_or_else(|| format!("`start_time` is not a timestamp: {:?}", shorten(start_text)))?;
    let raw = cell(columns.query_text)
        .text()
        .map_err(named("query_text"))?
        .unwrap_or_default();
    let (kept, cut) = keep_prefix(raw, MAX_TEXT_BYTES);
    let optional = |column: Option<usize>| column.map_or(&Cell::Null, |i| cell(i));
    let state = optional(columns.state)
        .text()
        .map_err(named("state"))?
        .map(QueryState::from_view)
        .unwrap_or_default();
    Ok(LongQuery {
        state,
        queue_seconds: optional(columns.queue_seconds)
            .long()
            .map_err(named("queue_seconds"))?,
        queue: optional(columns.queue)
            .text()
            .map_err(named("queue"))?
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty()),
        sys_id: optional(columns.sys_id)
            .flag()
            .map_err(named("sys_id"))?
            .unwrap_or(false),
        sys_query_id: optional(columns.sys_query_id)
            .long()
            .map_err(named("sys_query_id"))?,
        user: cell(columns.user_name)
            .text()
            .map_err(named("user_name"))?
            .map(|u| u.trim_end().to_owned()),
        pid: required("pid", cell(columns.pid).long().map_err(named("pid"))?)?,
        query_id: required(
            "query_id",
            cell(columns.query_id).long().map_err(named("query_id"))?,
        )?,
        start_time,
        elapsed_minutes: required(
            "elapsed_minutes",
            cell(columns.elapsed_minutes)
                .long()
                .map_err(named("elapsed_minutes"))?,
        )?,
        text: stitch(kept),
        text_truncated: cell(columns.text_truncated)
            .flag()
            .map_err(named("text_truncated"))?
            .unwrap_or(false)
            || cut,
    })
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Redshift's `timestamp` (without time zone) is UTC for system views; the Data API renders it
/// as `2026-11-28 09:15:00.123456` (a `T` separator is accepted too).
pub fn parse_redshift_timestamp(text: &str) -> Option<jiff::Timestamp> {
    let civil: jiff::civil::DateTime = text.trim().replacen(' ', "T", 1).parse().ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::long_queries::text::CHUNK_MARK;
    use aws_sdk_redshiftdata::types::{ColumnMetadata, Field};

    fn set(columns: &[&str], rows: Vec<Vec<Field>>) -> ResultSet {
        let meta: Vec<ColumnMetadata> = columns
            .iter()
            .map(|n| ColumnMetadata::builder().name(*n).label(*n).build())
            .collect();
        let mut set = ResultSet::default();
        set.add_page(&meta, rows, &crate::redshift::ResultLimits::default())
            .unwrap();
        set
    }

    fn row(user: Option<&str>, pid: i64) -> Vec<Field> {
        vec![
            user.map_or(Field::IsNull(true), |u| Field::StringValue(u.into())),
            Field::LongValue(pid),
            Field::LongValue(pid * 10),
            Field::StringValue("2026-11-28 09:15:00.123456".into()),
            Field::LongValue(42),
            Field::StringValue(format!("{CHUNK_MARK}select 1")),
            Field::BooleanValue(false),
            Field::StringValue("9".into()),
            Field::StringValue("queued    ".into()),
            Field::LongValue(125),
            Field::StringValue("etl_queue  ".into()),
            Field::BooleanValue(true),
            Field::LongValue(pid * 100),
        ]
    }

    #[test]
    fn rows_are_read_by_column_name_in_any_order() {
        let mut columns = COLUMNS.to_vec();
        columns.reverse();
        let mut r = row(Some("carol   "), 7);
        r.reverse();
        let rows = read(&set(&columns, vec![r])).unwrap();
        let q = &rows.queries[0];
        assert_eq!(q.user.as_deref(), Some("carol"));
        assert_eq!((q.pid, q.query_id, q.elapsed_minutes), (7, 70, 42));
        assert_eq!(q.text, "select 1");
        assert_eq!(q.start_time.to_string(), "2026-11-28T09:15:00.123456Z");
        assert_eq!(
            (q.state, q.queue_seconds, q.queue.as_deref(), q.sys_id),
            (QueryState::Queued, Some(125), Some("etl_queue"), true)
        );
        assert_eq!(q.sys_query_id, Some(700));
        assert_eq!(
            rows.past_threshold_total,
            Some(9),
            "a DECIMAL count arrives as text"
        );
    }

    #[test]
    fn a_bad_row_is_set_aside_with_its_pid_and_the_others_are_read() {
        let mut null_start = row(Some("a"), 2);
        null_start[3] = Field::IsNull(true);
        let mut bad_pid = row(Some("b"), 3);
        bad_pid[1] = Field::StringValue("not a pid".into());
        let mut short = row(Some("c"), 4);
        short.truncate(2);
        let rows = read(&set(
            &COLUMNS,
            vec![row(Some("ok"), 1), null_start, bad_pid, short, row(None, 5)],
        ))
        .unwrap();
        let pids: Vec<i64> = rows.queries.iter().map(|q| q.pid).collect();
        assert_eq!(pids, [1, 5]);
        let unreadable: Vec<_> = rows
            .unreadable
            .iter()
            .map(|u| (u.row, u.pid, u.problem.clone()))
            .collect();
        assert_eq!(unreadable[0], (2, Some(2), "`start_time` is NULL".into()));
        assert_eq!(unreadable[1].0, 3);
        assert_eq!(unreadable[1].1, None);
        assert!(unreadable[1].2.contains("`pid`"), "{unreadable:?}");
        assert_eq!((unreadable[2].0, unreadable[2].1), (4, Some(4)));
    }

    #[test]
    fn the_totals_only_row_gives_the_total_and_no_query() {
        let mut totals = vec![Field::IsNull(true); 7];
        totals.push(Field::LongValue(3));
        let rows = read(&set(&COLUMNS, vec![totals])).unwrap();
        assert!(rows.queries.is_empty() && rows.unreadable.is_empty());
        assert_eq!(rows.past_threshold_total, Some(3));
    }

    #[test]
    fn null_text_and_null_flag_read_as_empty_and_false() {
        let mut r = row(Some("a"), 1);
        r[5] = Field::IsNull(true);
        r[6] = Field::IsNull(true);
        let q = &read(&set(&COLUMNS, vec![r])).unwrap().queries[0];
        assert_eq!(q.text, "");
        assert!(!q.text_truncated);
    }

    #[test]
    fn a_missing_column_is_named() {
        let columns: Vec<&str> = COLUMNS.iter().copied().filter(|c| *c != "pid").collect();
        assert_eq!(
            read(&set(&columns, vec![])).unwrap_err(),
            MissingColumn("pid")
        );
    }

    #[test]
    fn redshift_timestamps_parse_with_or_without_fraction() {
        for (text, expect) in [
            ("2026-11-28 09:15:00", "2026-11-28T09:15:00Z"),
            ("2026-11-28 09:15:00.5", "2026-11-28T09:15:00.5Z"),
            ("2026-11-28T09:15:00", "2026-11-28T09:15:00Z"),
        ] {
            assert_eq!(parse_redshift_timestamp(text).unwrap().to_string(), expect);
        }
        assert!(parse_redshift_timestamp("yesterday").is_none());
    }
}
