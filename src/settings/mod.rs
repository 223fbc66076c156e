//! The settings of one check: layers as given ([`layer`]) resolved into one [`Settings`],
//! validated before any network call. The highest layer that gives a setting wins: the event
//! (Lambda) or the flags (CLI), then the function's environment, then the default.

pub mod layer;

use crate::input::Problem;
use crate::model::{AlertMode, AlertModeName, Language, Minutes, QuerySource, Window, Zone};
use crate::rules::RulesPatch;
pub use layer::{EnvLayer, Event, Layer, Origin, TargetLayer, MAX_TARGETS};

/// Used when neither `THRESHOLD_MINUTES` nor the event says otherwise.
pub const DEFAULT_THRESHOLD: Minutes = match Minutes::new(30) {
    Some(m) => m,
    None => panic!("30 is a valid threshold"),
};

/// The settings of one check, all validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Name or ARN of the Secrets Manager secret. Not itself a secret value.
    pub secret_id: String,
    pub threshold: Minutes,
    pub timezone: Zone,
    /// Build the messages and return them, post nothing.
    pub dry_run: bool,
    pub query_source: QuerySource,
    pub alert_mode: AlertMode,
    pub scheduled_time: Option<jiff::Timestamp>,
    /// The messages' language when the flags, the event or the environment say; otherwise the
    /// secret's, else English.
    pub language: Option<Language>,
    /// Alerting-rule keys given for this run, laid over the secret's.
    pub rules: RulesPatch,
}

impl Settings {
    /// The window for the base threshold.
    pub fn window(&self) -> Window {
        self.alert_mode.window_for(self.threshold)
    }
}

/// Which entry point is asking: error messages tell CLI users about flags and Lambda users
/// about event keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Cli,
    Lambda,
}

/// A bad setting. Each message names the flag, event key or variable and the accepted values.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin} is not valid: expected {expected}, found {found}")]
    Invalid {
        origin: Origin,
        expected: &'static str,
        found: String,
    },
    #[error(
        "{origin} names an unknown time zone {value:?}: use {}",
        Zone::EXPECTED
    )]
    UnknownTimezone { origin: Origin, value: String },
    #[error("{}", missing_secret_id(*.surface))]
    MissingSecretId { surface: Surface },
    #[error("{}", once_without_period(*.surface))]
    OnceWithoutPeriod { surface: Surface },
    #[error(
        "query_source \"svv\" reads SVV_QUERY_INFLIGHT, which Redshift Serverless does not \
         have: use \"sys\" or \"auto\" with a workgroup"
    )]
    InflightOnServerless,
    #[error(
        "alert_mode \"thread\" keeps its state in DynamoDB: set STATE_TABLE to the table's name \
         (the template creates it)"
    )]
    ThreadWithoutTable,
    #[error(
        "alert_mode \"thread\" posts through Slack's Web API: add slack_bot_token and \
         slack_channel to the secret `{secret_id}` (see the README: Slack app)"
    )]
    ThreadWithoutWebApi { secret_id: String },
    #[error("environment variable SLACK_API_URL is not usable: {problem}")]
    SlackApiUrl { problem: crate::model::UrlProblem },
    #[error("the event must be a JSON object (or null for the defaults), but it is {found}")]
    EventNotObject { found: &'static str },
    #[error("the event is not valid JSON ({detail}): send a JSON object")]
    EventNotJson { detail: String },
}

fn missing_secret_id(surface: Surface) -> &'static str {
    match surface {
        Surface::Cli => "no secret id: pass --secret-id NAME (or set SECRET_ID)",
        Surface::Lambda => {
            "no secret id: set SECRET_ID in the function's environment, or pass `secret_id` in \
             the event"
        }
    }
}

fn once_without_period(surface: Surface) -> &'static str {
    match surface {
        Surface::Cli => {
            "--alert-mode once needs the schedule's period: pass --schedule-minutes P (or set \
             SCHEDULE_MINUTES)"
        }
        Surface::Lambda => {
            "alert_mode \"once\" needs the schedule's period: set SCHEDULE_MINUTES, or pass \
             `schedule_minutes` in the event"
        }
    }
}

