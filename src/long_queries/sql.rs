//! The statement this check submits and its parameters.
//!
//! Redshift keeps a query's text in `character(200)` rows numbered by `sequence`; the statement
//! aggregates them with `LISTAGG`, and [`super::text::stitch`] rebuilds the text in Rust, where
//! it is tested (see there for why each chunk is marked). `LISTAGG` fails the *whole* statement
//! past 65,535 bytes (error 8001) and a Data API row may not exceed 64 KB, so only the first
//! [`MAX_CHUNKS`] chunks are aggregated: more than a Slack section can show anyway.
//!
//! On Redshift Serverless (and on request on a provisioned cluster) the SYS views are read
//! instead: `SYS_QUERY_HISTORY` rows with `status = 'running'`, whose `query_text` holds the
//! first 4,000 characters, and `SYS_QUERY_TEXT`, whose further rows tell that the text goes on.
//!
//! The thresholds travel as Data API parameters (`:min_minutes`, `:max_minutes`,
//! `:threshold_minutes`, and `:as_of` for exactly-once alerts), never spliced into the text.

use super::text::MAX_CHUNKS;
use crate::model::{Checks, Minutes, Views, Window};

/// At most this many queries a run: a cap at the source on what the result can hold. A run
/// posts fewer still (see the message cap); the totals column counts them all.
pub const MAX_ROWS: usize = 500;

/// What "now" is for elapsed times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The cluster's clock at the statement's start (`GETDATE()`).
    Cluster,
    /// The `:as_of` parameter: the scheduled time of the run (exactly-once alerts).
    AsOf,
}

/// Columns every variant returns, in this order.
pub const COLUMNS: [&str; 13] = [
    "user_name",
    "pid",
    "query_id",
    "start_time",
    "elapsed_minutes",
    "query_text",
    "text_truncated",
    "past_threshold_total",
    "state",
    "queue_seconds",
    "queue",
    "sys_id",
    "sys_query_id",
];

