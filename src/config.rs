//! Typed settings for one run: defaults from the environment, overridden by the invocation
//! event (Lambda) or the command-line flags (CLI), validated before any network call.
//!
//! The event is read as loose JSON on purpose: an EventBridge rule delivers its envelope
//! (`"detail-type": "Scheduled Event"`, `time`, `resources`, …) while an EventBridge Scheduler
//! target or a hand-written test event delivers a plain object. Only the keys we know are read;
//! everything else is ignored, so both shapes work.

use serde_json::{Map, Value};

use crate::rules::RULE_KEYS;

/// Used when neither `THRESHOLD_MINUTES` nor the event says otherwise.
pub const DEFAULT_THRESHOLD_MINUTES: u32 = 30;
/// A week. Past this the [N, 2N) window means nothing useful, and a typo (seconds for minutes)
/// is far likelier than a real wish.
pub const MAX_THRESHOLD_MINUTES: u32 = 7 * 24 * 60;
/// The time zone for start times when neither `TIMEZONE` nor the event names one.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// The settings of one check, all validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Name or ARN of the Secrets Manager secret. Not itself a secret value.
    pub secret_id: String,
    pub threshold_minutes: u32,
    pub timezone: Zone,
    /// Build the messages and return them, post nothing.
    pub dry_run: bool,
    pub query_source: QuerySource,
    pub alert_mode: AlertMode,
    /// When this run was scheduled (the event's `time`): `once` mode measures elapsed time from
    /// it, so a late invocation neither skips nor repeats a query.
    pub scheduled_time: Option<jiff::Timestamp>,
    /// Alerting-rule keys given in the event, laid over the secret's (see [`crate::rules`]).
    pub rule_overrides: Map<String, Value>,
}

impl Settings {
    /// The window for the base threshold.
    pub fn window(&self) -> Window {
        self.window_for(self.threshold_minutes)
    }

    /// The elapsed-minutes window for a threshold T. By default `[T, 2T)`: a schedule that runs
    /// more often than every T minutes sees every long query at least once, and a query past 2T
    /// is no longer re-announced. In `once` mode `[T, T+P)` for a schedule period P: each
    /// query falls into exactly one run's window.
    pub fn window_for(&self, threshold: u32) -> Window {
        let span = match self.alert_mode {
            AlertMode::Window => threshold,
            AlertMode::Once { schedule_minutes } => schedule_minutes,
        };
        Window {
            min_minutes: threshold,
            max_minutes: threshold + span,
        }
    }
}

/// Which system views list the running queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuerySource {
    /// `SVV_QUERY_INFLIGHT` on a provisioned cluster, the SYS views on Serverless.
    Auto,
    /// `SVV_QUERY_INFLIGHT` + `STL_QUERYTEXT` chunks (provisioned clusters only).
    Svv,
    /// `SYS_QUERY_HISTORY` + `SYS_QUERY_TEXT` (Serverless, and provisioned clusters too).
    Sys,
}

impl QuerySource {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(QuerySource::Auto),
            "svv" => Some(QuerySource::Svv),
            "sys" => Some(QuerySource::Sys),
            _ => None,
        }
    }
}

/// How often a long query is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertMode {
    /// In every run while its elapsed time lies in `[N, 2N)`.
    Window,
    /// Once: in the run in which its elapsed time first crossed N, for a schedule every P minutes.
    Once { schedule_minutes: u32 },
}

impl AlertMode {
    pub fn name(&self) -> &'static str {
        match self {
            AlertMode::Window => "window",
            AlertMode::Once { .. } => "once",
        }
    }
}

/// Elapsed-minutes bounds, `min_minutes` inclusive and `max_minutes` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub min_minutes: u32,
    pub max_minutes: u32,
}

