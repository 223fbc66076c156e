//! The secret's JSON contract. The secret (a `SecretString` holding a JSON object) carries:
//! - how to reach Slack, one or both of:
//!   - `slack_webhook_url`: an incoming webhook, itself a credential (modes `window`, `once`);
//!   - `slack_bot_token` and `slack_channel`: a Slack app's bot token (a credential) and the
//!     channel id it posts to, through the Web API (needed by mode `thread`);
//! - exactly one of `cluster_identifier` (a provisioned cluster) or `workgroup_name` (Redshift
//!   Serverless), and `database` (required): where to run the statement;
//! - for a cluster, exactly one of `db_user` (temporary credentials through
//!   `redshift:GetClusterCredentials`) or `redshift_secret_arn` (database credentials kept in
//!   another secret); for a workgroup, `redshift_secret_arn` or neither (the caller's IAM
//!   identity): `db_user` does not exist in Serverless;
//! - optionally the alerting rules of [`crate::rules`], and `language` (`en` or `ja`).
//!
//! Any other key is ignored.

use serde_json::Value;

use super::SecretError;
use crate::input::{Object, Problem, Quote};
use crate::model::{
    ChannelId, Connection, DbAuth, Interactivity, Language, Masker, Secret, SecretUrl, SlackAccess,
    Target,
};
use crate::rules::RulesPatch;

/// Everything the secret tells a run.
#[derive(Debug, Clone)]
pub struct SecretConfig {
    pub slack: SlackAccess,
    pub connection: Connection,
    pub rules: RulesPatch,
    /// The deployment's message language (flags, the event and the environment override it).
    pub language: Option<Language>,
    /// The Cancel button's settings, when the secret has a Slack signing secret.
    pub interactivity: Option<Interactivity>,
    /// Masks this secret's values in text that came from outside.
    pub masker: Masker,
}

const NON_EMPTY: &str = "a non-empty string";
const BOT_TOKEN: &str = "a Slack bot token (it starts with \"xoxb-\")";

