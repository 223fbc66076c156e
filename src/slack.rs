//! Slack: Block Kit messages built within Slack's limits, and their delivery to the incoming
//! webhook with bounded, deadline-aware retries.
//!
//! Limits honoured (from Slack's Block Kit reference): at most 50 blocks per message, 3,000
//! characters per section text, 150 per header. Lengths are counted in UTF-16 code units, which
//! is never less than Slack's character count, so emoji and CJK text cannot push a section over.
//! Many queries are split over several messages; a long query text is cut visibly.

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::config::{Window, Zone};
use crate::redshift::LongQuery;
use crate::rules::AlertRules;
use crate::secret::{Target, WebhookUrl};

pub const MAX_BLOCKS: usize = 50;
pub const SECTION_TEXT_LIMIT: usize = 3000;
pub const HEADER_TEXT_LIMIT: usize = 150;
/// Header, context and mention, then three blocks a query (details, text, divider) minus the
/// last divider: 3 + 15 × 3 − 1 = 47 blocks, within [`MAX_BLOCKS`].
pub const QUERIES_PER_MESSAGE: usize = 15;

/// Where the queries ran and how they were selected, for the message's header and context.
#[derive(Debug, Clone, Copy)]
pub struct MessageContext<'a> {
    pub target: &'a Target,
    pub database: &'a str,
    /// The base threshold's window (per-user thresholds may differ).
    pub window: Window,
    pub timezone: &'a Zone,
    pub rules: &'a AlertRules,
    /// How many queries run past the base threshold in all, when known.
    pub past_threshold_total: Option<i64>,
}

/// The messages to post for these queries: none when there are none, otherwise one per
/// [`QUERIES_PER_MESSAGE`] queries, in the given order, each query in exactly one message.
pub fn build_messages(queries: &[LongQuery], ctx: &MessageContext<'_>) -> Vec<Value> {
    let parts = queries.len().div_ceil(QUERIES_PER_MESSAGE);
    queries
        .chunks(QUERIES_PER_MESSAGE)
        .enumerate()
        .map(|(i, chunk)| {
            build_message(
                chunk,
                i * QUERIES_PER_MESSAGE,
                queries.len(),
                i + 1,
                parts,
                ctx,
            )
        })
        .collect()
}

fn build_message(
    chunk: &[LongQuery],
    first_index: usize,
    total: usize,
    part: usize,
    parts: usize,
    ctx: &MessageContext<'_>,
) -> Value {
    let part_note = if parts > 1 {
        format!(" (part {part} of {parts})")
    } else {
        String::new()
    };
    let noun = if total == 1 { "query" } else { "queries" };
    let header = format!(
        "{total} Redshift {noun} running for {}+ min{part_note}",
        ctx.window.min_minutes
    );
    let kind = match ctx.target {
        Target::Cluster(_) => "Cluster",
        Target::Workgroup(_) => "Workgroup",
    };
    let mut context = format!(
        "{kind} `{}` · database `{}` · elapsed {}–{} min · times in {}",
        escape(ctx.target.name()),
        escape(ctx.database),
        ctx.window.min_minutes,
        ctx.window.max_minutes.saturating_sub(1),
        escape(ctx.timezone.name()),
    );
    if let Some(all) = ctx.past_threshold_total {
        context.push_str(&format!(
            " · {all} running past {} min in all",
            ctx.window.min_minutes
        ));
    }

    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut_plain(&format!(":rotating_light: {header}"), HEADER_TEXT_LIMIT), "emoji": true}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut_plain(&context, SECTION_TEXT_LIMIT)}]}),
    ];
    // The fallback `text` is mrkdwn too (it is what notifications show): escaped like the rest,
    // so a user name like `<!channel>` cannot ping anyone. Mentions are validated, so they go
    // in as they are; the channel mention only in the first message, to ping once.
    let mut fallback = String::new();
    if let (Some(mention), 1) = (&ctx.rules.mention, part) {
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": mention.as_str()}}));
        fallback.push_str(mention.as_str());
        fallback.push(' ');
    }
    fallback.push_str(&format!(
        "{header} on {}/{}:",
        escape(ctx.target.name()),
        escape(ctx.database)
    ));
    for (offset, query) in chunk.iter().enumerate() {
        let number = first_index + offset + 1;
        if offset > 0 {
            blocks.push(json!({"type": "divider"}));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": details(number, query, ctx)}}));
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": code_block(query)}}),
        );
        fallback.push_str(&format!(
            "\n{number}. {} pid {} running {} min",
            query
                .user
                .as_deref()
                .map_or("(dropped user)".into(), escape),
            query.pid,
            query.elapsed_minutes
        ));
    }
    debug_assert!(blocks.len() <= MAX_BLOCKS);
    json!({"text": cut_plain(&fallback, SECTION_TEXT_LIMIT), "blocks": blocks})
}

