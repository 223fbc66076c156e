//! Which queries a run reports. The statement asks for the union of every window in force (the
//! base threshold's and each user's), and the per-user rules are applied here, where they are
//! tested without a database.

use super::row::LongQuery;
use crate::model::{AlertMode, Minutes, Window};
use crate::rules::AlertRules;

/// The window the statement selects: wide enough for the base threshold and every per-user
/// threshold.
pub fn statement_window(base: Minutes, mode: AlertMode, rules: &AlertRules) -> Window {
    rules
        .user_thresholds
        .values()
        .map(|t| mode.window_for(*t))
        .fold(mode.window_for(base), Window::union)
}

/// Whether `query` is reported: not excluded, and in its user's own window.
pub fn is_reported(query: &LongQuery, base: Minutes, mode: AlertMode, rules: &AlertRules) -> bool {
    let user = query.user.as_deref();
    !rules.is_excluded(user)
        && mode
            .window_for(rules.threshold_for(user, base))
            .contains(query.elapsed_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Object, Quote};
    use crate::rules::RulesPatch;
    use serde_json::{json, Value};

    fn rules(value: Value) -> AlertRules {
        let patch = RulesPatch::read(&Object::new(value.as_object().unwrap(), Quote::Values));
        AlertRules::default().with(&patch.unwrap())
    }

    fn m(n: u32) -> Minutes {
        Minutes::new(n).unwrap()
    }

    fn query(user: Option<&str>, elapsed: i64) -> LongQuery {
        LongQuery {
            user: user.map(str::to_owned),
            pid: 1,
            query_id: 1,
            start_time: jiff::Timestamp::UNIX_EPOCH,
            elapsed_minutes: elapsed,
            text: String::new(),
            text_truncated: false,
            ..Default::default()
        }
    }

    #[test]
    fn the_statement_window_covers_every_users_threshold() {
        let r = rules(json!({"user_thresholds": {"etl": 120, "quick": 10}}));
        assert_eq!(
            statement_window(m(30), AlertMode::Window, &r),
            Window {
                min_minutes: 10,
                max_minutes: 240
            }
        );
        assert_eq!(
            statement_window(m(30), AlertMode::Window, &AlertRules::default()),
            AlertMode::Window.window_for(m(30))
        );
    }

    #[test]
    fn each_user_is_judged_by_their_own_threshold_and_excluded_users_never() {
        let r = rules(json!({"user_thresholds": {"etl": 120}, "exclude_users": ["loader"]}));
        let reported =
            |user, elapsed| is_reported(&query(user, elapsed), m(30), AlertMode::Window, &r);
        assert!(reported(Some("alice"), 30));
        assert!(!reported(Some("alice"), 60));
        assert!(!reported(Some("etl"), 100));
        assert!(reported(Some("etl"), 120));
        assert!(reported(Some("etl"), 239));
        assert!(!reported(Some("loader"), 45));
        assert!(reported(None, 45));
    }

    #[test]
    fn once_mode_reports_a_query_in_exactly_one_scheduled_run() {
        // Runs every 10 minutes; a query's elapsed minutes grow by 10 between runs, so exactly
        // one run sees it in [30, 40).
        let mode = AlertMode::Once { schedule: m(10) };
        let seen: Vec<i64> = (0..12)
            .map(|run| 3 + run * 10)
            .filter(|elapsed| {
                is_reported(
                    &query(Some("a"), *elapsed),
                    m(30),
                    mode,
                    &AlertRules::default(),
                )
            })
            .collect();
        assert_eq!(seen, [33]);
    }
}
