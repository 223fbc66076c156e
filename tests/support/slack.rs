//! Reading what Slack received: queries are found by their stable `block_id`
//! (`query:<n>:<pid>:<query id>`, `text:…`), never by parsing prose.

use serde_json::Value;

/// The pids of the queries in Slack messages, in order, one entry per appearance.
pub fn pids_in(payloads: &[Value]) -> Vec<i64> {
    payloads
        .iter()
        .flat_map(|payload| payload["blocks"].as_array().into_iter().flatten())
        .filter_map(|block| block["block_id"].as_str()?.strip_prefix("query:"))
        .filter_map(|id| id.split(':').nth(1)?.parse().ok())
        .collect()
}

/// The text of the blocks whose `block_id` starts with `prefix`, over all payloads.
pub fn block_texts(payloads: &[Value], prefix: &str) -> Vec<String> {
    payloads
        .iter()
        .flat_map(|payload| payload["blocks"].as_array().into_iter().flatten())
        .filter(|b| {
            b["block_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(prefix))
        })
        .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
        .collect()
}

/// The code block of a query's text as a reader would copy it: without its fences and cut note,
/// entities decoded and the zero-width spaces that keep fences and links inert removed.
pub fn query_text(payloads: &[Value], pid: i64) -> Option<String> {
    payloads
        .iter()
        .flat_map(|payload| payload["blocks"].as_array().into_iter().flatten())
        .find(|b| {
            b["block_id"]
                .as_str()
                .and_then(|id| id.strip_prefix("text:"))
                .and_then(|id| id.split(':').nth(1))
                == Some(&pid.to_string())
        })
        .and_then(|b| b["text"]["text"].as_str())
        .and_then(|t| t.strip_prefix("```\n"))
        .and_then(|t| t.split("\n```").next())
        .map(|t| {
            t.replace('\u{200b}', "")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
}
