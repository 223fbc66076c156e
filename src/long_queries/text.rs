//! Rebuilding a query's text from Redshift's 200-character chunks.
//!
//! Redshift keeps a query's text in `character(200)` rows numbered by `sequence`: blank-padded,
//! 200 characters each, line breaks stored as the two characters `\n`.
//! - `RTRIM` is needed because the last chunk is blank-padded, but on a full chunk it also eats
//!   real trailing spaces (`GROUP` + `BY` would come out as `GROUPBY`). Every chunk but the last
//!   is full, so whatever `RTRIM` took from a non-final chunk were real spaces: [`stitch`] puts
//!   them back. To know where chunks end, the statement prefixes each one with [`CHUNK_MARK`], a
//!   control character that never occurs in SQL text; the prefix also keeps an all-blank chunk
//!   from being dropped (LISTAGG ignores empty strings).
//! - A line break can straddle two chunks (`\` ending one, `n` starting the next), so line breaks
//!   are restored after stitching.

/// Characters in one stored chunk.
pub const CHUNK_CHARS: usize = 200;
/// Chunks aggregated per query: 15 × 200 = 3,000 characters, one Slack section's worth, and
/// far below `LISTAGG`'s 65,535 bytes even at four bytes a character.
pub const MAX_CHUNKS: u32 = 15;
/// Precedes every chunk in the aggregated text (ASCII "record separator", `CHR(30)`).
pub const CHUNK_MARK: char = '\u{1e}';
/// The most of a query's aggregated text a run keeps: more than a Slack section can show (3,000
/// characters of up to 4 bytes). The statement already caps what it aggregates; this bounds
/// memory whatever a result holds.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

const _: () = assert!(MAX_CHUNKS as usize * CHUNK_CHARS * 4 + MAX_CHUNKS as usize <= 65_535);
const _: () = assert!(MAX_CHUNKS as usize * CHUNK_CHARS * 4 <= MAX_TEXT_BYTES);

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
            // A full chunk is 200 characters; what RTRIM removed were real spaces.
            let missing = CHUNK_CHARS.saturating_sub(chunk.chars().count());
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
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What Redshift returns for `text` through the statement: 200-character chunks, RTRIM'd,
    /// each prefixed with the mark. The one Rust model of the storage (the local Redshift in
    /// devstack/ is the other, and the integration tests run the real SQL against it).
    pub(crate) fn aggregate_like_redshift(text: &str) -> String {
        let stored: Vec<char> = text.replace('\n', "\\n").chars().collect();
        stored
            .chunks(CHUNK_CHARS)
            .take(MAX_CHUNKS as usize)
            .map(|c| format!("{CHUNK_MARK}{}", c.iter().collect::<String>().trim_end()))
            .collect()
    }

    #[test]
    fn spaces_at_a_chunk_boundary_survive() {
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
        let text = format!("{}\nFROM t", "x".repeat(199));
        let aggregated = aggregate_like_redshift(&text);
        assert!(aggregated.contains(&format!("\\{CHUNK_MARK}n")));
        assert_eq!(stitch(&aggregated), text);
    }

    #[test]
    fn multibyte_text_is_padded_by_characters() {
        // 199 three-byte characters then a space ends chunk one: the space must survive.
        let text = format!("{} {}", "日".repeat(199), "本語 FROM t");
        assert_eq!(stitch(&aggregate_like_redshift(&text)), text);
    }

    #[test]
    fn long_texts_keep_a_prefix_cut_on_a_character_boundary() {
        assert_eq!(keep_prefix("select 1", 100), ("select 1", false));
        let text = "日本語".repeat(10);
        assert_eq!(keep_prefix(&text, 10), ("日本語", true));
    }

    #[test]
    fn a_single_short_chunk_is_just_trimmed() {
        assert_eq!(stitch(&format!("{CHUNK_MARK}select 1")), "select 1");
        assert_eq!(stitch("select 1   "), "select 1");
        assert_eq!(stitch(""), "");
    }

    proptest! {
        #[test]
        fn stitching_restores_any_text_without_backslashes(
            text in "[ -\\[\\]-~\n日本語🙂é]{0,1400}"
        ) {
            // A literal `\n` typed by a user is indistinguishable from a stored line break, in
            // Redshift as here, so backslashes are left out. At most 1,400 characters: stored
            // with every line break doubled, they still fit the 15 chunks aggregated.
            prop_assert_eq!(stitch(&aggregate_like_redshift(&text)), text.trim_end());
        }
    }
}