fn details(number: usize, query: &LongQuery, ctx: &MessageContext<'_>) -> String {
    let mut user = match &query.user {
        Some(user) => format!("*{}*", escape(user)),
        None => "_(dropped user)_".to_owned(),
    };
    if let Some(owner) = ctx.rules.mention_for(query.user.as_deref()) {
        user.push_str(&format!(" ({})", owner.as_str()));
    }
    let pid = query.pid;
    format!(
        "*{number}.* User {user} · pid `{pid}` · query id `{}`\nStarted {} · running *{} min*\n\
         Stop it: `CANCEL {pid};` or `SELECT pg_terminate_backend({pid});`",
        query.query_id,
        format_start(query.start_time, ctx.timezone),
        query.elapsed_minutes
    )
}

/// `2026-11-28 18:15:00 JST`: the zone's abbreviation, or its offset where it has none.
pub fn format_start(start: jiff::Timestamp, tz: &Zone) -> String {
    start
        .to_zoned_datetime(tz.tz().clone())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

const FENCE_OPEN: &str = "```\n";
const FENCE_CLOSE: &str = "\n```";

/// The query text in a code block, cut to fit one section with a visible note.
fn code_block(query: &LongQuery) -> String {
    if query.text.trim().is_empty() {
        return "_(no query text)_".to_owned();
    }
    let note_room = 80;
    let budget = SECTION_TEXT_LIMIT - utf16_len(FENCE_OPEN) - utf16_len(FENCE_CLOSE) - note_room;
    let (body, omitted) = escape_code_within(&query.text, budget);
    let mut text = format!("{FENCE_OPEN}{body}{FENCE_CLOSE}");
    if omitted > 0 {
        text.push_str(&format!("\n_… cut: {omitted} more characters not shown_"));
    } else if query.text_truncated {
        text.push_str("\n_… cut: the query is longer than Redshift's text shown here_");
    }
    debug_assert!(utf16_len(&text) <= SECTION_TEXT_LIMIT);
    text
}

/// Escapes Slack's control characters (`&`, `<`, `>`) and breaks up backtick runs that would
/// close the code block early, stopping before `budget` UTF-16 units; never splits a character
/// or an entity. Returns the text and how many characters of the input were left out.
fn escape_code_within(text: &str, budget: usize) -> (String, usize) {
    let mut out = String::with_capacity(text.len().min(budget * 2));
    let mut used = 0;
    let mut previous = '\0';
    for (index, c) in text.char_indices() {
        let mut piece = [0u8; 4];
        let piece: &str = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            // A zero-width space between two backticks keeps ``` in the text from closing the
            // block; the text still reads the same.
            '`' if previous == '`' => "\u{200b}`",
            _ => c.encode_utf8(&mut piece),
        };
        let cost = utf16_len(piece);
        if used + cost > budget {
            return (out, text[index..].chars().count());
        }
        out.push_str(piece);
        used += cost;
        previous = c;
    }
    (out, 0)
}

/// Escapes Slack's control characters in mrkdwn text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts plain text to `limit` UTF-16 units on a character boundary, ending in `…` when cut.
fn cut_plain(text: &str, limit: usize) -> String {
    if utf16_len(text) <= limit {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf16() > limit - 1 {
            break;
        }
        out.push(c);
        used += c.len_utf16();
    }
    out.push('…');
    out
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// What the webhook answered, reduced to what the retry policy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// A request that got no HTTP answer. `detail` never contains the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub timed_out: bool,
    pub detail: String,
}