/// An IANA time zone with the name it was given, so that messages and the summary can say it.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Zone {
    /// Looks the name up in the time-zone database bundled into the binary (the Lambda image
    /// has no guaranteed `/usr/share/zoneinfo`).
    pub fn parse(name: &str, source: &'static str) -> Result<Self, ConfigError> {
        let trimmed = name.trim();
        let tz = jiff::tz::TimeZone::get(trimmed).map_err(|_| ConfigError::UnknownTimezone {
            source_name: source,
            value: shorten(trimmed),
        })?;
        Ok(Zone {
            name: trimmed.to_owned(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }
}

/// A bad setting. Each message names the variable, flag or event key and the accepted values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "query_source \"svv\" reads SVV_QUERY_INFLIGHT, which Redshift Serverless does not \
         have: use \"sys\" or \"auto\" with a workgroup"
    )]
    InflightOnServerless,
    #[error(
        "alert_mode \"once\" needs the schedule's period: set SCHEDULE_MINUTES, or pass \
         `schedule_minutes` in the event (`--schedule-minutes` on the command line)"
    )]
    OnceWithoutPeriod,
    #[error(
        "no secret id: set SECRET_ID in the function's environment, or pass `secret_id` in the \
         event (`--secret-id` on the command line)"
    )]
    MissingSecretId,
    #[error("environment variable {var}={value:?} is not valid: {expected}")]
    InvalidEnv {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("the event must be a JSON object (or null for the defaults), but it is {found}")]
    EventNotObject { found: &'static str },
    #[error("event key `{key}` is not valid: expected {expected}, found {found}")]
    InvalidEventKey {
        key: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error(
        "{source_name} names an unknown time zone {value:?}: use an IANA name such as \
         `UTC`, `Asia/Tokyo` or `America/New_York`"
    )]
    UnknownTimezone {
        source_name: &'static str,
        value: String,
    },
}

const THRESHOLD_EXPECTED: &str = "a whole number of minutes from 1 to 10080 (7 days)";
const SOURCE_EXPECTED: &str = "\"auto\", \"svv\" or \"sys\"";
const MODE_EXPECTED: &str = "\"window\" or \"once\"";
const TIME_EXPECTED: &str = "an RFC 3339 time such as \"2026-11-28T09:45:00Z\"";

/// Defaults as the function's environment gives them, still unvalidated: a bad variable must
/// only fail the run when the event does not override it.
#[derive(Debug, Clone, Default)]
pub struct EnvDefaults {
    pub secret_id: Option<String>,
    pub threshold_minutes: Option<String>,
    pub timezone: Option<String>,
    pub query_source: Option<String>,
    pub alert_mode: Option<String>,
    pub schedule_minutes: Option<String>,
}

impl EnvDefaults {
    /// Reads `SECRET_ID`, `THRESHOLD_MINUTES`, `TIMEZONE`, `QUERY_SOURCE`, `ALERT_MODE` and
    /// `SCHEDULE_MINUTES`; an empty variable counts as unset.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        EnvDefaults {
            secret_id: get("SECRET_ID"),
            threshold_minutes: get("THRESHOLD_MINUTES"),
            timezone: get("TIMEZONE"),
            query_source: get("QUERY_SOURCE"),
            alert_mode: get("ALERT_MODE"),
            schedule_minutes: get("SCHEDULE_MINUTES"),
        }
    }
}

/// What an invocation event (or the command line) asks to change for this one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub secret_id: Option<String>,
    pub threshold_minutes: Option<u32>,
    pub timezone: Option<String>,
    pub dry_run: Option<bool>,
    pub query_source: Option<QuerySource>,
    pub alert_mode: Option<AlertModeName>,
    pub schedule_minutes: Option<u32>,
    pub scheduled_time: Option<jiff::Timestamp>,
    pub rule_overrides: Map<String, Value>,
    /// Several clusters from one invocation: each entry is checked with these overrides,
    /// its own `secret_id` and, when given, its own threshold.
    pub targets: Vec<TargetOverride>,
}

/// `alert_mode` as named, before the period is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertModeName {
    Window,
    Once,
}

/// One entry of the event's `targets` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOverride {
    pub secret_id: String,
    pub threshold_minutes: Option<u32>,
}

impl Overrides {
    /// The overrides for one of the event's targets.
    pub fn for_target(&self, target: &TargetOverride) -> Overrides {
        Overrides {
            secret_id: Some(target.secret_id.clone()),
            threshold_minutes: target.threshold_minutes.or(self.threshold_minutes),
            targets: Vec::new(),
            ..self.clone()
        }
    }
}

