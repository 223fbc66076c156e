//! Who is told, and about which queries: an optional channel mention, per-user mentions (the
//! query's owner is pinged), users to leave out (ETL users whose long loads are expected) and
//! per-user thresholds. The secret sets them for a deployment; an event may override them key
//! by key. Each source is parsed once into a [`RulesPatch`], so laying one over another cannot
//! fail.

use std::collections::{BTreeMap, BTreeSet};

use crate::input::{Object, Problem};
use crate::model::{Checks, Mention, Minutes};

/// The rules in force for one check. Empty by default: everyone is reported at the base
/// threshold and nobody is mentioned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertRules {
    pub mention: Option<Mention>,
    pub user_mentions: BTreeMap<String, Mention>,
    pub exclude_users: BTreeSet<String>,
    pub user_thresholds: BTreeMap<String, Minutes>,
    /// Thread mode: when a still-running query is escalated. `None`: at twice its threshold.
    pub critical_minutes: Option<Minutes>,
    /// Which checks run beside the long-query check (all by default).
    pub checks: Checks,
}

/// The rule keys one source gave; absent keys leave the rules below untouched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesPatch {
    pub mention: Option<Mention>,
    pub user_mentions: Option<BTreeMap<String, Mention>>,
    pub exclude_users: Option<BTreeSet<String>>,
    pub user_thresholds: Option<BTreeMap<String, Minutes>>,
    pub critical_minutes: Option<Minutes>,
    pub checks: Option<Checks>,
}

const USER_MENTIONS_EXPECTED: &str =
    "an object mapping database user names to Slack mentions like \"<@U012AB3CD>\"";
const EXCLUDE_EXPECTED: &str = "a list of database user names";
const THRESHOLDS_EXPECTED: &str =
    "an object mapping database user names to minutes from 1 to 10080";

impl RulesPatch {
    /// Reads the rule keys of an event or a secret.
    pub fn read(object: &Object<'_>) -> Result<RulesPatch, Problem> {
        Ok(RulesPatch {
            mention: object.parsed("mention", Mention::EXPECTED, Mention::parse)?,
            user_mentions: object.map_of("user_mentions", USER_MENTIONS_EXPECTED, |v| {
                v.as_str().and_then(Mention::parse)
            })?,
            exclude_users: object
                .strings("exclude_users", EXCLUDE_EXPECTED)?
                .map(|users| users.into_iter().collect()),
            user_thresholds: object.map_of(
                "user_thresholds",
                THRESHOLDS_EXPECTED,
                crate::input::minutes,
            )?,
            critical_minutes: object.minutes("critical_minutes")?,
            checks: object.read("checks", Checks::EXPECTED, |v| {
                let names: Option<Vec<&str>> = v.as_array()?.iter().map(|n| n.as_str()).collect();
                Checks::parse(names?)
            })?,
        })
    }
}

impl AlertRules {
    /// These rules with `patch` laid over them.
    pub fn with(mut self, patch: &RulesPatch) -> AlertRules {
        if let Some(m) = &patch.mention {
            self.mention = Some(m.clone());
        }
        if let Some(m) = &patch.user_mentions {
            self.user_mentions = m.clone();
        }
        if let Some(u) = &patch.exclude_users {
            self.exclude_users = u.clone();
        }
        if let Some(t) = &patch.user_thresholds {
            self.user_thresholds = t.clone();
        }
        if let Some(c) = patch.critical_minutes {
            self.critical_minutes = Some(c);
        }
        if let Some(c) = patch.checks {
            self.checks = c;
        }
        self
    }

    /// The threshold that applies to `user` (a dropped user gets the base one).
    pub fn threshold_for(&self, user: Option<&str>, base: Minutes) -> Minutes {
        user.and_then(|u| self.user_thresholds.get(u).copied())
            .unwrap_or(base)
    }

    /// Thread mode: the elapsed minutes at which `user`'s query is escalated: `critical_minutes`
    /// when given, else twice the user's threshold.
    pub fn critical_for(&self, user: Option<&str>, base: Minutes) -> u32 {
        self.critical_minutes
            .map(Minutes::get)
            .unwrap_or_else(|| 2 * self.threshold_for(user, base).get())
    }