/// Queries whose elapsed whole minutes lie in `[:min_minutes, :max_minutes)`, oldest first (at
/// most [`MAX_ROWS`]), without this statement itself, plus how many run past
/// `:threshold_minutes` in all. With `queued`, queries still waiting in a WLM queue count too
/// (their elapsed time is all queue time); each row says its state, how long it waited in its
/// queue and which queue.
///
/// Inflight: `DISTINCT` first, as the view can list a query once per slice, which would repeat
/// its chunks; the queue facts come from `STV_WLM_QUERY_STATE`, and the query's id in the SYS
/// views (`sys_query_id`) from its session's running row there (a session runs one query at a
/// time): that id stays the same from queued to running, where the inflight id only exists once
/// it runs, so thread mode follows a query by it. `SVV_QUERY_INFLIGHT` never lists
/// a queued query (it is not on the slices yet), so queued ones come from `SYS_QUERY_HISTORY`,
/// whose query ids are its own (`sys_id`). Both: `LEFT JOIN pg_user`, so a query whose user was
/// dropped still shows, with a NULL name; and the queries are joined to the totals, not the
/// other way round, so a result with no query in the window still has one row, with only the
/// total: the count past the threshold is known even when every long query is past the window.
pub fn statement(views: Views, clock: Clock, checks: Checks) -> String {
    let queued = checks.queued;
    let now = match clock {
        Clock::Cluster => "GETDATE()",
        Clock::AsOf => "CAST(:as_of AS TIMESTAMP)",
    };
    let window = window_ctes("candidates");
    let statuses = if queued {
        "'running', 'returning', 'queued'"
    } else {
        "'running', 'returning'"
    };
    // SYS_QUERY_HISTORY rows of the given statuses, with the SYS view's own facts.
    let sys_rows = |statuses: &str| {
        format!(
            "\
    SELECT user_id,
           query_id,
           session_id AS pid,
           start_time,
           DATEDIFF(second, start_time, {now}) / 60 AS elapsed_minutes,
           query_text,
           TRIM(status) AS state,
           queue_time / 1000000 AS queue_seconds,
           NULLIF(TRIM(service_class_name), '') AS queue
    FROM sys_query_history
    WHERE status IN ({statuses})
      AND session_id <> pg_backend_pid()"
        )
    };
    let more_text = |from: &str| {
        format!(
            "\
more_text AS (
    SELECT query_id, MAX(sequence) AS last_sequence
    FROM sys_query_text
    WHERE query_id IN (SELECT query_id FROM {from})
    GROUP BY query_id
)"
        )
    };
    let sys_candidates = |from: &str| {
        format!(
            "\
    SELECT s.user_id,
           s.query_id,
           s.pid,
           s.start_time,
           s.elapsed_minutes,
           CHR(30) || RTRIM(s.query_text) AS query_text,
           COALESCE(m.last_sequence, 0) > 0 AS text_truncated,
           s.state,
           s.queue_seconds,
           s.queue,
           TRUE AS sys_id,
           s.query_id AS sys_query_id
    FROM {from} s
    LEFT JOIN more_text m ON m.query_id = s.query_id"
        )
    };
    let ctes = match views {
        Views::Inflight => {
            let queued_ctes = if queued {
                format!(
                    "queued AS (\n{}\n),\n{},\n",
                    sys_rows("'queued'"),
                    more_text("queued")
                )
            } else {
                String::new()
            };
            let queued_union = if queued {
                format!("\n    UNION ALL\n{}", sys_candidates("queued"))
            } else {
                String::new()
            };
            format!(
                "\
WITH inflight AS (
    SELECT DISTINCT userid, query, pid, starttime, sequence, text
    FROM svv_query_inflight
    WHERE suspended = 0
      AND pid <> pg_backend_pid()
),
per_query AS (
    SELECT userid,
           query,
           pid,
           starttime,
           DATEDIFF(second, starttime, {now}) / 60 AS elapsed_minutes,
           LISTAGG(CASE WHEN sequence < {MAX_CHUNKS} THEN CHR(30) || RTRIM(text) END)
               WITHIN GROUP (ORDER BY sequence) AS query_text,
           MAX(sequence) >= {MAX_CHUNKS} AS text_truncated
    FROM inflight
    GROUP BY userid, query, pid, starttime
),
session_query AS (
    SELECT session_id, MAX(query_id) AS query_id
    FROM sys_query_history
    WHERE status IN ('running', 'returning')
    GROUP BY session_id
),
wlm AS (
    SELECT w.query,
           LOWER(TRIM(w.state)) AS state,
           w.queue_time / 1000000 AS queue_seconds,
           TRIM(c.name) AS queue
    FROM stv_wlm_query_state w
    LEFT JOIN stv_wlm_service_class_config c ON c.service_class = w.service_class
),
{queued_ctes}candidates AS (
    SELECT p.userid AS user_id,
           p.query AS query_id,
           p.pid,
           p.starttime AS start_time,
           p.elapsed_minutes,
           p.query_text,
           p.text_truncated,
           COALESCE(w.state, 'running') AS state,
           w.queue_seconds,
           w.queue,
           FALSE AS sys_id,
           sq.query_id AS sys_query_id
    FROM per_query p
    LEFT JOIN wlm w ON w.query = p.query
    LEFT JOIN session_query sq ON sq.session_id = p.pid{queued_union}
),"
            )
        }
        Views::Sys => format!(
            "\
WITH running AS (
{}
),
{},
candidates AS (
{}
),",
            sys_rows(statuses),
            more_text("running"),
            sys_candidates("running")
        ),
    };
    let mut side_ctes = String::new();
    let mut side_rows = String::new();
    if checks.blocking {
        side_ctes.push_str(&format!("{},\n", crate::blocking::ctes(now)));
        side_rows.push_str(&format!("\nUNION ALL\n{}", crate::blocking::rows()));
    }
    if checks.idle_transactions {
        side_ctes.push_str(&format!("{},\n", crate::idle_transactions::ctes(now)));
        side_rows.push_str(&format!(
            "\nUNION ALL\n{}",
            crate::idle_transactions::rows()
        ));
    }
    format!(
        "\
{ctes}
{window},
{side_ctes}query_rows AS (
    SELECT u.usename AS user_name,
           r.pid AS pid,
           r.query_id AS query_id,
           r.start_time AS start_time,
           r.elapsed_minutes AS elapsed_minutes,
           r.query_text AS query_text,
           r.text_truncated AS text_truncated,
           t.past_threshold_total AS past_threshold_total,
           r.state AS state,
           r.queue_seconds AS queue_seconds,
           r.queue AS queue,
           r.sys_id AS sys_id,
           r.sys_query_id AS sys_query_id
    FROM totals t
    LEFT JOIN reported r ON TRUE
    LEFT JOIN pg_user u ON u.usesysid = r.user_id
    ORDER BY r.start_time, r.query_id
    LIMIT {MAX_ROWS}
)
SELECT q.*,
       'query' AS row_kind,
       {NO_SIDE_FACTS}
FROM query_rows q{side_rows}
ORDER BY row_kind, start_time, query_id, pid, table_name"
    )
}

/// Every row says which check it belongs to (`row_kind`: `query`, `wait`, `idle`) and carries
/// the columns of all of them, the others NULL: one statement, one result, one round.
pub const SIDE_COLUMNS: [&str; 9] = [
    "row_kind",
    "wanted_mode",
    "blocker_pid",
    "blocker_user",
    "blocker_mode",
    "blocker_since",
    "blocker_minutes",
    "table_name",
    "sessions_blocked",
];

