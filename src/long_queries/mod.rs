//! The long-query check: its SQL ([`sql`]), how its rows are read ([`row`], [`text`]), which
//! queries are reported ([`select`]) and how they are laid out in Slack ([`message`]). It knows
//! nothing of the Data API or of HTTP: [`crate::run`] hands it a result set and posts what it
//! builds.

pub mod ended;
pub mod message;
pub mod row;
pub mod select;
pub mod sql;
pub mod text;
pub mod thread;

use crate::model::{AlertMode, Minutes, Views};
use crate::redshift::{MissingColumn, ResultSet, Statement};
use crate::rules::AlertRules;
pub use row::{LongQuery, Unreadable};

/// What the check found in one run's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// The queries to report, oldest first.
    pub reported: Vec<LongQuery>,
    /// Rows the rules left out (excluded users, per-user thresholds).
    pub skipped: usize,
    pub unreadable: Vec<Unreadable>,
    pub past_threshold_total: Option<i64>,
}

/// The statement for a run: the views to read, the base threshold, the alert mode and rules
/// (whose per-user thresholds widen the window asked for), and the time elapsed minutes are
/// measured from (`None`: the cluster's clock).
pub fn statement(
    views: Views,
    threshold: Minutes,
    mode: AlertMode,
    rules: &AlertRules,
    as_of: Option<jiff::Timestamp>,
) -> Statement {
    let clock = if as_of.is_some() {
        sql::Clock::AsOf
    } else {
        sql::Clock::Cluster
    };
    Statement {
        sql: sql::statement(views, clock, rules.checks),
        parameters: sql::parameters(
            select::statement_window(threshold, mode, rules),
            threshold,
            as_of,
        ),
    }
}

/// Reads the result and applies the rules.
pub fn evaluate(
    set: &ResultSet,
    threshold: Minutes,
    mode: AlertMode,
    rules: &AlertRules,
) -> Result<Findings, MissingColumn> {
    let rows = row::read(set)?;
    let found = rows.queries.len();
    let reported: Vec<LongQuery> = rows
        .queries
        .into_iter()
        .filter(|q| select::is_reported(q, threshold, mode, rules))
        .collect();
    Ok(Findings {
        skipped: found - reported.len(),
        reported,
        unreadable: rows.unreadable,
        past_threshold_total: rows.past_threshold_total,
    })
}