impl Overrides {
    /// Reads the known keys of an event. `null` means "use the defaults"; any other non-object
    /// is refused, and so is a known key of the wrong type or out of range (naming the key).
    pub fn from_event(event: &Value) -> Result<Self, ConfigError> {
        let object = match event {
            Value::Null => return Ok(Overrides::default()),
            Value::Object(map) => map,
            other => {
                return Err(ConfigError::EventNotObject {
                    found: json_kind(other),
                })
            }
        };
        let mut overrides = Overrides::default();
        if let Some(value) = object.get("threshold_minutes") {
            overrides.threshold_minutes = Some(event_threshold(value)?);
        }
        if let Some(value) = object.get("secret_id") {
            overrides.secret_id = Some(event_string(value, "secret_id", "a secret name or ARN")?);
        }
        if let Some(value) = object.get("timezone") {
            overrides.timezone = Some(event_string(
                value,
                "timezone",
                "an IANA time-zone name such as \"Asia/Tokyo\"",
            )?);
        }
        if let Some(value) = object.get("dry_run") {
            overrides.dry_run =
                Some(
                    value
                        .as_bool()
                        .ok_or_else(|| ConfigError::InvalidEventKey {
                            key: "dry_run",
                            expected: "true or false",
                            found: describe(value),
                        })?,
                );
        }
        if let Some(value) = object.get("query_source") {
            let invalid = || ConfigError::InvalidEventKey {
                key: "query_source",
                expected: SOURCE_EXPECTED,
                found: describe(value),
            };
            overrides.query_source = Some(
                value
                    .as_str()
                    .and_then(QuerySource::parse)
                    .ok_or_else(invalid)?,
            );
        }
        if let Some(value) = object.get("alert_mode") {
            let invalid = || ConfigError::InvalidEventKey {
                key: "alert_mode",
                expected: MODE_EXPECTED,
                found: describe(value),
            };
            overrides.alert_mode = Some(value.as_str().and_then(parse_mode).ok_or_else(invalid)?);
        }
        if let Some(value) = object.get("schedule_minutes") {
            overrides.schedule_minutes = Some(event_minutes(value, "schedule_minutes")?);
        }
        // EventBridge rules put the scheduled time in the envelope's `time`; a Scheduler target
        // can pass `<aws.scheduler.scheduled-time>` as `scheduled_time`, which wins.
        for key in ["scheduled_time", "time"] {
            if let (Some(value), None) = (object.get(key), overrides.scheduled_time) {
                let parsed = value.as_str().and_then(|t| t.trim().parse().ok());
                overrides.scheduled_time =
                    Some(parsed.ok_or_else(|| ConfigError::InvalidEventKey {
                        key,
                        expected: TIME_EXPECTED,
                        found: describe(value),
                    })?);
            }
        }
        for key in RULE_KEYS {
            if let Some(value) = object.get(key) {
                overrides
                    .rule_overrides
                    .insert(key.to_owned(), value.clone());
            }
        }
        // Checked now, so that a bad rule in the event fails before any call.
        crate::rules::AlertRules::default()
            .overlay(&overrides.rule_overrides)
            .map_err(|p| ConfigError::InvalidEventKey {
                key: p.key,
                expected: p.expected,
                found: describe(&overrides.rule_overrides[p.key]),
            })?;
        if let Some(value) = object.get("targets") {
            overrides.targets = event_targets(value)?;
        }
        Ok(overrides)
    }
}

pub fn parse_mode(text: &str) -> Option<AlertModeName> {
    match text.trim().to_ascii_lowercase().as_str() {
        "window" => Some(AlertModeName::Window),
        "once" => Some(AlertModeName::Once),
        _ => None,
    }
}

const TARGETS_EXPECTED: &str =
    "a non-empty list of objects like {\"secret_id\": \"...\", \"threshold_minutes\": 30}";