/// The one seam to Slack: posting a body to the webhook. The real one is [`HttpWebhook`];
/// tests use a scripted fake or the local receiver.
pub trait WebhookTransport: Send + Sync {
    fn post(
        &self,
        url: &WebhookUrl,
        body: String,
        timeout: Duration,
    ) -> impl Future<Output = Result<HttpReply, TransportError>> + Send;
}

/// The webhook over HTTPS with reqwest (rustls).
///
/// The client is built on the first post, not at start-up: loading the root certificates is
/// most of a cold start's work (measured in docs/performance.md), and a run that finds nothing
/// never needs it. Once built it is kept, so a warm container reuses its connections.
#[derive(Debug, Default)]
pub struct HttpWebhook {
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
}

impl HttpWebhook {
    pub fn new() -> Self {
        HttpWebhook::default()
    }

    fn client(&self) -> Result<&reqwest::Client, TransportError> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .user_agent(concat!(
                        "redshift-long-query-alert/",
                        env!("CARGO_PKG_VERSION")
                    ))
                    .build()
                    .map_err(|e| e.without_url().to_string())
            })
            .as_ref()
            .map_err(|detail| TransportError {
                timed_out: false,
                detail: format!("could not set up the HTTP client: {detail}"),
            })
    }
}

impl WebhookTransport for HttpWebhook {
    async fn post(
        &self,
        url: &WebhookUrl,
        body: String,
        timeout: Duration,
    ) -> Result<HttpReply, TransportError> {
        let sent = self
            .client()?
            .post(url.expose().clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(transport_error)?;
        let status = sent.status().as_u16();
        let retry_after = sent
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = sent.text().await.unwrap_or_default();
        Ok(HttpReply {
            status,
            retry_after,
            body,
        })
    }
}

/// reqwest puts the URL into its errors' text: drop it, and keep the causes, which say what
/// actually happened (refused, reset, TLS, timeout).
fn transport_error(err: reqwest::Error) -> TransportError {
    let timed_out = err.is_timeout();
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    TransportError { timed_out, detail }
}

/// How hard to try one message.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per message, the first included.
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// One request never waits longer than this for an answer.
    pub request_timeout: Duration,
    /// Without a `Retry-After`, a 429 waits this long.
    pub default_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            request_timeout: Duration::from_secs(10),
            default_retry_after: Duration::from_secs(1),
        }
    }
}

/// Why one message could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("Slack refused it with HTTP {status} `{body}` ({hint}); not retried")]
    Rejected {
        status: u16,
        body: String,
        hint: &'static str,
    },
    #[error("Slack answered HTTP {status} `{body}` on all {attempts} attempts")]
    ServerError {
        status: u16,
        body: String,
        attempts: u32,
    },
    #[error("Slack kept answering 429 (rate limited) after {attempts} attempts")]
    RateLimited { attempts: u32 },
    #[error("could not reach Slack after {attempts} attempts: {detail}")]
    Unreachable { attempts: u32, detail: String },
    #[error(
        "the deadline came before Slack accepted it (after {attempts} attempts; last: {last})"
    )]
    Deadline { attempts: u32, last: String },
}

impl DeliveryError {
    /// The webhook itself is gone or revoked: worth re-reading the secret next time.
    pub fn webhook_is_dead(&self) -> bool {
        matches!(self, DeliveryError::Rejected { status, .. } if matches!(status, 403 | 404 | 410))
    }
}

/// A run's messages could not all be posted.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error(
        "message {failed} of {total} was not delivered ({delivered} delivered before it, not \
         re-sent): {reason}"
    )]
    Undelivered {
        failed: usize,
        total: usize,
        delivered: usize,
        #[source]
        reason: DeliveryError,
    },
}

fn rejection_hint(status: u16, body: &str) -> &'static str {
    match (status, body.trim()) {
        (_, "invalid_payload") | (_, "invalid_blocks") => {
            "the message was malformed: please report this as a bug"
        }
        (_, "no_service") | (404, _) => {
            "the webhook was removed or the URL is wrong: put a current one into the secret"
        }
        (_, "invalid_token") | (403, _) => {
            "the webhook was revoked: put a current one into the secret"
        }
        (_, "channel_is_archived") | (410, _) => {
            "the webhook's channel is archived: create a webhook for another channel"
        }
        (_, "action_prohibited") => "an admin restricted posting to the webhook's channel",
        _ => "check the webhook URL in the secret",
    }
}

