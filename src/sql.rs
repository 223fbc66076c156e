//! The one statement a run submits, its parameters, and the rule that stitches the query text
//! back together from Redshift's 200-character chunks.
//!
//! Redshift keeps a query's text in `character(200)` rows numbered by `sequence`. The statement
//! aggregates them with `LISTAGG` and the stitching happens here, in Rust, where it is tested:
//! - `RTRIM` is needed because the last chunk is blank-padded, but on a full chunk it also eats
//!   real trailing spaces (`GROUP` + `BY` would come out as `GROUPBY`). Every chunk but the last
//!   is full, so whatever `RTRIM` took from a non-final chunk were real spaces: [`stitch`] puts
//!   them back. To know where chunks end, each one is prefixed with [`CHUNK_MARK`], a control
//!   character that never occurs in SQL text; the prefix also keeps an all-blank chunk from
//!   being dropped (LISTAGG ignores empty strings).
//! - `LISTAGG` fails the *whole* statement past 65,535 bytes (error 8001), and a Data API row may
//!   not exceed 64 KB, so only the first [`MAX_CHUNKS`] chunks are aggregated: more than a Slack
//!   section can show anyway. `text_truncated` tells that the rest was left out.
//! - Redshift stores line breaks as the two characters `\n`; they are turned back into line
//!   breaks after stitching, because one can straddle two chunks.
//!
//! On Redshift Serverless (and on request on a provisioned cluster) the SYS views are read
//! instead: `SYS_QUERY_HISTORY` rows with `status = 'running'`, whose `query_text` holds the first
//! 4,000 characters — more than a Slack section shows — and `SYS_QUERY_TEXT`, whose further
//! rows tell that the text goes on (`text_truncated`).
//!
//! The thresholds travel as Data API parameters (`:min_minutes`, `:max_minutes`,
//! `:threshold_minutes`, and `:as_of` for exactly-once alerts), never spliced into the text.

use crate::config::Window;

/// Size of one stored text chunk, in bytes.
pub const CHUNK_BYTES: usize = 200;
/// Chunks aggregated per query: 15 × 200 = 3,000 characters, one Slack section's worth.
pub const MAX_CHUNKS: u32 = 15;
/// Precedes every chunk in the aggregated text (ASCII "record separator").
pub const CHUNK_MARK: char = '\u{1e}';

/// Recognisable in `SYS_QUERY_HISTORY`, the Data API's `ListStatements` and the console.
pub const STATEMENT_NAME: &str = "redshift-long-query-alert";

/// Which system views the statement reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Views {
    /// `SVV_QUERY_INFLIGHT` (provisioned clusters).
    Inflight,
    /// `SYS_QUERY_HISTORY` + `SYS_QUERY_TEXT` (Serverless and provisioned).
    Sys,
}

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
/// first, without this statement itself, plus how many run past `:threshold_minutes` in all.
///
/// Inflight: `DISTINCT` first, as the view can list a query once per slice, which would repeat
/// its chunks. Both: `LEFT JOIN pg_user`, so a query whose user was dropped still shows, with a
/// NULL name.
pub fn statement(views: Views, clock: Clock) -> String {
    let now = match clock {
        Clock::Cluster => "GETDATE()",
        Clock::AsOf => "CAST(:as_of AS TIMESTAMP)",
    };
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
totals AS (
    SELECT COUNT(*) AS past_threshold_total
    FROM per_query
    WHERE elapsed_minutes >= CAST(:threshold_minutes AS INTEGER)
)
SELECT u.usename AS user_name,
       q.pid AS pid,
       q.query AS query_id,
       q.starttime AS start_time,
       q.elapsed_minutes AS elapsed_minutes,
       q.query_text AS query_text,
       q.text_truncated AS text_truncated,
       t.past_threshold_total AS past_threshold_total
FROM per_query q
CROSS JOIN totals t
LEFT JOIN pg_user u ON u.usesysid = q.userid
WHERE q.elapsed_minutes >= CAST(:min_minutes AS INTEGER)
  AND q.elapsed_minutes < CAST(:max_minutes AS INTEGER)
ORDER BY q.starttime, q.query"
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
    WHERE status = 'running'
      AND session_id <> pg_backend_pid()
),
more_text AS (
    SELECT query_id, MAX(sequence) AS last_sequence
    FROM sys_query_text
    WHERE query_id IN (SELECT query_id FROM running)
    GROUP BY query_id
),
totals AS (
    SELECT COUNT(*) AS past_threshold_total
    FROM running
    WHERE elapsed_minutes >= CAST(:threshold_minutes AS INTEGER)
)
SELECT u.usename AS user_name,
       r.session_id AS pid,
       r.query_id AS query_id,
       r.start_time AS start_time,
       r.elapsed_minutes AS elapsed_minutes,
       CHR(30) || RTRIM(r.query_text) AS query_text,
       COALESCE(m.last_sequence, 0) > 0 AS text_truncated,
       t.past_threshold_total AS past_threshold_total