fn event_targets(value: &Value) -> Result<Vec<TargetOverride>, ConfigError> {
    let invalid = |found: &Value| ConfigError::InvalidEventKey {
        key: "targets",
        expected: TARGETS_EXPECTED,
        found: describe(found),
    };
    let list = value
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| invalid(value))?;
    list.iter()
        .map(|entry| {
            let object = entry.as_object().ok_or_else(|| invalid(entry))?;
            let secret_id = object
                .get("secret_id")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| invalid(entry))?;
            let threshold_minutes = match object.get("threshold_minutes") {
                None | Some(Value::Null) => None,
                Some(v) => Some(event_threshold(v)?),
            };
            Ok(TargetOverride {
                secret_id: secret_id.to_owned(),
                threshold_minutes,
            })
        })
        .collect()
}

fn event_threshold(value: &Value) -> Result<u32, ConfigError> {
    event_minutes(value, "threshold_minutes")
}

fn event_minutes(value: &Value, key: &'static str) -> Result<u32, ConfigError> {
    let invalid = || ConfigError::InvalidEventKey {
        key,
        expected: THRESHOLD_EXPECTED,
        found: describe(value),
    };
    let minutes = value.as_u64().ok_or_else(invalid)?;
    u32::try_from(minutes)
        .ok()
        .filter(|m| (1..=MAX_THRESHOLD_MINUTES).contains(m))
        .ok_or_else(invalid)
}

fn event_string(
    value: &Value,
    key: &'static str,
    expected: &'static str,
) -> Result<String, ConfigError> {
    match value.as_str().map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text.to_owned()),
        _ => Err(ConfigError::InvalidEventKey {
            key,
            expected,
            found: describe(value),
        }),
    }
}

/// Combines the environment's defaults with the overrides and validates the result.
pub fn resolve(env: &EnvDefaults, overrides: &Overrides) -> Result<Settings, ConfigError> {
    let secret_id = overrides
        .secret_id
        .clone()
        .or_else(|| env.secret_id.as_ref().map(|s| s.trim().to_owned()))
        .ok_or(ConfigError::MissingSecretId)?;

    let threshold_minutes = match (overrides.threshold_minutes, &env.threshold_minutes) {
        (Some(minutes), _) => minutes,
        (None, Some(raw)) => env_minutes(raw, "THRESHOLD_MINUTES")?,
        (None, None) => DEFAULT_THRESHOLD_MINUTES,
    };

    let query_source = match (overrides.query_source, &env.query_source) {
        (Some(source), _) => source,
        (None, Some(raw)) => QuerySource::parse(raw).ok_or_else(|| ConfigError::InvalidEnv {
            var: "QUERY_SOURCE",
            value: shorten(raw),
            expected: SOURCE_EXPECTED,
        })?,
        (None, None) => QuerySource::Auto,
    };

    let mode_name = match (overrides.alert_mode, &env.alert_mode) {
        (Some(mode), _) => mode,
        (None, Some(raw)) => parse_mode(raw).ok_or_else(|| ConfigError::InvalidEnv {
            var: "ALERT_MODE",
            value: shorten(raw),
            expected: MODE_EXPECTED,
        })?,
        (None, None) => AlertModeName::Window,
    };
    let alert_mode = match mode_name {
        AlertModeName::Window => AlertMode::Window,
        AlertModeName::Once => {
            let schedule_minutes = match (overrides.schedule_minutes, &env.schedule_minutes) {
                (Some(minutes), _) => minutes,
                (None, Some(raw)) => env_minutes(raw, "SCHEDULE_MINUTES")?,
                (None, None) => return Err(ConfigError::OnceWithoutPeriod),
            };
            AlertMode::Once { schedule_minutes }
        }
    };

    let timezone = match (&overrides.timezone, &env.timezone) {
        (Some(name), _) => Zone::parse(name, "event key `timezone`")?,
        (None, Some(name)) => Zone::parse(name, "environment variable TIMEZONE")?,
        (None, None) => Zone::parse(DEFAULT_TIMEZONE, "the default time zone")?,
    };

    Ok(Settings {
        secret_id,
        threshold_minutes,
        timezone,
        dry_run: overrides.dry_run.unwrap_or(false),
        query_source,
        alert_mode,
        scheduled_time: overrides.scheduled_time,
        rule_overrides: overrides.rule_overrides.clone(),
    })
}

