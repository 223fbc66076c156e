//! Who is told, and about which queries: an optional channel mention, per-user mentions (the
//! query's owner is pinged), users to leave out (ETL users whose long loads are expected) and
//! per-user thresholds. Read from the secret and overridable key by key by the event.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::config::MAX_THRESHOLD_MINUTES;

/// A Slack mention, checked to be one: `<@U…>` / `<@W…>` (a user), `<!subteam^S…>` (a user
/// group), `<!here>`, `<!channel>` or `<!everyone>`; several may be given, separated by spaces.
/// Anything else would be posted as raw mrkdwn, so it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention(String);

impl Mention {
    pub fn parse(text: &str) -> Option<Mention> {
        let text = text.trim();
        let valid = !text.is_empty() && text.split(' ').all(is_one_mention);
        valid.then(|| Mention(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_one_mention(token: &str) -> bool {
    let Some(inner) = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
        return false;
    };
    let id_ok = |id: &str| id.len() >= 2 && id.chars().all(|c| c.is_ascii_alphanumeric());
    if let Some(id) = inner.strip_prefix('@') {
        return id.starts_with(['U', 'W']) && id_ok(id);
    }
    if let Some(id) = inner.strip_prefix("!subteam^") {
        return id_ok(id);
    }
    matches!(inner, "!here" | "!channel" | "!everyone")
}

/// The alerting rules of one target. Empty by default: everyone is reported at the base
/// threshold and nobody is mentioned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertRules {
    pub mention: Option<Mention>,
    pub user_mentions: BTreeMap<String, Mention>,
    pub exclude_users: BTreeSet<String>,
    pub user_thresholds: BTreeMap<String, u32>,
}

/// A rules key with the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub key: &'static str,
    pub expected: &'static str,
}

pub const RULE_KEYS: [&str; 4] = [
    "mention",
    "user_mentions",
    "exclude_users",
    "user_thresholds",
];

impl AlertRules {
    /// Reads the rules keys present in `map`; absent keys keep the value they have in `self`,
    /// so the event can override the secret one key at a time.
    pub fn overlay(mut self, map: &Map<String, Value>) -> Result<Self, RuleProblem> {
        if let Some(value) = map.get("mention").filter(|v| !v.is_null()) {
            self.mention = Some(mention(value, "mention")?);
        }
        if let Some(value) = map.get("user_mentions").filter(|v| !v.is_null()) {
            let problem = RuleProblem {
                key: "user_mentions",
                expected:
                    "an object mapping database user names to Slack mentions like \"<@U012AB3CD>\"",
            };
            let object = value.as_object().ok_or(problem.clone())?;
            self.user_mentions = object
                .iter()
                .map(|(user, m)| {
                    Ok((
                        user.trim().to_owned(),
                        mention(m, "user_mentions").map_err(|_| problem.clone())?,
                    ))
                })
                .collect::<Result<_, RuleProblem>>()?;
        }
        if let Some(value) = map.get("exclude_users").filter(|v| !v.is_null()) {
            let problem = RuleProblem {
                key: "exclude_users",
                expected: "a list of database user names",
            };
            let list = value.as_array().ok_or(problem.clone())?;
            self.exclude_users = list
                .iter()
                .map(|u| {
                    u.as_str()
                        .map(|s| s.trim().to_owned())
                        .ok_or(problem.clone())
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(value) = map.get("user_thresholds").filter(|v| !v.is_null()) {
            let problem = RuleProblem {
                key: "user_thresholds",
                expected: "an object mapping database user names to minutes from 1 to 10080",
            };
            let object = value.as_object().ok_or(problem.clone())?;
            self.user_thresholds = object
                .iter()
                .map(|(user, minutes)| {
                    let minutes = minutes
                        .as_u64()
                        .and_then(|m| u32::try_from(m).ok())
                        .filter(|m| (1..=MAX_THRESHOLD_MINUTES).contains(m))
                        .ok_or(problem.clone())?;
                    Ok((user.trim().to_owned(), minutes))
                })
                .collect::<Result<_, RuleProblem>>()?;
        }
        Ok(self)
    }

    /// The threshold that applies to `user` (a dropped user gets the base one).
    pub fn threshold_for(&self, user: Option<&str>, base: u32) -> u32 {
        user.and_then(|u| self.user_thresholds.get(u).copied())
            .unwrap_or(base)
    }

    pub fn is_excluded(&self, user: Option<&str>) -> bool {
        user.is_some_and(|u| self.exclude_users.contains(u))
    }

    pub fn mention_for(&self, user: Option<&str>) -> Option<&Mention> {
        user.and_then(|u| self.user_mentions.get(u))
    }
}

fn mention(value: &Value, key: &'static str) -> Result<Mention, RuleProblem> {
    value.as_str().and_then(Mention::parse).ok_or(RuleProblem {
        key,
        expected:
            "a Slack mention such as \"<@U012AB3CD>\", \"<!subteam^S012AB3CD>\" or \"<!here>\"",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overlay(base: AlertRules, value: Value) -> Result<AlertRules, RuleProblem> {
        base.overlay(value.as_object().unwrap())
    }

    #[test]
    fn mentions_are_accepted_only_in_slacks_own_forms() {
        for good in [
            "<@U012AB3CD>",
            "<@W0ABC>",
            "<!subteam^S012AB3CD>",
            "<!here>",
            "<!channel>",
            "<@U01> <!here>",
        ] {
            assert!(Mention::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "@alice",
            "<@alice>",
            "<!here",
            "<https://evil.example|click>",
            "<@U01>  <!here>",
            "<!subteam^>",
            "hello <!here>",
        ] {
            assert!(Mention::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_event_overrides_the_secret_one_key_at_a_time() {
        let from_secret = overlay(
            AlertRules::default(),
            json!({"mention": "<!here>", "exclude_users": ["etl"], "user_thresholds": {"etl": 120}}),
        )
        .unwrap();
        let merged = overlay(from_secret, json!({"mention": "<@U0TEAM>", "unrelated": 1})).unwrap();
        assert_eq!(merged.mention.unwrap().as_str(), "<@U0TEAM>");
        assert!(merged.exclude_users.contains("etl"));
        assert_eq!(merged.user_thresholds["etl"], 120);
    }

    #[test]
    fn per_user_settings_apply_to_their_user_only() {
        let rules = overlay(
            AlertRules::default(),
            json!({"user_mentions": {"alice": "<@U0ALICE>"}, "exclude_users": ["etl"],
                   "user_thresholds": {"bob": 90}}),
        )
        .unwrap();
        assert_eq!(rules.threshold_for(Some("bob"), 30), 90);
        assert_eq!(rules.threshold_for(Some("alice"), 30), 30);
        assert_eq!(rules.threshold_for(None, 30), 30);
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
        ] {
            assert_eq!(
                overlay(AlertRules::default(), value.clone())
                    .unwrap_err()
                    .key,
                key,
                "{value}"
            );
        }
    }
}
