//! How tracked queries ended (thread mode). When a query the channel follows is no longer
//! running, one more statement reads `SYS_QUERY_HISTORY`, which keeps each query's final
//! `status` (`success`, `failed`, `canceled`) on provisioned clusters and Serverless alike.
//!
//! The query ids of the SYS views are not those of `SVV_QUERY_INFLIGHT` on a provisioned
//! cluster, so a query first seen there is found by its session instead: the same pid, started
//! no later than it (plus a little clock slack), and still running when it was first seen. A
//! session runs one query at a time, so at most one row fits.

use super::row::parse_redshift_timestamp;
use super::text::{keep_prefix, stitch, MAX_TEXT_BYTES};
use crate::redshift::{MissingColumn, ResultSet, Statement};

/// Rows the lookup reads at most: sessions run other queries after the one that ended.
pub const MAX_ROWS: usize = 2000;
/// SYS and STL may disagree on a start by the time a query waited in its queue.
const START_SLACK_SECONDS: i64 = 60;

/// What is known of a query the channel follows, to find its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sought {
    pub pid: i64,
    pub query_id: i64,
    /// Seconds since the epoch.
    pub start: i64,
    /// When a run first saw it running (seconds since the epoch).
    pub seen_running: i64,
    /// Its id is a SYS `query_id` (it was found in `SYS_QUERY_HISTORY`).
    pub sys_id: bool,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Finished,
    Failed,
    Cancelled,
    /// The views no longer say.
    Unknown,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Outcome> {
        [
            Outcome::Finished,
            Outcome::Failed,
            Outcome::Cancelled,
            Outcome::Unknown,
        ]
        .into_iter()
        .find(|o| o.name() == name)
    }
}

/// The lookup's answer for one sought query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// It is running after all (the main statement's result was cut, or it was between views).
    StillRunning,
    Ended {
        outcome: Outcome,
        /// Seconds since the epoch, when the views say.
        end: Option<i64>,
        /// The text as the view keeps it (its first 4,000 characters).
        text: Option<String>,
    },
}

/// The statement for these queries. The pids travel as one parameter (`,1,2,3,`), never
/// spliced into the text.
pub fn statement(sought: &[Sought]) -> Statement {
    let pids: String = sought.iter().map(|s| format!("{},", s.pid)).collect();
    let since = sought
        .iter()
        .map(|s| s.seen_running)
        .min()
        .unwrap_or_default();
    let since = jiff::Timestamp::from_second(since).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    Statement {
        sql: format!(
            "\
SELECT session_id AS pid,
       query_id,
       TRIM(status) AS status,
       start_time,
       end_time,
       query_text
FROM sys_query_history
WHERE STRPOS(:pids, ',' || CAST(session_id AS VARCHAR) || ',') > 0
  AND (end_time IS NULL OR end_time >= CAST(:since AS TIMESTAMP))
ORDER BY start_time
LIMIT {MAX_ROWS}"
        ),
        parameters: vec![
            ("pids", format!(",{pids}")),
            ("since", since.strftime("%Y-%m-%d %H:%M:%S").to_string()),
        ],
    }
}

#[derive(Debug, Clone)]
struct Row {
    pid: i64,
    query_id: i64,
    status: String,
    start: i64,
    end: Option<i64>,
    text: Option<String>,
}

/// Reads the result and answers for each sought query, in order. Rows that cannot be read are
/// skipped: the query they describe is then "unknown", which is what the views said.
pub fn find(set: &ResultSet, sought: &[Sought]) -> Result<Vec<Found>, MissingColumn> {
    let [pid, query_id, status, start, end, text] = [
        set.require("pid")?,
        set.require("query_id")?,
        set.require("status")?,
        set.require("start_time")?,
        set.require("end_time")?,
        set.require("query_text")?,
    ];
    let time = |cell: &crate::redshift::Cell| {
        cell.text()
            .ok()
            .flatten()
            .and_then(parse_redshift_timestamp)
            .map(|t| t.as_second())
    };
    let rows: Vec<Row> = set
        .rows
        .iter()
        .filter_map(|r| {
            Some(Row {
                pid: r.get(pid)?.long().ok()??,
                query_id: r.get(query_id)?.long().ok()??,
                status: r.get(status)?.text().ok()??.trim().to_ascii_lowercase(),
                start: time(r.get(start)?)?,
                end: r.get(end).and_then(time),
                // Stored as Redshift stores it (line breaks as `\n`): rebuilt as in flight.
                text: r
                    .get(text)
                    .and_then(|c| c.text().ok().flatten())
                    .map(|t| stitch(keep_prefix(t, MAX_TEXT_BYTES).0)),
            })
        })
        .collect();
    Ok(sought.iter().map(|s| found(s, &rows)).collect())
}

