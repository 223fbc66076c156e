//! The idle-transaction check's message: its own, after the long queries' (each of those is
//! full of queries already), one section per session with how to end it.

use super::IdleTransaction;
use crate::copy::IdleFacts;
use crate::long_queries::message::{user_label, with_context_facts, Context, NAME_CHARS};
use crate::slack::blocks::{Block, BlockId, Message};
use crate::slack::mrkdwn::{self, inline_code};

/// Sessions listed in the message; more are counted (the summary lists them all).
pub const SESSIONS_LISTED: usize = 20;

/// The message for these sessions: none when there are none.
pub fn build(sessions: &[IdleTransaction], ctx: &Context<'_>) -> Option<Message> {
    if sessions.is_empty() {
        return None;
    }
    let p = ctx.phrases;
    let header = p.idle_header(sessions.len(), ctx.window.min_minutes);
    let mut fallback = format!(
        "{}\n",
        p.fallback_intro(
            &header,
            &mrkdwn::plain(ctx.target.name(), NAME_CHARS),
            &mrkdwn::plain(ctx.database, NAME_CHARS),
        )
    );
    let listed = &sessions[..sessions.len().min(SESSIONS_LISTED)];
    for s in listed {
        let user = s.user.as_deref().map_or_else(
            || p.dropped_user().to_owned(),
            |u| mrkdwn::plain(u, NAME_CHARS),
        );
        fallback.push_str(&p.idle_fallback_line(s.pid, &user, s.idle_minutes));
        fallback.push('\n');
    }
    let mut message = Message::new(fallback.trim_end());
    message.push(Block::header(&format!(":zzz: {header}")));
    message.push(Block::context(&with_context_facts(ctx, |f| {
        p.idle_context(f)
    })));
    for s in listed {
        let tables: Vec<String> = s
            .locked_tables
            .iter()
            .map(|t| inline_code(t, NAME_CHARS * 2))
            .collect();
        let started = s.transaction_start_ts.map_or_else(
            || mrkdwn::plain(&s.transaction_start, NAME_CHARS),
            |t| p.start_time(&t.to_zoned_datetime(ctx.timezone.tz().clone())),
        );
        message.push(Block::section_with_id(
            BlockId::new(format!("idle:{}", s.pid)),
            &p.idle_session(&IdleFacts {
                pid: s.pid,
                user: &user_label(s.user.as_deref(), p),
                idle_minutes: s.idle_minutes,
                transaction_start: &started,
                tables: &tables.join(p.list_separator()),
                more_tables: s.more_tables,
                sessions_blocked: s.sessions_blocked,
            }),
        ));
    }
    if sessions.len() > SESSIONS_LISTED {
        message.push(Block::section_with_id(
            BlockId::new("idle:more"),
            &p.idle_more(sessions.len() - SESSIONS_LISTED),
        ));
    }
    Some(message)
}
