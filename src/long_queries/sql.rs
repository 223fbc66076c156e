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
use crate::model::{Minutes, Views, Window};

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
pub const COLUMNS: [&str; 8] = [
    "user_name",
    "pid",
    "query_id",
    "start_time",
    "elapsed_minutes",
    "query_text",
    "text_truncated",
    "past_threshold_total",
];

/// Running queries whose elapsed whole minutes lie in `[:min_minutes, :max_minutes)`, oldest
/// first (at most [`MAX_ROWS`]), without this statement itself, plus how many run past
/// `:threshold_minutes` in all.
///
/// Inflight: `DISTINCT` first, as the view can list a query once per slice, which would repeat
/// its chunks. Both: `LEFT JOIN pg_user`, so a query whose user was dropped still shows, with a
/// NULL name; and the queries are joined to the totals, not the other way round, so a result
/// with no query in the window still has one row, with only the total: the count past the
/// threshold is known even when every long query is past the window.
pub fn statement(views: Views, clock: Clock) -> String {
    let now = match clock {
        Clock::Cluster => "GETDATE()",
        Clock::AsOf => "CAST(:as_of AS TIMESTAMP)",
    };
    let source = match views {
        Views::Inflight => "per_query",
        Views::Sys => "running",
    };
    let window = window_ctes(source);
    match views {
        Views::Inflight => format!(
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
{window}
SELECT u.usename AS user_name,
       q.pid AS pid,
       q.query AS query_id,
       q.starttime AS start_time,
       q.elapsed_minutes AS elapsed_minutes,
       q.query_text AS query_text,
       q.text_truncated AS text_truncated,
       t.past_threshold_total AS past_threshold_total
FROM totals t
LEFT JOIN reported q ON TRUE
LEFT JOIN pg_user u ON u.usesysid = q.userid
ORDER BY q.starttime, q.query
LIMIT {MAX_ROWS}"
        ),
        Views::Sys => format!(
            "\
WITH running AS (
    SELECT user_id,
           query_id,
           session_id,
           start_time,
           query_text,
           DATEDIFF(second, start_time, {now}) / 60 AS elapsed_minutes
    FROM sys_query_history
    WHERE status IN ('running', 'returning')
      AND session_id <> pg_backend_pid()
),
more_text AS (
    SELECT query_id, MAX(sequence) AS last_sequence
    FROM sys_query_text
    WHERE query_id IN (SELECT query_id FROM running)
    GROUP BY query_id
),
{window}
SELECT u.usename AS user_name,
       r.session_id AS pid,
       r.query_id AS query_id,
       r.start_time AS start_time,
       r.elapsed_minutes AS elapsed_minutes,
       CHR(30) || RTRIM(r.query_text) AS query_text,
       COALESCE(m.last_sequence, 0) > 0 AS text_truncated,
       t.past_threshold_total AS past_threshold_total
FROM totals t
LEFT JOIN reported r ON TRUE
LEFT JOIN more_text m ON m.query_id = r.query_id
LEFT JOIN pg_user u ON u.usesysid = r.user_id
ORDER BY r.start_time, r.query_id
LIMIT {MAX_ROWS}"
        ),
    }
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

    const VARIANTS: [(Views, Clock); 4] = [
        (Views::Inflight, Clock::Cluster),
        (Views::Inflight, Clock::AsOf),
        (Views::Sys, Clock::Cluster),
        (Views::Sys, Clock::AsOf),
    ];

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
        for (views, clock) in VARIANTS {
            let as_of = (clock == Clock::AsOf).then_some(at);
            let mut names: Vec<String> = parameters(window(), thirty(), as_of)
                .into_iter()
                .map(|(n, _)| n.to_owned())
                .collect();
            names.sort();
            assert_eq!(
                placeholders(&statement(views, clock)),
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
        let inflight = statement(Views::Inflight, Clock::Cluster);
        assert_eq!(digits(&inflight), ["0", "60", "15", "30", "15", "500"]);
        let sys = statement(Views::Sys, Clock::AsOf);
        assert_eq!(digits(&sys), ["60", "30", "0", "0", "500"]);
    }

    #[test]
    fn every_variant_excludes_itself_and_returns_the_same_columns() {
        for (views, clock) in VARIANTS {
            let sql = statement(views, clock);
            assert!(sql.contains("<> pg_backend_pid()"), "{views:?}");
            for column in COLUMNS {
                assert!(sql.contains(&format!("AS {column}")), "{views:?}: {column}");
            }
        }
        assert!(statement(Views::Inflight, Clock::Cluster).contains("suspended = 0"));
        assert!(
            statement(Views::Sys, Clock::Cluster).contains("status IN ('running', 'returning')")
        );
        assert!(statement(Views::Sys, Clock::AsOf).contains("CAST(:as_of AS TIMESTAMP)"));
        assert!(!statement(Views::Sys, Clock::AsOf).contains("GETDATE()"));
    }

    #[test]
    fn every_variant_parses_as_redshift_sql() {
        for (views, clock) in VARIANTS {
            let sql = statement(views, clock);
            let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &sql)
                .unwrap_or_else(|e| panic!("{views:?} {clock:?} does not parse: {e}"));
            assert_eq!(statements.len(), 1, "exactly one statement");
            let rendered = statements[0].to_string();
            if views == Views::Inflight {
                assert!(rendered.contains("WITHIN GROUP (ORDER BY sequence)"));
            }
        }
    }
}