/// Slack's answers are short codes; anything long is cut so a log line stays readable.
fn short_body(body: &str) -> String {
    cut_plain(body.trim(), 200)
}

/// Delivers one message: 2xx is done; 429 waits as told; 5xx and network failures are retried
/// with backoff; other 4xx are final. Never waits past `deadline`.
pub async fn deliver<T: WebhookTransport>(
    transport: &T,
    url: &WebhookUrl,
    payload: &str,
    deadline: Instant,
    policy: &RetryPolicy,
) -> Result<u32, DeliveryError> {
    let mut backoff = policy.first_backoff;
    let mut attempts = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DeliveryError::Deadline {
                attempts,
                last: "no time left to try".into(),
            });
        }
        attempts += 1;
        let reply = transport
            .post(url, payload.to_owned(), left.min(policy.request_timeout))
            .await;
        let (wait, failure) = match reply {
            Ok(reply) if (200..300).contains(&reply.status) => return Ok(attempts),
            Ok(reply) if reply.status == 429 => {
                let wait = reply.retry_after.unwrap_or(policy.default_retry_after);
                (wait, DeliveryError::RateLimited { attempts })
            }
            Ok(reply) if reply.status >= 500 => {
                let wait = backoff;
                backoff = (backoff * 2).min(policy.max_backoff);
                let failure = DeliveryError::ServerError {
                    status: reply.status,
                    body: short_body(&reply.body),
                    attempts,
                };
                (wait, failure)
            }
            Ok(reply) => {
                let body = short_body(&reply.body);
                return Err(DeliveryError::Rejected {
                    status: reply.status,
                    hint: rejection_hint(reply.status, &body),
                    body,
                });
            }
            Err(err) => {
                let wait = backoff;
                backoff = (backoff * 2).min(policy.max_backoff);
                let failure = DeliveryError::Unreachable {
                    attempts,
                    detail: err.detail,
                };
                (wait, failure)
            }
        };
        if attempts >= policy.max_attempts {
            return Err(failure);
        }
        if Instant::now() + wait >= deadline {
            return Err(DeliveryError::Deadline {
                attempts,
                last: failure.to_string(),
            });
        }
        tracing::warn!(attempt = attempts, wait_ms = wait.as_millis() as u64, error = %failure, "Slack delivery will be retried");
        tokio::time::sleep(wait).await;
    }
}