/// Parses and validates the secret's JSON text.
pub fn parse_secret(secret_id: &str, text: &str) -> Result<SecretConfig, SecretError> {
    let id = || secret_id.to_owned();
    // Parse to an untyped value first: serde's typed errors quote the offending value, syntax
    // errors only say where they are.
    let value: Value = serde_json::from_str(text).map_err(|e| SecretError::NotJson {
        secret_id: id(),
        problem: match e.classify() {
            serde_json::error::Category::Eof => "it ends too early",
            _ => "syntax error",
        },
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(map) = &value else {
        return Err(SecretError::NotObject {
            secret_id: id(),
            found: crate::input::kind(&value),
        });
    };
    let object = Object::new(map, Quote::KindOnly);
    let wrong = |p: Problem| SecretError::WrongType {
        secret_id: id(),
        key: p.key,
        expected: p.expected,
        found: p.found,
    };
    let optional = |key: &str| object.string(key, NON_EMPTY).map_err(wrong);
    let required = |key: &'static str| {
        optional(key)?.ok_or_else(|| SecretError::MissingKey {
            secret_id: id(),
            key,
        })
    };

    let webhook_text = optional("slack_webhook_url")?;
    let webhook = webhook_text
        .as_deref()
        .map(|text| {
            SecretUrl::parse(text).map_err(|problem| SecretError::BadUrl {
                secret_id: id(),
                key: "slack_webhook_url",
                problem,
            })
        })
        .transpose()?;
    let token = object
        .parsed("slack_bot_token", BOT_TOKEN, |t| {
            let t = t.trim();
            (t.starts_with("xox") && t.len() > 8 && !t.contains(char::is_whitespace))
                .then(|| t.to_owned())
        })
        .map_err(wrong)?;
    let channel = object
        .parsed("slack_channel", ChannelId::EXPECTED, ChannelId::parse)
        .map_err(wrong)?;
    let slack = match (token.clone(), channel, webhook.clone()) {
        (Some(token), Some(channel), webhook) => SlackAccess::WebApi {
            token: Secret::new(token),
            channel,
            webhook,
        },
        (Some(_), None, _) => {
            return Err(SecretError::MissingKey {
                secret_id: id(),
                key: "slack_channel",
            })
        }
        (None, Some(_), _) => {
            return Err(SecretError::MissingKey {
                secret_id: id(),
                key: "slack_bot_token",
            })
        }
        (None, None, Some(webhook)) => SlackAccess::Webhook(webhook),
        (None, None, None) => return Err(SecretError::NoSlack { secret_id: id() }),
    };
    let target = match (optional("cluster_identifier")?, optional("workgroup_name")?) {
        (Some(cluster), None) => Target::Cluster(cluster),
        (None, Some(workgroup)) => Target::Workgroup(workgroup),
        (Some(_), Some(_)) => {
            return Err(SecretError::Target {
                secret_id: id(),
                found: "not both",
            })
        }
        (None, None) => {
            return Err(SecretError::Target {
                secret_id: id(),
                found: "and has neither",
            })
        }
    };
    let database = required("database")?;
    let db_user = optional("db_user")?;
    let secret_arn = optional("redshift_secret_arn")?;
    let auth = match (&target, db_user, secret_arn) {
        (_, Some(_), Some(_)) => return Err(SecretError::BothAuthKeys { secret_id: id() }),
        (Target::Workgroup(_), Some(_), None) => {
            return Err(SecretError::DbUserWithWorkgroup { secret_id: id() })
        }
        (_, Some(user), None) => DbAuth::DbUser(user),
        (_, None, Some(arn)) => DbAuth::SecretArn(arn),
        (Target::Cluster(_), None, None) => return Err(SecretError::NoAuthKey { secret_id: id() }),
        (Target::Workgroup(_), None, None) => DbAuth::IamIdentity,
    };
    let rules = RulesPatch::read(&object).map_err(wrong)?;
    let language = object
        .parsed("language", Language::EXPECTED, Language::parse)
        .map_err(wrong)?;

    let interactivity = read_interactivity(&object, &target).map_err(|e| match e {
        Refused::Wrong(p) => wrong(p),
        Refused::Both => SecretError::BothCancelKeys { secret_id: id() },
        Refused::DbUserWithWorkgroup => SecretError::DbUserWithWorkgroup { secret_id: id() },
    })?;

    let mut sensitive: Vec<String> = token.into_iter().collect();
    if let Some(i) = &interactivity {
        sensitive.push(i.signing_secret.expose().clone());
        match &i.cancel_auth {
            Some(DbAuth::DbUser(user)) => sensitive.push(user.clone()),
            Some(DbAuth::SecretArn(arn)) => sensitive.push(arn.clone()),
            _ => {}
        }
    }
    if let (Some(text), Some(webhook)) = (webhook_text, &webhook) {
        sensitive.push(text);
        sensitive.push(webhook.expose().path().to_owned());
        sensitive.extend(
            webhook
                .expose()
                .path_segments()
                .into_iter()
                .flatten()
                .map(str::to_owned),
        );
    }
    match &auth {
        DbAuth::DbUser(user) => sensitive.push(user.clone()),
        DbAuth::SecretArn(arn) => sensitive.push(arn.clone()),
        DbAuth::IamIdentity => {}
    }
    // Path segments like "services" are no secret; masking them would only garble messages.
    sensitive.retain(|s| s != "services" && s != "/");
    Ok(SecretConfig {
        slack,
        connection: Connection {
            target,
            database,
            auth,
        },
        rules,
        language,
        interactivity,
        masker: Masker::new(sensitive),
    })
}

enum Refused {
    Wrong(Problem),
    Both,
    DbUserWithWorkgroup,
}

impl From<Problem> for Refused {
    fn from(p: Problem) -> Self {
        Refused::Wrong(p)
    }
}

const SLACK_USER_IDS: &str = "a list of Slack user ids such as [\"U012AB3CD\"]";

/// The Cancel button's keys: `slack_signing_secret`, `cancel_allowed_users`,
/// `cancel_allow_owner`, and the cancel identity, `cancel_db_user` or
/// `cancel_redshift_secret_arn` (never the monitor's own: it stays read-only).
fn read_interactivity(
    object: &Object<'_>,
    target: &Target,
) -> Result<Option<Interactivity>, Refused> {
    let Some(signing_secret) = object.string("slack_signing_secret", NON_EMPTY)? else {
        return Ok(None);
    };
    let allowed_users = object
        .read("cancel_allowed_users", SLACK_USER_IDS, |v| {
            v.as_array()?
                .iter()
                .map(|u| {
                    let u = u.as_str()?.trim();
                    let valid = u.len() >= 2
                        && u.starts_with(['U', 'W'])
                        && u.chars().all(|c| c.is_ascii_alphanumeric());
                    valid.then(|| u.to_owned())
                })
                .collect::<Option<std::collections::BTreeSet<String>>>()
        })?
        .unwrap_or_default();
    let cancel_auth = match (
        object.string("cancel_db_user", NON_EMPTY)?,
        object.string("cancel_redshift_secret_arn", NON_EMPTY)?,
    ) {
        (Some(_), Some(_)) => return Err(Refused::Both),
        (Some(_), None) if matches!(target, Target::Workgroup(_)) => {
            return Err(Refused::DbUserWithWorkgroup)
        }
        (Some(user), None) => Some(DbAuth::DbUser(user)),
        (None, Some(arn)) => Some(DbAuth::SecretArn(arn)),
        (None, None) => None,
    };
    Ok(Some(Interactivity {
        signing_secret: Secret::new(signing_secret),
        allowed_users,
        allow_owner: object.boolean("cancel_allow_owner")?.unwrap_or(false),
        cancel_auth,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOOK: &str = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN123";

    fn valid() -> Value {
        json!({
            "slack_webhook_url": HOOK,
            "cluster_identifier": "analytics",
            "database": "dev",
            "db_user": "monitor",
            "something_else": 42
        })
    }

    fn parse(value: &Value) -> Result<SecretConfig, SecretError> {
        parse_secret("prod/alert", &value.to_string())
    }

    #[test]
    fn a_valid_secret_is_read_and_extra_keys_are_ignored() {
        let config = parse(&valid()).unwrap();
        assert_eq!(
            config.connection.target,
            Target::Cluster("analytics".into())
        );
        assert_eq!(config.connection.database, "dev");
        assert_eq!(config.connection.auth, DbAuth::DbUser("monitor".into()));
        assert_eq!(config.slack.webhook().unwrap().expose().as_str(), HOOK);
    }

    #[test]
    fn redshift_secret_arn_is_the_alternative_to_db_user() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("db_user");
        v["redshift_secret_arn"] = json!("arn:aws:secretsmanager:us-east-1:1:secret:db");
        assert!(matches!(
            parse(&v).unwrap().connection.auth,
            DbAuth::SecretArn(_)
        ));
    }

    #[test]
    fn each_missing_required_key_is_named() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("database");
        let err = parse(&v).unwrap_err();
        assert!(matches!(
            err,
            SecretError::MissingKey {
                key: "database",
                ..
            }
        ));
        assert!(err.to_string().contains("database") && err.to_string().contains("prod/alert"));
    }

    #[test]
    fn slack_is_reached_by_a_webhook_a_bot_token_and_channel_or_both() {
        let mut none = valid();
        none.as_object_mut().unwrap().remove("slack_webhook_url");
        let err = parse(&none).unwrap_err();
        assert!(matches!(err, SecretError::NoSlack { .. }), "{err}");
        assert!(err.to_string().contains("slack_bot_token"));

        let mut app = none.clone();
        app["slack_bot_token"] = json!("xoxb-1111-2222-SECRETBOT");
        app["slack_channel"] = json!("C0ALERTS01");
        let config = parse(&app).unwrap();
        let SlackAccess::WebApi {
            channel, webhook, ..
        } = &config.slack
        else {
            panic!("{:?}", config.slack)
        };
        assert_eq!((channel.as_str(), webhook.is_none()), ("C0ALERTS01", true));
        assert_eq!(
            config.masker.mask("echo xoxb-1111-2222-SECRETBOT"),
            "echo <redacted>"
        );
        assert!(!format!("{config:?}").contains("SECRETBOT"));

        let mut both = app.clone();
        both["slack_webhook_url"] = json!(HOOK);
        assert!(parse(&both).unwrap().slack.webhook().is_some());

        for (key, value, named) in [
            ("slack_channel", json!("#alerts"), "slack_channel"),
            (
                "slack_bot_token",
                json!("hunter2-not-a-token"),
                "slack_bot_token",
            ),
        ] {
            let mut bad = app.clone();
            bad[key] = value;
            let err = parse(&bad).unwrap_err().to_string();
            assert!(err.contains(named) && !err.contains("hunter2"), "{err}");
        }
        let mut half = app.clone();
        half.as_object_mut().unwrap().remove("slack_channel");
        assert!(matches!(
            parse(&half).unwrap_err(),
            SecretError::MissingKey {
                key: "slack_channel",
                ..
            }
        ));
    }

    #[test]
    fn exactly_one_of_cluster_and_workgroup_is_required() {
        let mut neither = valid();
        neither
            .as_object_mut()
            .unwrap()
            .remove("cluster_identifier");
        let err = parse(&neither).unwrap_err();
        assert!(matches!(err, SecretError::Target { .. }));
        assert!(err.to_string().contains("cluster_identifier"));
        let mut both = valid();
        both["workgroup_name"] = json!("wg");
        assert!(matches!(
            parse(&both).unwrap_err(),
            SecretError::Target { .. }
        ));
    }

    #[test]
    fn a_serverless_workgroup_takes_a_secret_arn_or_the_iam_identity_but_no_db_user() {
        let mut wg = valid();
        wg.as_object_mut().unwrap().remove("cluster_identifier");
        wg["workgroup_name"] = json!("analytics-wg");
        assert!(matches!(
            parse(&wg).unwrap_err(),
            SecretError::DbUserWithWorkgroup { .. }
        ));
        wg.as_object_mut().unwrap().remove("db_user");
        let config = parse(&wg).unwrap();
        assert_eq!(
            config.connection.target,
            Target::Workgroup("analytics-wg".into())
        );
        assert_eq!(config.connection.auth, DbAuth::IamIdentity);
        wg["redshift_secret_arn"] = json!("arn:aws:secretsmanager:us-east-1:1:secret:db");
        assert!(matches!(
            parse(&wg).unwrap().connection.auth,
            DbAuth::SecretArn(_)
        ));
    }

    #[test]
    fn alerting_rules_are_read_from_the_secret() {
        let mut v = valid();
        v["mention"] = json!("<!subteam^S0DATA>");
        v["exclude_users"] = json!(["etl"]);
        let config = parse(&v).unwrap();
        assert_eq!(config.rules.mention.unwrap().as_str(), "<!subteam^S0DATA>");
        assert!(config.rules.exclude_users.unwrap().contains("etl"));
        v["mention"] = json!("@channel");
        assert!(matches!(
            parse(&v).unwrap_err(),
            SecretError::WrongType { ref key, .. } if key == "mention"
        ));
    }

    #[test]
    fn wrong_types_name_the_key_without_the_value() {
        let mut v = valid();
        v["database"] = json!(["SECRETTOKEN123"]);
        let err = parse(&v).unwrap_err();
        assert!(matches!(err, SecretError::WrongType { ref key, .. } if key == "database"));
        assert!(!err.to_string().contains("SECRETTOKEN123"), "{err}");
        let mut v = valid();
        v["db_user"] = json!("");
        assert!(matches!(
            parse(&v).unwrap_err(),
            SecretError::WrongType { ref key, .. } if key == "db_user"
        ));
    }

    #[test]
    fn exactly_one_auth_key_is_required() {
        let mut both = valid();
        both["redshift_secret_arn"] = json!("arn:x");
        assert!(matches!(
            parse(&both).unwrap_err(),
            SecretError::BothAuthKeys { .. }
        ));
        let mut neither = valid();
        neither.as_object_mut().unwrap().remove("db_user");
        assert!(matches!(
            parse(&neither).unwrap_err(),
            SecretError::NoAuthKey { .. }
        ));
    }

    #[test]
    fn invalid_json_says_where_but_never_what() {
        let text = r#"{"slack_webhook_url": "https://hooks.slack.com/SECRETTOKEN123" "#;
        let err = parse_secret("s", text).unwrap_err();
        assert!(matches!(err, SecretError::NotJson { .. }));
        let msg = err.to_string();
        assert!(msg.contains("line 1"), "{msg}");
        assert!(
            !msg.contains("SECRETTOKEN123") && !msg.contains("hooks.slack"),
            "{msg}"
        );
        let err = parse_secret("s", "'SECRETTOKEN123'").unwrap_err();
        assert!(!err.to_string().contains("SECRETTOKEN123"));
        let err = parse_secret("s", r#""SECRETTOKEN123""#).unwrap_err();
        assert!(matches!(
            err,
            SecretError::NotObject {
                found: "a string",
                ..
            }
        ));
        assert!(!err.to_string().contains("SECRETTOKEN123"));
    }

    #[test]
    fn a_webhook_that_is_not_https_is_refused_without_its_value() {
        for bad in [
            "http://hooks.slack.com/services/SECRETTOKEN123",
            "http://10.0.0.1/SECRETTOKEN123",
        ] {
            let mut v = valid();
            v["slack_webhook_url"] = json!(bad);
            let err = parse(&v).unwrap_err();
            assert!(matches!(err, SecretError::BadUrl { .. }), "{bad}");
            assert!(!err.to_string().contains("SECRETTOKEN123"), "{err}");
        }
    }

    #[test]
    fn debug_never_shows_secret_values_and_the_masker_knows_them() {
        let mut v = valid();
        v["db_user"] = json!("SECRETUSER");
        let config = parse(&v).unwrap();
        let shown = format!("{config:?}");
        for needle in ["SECRETTOKEN123", "SECRETUSER", "/services"] {
            assert!(!shown.contains(needle), "{shown}");
        }
        let masked = config
            .masker
            .mask("user SECRETUSER posted to /services/T000/B000/SECRETTOKEN123 or SECRETTOKEN123");
        assert!(
            !masked.contains("SECRETUSER") && !masked.contains("SECRETTOKEN123"),
            "{masked}"
        );
        assert!(masked.contains("posted to"), "{masked}");
    }
}
