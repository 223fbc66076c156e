//! Text that goes into Slack's mrkdwn: escaping, neutralising text that came from the database
//! or the secret, and cutting to Slack's limits.
//!
//! Slack counts a text's length in characters; lengths here are counted in UTF-16 code units,
//! never fewer, so emoji and CJK text cannot push a block over. Text from outside is made inert:
//! `&`, `<` and `>` become entities (so `<!channel>` in a user name pings nobody), control and
//! bidirectional-override characters become U+FFFD (they could reorder or hide what a reader
//! sees), line breaks in inline values become spaces (no injected lines), and `://` gets a
//! zero-width space so no URL turns into a link. Inline values sit in code spans, where `*`, `_`
//! and `~` are literal.

/// Slack's limit for a section's or a context element's text.
pub const SECTION_TEXT_LIMIT: usize = 3000;
/// Slack's limit for a header's plain text.
pub const HEADER_TEXT_LIMIT: usize = 150;

const ZWSP: char = '\u{200b}';

pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Escapes Slack's control characters in mrkdwn.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        _ => out.push(c),
    }
}

/// Characters that can hide or reorder text, or break it into lines: C0/C1 controls, the
/// bidirectional embeddings, overrides and isolates, and the Unicode line separators.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

/// Pushes `c` from outside text, made inert; `previous` is the character before it.
fn push_inert(out: &mut String, c: char, previous: char, keep_line_breaks: bool) {
    match c {
        '\n' | '\t' if keep_line_breaks => out.push(c),
        '\n' | '\r' | '\t' => out.push(' '),
        c if is_hazard(c) => out.push('\u{fffd}'),
        // `x://y` would be auto-linked; `:` ZWSP `//` reads the same and links nothing.
        '/' if previous == ':' => {
            out.push(ZWSP);
            out.push('/');
        }
        _ => push_escaped(out, c),
    }
}

/// A value from outside as inert text on one line, at most `max_chars` characters of it: for the
/// fallback text that notifications show, where a code span's backticks would show literally.
pub fn plain(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut previous = '\0';
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        push_inert(&mut out, c, previous, false);
        previous = c;
    }
    out
}

/// A value from outside (a user name, a cluster name) as an inline code span on one line, at
/// most `max_chars` characters of it. Backticks inside would end the span: they become `ˋ`.
pub fn inline_code(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4) + 2);
    out.push('`');
    let mut previous = '\0';
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        if c == '`' {
            out.push('ˋ');
        } else {
            push_inert(&mut out, c, previous, false);
        }
        previous = c;
    }
    out.push('`');
    out
}

/// The body of a code block for `text` from outside, stopping before `budget` UTF-16 units; never
/// splits a character or an entity. Line breaks stay; a backtick after a backtick gets a
/// zero-width space first, so ```` ``` ```` in the text cannot close the block. Returns the body
/// and how many characters of `text` were left out.
pub fn code_block_body(text: &str, budget: usize) -> (String, usize) {
    let mut out = String::with_capacity(text.len().min(budget * 2));
    let mut used = 0;
    let mut previous = '\0';
    let mut piece = String::with_capacity(8);
    for (index, c) in text.char_indices() {
        piece.clear();
        if c == '`' && previous == '`' {
            piece.push(ZWSP);
            piece.push('`');
        } else {
            push_inert(&mut piece, c, previous, true);
        }
        let cost = utf16_len(&piece);
        if used + cost > budget {
            return (out, text[index..].chars().count());
        }
        out.push_str(&piece);
        used += cost;
        previous = c;
    }
    (out, 0)
}

/// Cuts plain text to `limit` UTF-16 units on a character boundary, ending in `…` when cut.
pub fn cut_plain(text: &str, limit: usize) -> String {
    match prefix_within(text, limit) {
        None => text.to_owned(),
        Some(kept) => format!("{kept}…"),
    }
}

/// Cuts mrkdwn like [`cut_plain`], and never inside an entity such as `&amp;`.
pub fn cut(text: &str, limit: usize) -> String {
    let Some(mut kept) = prefix_within(text, limit) else {
        return text.to_owned();
    };
    // An entity cut in half would show as raw text: drop the partial one.
    if let Some(amp) = kept.rfind('&') {
        if !kept[amp..].contains(';') {
            kept = &kept[..amp];
        }
    }
    format!("{kept}…")
}

/// The longest prefix that leaves room for `…` within `limit`, or `None` when all of `text` fits.
fn prefix_within(text: &str, limit: usize) -> Option<&str> {
    if utf16_len(text) <= limit {
        return None;
    }
    let room = limit.saturating_sub(1);
    let mut end = 0;
    let mut used = 0;
    for (index, c) in text.char_indices() {
        if used + c.len_utf16() > room {
            break;
        }
        used += c.len_utf16();
        end = index + c.len_utf8();
    }
    Some(&text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_values_cannot_inject_lines_markup_links_or_mentions() {
        let hostile = "<!channel> *bold* _it_ ~s~ `tick`\nnew line https://evil.example @here \u{202e}abc\u{7}";
        let shown = inline_code(hostile, 500);
        assert!(shown.starts_with('`') && shown.ends_with('`'));
        assert_eq!(shown.matches('`').count(), 2, "{shown}");
        assert!(!shown.contains('\n') && !shown.contains('<') && !shown.contains('>'));
        assert!(shown.contains("&lt;!channel&gt;"));
        assert!(!shown.contains("https://"), "{shown}");
        assert!(!shown.contains('\u{202e}') && !shown.contains('\u{7}'));
        assert!(shown.contains("*bold*"), "literal inside a code span");
    }

    #[test]
    fn inline_values_are_cut_to_their_budget() {
        let shown = inline_code(&"n".repeat(5000), 64);
        assert_eq!(shown.chars().count(), 64 + 3);
        assert!(shown.ends_with("…`"));
    }

    #[test]
    fn a_code_block_body_keeps_lines_and_breaks_fences() {
        let (body, omitted) = code_block_body("select '<b>' & '```'\nfrom t -- http://x", 1000);
        assert_eq!(omitted, 0);
        assert!(
            body.contains("&lt;b&gt;' &amp; '`\u{200b}`\u{200b}`'\nfrom t"),
            "{body}"
        );
        assert!(!body.contains("http://"));
    }

    #[test]
    fn a_code_block_body_never_splits_an_entity() {
        let (body, omitted) = code_block_body(&"&".repeat(5000), 2_900);
        assert!(body.ends_with("&amp;"));
        assert_eq!(body.len() / 5 + omitted, 5000);
    }

    #[test]
    fn cutting_respects_characters_entities_and_the_limit() {
        assert_eq!(cut("short", 10), "short");
        let cut_text = cut(&"日本語🙂".repeat(100), 50);
        assert!(utf16_len(&cut_text) <= 50 && cut_text.ends_with('…'));
        let entity = cut(&format!("{}&amp;tail", "a".repeat(7)), 10);
        assert_eq!(entity, "aaaaaaa…");
        assert_eq!(cut_plain("Q&A and more", 4), "Q&A…");
    }
}