/// Posts the messages in order, each exactly once; stops at the first that cannot be delivered
/// and says how many went out before it.
pub async fn post_all<T: WebhookTransport>(
    transport: &T,
    url: &WebhookUrl,
    messages: &[Value],
    deadline: Instant,
    policy: &RetryPolicy,
) -> Result<usize, SlackError> {
    for (index, message) in messages.iter().enumerate() {
        let payload = message.to_string();
        deliver(transport, url, &payload, deadline, policy)
            .await
            .map_err(|reason| SlackError::Undelivered {
                failed: index + 1,
                total: messages.len(),
                delivered: index,
                reason,
            })?;
    }
    Ok(messages.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn zone(name: &str) -> Zone {
        Zone::parse(name, "test").unwrap()
    }

    fn query(i: usize, text: &str) -> LongQuery {
        LongQuery {
            user: Some(format!("user{i}")),
            pid: 1000 + i as i64,
            query_id: 5000 + i as i64,
            start_time: "2026-11-28T09:15:00Z".parse().unwrap(),
            elapsed_minutes: 42,
            text: text.to_owned(),
            text_truncated: false,
        }
    }

    static CLUSTER: std::sync::LazyLock<Target> =
        std::sync::LazyLock::new(|| Target::Cluster("analytics".into()));
    static NO_RULES: std::sync::LazyLock<AlertRules> =
        std::sync::LazyLock::new(AlertRules::default);

    fn ctx(tz: &Zone) -> MessageContext<'_> {
        MessageContext {
            target: &CLUSTER,
            database: "dev",
            window: Window {
                min_minutes: 30,
                max_minutes: 60,
            },
            timezone: tz,
            rules: &NO_RULES,
            past_threshold_total: None,
        }
    }

    /// Every limit Slack enforces on what we send.
    fn assert_within_slack_limits(message: &Value) {
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS, "{} blocks", blocks.len());
        assert!(!message["text"].as_str().unwrap().is_empty());
        for block in blocks {
            let limit = match block["type"].as_str().unwrap() {
                "header" => HEADER_TEXT_LIMIT,
                "section" => SECTION_TEXT_LIMIT,
                _ => continue,
            };
            let text = block["text"]["text"].as_str().unwrap();
            assert!(utf16_len(text) <= limit, "{} > {limit}", utf16_len(text));
        }
    }

    fn code_sections(message: &Value) -> Vec<String> {
        message["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .filter(|t| t.starts_with("```") || t.starts_with("_(no query"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn nothing_found_builds_no_message() {
        let tz = zone("UTC");
        assert!(build_messages(&[], &ctx(&tz)).is_empty());
    }

    #[test]
    fn one_query_shows_user_pid_start_elapsed_and_text() {
        let tz = zone("Asia/Tokyo");
        let messages = build_messages(&[query(1, "select *\nfrom big_table")], &ctx(&tz));
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_within_slack_limits(m);
        let all = m.to_string();
        assert!(all.contains("user1") && all.contains("`1001`") && all.contains("42 min"));
        // 09:15 UTC is 18:15 in Tokyo.
        assert!(all.contains("2026-11-28 18:15:00 JST"), "{all}");
        assert_eq!(code_sections(m), ["```\nselect *\nfrom big_table\n```"]);
        assert!(m["text"]
            .as_str()
            .unwrap()
            .contains("user1 pid 1001 running 42 min"));
        assert!(all.contains("analytics") && all.contains("30–59 min"));
    }

    #[test]
    fn each_query_says_how_to_stop_it_and_the_total_is_shown() {
        let tz = zone("UTC");
        let mut c = ctx(&tz);
        c.past_threshold_total = Some(7);
        let m = &build_messages(&[query(1, "select 1")], &c)[0];
        let all = m.to_string();
        assert!(all.contains("`CANCEL 1001;`"), "{all}");
        assert!(
            all.contains("`SELECT pg_terminate_backend(1001);`"),
            "{all}"
        );
        assert!(all.contains("7 running past 30 min in all"), "{all}");
    }

    #[test]
    fn mentions_ping_the_channel_once_and_each_owner_at_their_query() {
        let tz = zone("UTC");
        let rules = AlertRules::default()
            .overlay(
                json!({"mention": "<!subteam^S0DATA>", "user_mentions": {"user3": "<@U0THREE>"}})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        let mut c = ctx(&tz);
        c.rules = &rules;
        let queries: Vec<_> = (0..20).map(|i| query(i, "select 1")).collect();
        let messages = build_messages(&queries, &c);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0]["blocks"][2]["text"]["text"],
            "<!subteam^S0DATA>"
        );
        assert!(messages[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("<!subteam^S0DATA> "));
        assert!(!messages[1].to_string().contains("S0DATA"), "pinged once");
        assert!(messages[0].to_string().contains("*user3* (<@U0THREE>)"));
        assert_eq!(messages[0].to_string().matches("<@U0THREE>").count(), 1);
        for m in &messages {
            assert_within_slack_limits(m);
        }
    }

    #[test]
    fn a_workgroup_is_named_as_such() {
        let tz = zone("UTC");
        let wg = Target::Workgroup("serverless-wg".into());
        let mut c = ctx(&tz);
        c.target = &wg;
        let all = build_messages(&[query(1, "x")], &c)[0].to_string();
        assert!(all.contains("Workgroup `serverless-wg`"), "{all}");
    }

    #[test]
    fn a_100_kb_query_is_cut_visibly_within_the_section_limit() {
        let tz = zone("UTC");
        let text = "select 1 union all ".repeat(100_000 / 19 + 1);
        let messages = build_messages(&[query(1, &text)], &ctx(&tz));
        assert_within_slack_limits(&messages[0]);
        let code = &code_sections(&messages[0])[0];
        assert!(code.contains("```\nselect 1 union all"));
        assert!(code.contains("more characters not shown"), "{code}");
    }

    #[test]
    fn text_cut_in_sql_is_marked_even_when_it_fits() {
        let tz = zone("UTC");
        let mut q = query(1, "select 1");
        q.text_truncated = true;
        let code = &code_sections(&build_messages(&[q], &ctx(&tz))[0])[0];
        assert!(code.contains("cut:"), "{code}");
    }

    #[test]
    fn multibyte_text_is_cut_on_a_character_boundary() {
        let tz = zone("UTC");
        let text = "日本語🙂".repeat(2_000);
        let messages = build_messages(&[query(1, &text)], &ctx(&tz));
        assert_within_slack_limits(&messages[0]);
        let code = &code_sections(&messages[0])[0];
        let body = code
            .trim_start_matches("```\n")
            .split("\n```")
            .next()
            .unwrap();
        assert!(
            text.starts_with(body),
            "the kept part is a prefix of whole characters"
        );
        assert!(body.chars().count() > 1000);
    }

    #[test]
    fn control_characters_are_escaped_and_fences_kept_intact() {
        let tz = zone("UTC");
        let mut q = query(1, "select '<b>' & '```' as x -- 🙂 日本");
        q.user = Some("<!channel> & co".into());
        let m = &build_messages(&[q], &ctx(&tz))[0];
        let code = &code_sections(m)[0];
        assert!(
            code.contains("&lt;b&gt;' &amp; '`\u{200b}`\u{200b}`'"),
            "{code}"
        );
        assert_eq!(code.matches("```").count(), 2, "only the fences: {code}");
        let all = m.to_string();
        assert!(!all.contains("<!channel>"), "no mention can be smuggled in");
        assert!(all.contains("&lt;!channel&gt; &amp; co"));
    }

    #[test]
    fn an_escape_never_splits_an_entity_at_the_cut() {
        let text = "&".repeat(5000);
        let (body, omitted) = escape_code_within(&text, 2_900);
        assert!(body.ends_with("&amp;"));
        assert_eq!(body.len() / 5 + omitted, 5000);
    }

    #[test]
    fn empty_text_and_dropped_user_read_sensibly() {
        let tz = zone("UTC");
        let mut q = query(1, "   ");
        q.user = None;
        let m = &build_messages(&[q], &ctx(&tz))[0];
        let all = m.to_string();
        assert!(all.contains("(dropped user)") && all.contains("(no query text)"));
    }

    #[test]
    fn one_hundred_twenty_queries_are_split_and_none_is_lost() {
        let tz = zone("UTC");
        let queries: Vec<_> = (0..120).map(|i| query(i, &"x".repeat(2_000))).collect();
        let messages = build_messages(&queries, &ctx(&tz));
        assert_eq!(messages.len(), 120usize.div_ceil(QUERIES_PER_MESSAGE));
        let mut seen = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            assert_within_slack_limits(m);
            let header = m["blocks"][0]["text"]["text"].as_str().unwrap();
            assert!(header.contains(&format!("part {} of {}", i + 1, messages.len())));
            for block in m["blocks"].as_array().unwrap() {
                if let Some(t) = block["text"]["text"].as_str() {
                    if let Some(rest) = t.split("pid `").nth(1) {
                        seen.push(rest.split('`').next().unwrap().parse::<i64>().unwrap());
                    }
                }
            }
        }
        let expected: Vec<i64> = (0..120).map(|i| 1000 + i).collect();
        assert_eq!(seen, expected, "every query once, in order");
    }

    #[test]
    fn start_times_follow_the_time_zone() {
        let t: jiff::Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
        assert_eq!(format_start(t, &zone("UTC")), "2026-07-01 12:00:00 UTC");
        assert_eq!(
            format_start(t, &zone("Asia/Tokyo")),
            "2026-07-01 21:00:00 JST"
        );
        assert_eq!(
            format_start(t, &zone("Europe/Paris")),
            "2026-07-01 14:00:00 CEST"
        );
        assert_eq!(
            format_start(t, &zone("America/New_York")),
            "2026-07-01 08:00:00 EDT"
        );
    }

    /// A webhook that answers from a script and counts the calls.
    struct Scripted {
        replies: Mutex<Vec<Result<HttpReply, TransportError>>>,
        calls: Mutex<u32>,
    }

    impl Scripted {
        fn new(mut replies: Vec<Result<HttpReply, TransportError>>) -> Self {
            replies.reverse();
            Scripted {
                replies: Mutex::new(replies),
                calls: Mutex::new(0),
            }
        }
        fn calls(&self) -> u32 {
            *self.calls.lock().unwrap()
        }
    }

    impl WebhookTransport for Scripted {
        async fn post(
            &self,
            _: &WebhookUrl,
            _: String,
            _: Duration,
        ) -> Result<HttpReply, TransportError> {
            *self.calls.lock().unwrap() += 1;
            self.replies
                .lock()
                .unwrap()
                .pop()
                .unwrap_or(Ok(reply(200, "ok")))
        }
    }

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            retry_after: None,
            body: body.into(),
        }
    }

    fn url() -> WebhookUrl {
        WebhookUrl::parse("https://hooks.slack.com/services/T/B/SECRET").unwrap()
    }

    fn soon(secs: u64) -> Instant {
        Instant::now() + Duration::from_secs(secs)
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_waits_as_told_then_delivers_once() {
        let hook = Scripted::new(vec![Ok(HttpReply {
            status: 429,
            retry_after: Some(Duration::from_secs(3)),
            body: "rate_limited".into(),
        })]);
        let started = Instant::now();
        let attempts = deliver(&hook, &url(), "{}", soon(60), &RetryPolicy::default())
            .await
            .unwrap();
        assert_eq!(attempts, 2);
        assert_eq!(hook.calls(), 2);
        assert!(started.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_longer_than_the_deadline_fails_at_once() {
        let hook = Scripted::new(vec![Ok(HttpReply {
            status: 429,
            retry_after: Some(Duration::from_secs(120)),
            body: String::new(),
        })]);
        let err = deliver(&hook, &url(), "{}", soon(10), &RetryPolicy::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, DeliveryError::Deadline { attempts: 1, .. }),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_are_retried_with_backoff_then_given_up() {
        let hook = Scripted::new(vec![
            Ok(reply(500, "internal_error")),
            Ok(reply(503, "")),
            Ok(reply(502, "")),
            Ok(reply(500, "internal_error")),
        ]);
        let started = Instant::now();
        let err = deliver(&hook, &url(), "{}", soon(60), &RetryPolicy::default())
            .await
            .unwrap_err();
        assert_eq!(hook.calls(), 4);
        assert!(matches!(
            err,
            DeliveryError::ServerError {
                status: 500,
                attempts: 4,
                ..
            }
        ));
        // 0.5 + 1 + 2 s of backoff between four attempts.
        assert_eq!(started.elapsed(), Duration::from_millis(3_500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_network_failure_then_success_delivers() {
        let hook = Scripted::new(vec![Err(TransportError {
            timed_out: false,
            detail: "connection refused".into(),
        })]);
        assert_eq!(
            deliver(&hook, &url(), "{}", soon(60), &RetryPolicy::default())
                .await
                .unwrap(),
            2
        );
    }

    #[tokio::test(start_paused = true)]
    async fn client_errors_are_final_and_quote_slack() {
        for (status, body, dead) in [
            (400, "invalid_payload", false),
            (404, "no_service", true),
            (410, "channel_is_archived", true),
            (403, "invalid_token", true),
        ] {
            let hook = Scripted::new(vec![Ok(reply(status, body))]);
            let err = deliver(&hook, &url(), "{}", soon(60), &RetryPolicy::default())
                .await
                .unwrap_err();
            assert_eq!(hook.calls(), 1, "{body}: no retry");
            assert!(err.to_string().contains(body), "{err}");
            assert!(!err.to_string().contains("SECRET"));
            assert_eq!(err.webhook_is_dead(), dead, "{body}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn post_all_reports_what_was_delivered_before_a_failure() {
        let hook = Scripted::new(vec![Ok(reply(200, "ok")), Ok(reply(400, "invalid_blocks"))]);
        let messages = vec![
            json!({"text": "1"}),
            json!({"text": "2"}),
            json!({"text": "3"}),
        ];
        let err = post_all(&hook, &url(), &messages, soon(60), &RetryPolicy::default())
            .await
            .unwrap_err();
        assert_eq!(hook.calls(), 2, "the third is not attempted");
        let SlackError::Undelivered {
            failed, delivered, ..
        } = err;
        assert_eq!((failed, delivered), (2, 1));
    }
}