fn env_minutes(raw: &str, var: &'static str) -> Result<u32, ConfigError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=MAX_THRESHOLD_MINUTES).contains(m))
        .ok_or_else(|| ConfigError::InvalidEnv {
            var,
            value: shorten(raw),
            expected: THRESHOLD_EXPECTED,
        })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// "a string \"30\"" — the kind and a short rendering, so the user sees what was sent.
fn describe(value: &Value) -> String {
    format!("{} {}", json_kind(value), shorten(&value.to_string()))
}

/// Keeps error messages readable when someone pastes something huge into a field.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 80;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> EnvDefaults {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvDefaults::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    fn resolve_event(env_pairs: &[(&str, &str)], event: Value) -> Result<Settings, ConfigError> {
        resolve(&env(env_pairs), &Overrides::from_event(&event)?)
    }

    #[test]
    fn scheduled_event_uses_environment_defaults() {
        let event = json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-28T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "detail": {}
        });
        let settings = resolve_event(&[("SECRET_ID", "prod/alert")], event).unwrap();
        assert_eq!(settings.secret_id, "prod/alert");
        assert_eq!(settings.threshold_minutes, 30);
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
        assert_eq!(settings.threshold_minutes, 5);
        assert_eq!(settings.timezone.name(), "Asia/Tokyo");
        assert!(settings.dry_run);
    }

    #[test]
    fn environment_threshold_and_timezone_apply_without_overrides() {
        let settings = resolve_event(
            &[
                ("SECRET_ID", "a"),
                ("THRESHOLD_MINUTES", " 45 "),
                ("TIMEZONE", "Europe/Paris"),
            ],
            Value::Null,
        )
        .unwrap();
        assert_eq!(settings.threshold_minutes, 45);
        assert_eq!(settings.window().max_minutes, 90);
        assert_eq!(settings.timezone.name(), "Europe/Paris");
    }

    #[test]
    fn missing_secret_id_says_where_to_set_it() {
        let err = resolve_event(&[], json!({})).unwrap_err();
        assert!(matches!(err, ConfigError::MissingSecretId));
        assert!(err.to_string().contains("SECRET_ID"));
    }

    #[test]
    fn wrong_types_in_the_event_name_the_key() {
        let cases = [
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
            (json!({"timezone": ""}), "timezone"),
            (json!({"secret_id": null}), "secret_id"),
        ];
        for (event, key) in cases {
            let err = Overrides::from_event(&event).unwrap_err();
            match &err {
                ConfigError::InvalidEventKey { key: k, .. } => assert_eq!(*k, key, "{event}"),
                other => panic!("{event}: unexpected {other:?}"),
            }
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn threshold_error_states_the_accepted_range_and_what_was_sent() {
        let err = Overrides::from_event(&json!({"threshold_minutes": "30"})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("1 to 10080"), "{text}");
        assert!(text.contains("a string \"30\""), "{text}");
    }

    #[test]
    fn threshold_bounds_are_inclusive() {
        for minutes in [1, MAX_THRESHOLD_MINUTES] {
            let o = Overrides::from_event(&json!({ "threshold_minutes": minutes })).unwrap();
            assert_eq!(o.threshold_minutes, Some(minutes));
        }
    }

    #[test]
    fn non_object_events_are_refused() {
        for event in [json!([1]), json!("hello"), json!(3), json!(true)] {
            let err = Overrides::from_event(&event).unwrap_err();
            assert!(matches!(err, ConfigError::EventNotObject { .. }), "{event}");
        }
    }

    #[test]
    fn bad_environment_threshold_names_the_variable() {
        for raw in ["abc", "0", "-1", "10081", "1.5"] {
            let err = resolve_event(
                &[("SECRET_ID", "a"), ("THRESHOLD_MINUTES", raw)],
                Value::Null,
            )
            .unwrap_err();
            assert!(err.to_string().contains("THRESHOLD_MINUTES"), "{err}");
        }
    }

    #[test]
    fn a_valid_event_threshold_masks_a_bad_environment_one() {
        let settings = resolve_event(
            &[("SECRET_ID", "a"), ("THRESHOLD_MINUTES", "abc")],
            json!({"threshold_minutes": 10}),
        )
        .unwrap();
        assert_eq!(settings.threshold_minutes, 10);
    }

    #[test]
    fn unknown_timezone_is_an_error_naming_its_source() {
        let err =
            resolve_event(&[("SECRET_ID", "a")], json!({"timezone": "Mars/Olympus"})).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownTimezone { .. }));
        let text = err.to_string();
        assert!(
            text.contains("timezone") && text.contains("Mars/Olympus"),
            "{text}"
        );

        let err =
            resolve_event(&[("SECRET_ID", "a"), ("TIMEZONE", "JST-9x")], Value::Null).unwrap_err();
        assert!(err.to_string().contains("TIMEZONE"), "{err}");
    }

    #[test]
    fn empty_environment_variables_count_as_unset() {
        let settings = resolve_event(
            &[
                ("SECRET_ID", "a"),
                ("THRESHOLD_MINUTES", ""),
                ("TIMEZONE", " "),
            ],
            Value::Null,
        )
        .unwrap();
        assert_eq!(settings.threshold_minutes, DEFAULT_THRESHOLD_MINUTES);
        assert_eq!(settings.timezone.name(), "UTC");
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
        assert_eq!(
            settings.alert_mode,
            AlertMode::Once {
                schedule_minutes: 10
            }
        );
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
        assert_eq!(settings.window_for(90).max_minutes, 100);
    }

    #[test]
    fn once_mode_without_a_period_is_an_error() {
        let err = resolve_event(&[("SECRET_ID", "a")], json!({"alert_mode": "once"})).unwrap_err();
        assert!(matches!(err, ConfigError::OnceWithoutPeriod));
        assert!(err.to_string().contains("SCHEDULE_MINUTES"));
    }

    #[test]
    fn query_source_and_mode_are_validated() {
        for (event, key) in [
            (json!({"query_source": "stl"}), "query_source"),
            (json!({"alert_mode": "twice"}), "alert_mode"),
            (json!({"schedule_minutes": 0}), "schedule_minutes"),
            (json!({"time": "yesterday"}), "time"),
            (json!({"mention": "@here"}), "mention"),
            (json!({"targets": []}), "targets"),
            (json!({"targets": [{"threshold_minutes": 5}]}), "targets"),
            (
                json!({"targets": [{"secret_id": "a", "threshold_minutes": "5"}]}),
                "threshold_minutes",
            ),
        ] {
            match Overrides::from_event(&event) {
                Err(ConfigError::InvalidEventKey { key: k, .. }) => assert_eq!(k, key, "{event}"),
                other => panic!("{event}: {other:?}"),
            }
        }
        let err =
            resolve_event(&[("SECRET_ID", "a"), ("QUERY_SOURCE", "x")], Value::Null).unwrap_err();
        assert!(err.to_string().contains("QUERY_SOURCE"));
        let settings =
            resolve_event(&[("SECRET_ID", "a")], json!({"query_source": "SYS"})).unwrap();
        assert_eq!(settings.query_source, QuerySource::Sys);
    }

    #[test]
    fn targets_carry_their_own_secret_and_threshold() {
        let overrides = Overrides::from_event(&json!({
            "threshold_minutes": 45, "dry_run": true,
            "targets": [{"secret_id": "one"}, {"secret_id": "two", "threshold_minutes": 90}]
        }))
        .unwrap();
        let env = env(&[]);
        let first = resolve(&env, &overrides.for_target(&overrides.targets[0])).unwrap();
        let second = resolve(&env, &overrides.for_target(&overrides.targets[1])).unwrap();
        assert_eq!(
            (first.secret_id.as_str(), first.threshold_minutes),
            ("one", 45)
        );
        assert_eq!(
            (second.secret_id.as_str(), second.threshold_minutes),
            ("two", 90)
        );
        assert!(first.dry_run && second.dry_run);
    }

    #[test]
    fn huge_values_are_shortened_in_messages() {
        let long = "x".repeat(10_000);
        let err = Overrides::from_event(&json!({ "dry_run": long })).unwrap_err();
        assert!(err.to_string().len() < 400);
    }
}