/// The side checks' columns, NULL in a query row (typed, so every branch of the union agrees).
const NO_SIDE_FACTS: &str = "CAST(NULL AS VARCHAR(64)) AS wanted_mode,
       CAST(NULL AS INTEGER) AS blocker_pid,
       CAST(NULL AS VARCHAR(128)) AS blocker_user,
       CAST(NULL AS VARCHAR(64)) AS blocker_mode,
       CAST(NULL AS TIMESTAMP) AS blocker_since,
       CAST(NULL AS BIGINT) AS blocker_minutes,
       CAST(NULL AS VARCHAR(512)) AS table_name,
       CAST(NULL AS BIGINT) AS sessions_blocked";

/// A side check's row of the union, all columns in order: its user, session and time in the
/// long-query columns of those names (`elapsed` in `elapsed_minutes`), the other long-query
/// columns NULL, then its kind and its own facts (SQL expressions in [`SIDE_COLUMNS`] order
/// after `row_kind`; `NULL` where it has none).
pub fn side_row(
    user: &str,
    pid: &str,
    start: &str,
    elapsed: &str,
    kind: &str,
    facts: [&str; 8],
    from: &str,
) -> String {
    let types = [
        "VARCHAR(64)",
        "INTEGER",
        "VARCHAR(128)",
        "VARCHAR(64)",
        "TIMESTAMP",
        "BIGINT",
        "VARCHAR(512)",
        "BIGINT",
    ];
    let facts: Vec<String> = facts
        .iter()
        .zip(types)
        .zip(&SIDE_COLUMNS[1..])
        .map(|((fact, ty), name)| {
            if *fact == "NULL" {
                format!("CAST(NULL AS {ty}) AS {name}")
            } else {
                format!("{fact} AS {name}")
            }
        })
        .collect();
    format!(
        "\
SELECT {user} AS user_name,
       {pid} AS pid,
       CAST(NULL AS BIGINT) AS query_id,
       {start} AS start_time,
       {elapsed} AS elapsed_minutes,
       CAST(NULL AS VARCHAR(65535)) AS query_text,
       CAST(NULL AS BOOLEAN) AS text_truncated,
       CAST(NULL AS BIGINT) AS past_threshold_total,
       CAST(NULL AS VARCHAR(16)) AS state,
       CAST(NULL AS BIGINT) AS queue_seconds,
       CAST(NULL AS VARCHAR(64)) AS queue,
       CAST(NULL AS BOOLEAN) AS sys_id,
       CAST(NULL AS BIGINT) AS sys_query_id,
       '{kind}' AS row_kind,
       {}
FROM {from}",
        facts.join(",\n       ")
    )
}

/// The two views of `source` (a CTE of queries with `elapsed_minutes`) that every variant ends
/// with: how many run past the threshold, and the ones in the window.
fn window_ctes(source: &str) -> String {
    format!(
        "\
totals AS (
    SELECT COUNT(*) AS past_threshold_total
    FROM {source}
    WHERE elapsed_minutes >= CAST(:threshold_minutes AS INTEGER)
),
reported AS (
    SELECT *
    FROM {source}
    WHERE elapsed_minutes >= CAST(:min_minutes AS INTEGER)
      AND elapsed_minutes < CAST(:max_minutes AS INTEGER)
)"
    )
}

