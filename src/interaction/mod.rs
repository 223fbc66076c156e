//! The Cancel button: a click Slack sends to the Function URL, verified ([`verify`]), read
//! ([`request`]), authorised, and turned into one statement that cancels the query only if its
//! session still runs it. The orchestration is in [`crate::run`]; everything here is pure.
//!
//! Why one statement: `CANCEL <pid>` cancels whatever the session runs *now*, and pids are
//! reused. Checking first and cancelling after leaves a gap in which the session could start
//! another query; `SELECT pg_cancel_backend(pid) FROM <the query's row>` checks and cancels at
//! once, and cancels nothing when the row is gone.

pub mod request;
pub mod verify;

use std::collections::BTreeSet;

use crate::model::{Interactivity, Mention};
use crate::redshift::{ResultSet, Statement};
use crate::rules::AlertRules;
use request::ButtonValue;

/// Who may cancel: the allowed users, and the query's owner when the secret says so (the Slack
/// user its database user is mentioned as in `user_mentions`).
pub fn may_cancel(
    slack_user: &str,
    button: &ButtonValue,
    interactivity: &Interactivity,
    rules: &AlertRules,
) -> bool {
    if interactivity.allowed_users.contains(slack_user) {
        return true;
    }
    interactivity.allow_owner
        && rules
            .mention_for(button.user.as_deref())
            .is_some_and(|m| mentions_only(m, slack_user))
}

/// A mention that names exactly this user (a group mention names no one in particular).
fn mentions_only(mention: &Mention, slack_user: &str) -> bool {
    let users: BTreeSet<&str> = mention
        .as_str()
        .split(' ')
        .filter_map(|m| m.strip_prefix("<@")?.strip_suffix('>'))
        .collect();
    users.len() == 1 && users.contains(slack_user)
}

/// The statement that cancels the query if, and only if, its session still runs it.
pub fn cancel_statement(button: &ButtonValue) -> Statement {
    let sql = if button.sys_id {
        "\
SELECT pg_cancel_backend(session_id) AS cancelled
FROM sys_query_history
WHERE session_id = CAST(:pid AS INTEGER)
  AND query_id = CAST(:query_id AS BIGINT)
  AND status IN ('running', 'queued', 'returning')"
    } else {
        "\
SELECT pg_cancel_backend(q.pid) AS cancelled
FROM (SELECT DISTINCT pid
      FROM svv_query_inflight
      WHERE pid = CAST(:pid AS INTEGER)
        AND query = CAST(:query_id AS INTEGER)) q"
    };
    Statement {
        sql: sql.to_owned(),
        parameters: vec![
            ("pid", button.pid.to_string()),
            ("query_id", button.query_id.to_string()),
        ],
    }
}

/// How a click ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Cancelled,
    /// The session no longer runs that query: nothing was cancelled.
    AlreadyEnded,
    /// Submitted, but Redshift had not answered before Slack's deadline: how it ended is told by
    /// the next scheduled run.
    Pending,
    /// Redshift refused or failed the statement: nothing was cancelled.
    Failed,
    /// The user may not cancel: nothing was asked of Redshift.
    NotAllowed,
    /// The secret has no cancel identity: nothing was asked of Redshift.
    NotConfigured,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Cancelled => "cancelled",
            Outcome::AlreadyEnded => "already_ended",
            Outcome::Pending => "pending",
            Outcome::Failed => "failed",
            Outcome::NotAllowed => "not_allowed",
            Outcome::NotConfigured => "not_configured",
        }
    }

    /// What the cancel statement's result says.
    pub fn of_result(set: &ResultSet) -> Outcome {
        if set.rows.is_empty() {
            Outcome::AlreadyEnded
        } else {
            Outcome::Cancelled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Object, Quote};
    use crate::model::Secret;
    use crate::rules::RulesPatch;
    use serde_json::json;

    fn interactivity(owner: bool) -> Interactivity {
        Interactivity {
            signing_secret: Secret::new("s".into()),
            allowed_users: ["U0ONCALL".to_owned()].into(),
            allow_owner: owner,
            cancel_auth: None,
        }
    }

    fn button(user: &str) -> ButtonValue {
        ButtonValue {
            secret_id: "s".into(),
            pid: 1,
            query_id: 2,
            sys_id: false,
            user: Some(user.into()),
        }
    }

    #[test]
    fn the_allowed_users_and_optionally_the_owner_may_cancel() {
        let v = json!({"user_mentions": {"alice": "<@U0ALICE>", "team": "<!subteam^S01>", "two": "<@U0A> <@U0B>"}});
        let rules = AlertRules::default()
            .with(&RulesPatch::read(&Object::new(v.as_object().unwrap(), Quote::Values)).unwrap());
        assert!(may_cancel(
            "U0ONCALL",
            &button("bob"),
            &interactivity(false),
            &rules
        ));
        assert!(!may_cancel(
            "U0ALICE",
            &button("alice"),
            &interactivity(false),
            &rules
        ));
        assert!(may_cancel(
            "U0ALICE",
            &button("alice"),
            &interactivity(true),
            &rules
        ));
        assert!(!may_cancel(
            "U0ALICE",
            &button("bob"),
            &interactivity(true),
            &rules
        ));
        assert!(
            !may_cancel("U0A", &button("two"), &interactivity(true), &rules),
            "not the one owner"
        );
        assert!(!may_cancel(
            "S01",
            &button("team"),
            &interactivity(true),
            &rules
        ));
    }

    #[test]
    fn the_statement_checks_the_query_and_cancels_in_one() {
        let s = cancel_statement(&button("a"));
        assert!(s.sql.contains("pg_cancel_backend") && s.sql.contains("query = CAST(:query_id"));
        assert_eq!(
            s.parameters,
            [("pid", "1".into()), ("query_id", "2".into())]
        );
        let sys = cancel_statement(&ButtonValue {
            sys_id: true,
            ..button("a")
        });
        assert!(sys.sql.contains("sys_query_history") && sys.sql.contains("status IN"));
    }
}
