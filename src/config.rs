//! Typed settings for one run: defaults from the environment, overridden by the invocation
//! event (Lambda) or the command-line flags (CLI), validated before any network call.
//!
//! The event is read as loose JSON on purpose: an EventBridge rule delivers its envelope
//! (`"detail-type": "Scheduled Event"`, `time`, `resources`, …) while an EventBridge Scheduler
//! target or a hand-written test event delivers a plain object. Only the keys we know are read;
//! everything else is ignored, so both shapes work.

use serde_json::Value;

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
}

impl Settings {
    /// The elapsed-minutes window `[N, 2N)`: a schedule that runs more often than every N minutes
    /// sees every long query at least once, and a query past 2N is no longer re-announced.
    pub fn window(&self) -> Window {
        Window {
            min_minutes: self.threshold_minutes,
            max_minutes: self.threshold_minutes * 2,
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

/// Defaults as the function's environment gives them, still unvalidated: a bad variable must
/// only fail the run when the event does not override it.
#[derive(Debug, Clone, Default)]
pub struct EnvDefaults {
    pub secret_id: Option<String>,
    pub threshold_minutes: Option<String>,
    pub timezone: Option<String>,
}

impl EnvDefaults {
    /// Reads `SECRET_ID`, `THRESHOLD_MINUTES` and `TIMEZONE`; an empty variable counts as unset.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        EnvDefaults {
            secret_id: get("SECRET_ID"),
            threshold_minutes: get("THRESHOLD_MINUTES"),
            timezone: get("TIMEZONE"),
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
        Ok(overrides)
    }
}

fn event_threshold(value: &Value) -> Result<u32, ConfigError> {
    let invalid = || ConfigError::InvalidEventKey {
        key: "threshold_minutes",
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
        (None, Some(raw)) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=MAX_THRESHOLD_MINUTES).contains(m))
            .ok_or_else(|| ConfigError::InvalidEnv {
                var: "THRESHOLD_MINUTES",
                value: shorten(raw),
                expected: THRESHOLD_EXPECTED,
            })?,
        (None, None) => DEFAULT_THRESHOLD_MINUTES,
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
    fn huge_values_are_shortened_in_messages() {
        let long = "x".repeat(10_000);
        let err = Overrides::from_event(&json!({ "dry_run": long })).unwrap_err();
        assert!(err.to_string().len() < 400);
    }
}