fn found(sought: &Sought, rows: &[Row]) -> Found {
    let matches = |r: &&Row| {
        if sought.sys_id {
            r.query_id == sought.query_id
        } else {
            r.pid == sought.pid
                && r.start <= sought.start + START_SLACK_SECONDS
                && r.end.is_none_or(|end| end >= sought.seen_running)
        }
    };
    let Some(row) = rows
        .iter()
        .filter(matches)
        .min_by_key(|r| (r.start - sought.start).abs())
    else {
        return Found::Ended {
            outcome: Outcome::Unknown,
            end: None,
            text: None,
        };
    };
    let outcome = match row.status.as_str() {
        "success" => Outcome::Finished,
        "failed" => Outcome::Failed,
        "canceled" | "cancelled" => Outcome::Cancelled,
        "running" | "queued" | "returning" | "planning" => return Found::StillRunning,
        _ => Outcome::Unknown,
    };
    Found::Ended {
        outcome,
        end: row.end,
        text: row.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::types::{ColumnMetadata, Field};

    fn set(rows: &[(i64, i64, &str, &str, Option<&str>)]) -> ResultSet {
        let names = [
            "pid",
            "query_id",
            "status",
            "start_time",
            "end_time",
            "query_text",
        ];
        let meta: Vec<ColumnMetadata> = names
            .iter()
            .map(|n| ColumnMetadata::builder().name(*n).label(*n).build())
            .collect();
        let text = |t: &str| Field::StringValue(t.into());
        let records = rows
            .iter()
            .map(|(pid, id, status, start, end)| {
                vec![
                    Field::LongValue(*pid),
                    Field::LongValue(*id),
                    text(&format!("{status}    ")),
                    text(start),
                    end.map_or(Field::IsNull(true), text),
                    text("select 1\\nfrom t   "),
                ]
            })
            .collect();
        let mut set = ResultSet::default();
        set.add_page(&meta, records, &crate::redshift::ResultLimits::default())
            .unwrap();
        set
    }

    fn at(text: &str) -> i64 {
        parse_redshift_timestamp(text).unwrap().as_second()
    }

    fn sought(pid: i64, query_id: i64, sys_id: bool) -> Sought {
        Sought {
            pid,
            query_id,
            start: at("2026-11-28 09:00:00"),
            seen_running: at("2026-11-28 09:30:00"),
            sys_id,
        }
    }

    #[test]
    fn the_outcome_is_read_from_the_status_by_query_id_or_by_session() {
        let result = set(&[
            // An earlier query of the same session, ended before ours was seen running.
            (
                7,
                900,
                "success",
                "2026-11-28 08:00:00",
                Some("2026-11-28 08:10:00"),
            ),
            (
                7,
                901,
                "canceled",
                "2026-11-28 08:59:58",
                Some("2026-11-28 09:40:00"),
            ),
            (
                8,
                902,
                "failed",
                "2026-11-28 09:00:00",
                Some("2026-11-28 09:41:00"),
            ),
            (9, 903, "running", "2026-11-28 09:00:00", None),
        ]);
        let found = find(
            &result,
            &[
                sought(7, 555, false),
                sought(8, 902, true),
                sought(9, 903, true),
                sought(10, 904, true),
            ],
        )
        .unwrap();
        assert_eq!(
            found[0],
            Found::Ended {
                outcome: Outcome::Cancelled,
                end: Some(at("2026-11-28 09:40:00")),
                text: Some("select 1\nfrom t".into())
            }
        );
        assert!(matches!(
            found[1],
            Found::Ended {
                outcome: Outcome::Failed,
                ..
            }
        ));
        assert_eq!(found[2], Found::StillRunning);
        assert!(matches!(
            found[3],
            Found::Ended {
                outcome: Outcome::Unknown,
                end: None,
                ..
            }
        ));
    }

    #[test]
    fn the_pids_travel_as_a_parameter() {
        let s = statement(&[sought(7, 1, false), sought(12, 2, false)]);
        assert!(!s.sql.contains("12"), "{}", s.sql);
        assert_eq!(s.parameters[0], ("pids", ",7,12,".to_owned()));
        assert_eq!(s.parameters[1], ("since", "2026-11-28 09:30:00".to_owned()));
        for name in ["Finished", "Failed", "Cancelled", "Unknown"] {
            let o = Outcome::parse(&name.to_ascii_lowercase()).unwrap();
            assert_eq!(Outcome::parse(o.name()), Some(o));
        }
    }
}