/// The statement's named parameters, as the Data API takes them (all values are strings).
/// `as_of` is given exactly when the statement was built with [`Clock::AsOf`].
pub fn parameters(
    window: Window,
    threshold: Minutes,
    as_of: Option<jiff::Timestamp>,
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("min_minutes", window.min_minutes.to_string()),
        ("max_minutes", window.max_minutes.to_string()),
        ("threshold_minutes", threshold.to_string()),
    ];
    if let Some(at) = as_of {
        // Redshift's `timestamp` is zone-less; system views keep UTC.
        params.push(("as_of", at.strftime("%Y-%m-%d %H:%M:%S").to_string()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::RedshiftSqlDialect;
    use sqlparser::parser::Parser;

    const VARIANTS: [(Views, Clock, bool); 8] = [
        (Views::Inflight, Clock::Cluster, true),
        (Views::Inflight, Clock::AsOf, true),
        (Views::Sys, Clock::Cluster, true),
        (Views::Sys, Clock::AsOf, true),
        (Views::Inflight, Clock::Cluster, false),
        (Views::Inflight, Clock::AsOf, false),
        (Views::Sys, Clock::Cluster, false),
        (Views::Sys, Clock::AsOf, false),
    ];

    /// Every side check on, or none.
    fn checks(on: bool) -> Checks {
        Checks {
            queued: on,
            blocking: on,
            idle_transactions: on,
        }
    }

    fn window() -> Window {
        Window {
            min_minutes: 30,
            max_minutes: 60,
        }
    }

    fn thirty() -> Minutes {
        Minutes::new(30).unwrap()
    }

    #[test]
    fn parameters_carry_the_window_the_threshold_and_the_scheduled_time() {
        assert_eq!(
            parameters(window(), thirty(), None),
            [
                ("min_minutes", "30".into()),
                ("max_minutes", "60".into()),
                ("threshold_minutes", "30".into())
            ]
        );
        let at: jiff::Timestamp = "2026-11-28T09:45:00.5Z".parse().unwrap();
        let params = parameters(window(), thirty(), Some(at));
        assert_eq!(params[3], ("as_of", "2026-11-28 09:45:00".into()));
    }

    /// The `:name` placeholders of a statement, in order of appearance, deduplicated.
    fn placeholders(sql: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        // Quoted text (e.g. a `'::'` cast) is not a placeholder; none is used.
        for (i, _) in sql.match_indices(':') {
            let name: String = sql[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let after_colon = i > 0 && sql.as_bytes()[i - 1] == b':';
            if !name.is_empty() && !after_colon && !names.contains(&name) {
                names.push(name);
            }
        }
        names.sort();
        names
    }

    #[test]
    fn every_placeholder_has_a_parameter_and_back() {
        let at: jiff::Timestamp = "2026-11-28T09:45:00Z".parse().unwrap();
        for (views, clock, queued) in VARIANTS {
            let as_of = (clock == Clock::AsOf).then_some(at);
            let mut names: Vec<String> = parameters(window(), thirty(), as_of)
                .into_iter()
                .map(|(n, _)| n.to_owned())
                .collect();
            names.sort();
            assert_eq!(
                placeholders(&statement(views, clock, checks(queued))),
                names,
                "{views:?} {clock:?}"
            );
        }
    }

    #[test]
    fn no_threshold_value_is_spliced_into_the_text() {
        // The window's numbers never appear in the SQL. The only literals are `suspended = 0`,
        // the seconds-per-minute divisor, the chunk cap (15), the mark `CHR(30)` and the row cap.
        let digits = |sql: &str| -> Vec<String> {
            sql.split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        // Also the queue time's micros-per-second divisor, the row caps of the side checks and
        // the lengths of the typed NULLs that line their columns up.
        let allowed = [
            "0", "60", "15", "30", "1000000", "500", "1000", "16", "64", "128", "512", "65535",
        ];
        for (views, clock, queued) in VARIANTS {
            for literal in digits(&statement(views, clock, checks(queued))) {
                assert!(allowed.contains(&literal.as_str()), "{views:?}: {literal}");
            }
        }
    }

    #[test]
    fn every_variant_excludes_itself_and_returns_the_same_columns() {
        for (views, clock, queued) in VARIANTS {
            let sql = statement(views, clock, checks(queued));
            assert!(sql.contains("<> pg_backend_pid()"), "{views:?}");
            assert_eq!(sql.contains("'queued')"), queued, "{views:?} {queued}");
            assert_eq!(
                sql.contains("svv_transactions"),
                queued,
                "{views:?} {queued}"
            );
            for column in SIDE_COLUMNS {
                assert!(sql.contains(&format!("AS {column}")), "{views:?}: {column}");
            }
            for column in COLUMNS {
                assert!(sql.contains(&format!("AS {column}")), "{views:?}: {column}");
            }
        }
        assert!(statement(Views::Inflight, Clock::Cluster, checks(true)).contains("suspended = 0"));
        assert!(statement(Views::Sys, Clock::Cluster, checks(false))
            .contains("status IN ('running', 'returning')"));
        let as_of = statement(Views::Sys, Clock::AsOf, checks(true));
        assert!(as_of.contains("CAST(:as_of AS TIMESTAMP)"));
        assert!(!as_of.contains("GETDATE()"));
    }

    #[test]
    fn every_variant_parses_as_redshift_sql() {
        for (views, clock, queued) in VARIANTS {
            let sql = statement(views, clock, checks(queued));
            let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &sql)
                .unwrap_or_else(|e| panic!("{views:?} {clock:?} {queued} does not parse: {e}"));
            assert_eq!(statements.len(), 1, "exactly one statement");
            let rendered = statements[0].to_string();
            if views == Views::Inflight {
                assert!(rendered.contains("WITHIN GROUP (ORDER BY sequence)"));
            }
        }
    }
}