impl ConfigError {
    pub(crate) fn from_problem(problem: Problem, origin: impl FnOnce(String) -> Origin) -> Self {
        ConfigError::Invalid {
            origin: origin(problem.key),
            expected: problem.expected,
            found: problem.found,
        }
    }
}

/// An environment variable's value, parsed; `None` when it is unset.
fn from_env<T>(
    raw: &Option<String>,
    var: &'static str,
    expected: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, ConfigError> {
    raw.as_deref()
        .map(|raw| {
            parse(raw).ok_or_else(|| ConfigError::Invalid {
                origin: Origin::Env(var),
                expected,
                found: format!("{:?}", crate::input::shorten(raw)),
            })
        })
        .transpose()
}

/// Combines a layer of overrides with the environment's defaults and validates the result.
pub fn resolve(top: &Layer, env: &EnvLayer, surface: Surface) -> Result<Settings, ConfigError> {
    let secret_id = top
        .secret_id
        .clone()
        .or_else(|| env.secret_id.clone())
        .ok_or(ConfigError::MissingSecretId { surface })?;
    let threshold = match top.threshold {
        Some(m) => m,
        None => from_env(
            &env.threshold,
            "THRESHOLD_MINUTES",
            Minutes::EXPECTED,
            Minutes::parse,
        )?
        .unwrap_or(DEFAULT_THRESHOLD),
    };
    let query_source = match top.query_source {
        Some(s) => s,
        None => from_env(
            &env.query_source,
            "QUERY_SOURCE",
            QuerySource::EXPECTED,
            QuerySource::parse,
        )?
        .unwrap_or(QuerySource::Auto),
    };
    let mode = match top.alert_mode {
        Some(m) => m,
        None => from_env(
            &env.alert_mode,
            "ALERT_MODE",
            AlertModeName::EXPECTED,
            AlertModeName::parse,
        )?
        .unwrap_or(AlertModeName::Window),
    };
    let alert_mode = match mode {
        AlertModeName::Window => AlertMode::Window,
        AlertModeName::Thread => AlertMode::Thread,
        AlertModeName::Once => {
            let schedule = match top.schedule {
                Some(p) => Some(p),
                None => from_env(
                    &env.schedule,
                    "SCHEDULE_MINUTES",
                    Minutes::EXPECTED,
                    Minutes::parse,
                )?,
            };
            AlertMode::Once {
                schedule: schedule.ok_or(ConfigError::OnceWithoutPeriod { surface })?,
            }
        }
    };
    let timezone = match (&top.timezone, &env.timezone) {
        (Some(zone), _) => zone.clone(),
        (None, Some(name)) => Zone::parse(name).ok_or_else(|| ConfigError::UnknownTimezone {
            origin: Origin::Env("TIMEZONE"),
            value: crate::input::shorten(name.trim()),
        })?,
        (None, None) => Zone::utc(),
    };
    let language = match top.language {
        Some(l) => Some(l),
        None => from_env(
            &env.language,
            "MESSAGE_LANGUAGE",
            Language::EXPECTED,
            Language::parse,
        )?,
    };
    Ok(Settings {
        language,
        secret_id,
        threshold,
        timezone,
        dry_run: top.dry_run.unwrap_or(false),
        query_source,
        alert_mode,
        scheduled_time: top.scheduled_time,
        rules: top.rules.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn env(pairs: &[(&str, &str)]) -> EnvLayer {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvLayer::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    fn resolve_event(env_pairs: &[(&str, &str)], event: Value) -> Result<Settings, ConfigError> {
        resolve(
            &Event::read(&event)?.layer,
            &env(env_pairs),
            Surface::Lambda,
        )
    }

    fn event_key(err: &ConfigError) -> Option<String> {
        match err {
            ConfigError::Invalid {
                origin: Origin::EventKey(k),
                ..
            } => Some(k.clone()),
            _ => None,
        }
    }

    #[test]
    fn a_scheduled_event_uses_the_environments_defaults() {
        let event = json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-28T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "detail": {}
        });
        let settings = resolve_event(&[("SECRET_ID", "prod/alert")], event).unwrap();
        assert_eq!(settings.secret_id, "prod/alert");
        assert_eq!(settings.threshold, DEFAULT_THRESHOLD);
        assert_eq!(settings.timezone.name(), "UTC");
        assert!(!settings.dry_run);
        assert_eq!(
            settings.window(),
            Window {
                min_minutes: 30,
                max_minutes: 60
            }
        );
    }

    #[test]
    fn event_keys_override_the_environment() {
        let settings = resolve_event(
            &[
                ("SECRET_ID", "a"),
                ("THRESHOLD_MINUTES", "45"),
                ("TIMEZONE", "UTC"),
            ],
            json!({"secret_id": "b", "threshold_minutes": 5, "timezone": "Asia/Tokyo",
                   "dry_run": true, "unrelated": [1, 2]}),
        )
        .unwrap();
        assert_eq!(settings.secret_id, "b");
        assert_eq!(settings.threshold.get(), 5);
        assert_eq!(settings.timezone.name(), "Asia/Tokyo");
        assert!(settings.dry_run);
    }

    #[test]
    fn the_environment_applies_without_overrides_and_empty_variables_are_unset() {
        let settings = resolve_event(
            &[
                ("SECRET_ID", "a"),
                ("THRESHOLD_MINUTES", " 45 "),
                ("TIMEZONE", "Europe/Paris"),
            ],
            Value::Null,
        )
        .unwrap();
        assert_eq!(settings.window().max_minutes, 90);
        assert_eq!(settings.timezone.name(), "Europe/Paris");
        let settings = resolve_event(
            &[
                ("SECRET_ID", "a"),
                ("THRESHOLD_MINUTES", ""),
                ("TIMEZONE", " "),
            ],
            Value::Null,
        )
        .unwrap();
        assert_eq!(settings.threshold, DEFAULT_THRESHOLD);
        assert_eq!(settings.timezone.name(), "UTC");
    }

    #[test]
    fn a_missing_secret_id_says_where_to_set_it_on_each_surface() {
        let err = resolve_event(&[], json!({})).unwrap_err();
        assert!(
            err.to_string().contains("`secret_id` in the event"),
            "{err}"
        );
        let err = resolve(&Layer::default(), &env(&[]), Surface::Cli).unwrap_err();
        assert!(err.to_string().contains("--secret-id"), "{err}");
        assert!(err.to_string().contains("SECRET_ID"), "{err}");
    }

    #[test]
    fn wrong_types_in_the_event_name_the_key_and_what_was_sent() {
        for (event, key) in [
            (json!({"threshold_minutes": "30"}), "threshold_minutes"),
            (json!({"threshold_minutes": 0}), "threshold_minutes"),
            (json!({"threshold_minutes": -5}), "threshold_minutes"),
            (json!({"threshold_minutes": 12.5}), "threshold_minutes"),
            (json!({"threshold_minutes": 10081}), "threshold_minutes"),
            (
                json!({"threshold_minutes": 99999999999u64}),
                "threshold_minutes",
            ),
            (json!({"dry_run": "yes"}), "dry_run"),
            (json!({"timezone": 9}), "timezone"),
            (json!({"secret_id": ""}), "secret_id"),
            (json!({"query_source": "stl"}), "query_source"),
            (json!({"alert_mode": "twice"}), "alert_mode"),
            (json!({"schedule_minutes": 0}), "schedule_minutes"),
            (json!({"time": "yesterday"}), "time"),
            (json!({"mention": "@here"}), "mention"),
            (json!({"targets": []}), "targets"),
            (
                json!({"targets": [{"threshold_minutes": 5}]}),
                "targets[0].secret_id",
            ),
            (
                json!({"targets": [{"secret_id": "a", "threshold_minutes": "5"}]}),
                "targets[0].threshold_minutes",
            ),
        ] {
            let err = Event::read(&event).unwrap_err();
            assert_eq!(event_key(&err).as_deref(), Some(key), "{event}: {err}");
            assert!(err.to_string().contains(key), "{err}");
        }
        let err = Event::read(&json!({"threshold_minutes": "30"})).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("1 to 10080") && text.contains("a string \"30\""),
            "{text}"
        );
    }

    #[test]
    fn more_targets_than_the_cap_are_refused() {
        let targets: Vec<Value> = (0..=MAX_TARGETS)
            .map(|i| json!({"secret_id": format!("s{i}")}))
            .collect();
        let err = Event::read(&json!({ "targets": targets })).unwrap_err();
        assert_eq!(event_key(&err).as_deref(), Some("targets"));
        assert!(err.to_string().contains("1 to 50"), "{err}");
    }

    #[test]
    fn non_object_events_are_refused() {
        for event in [json!([1]), json!("hello"), json!(3), json!(true)] {
            assert!(matches!(
                Event::read(&event),
                Err(ConfigError::EventNotObject { .. })
            ));
        }
    }

    #[test]
    fn bad_environment_values_name_the_variable_unless_overridden() {
        for raw in ["abc", "0", "-1", "10081", "1.5"] {
            let err = resolve_event(
                &[("SECRET_ID", "a"), ("THRESHOLD_MINUTES", raw)],
                Value::Null,
            )
            .unwrap_err();
            assert!(
                err.to_string()
                    .contains("environment variable THRESHOLD_MINUTES"),
                "{err}"
            );
        }
        let settings = resolve_event(
            &[("SECRET_ID", "a"), ("THRESHOLD_MINUTES", "abc")],
            json!({"threshold_minutes": 10}),
        )
        .unwrap();
        assert_eq!(settings.threshold.get(), 10);
        let err =
            resolve_event(&[("SECRET_ID", "a"), ("QUERY_SOURCE", "x")], Value::Null).unwrap_err();
        assert!(err.to_string().contains("QUERY_SOURCE"));
    }

    #[test]
    fn an_unknown_time_zone_names_its_source() {
        let err =
            resolve_event(&[("SECRET_ID", "a")], json!({"timezone": "Mars/Olympus"})).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("event key `timezone`") && text.contains("Mars/Olympus"),
            "{text}"
        );
        let err =
            resolve_event(&[("SECRET_ID", "a"), ("TIMEZONE", "JST-9x")], Value::Null).unwrap_err();
        assert!(
            err.to_string().contains("environment variable TIMEZONE"),
            "{err}"
        );
    }

    #[test]
    fn once_mode_uses_the_schedule_period_and_the_events_time() {
        let settings = resolve_event(
            &[
                ("SECRET_ID", "a"),
                ("ALERT_MODE", "once"),
                ("SCHEDULE_MINUTES", "10"),
            ],
            json!({"time": "2026-11-28T09:45:00Z", "threshold_minutes": 30}),
        )
        .unwrap();
        assert_eq!(settings.alert_mode.name(), "once");
        assert_eq!(
            settings.window(),
            Window {
                min_minutes: 30,
                max_minutes: 40
            }
        );
        assert_eq!(
            settings.scheduled_time.unwrap().to_string(),
            "2026-11-28T09:45:00Z"
        );
        let scheduler = resolve_event(
            &[("SECRET_ID", "a")],
            json!({"time": "2026-11-28T09:45:00Z", "scheduled_time": "2026-11-28T09:50:00Z"}),
        )
        .unwrap();
        assert_eq!(
            scheduler.scheduled_time.unwrap().to_string(),
            "2026-11-28T09:50:00Z"
        );
        let err = resolve_event(&[("SECRET_ID", "a")], json!({"alert_mode": "once"})).unwrap_err();
        assert!(matches!(err, ConfigError::OnceWithoutPeriod { .. }));
        assert!(err.to_string().contains("SCHEDULE_MINUTES"));
    }

    #[test]
    fn targets_carry_their_own_secret_and_threshold() {
        let event = Event::read(&json!({
            "threshold_minutes": 45, "dry_run": true,
            "targets": [{"secret_id": "one"}, {"secret_id": "two", "threshold_minutes": 90}]
        }))
        .unwrap();
        let first = resolve(
            &event.for_target(&event.targets[0]),
            &env(&[]),
            Surface::Lambda,
        )
        .unwrap();
        let second = resolve(
            &event.for_target(&event.targets[1]),
            &env(&[]),
            Surface::Lambda,
        )
        .unwrap();
        assert_eq!(
            (first.secret_id.as_str(), first.threshold.get()),
            ("one", 45)
        );
        assert_eq!(
            (second.secret_id.as_str(), second.threshold.get()),
            ("two", 90)
        );
        assert!(first.dry_run && second.dry_run);
    }
}
