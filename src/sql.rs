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
//! The thresholds travel as Data API parameters (`:min_minutes`, `:max_minutes`), never spliced
//! into the text.

use crate::config::Window;

/// Size of one stored text chunk, in bytes.
pub const CHUNK_BYTES: usize = 200;
/// Chunks aggregated per query: 15 × 200 = 3,000 characters, one Slack section's worth.
pub const MAX_CHUNKS: u32 = 15;
/// Precedes every chunk in the aggregated text (ASCII "record separator").
pub const CHUNK_MARK: char = '\u{1e}';

/// Recognisable in `SVL_STATEMENTTEXT`, the Data API's `ListStatements` and the console.
pub const STATEMENT_NAME: &str = "redshift-long-query-alert";

/// In-flight queries on a provisioned cluster whose elapsed whole minutes lie in
/// `[:min_minutes, :max_minutes)`, oldest first, without this statement itself.
///
/// `DISTINCT` first: the view can list a query once per slice, which would repeat its chunks.
/// `LEFT JOIN pg_user`: a query whose user was dropped still shows, with a NULL name.
pub const LONG_RUNNING_QUERIES_SQL: &str = "\
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
           DATEDIFF(second, starttime, GETDATE()) / 60 AS elapsed_minutes,
           LISTAGG(CASE WHEN sequence < 15 THEN CHR(30) || RTRIM(text) END)
               WITHIN GROUP (ORDER BY sequence) AS query_text,
           MAX(sequence) >= 15 AS text_truncated
    FROM inflight
    GROUP BY userid, query, pid, starttime
)
SELECT u.usename AS user_name,
       q.pid AS pid,
       q.query AS query_id,
       q.starttime AS start_time,
       q.elapsed_minutes AS elapsed_minutes,
       q.query_text AS query_text,
       q.text_truncated AS text_truncated
FROM per_query q
LEFT JOIN pg_user u ON u.usesysid = q.userid
WHERE q.elapsed_minutes >= CAST(:min_minutes AS INTEGER)
  AND q.elapsed_minutes < CAST(:max_minutes AS INTEGER)
ORDER BY q.starttime, q.query";

/// The statement's named parameters, as the Data API takes them (all values are strings).
pub fn parameters(window: Window) -> [(&'static str, String); 2] {
    [
        ("min_minutes", window.min_minutes.to_string()),
        ("max_minutes", window.max_minutes.to_string()),
    ]
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

    #[test]
    fn parameters_carry_the_window() {
        let params = parameters(Window {
            min_minutes: 30,
            max_minutes: 60,
        });
        assert_eq!(
            params,
            [("min_minutes", "30".into()), ("max_minutes", "60".into())]
        );
    }

    #[test]
    fn every_placeholder_has_a_parameter_and_back() {
        let params = parameters(Window {
            min_minutes: 1,
            max_minutes: 2,
        });
        for (name, _) in &params {
            assert!(
                LONG_RUNNING_QUERIES_SQL.contains(&format!(":{name}")),
                "{name}"
            );
        }
        let placeholders = LONG_RUNNING_QUERIES_SQL
            .match_indices(':')
            .filter(|(i, _)| {
                let next = LONG_RUNNING_QUERIES_SQL[i + 1..].chars().next();
                next.is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            })
            .count();
        assert_eq!(placeholders, params.len());
    }

    #[test]
    fn no_threshold_value_is_spliced_into_the_text() {
        // The window's numbers never appear in the SQL. The only literals are `suspended = 0`,
        // the seconds-per-minute divisor, the chunk cap (15) and the mark `CHR(30)`.
        let digits: Vec<&str> = LONG_RUNNING_QUERIES_SQL
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(digits, ["0", "60", "15", "30", "15"]);
        assert!(!LONG_RUNNING_QUERIES_SQL.contains("'30'"));
    }

    #[test]
    fn the_statement_excludes_itself_and_suspended_queries() {
        assert!(LONG_RUNNING_QUERIES_SQL.contains("pid <> pg_backend_pid()"));
        assert!(LONG_RUNNING_QUERIES_SQL.contains("suspended = 0"));
    }

    #[test]
    fn listagg_is_capped_in_sql_at_max_chunks() {
        assert!(LONG_RUNNING_QUERIES_SQL.contains(&format!(
            "CASE WHEN sequence < {MAX_CHUNKS} THEN CHR(30) || RTRIM(text)"
        )));
        assert!(LONG_RUNNING_QUERIES_SQL.contains(&format!("MAX(sequence) >= {MAX_CHUNKS}")));
        assert_eq!(CHUNK_MARK as u32, 30);
        // Worst case per row stays far below LISTAGG's 65,535 bytes and the 64 KB row limit,
        // even if every character took four bytes.
        assert!(MAX_CHUNKS as usize * (CHUNK_BYTES * 4 + 1) < 64 * 1024 / 4);
    }

    #[test]
    fn the_statement_parses_as_redshift_sql() {
        let statements = Parser::parse_sql(&RedshiftSqlDialect {}, LONG_RUNNING_QUERIES_SQL)
            .unwrap_or_else(|e| panic!("does not parse: {e}"));
        assert_eq!(statements.len(), 1, "exactly one statement");
        let rendered = statements[0].to_string();
        for needle in [
            "svv_query_inflight",
            "pg_user",
            "LISTAGG",
            "WITHIN GROUP (ORDER BY sequence)",
            ":min_minutes",
            ":max_minutes",
        ] {
            assert!(rendered.contains(needle), "{needle} missing in {rendered}");
        }
    }
}