    pub fn is_excluded(&self, user: Option<&str>) -> bool {
        user.is_some_and(|u| self.exclude_users.contains(u))
    }

    pub fn mention_for(&self, user: Option<&str>) -> Option<&Mention> {
        user.and_then(|u| self.user_mentions.get(u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Quote;
    use serde_json::{json, Value};

    fn patch(value: Value) -> Result<RulesPatch, Problem> {
        RulesPatch::read(&Object::new(value.as_object().unwrap(), Quote::Values))
    }

    #[test]
    fn the_event_overrides_the_secret_one_key_at_a_time() {
        let from_secret = AlertRules::default().with(
            &patch(json!({"mention": "<!here>", "exclude_users": ["etl"], "user_thresholds": {"etl": 120}}))
                .unwrap(),
        );
        let merged =
            from_secret.with(&patch(json!({"mention": "<@U0TEAM>", "unrelated": 1})).unwrap());
        assert_eq!(merged.mention.unwrap().as_str(), "<@U0TEAM>");
        assert!(merged.exclude_users.contains("etl"));
        assert_eq!(merged.user_thresholds["etl"].get(), 120);
    }

    #[test]
    fn per_user_settings_apply_to_their_user_only() {
        let rules = AlertRules::default().with(
            &patch(
                json!({"user_mentions": {"alice": "<@U0ALICE>"}, "exclude_users": ["etl"],
                          "user_thresholds": {"bob": 90}}),
            )
            .unwrap(),
        );
        let base = Minutes::new(30).unwrap();
        assert_eq!(rules.threshold_for(Some("bob"), base).get(), 90);
        assert_eq!(rules.threshold_for(Some("alice"), base), base);
        assert_eq!(rules.threshold_for(None, base), base);
        assert!(rules.is_excluded(Some("etl")) && !rules.is_excluded(None));
        assert_eq!(
            rules.mention_for(Some("alice")).unwrap().as_str(),
            "<@U0ALICE>"
        );
        assert!(rules.mention_for(Some("bob")).is_none());
    }

    #[test]
    fn wrong_shapes_name_the_key() {
        for (value, key) in [
            (json!({"mention": "@here"}), "mention"),
            (json!({"mention": 5}), "mention"),
            (json!({"user_mentions": ["<@U01>"]}), "user_mentions"),
            (json!({"user_mentions": {"a": "bob"}}), "user_mentions"),
            (json!({"exclude_users": "etl"}), "exclude_users"),
            (json!({"exclude_users": [1]}), "exclude_users"),
            (json!({"user_thresholds": {"etl": 0}}), "user_thresholds"),
            (json!({"user_thresholds": {"etl": "90"}}), "user_thresholds"),
            (json!({"critical_minutes": 0}), "critical_minutes"),
            (json!({"critical_minutes": "60"}), "critical_minutes"),
            (json!({"checks": ["queued", "locks"]}), "checks"),
            (json!({"checks": "queued"}), "checks"),
        ] {
            assert_eq!(patch(value.clone()).unwrap_err().key, key, "{value}");
        }
    }

    #[test]
    fn the_critical_point_is_twice_the_users_threshold_unless_given() {
        let base = Minutes::new(30).unwrap();
        let rules =
            AlertRules::default().with(&patch(json!({"user_thresholds": {"etl": 90}})).unwrap());
        assert_eq!(rules.critical_for(Some("alice"), base), 60);
        assert_eq!(rules.critical_for(Some("etl"), base), 180);
        let fixed = rules.with(&patch(json!({"critical_minutes": 45})).unwrap());
        assert_eq!(fixed.critical_for(Some("etl"), base), 45);
        assert_eq!(
            fixed
                .with(&patch(json!({"mention": "<!here>"})).unwrap())
                .critical_minutes,
            Minutes::new(45),
            "a source without the key leaves it"
        );
    }
}