FROM running r
CROSS JOIN totals t
LEFT JOIN more_text m ON m.query_id = r.query_id
LEFT JOIN pg_user u ON u.usesysid = r.user_id
WHERE r.elapsed_minutes >= CAST(:min_minutes AS INTEGER)
  AND r.elapsed_minutes < CAST(:max_minutes AS INTEGER)
ORDER BY r.start_time, r.query_id"
        ),
    }
}

/// The statement's named parameters, as the Data API takes them (all values are strings).
/// `as_of` is given exactly when the statement was built with [`Clock::AsOf`].
pub fn parameters(
    window: Window,
    threshold_minutes: u32,
    as_of: Option<jiff::Timestamp>,
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("min_minutes", window.min_minutes.to_string()),
        ("max_minutes", window.max_minutes.to_string()),
        ("threshold_minutes", threshold_minutes.to_string()),
    ];
    if let Some(at) = as_of {
        // Redshift's `timestamp` is zone-less; system views keep UTC.
        params.push(("as_of", at.strftime("%Y-%m-%d %H:%M:%S").to_string()));
    }
    params
}

/// The most of a query's aggregated text a run keeps: more than a Slack section can show (3,000
/// characters of up to 4 bytes). The statement already caps what it aggregates; this bounds
/// memory whatever a result holds (2,000 rows of 60 KB would otherwise outgrow a 128 MB function).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The first `max` bytes of `text`, cut on a character boundary, and whether anything was cut.
pub fn keep_prefix(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// Rebuilds a query's text from the aggregated chunks (see the module docs).
///
/// Text without any [`CHUNK_MARK`] is taken as one final chunk, so a result from another source
/// still reads sensibly.
pub fn stitch(aggregated: &str) -> String {
    let mut chunks: Vec<&str> = aggregated.split(CHUNK_MARK).collect();
    if chunks.len() > 1 && chunks[0].is_empty() {
        chunks.remove(0);
    }
    let mut text = String::with_capacity(aggregated.len() + chunks.len() * 4);
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.iter().enumerate() {
        text.push_str(chunk);
        if i < last {
            // A full chunk is 200 bytes; what RTRIM removed were real spaces.
            let missing = CHUNK_BYTES.saturating_sub(chunk.len());
            text.extend(std::iter::repeat_n(' ', missing));
        }
    }
    // Trim after restoring: a stored `\n` at the very end is a trailing line break too.
    restore_line_breaks(&text).trim_end().to_owned()
}

/// Redshift keeps a line break as the two characters `\` `n` (and a tab as `\t`).
fn restore_line_breaks(text: &str) -> String {
    text.replace("\\n", "\n").replace("\\t", "\t")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::RedshiftSqlDialect;
    use sqlparser::parser::Parser;

    /// What Redshift would return for `text`: split into 200-byte chunks, each RTRIM'd and
    /// prefixed with the mark, keeping at most `MAX_CHUNKS`.
    fn aggregate_like_redshift(text: &str) -> String {
        let stored = text.replace('\n', "\\n");
        stored
            .as_bytes()
            .chunks(CHUNK_BYTES)
            .take(MAX_CHUNKS as usize)
            .map(|c| format!("{CHUNK_MARK}{}", std::str::from_utf8(c).unwrap().trim_end()))
            .collect()
    }

    #[test]
    fn spaces_at_a_chunk_boundary_survive() {
        // "GROUP" ends exactly at byte 200 and " BY" starts the next chunk: RTRIM removed the
        // space at the end of chunk one in the old script, giving "GROUPBY".
        let head = format!("SELECT {} , user_id FROM t GROUP", "a".repeat(160));
        let text = format!("{head:<199} BY user_id");
        assert_eq!(text.as_bytes()[199], b' ');
        let stitched = stitch(&aggregate_like_redshift(&text));
        assert_eq!(stitched, text);
        assert!(!stitched.contains("GROUPBY"));
    }

    #[test]
    fn many_trailing_spaces_in_a_full_chunk_are_restored() {
        let text = format!("{}{}x", "s".repeat(150), " ".repeat(250));
        assert_eq!(stitch(&aggregate_like_redshift(&text)), text);
    }

    #[test]
    fn an_all_blank_chunk_keeps_its_place() {
        let text = format!("{}{}{}", "a".repeat(200), " ".repeat(200), "b");
        assert_eq!(stitch(&aggregate_like_redshift(&text)), text);
    }

    #[test]
    fn line_breaks_straddling_a_chunk_boundary_are_restored() {
        // The backslash is byte 199 of chunk one and the `n` byte 0 of chunk two.
        let text = format!("{}\nFROM t", "x".repeat(199));
        let aggregated = aggregate_like_redshift(&text);
        assert!(aggregated.contains(&format!("\\{CHUNK_MARK}n")));
        assert_eq!(stitch(&aggregated), text);
    }

    #[test]
    fn long_texts_keep_a_prefix_cut_on_a_character_boundary() {
        assert_eq!(keep_prefix("select 1", 100), ("select 1", false));
        let text = "日本語".repeat(10); // 3 bytes each
        let (kept, cut) = keep_prefix(&text, 10);
        assert_eq!((kept, cut), ("日本語", true));
    }

    #[test]
    fn a_single_short_chunk_is_just_trimmed() {
        assert_eq!(stitch(&format!("{CHUNK_MARK}select 1")), "select 1");
        assert_eq!(stitch("select 1   "), "select 1");
        assert_eq!(stitch(""), "");
    }

    #[test]
    fn multibyte_text_is_padded_by_bytes_and_never_panics() {
        let text = format!("SELECT '{}' AS 名前 FROM t", "日本語".repeat(30));
        let stitched = stitch(&chunk_on_char_boundaries(&text));
        assert!(stitched.starts_with("SELECT '日本語"));
        assert!(stitched.ends_with("FROM t"));
    }

    /// Multibyte text cannot be cut at arbitrary bytes in a Rust test string; cut near 200.
    fn chunk_on_char_boundaries(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut end = rest.len().min(CHUNK_BYTES);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            out.push(CHUNK_MARK);
            out.push_str(rest[..end].trim_end());
            rest = &rest[end..];
        }
        out
    }

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

    #[test]
    fn parameters_carry_the_window_the_threshold_and_the_scheduled_time() {
        assert_eq!(
            parameters(window(), 30, None),
            [
                ("min_minutes", "30".into()),
                ("max_minutes", "60".into()),
                ("threshold_minutes", "30".into())
            ]
        );
        let at: jiff::Timestamp = "2026-11-28T09:45:00.5Z".parse().unwrap();
        let params = parameters(window(), 30, Some(at));
        assert_eq!(params[3], ("as_of", "2026-11-28 09:45:00".into()));
    }

    /// The `:name` placeholders of a statement, in order of appearance, deduplicated.
    fn placeholders(sql: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (i, _) in sql.match_indices(':') {
            let rest = &sql[i + 1..];
            let name: String = rest
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
            let mut names: Vec<String> = parameters(window(), 30, as_of)
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
        // the seconds-per-minute divisor, the chunk cap (15) and the mark `CHR(30)`.
        let digits = |sql: &str| -> Vec<String> {
            sql.split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let inflight = statement(Views::Inflight, Clock::Cluster);
        assert_eq!(digits(&inflight), ["0", "60", "15", "30", "15"]);
        let sys = statement(Views::Sys, Clock::AsOf);
        assert_eq!(digits(&sys), ["60", "30", "0", "0"]);
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
        assert!(statement(Views::Sys, Clock::Cluster).contains("status = 'running'"));
        assert!(statement(Views::Sys, Clock::AsOf).contains("CAST(:as_of AS TIMESTAMP)"));
        assert!(!statement(Views::Sys, Clock::AsOf).contains("GETDATE()"));
    }

    #[test]
    fn listagg_is_capped_in_sql_at_max_chunks() {
        let sql = statement(Views::Inflight, Clock::Cluster);
        assert!(sql.contains(&format!(
            "CASE WHEN sequence < {MAX_CHUNKS} THEN CHR(30) || RTRIM(text)"
        )));
        assert!(sql.contains(&format!("MAX(sequence) >= {MAX_CHUNKS}")));
        assert_eq!(CHUNK_MARK as u32, 30);
        // Worst case per row stays far below LISTAGG's 65,535 bytes and the 64 KB row limit,
        // even if every character took four bytes.
        assert!(MAX_CHUNKS as usize * (CHUNK_BYTES * 4 + 1) < 64 * 1024 / 4);
    }

    #[test]
    fn every_variant_parses_as_redshift_sql() {
        for (views, clock) in VARIANTS {
            let sql = statement(views, clock);
            let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &sql)
                .unwrap_or_else(|e| panic!("{views:?} {clock:?} does not parse: {e}"));
            assert_eq!(statements.len(), 1, "exactly one statement");
            let rendered = statements[0].to_string();
            let source = match views {
                Views::Inflight => "svv_query_inflight",
                Views::Sys => "sys_query_history",
            };
            for needle in [
                source,
                "pg_user",
                ":min_minutes",
                ":max_minutes",
                ":threshold_minutes",
            ] {
                assert!(rendered.contains(needle), "{needle} missing in {rendered}");
            }
            if views == Views::Inflight {
                assert!(rendered.contains("WITHIN GROUP (ORDER BY sequence)"));
            }
        }
    }
}
