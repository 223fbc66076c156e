//! Settings as given, one layer per source (ripgrep's "low" arguments): the function's
//! environment, the invocation event, the command-line flags. Nothing here decides which layer
//! wins; [`super::resolve`] does.
//!
//! The event is read as loose JSON on purpose: an EventBridge rule delivers its envelope
//! (`"detail-type": "Scheduled Event"`, `time`, `resources`, …) while an EventBridge Scheduler
//! target or a hand-written test event delivers a plain object. Only the keys we know are read.

use std::fmt;

use serde_json::Value;

use super::ConfigError;
use crate::input::{Object, Problem, Quote};
use crate::model::{AlertModeName, Language, Minutes, QuerySource, Zone};
use crate::rules::RulesPatch;

/// Where a setting was given, so an error names what the user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    EventKey(String),
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::EventKey(key) => write!(f, "event key `{key}`"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// At most this many `targets` in one invocation: each is checked concurrently and holds its
/// result in memory, and the function has 128 MB.
pub const MAX_TARGETS: usize = 50;
const TARGETS_EXPECTED: &str =
    "a list of 1 to 50 objects like {\"secret_id\": \"...\", \"threshold_minutes\": 30}";
const TIME_EXPECTED: &str = "an RFC 3339 time such as \"2026-11-28T09:45:00Z\"";

/// One source's settings, typed. A value here has been checked; which layer wins is decided
/// later, so a bad value only matters when no higher layer overrides it ([`EnvLayer`] keeps its
/// raw text for that reason).
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub secret_id: Option<String>,
    pub threshold: Option<Minutes>,
    pub timezone: Option<Zone>,
    pub dry_run: Option<bool>,
    pub query_source: Option<QuerySource>,
    pub alert_mode: Option<AlertModeName>,
    pub schedule: Option<Minutes>,
    /// When this run was scheduled: `once` mode measures elapsed time from it.
    pub scheduled_time: Option<jiff::Timestamp>,
    pub language: Option<Language>,
    pub rules: RulesPatch,
}

/// The function's environment as given: text, parsed only if no other layer overrides it.
#[derive(Debug, Clone, Default)]
pub struct EnvLayer {
    pub secret_id: Option<String>,
    pub threshold: Option<String>,
    pub timezone: Option<String>,
    pub query_source: Option<String>,
    pub alert_mode: Option<String>,
    pub schedule: Option<String>,
    pub language: Option<String>,
}

impl EnvLayer {
    /// Reads `SECRET_ID`, `THRESHOLD_MINUTES`, `TIMEZONE`, `QUERY_SOURCE`, `ALERT_MODE`,
    /// `SCHEDULE_MINUTES` and `MESSAGE_LANGUAGE` (not `LANGUAGE`, which gettext owns); an empty
    /// variable counts as unset.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        EnvLayer {
            secret_id: get("SECRET_ID").map(|s| s.trim().to_owned()),
            threshold: get("THRESHOLD_MINUTES"),
            timezone: get("TIMEZONE"),
            query_source: get("QUERY_SOURCE"),
            alert_mode: get("ALERT_MODE"),
            schedule: get("SCHEDULE_MINUTES"),
            language: get("MESSAGE_LANGUAGE"),
        }
    }
}

/// One entry of the event's `targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLayer {
    pub secret_id: String,
    pub threshold: Option<Minutes>,
}

/// What an invocation event asks for.
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub layer: Layer,
    /// Several clusters from one invocation: each is checked with the event's layer, its own
    /// secret and, when given, its own threshold.
    pub targets: Vec<TargetLayer>,
}

impl Event {
    /// Reads the known keys. `null` means "use the defaults"; any other non-object is refused,
    /// and so is a known key of the wrong type or out of range (naming the key).
    pub fn read(event: &Value) -> Result<Event, ConfigError> {
        let map = match event {
            Value::Null => return Ok(Event::default()),
            Value::Object(map) => map,
            other => {
                return Err(ConfigError::EventNotObject {
                    found: crate::input::kind(other),
                })
            }
        };
        let object = Object::new(map, Quote::Values);
        let invalid = |p: Problem| ConfigError::from_problem(p, Origin::EventKey);
        let timezone = match object.get("timezone") {
            None => None,
            Some(Value::String(name)) => {
                Some(
                    Zone::parse(name).ok_or_else(|| ConfigError::UnknownTimezone {
                        origin: Origin::EventKey("timezone".into()),
                        value: crate::input::shorten(name.trim()),
                    })?,
                )
            }
            Some(other) => return Err(invalid(object.problem("timezone", Zone::EXPECTED, other))),
        };
        // EventBridge rules put the scheduled time in the envelope's `time`; a Scheduler
        // target passes `<aws.scheduler.scheduled-time>` as `scheduled_time`, which wins.
        let time = |key| object.parsed(key, TIME_EXPECTED, |t| t.trim().parse().ok());
        let scheduled_time = match time("scheduled_time").map_err(invalid)? {
            Some(t) => Some(t),
            None => time("time").map_err(invalid)?,
        };
        let layer = Layer {
            secret_id: object
                .string("secret_id", "a secret name or ARN")
                .map_err(invalid)?,
            threshold: object.minutes("threshold_minutes").map_err(invalid)?,
            timezone,
            dry_run: object.boolean("dry_run").map_err(invalid)?,
            query_source: object
                .parsed("query_source", QuerySource::EXPECTED, QuerySource::parse)
                .map_err(invalid)?,
            alert_mode: object
                .parsed("alert_mode", AlertModeName::EXPECTED, AlertModeName::parse)
                .map_err(invalid)?,
            schedule: object.minutes("schedule_minutes").map_err(invalid)?,
            scheduled_time,
            language: object
                .parsed("language", Language::EXPECTED, Language::parse)
                .map_err(invalid)?,
            rules: RulesPatch::read(&object).map_err(invalid)?,
        };
        let targets = object
            .objects("targets", TARGETS_EXPECTED, MAX_TARGETS)
            .map_err(invalid)?
            .unwrap_or_default()
            .iter()
            .map(|entry| {
                let secret_id = entry
                    .string("secret_id", "a secret name or ARN")?
                    .ok_or_else(|| Problem {
                        key: entry.path("secret_id"),
                        expected: "a secret name or ARN",
                        found: "nothing".into(),
                    })?;
                Ok(TargetLayer {
                    secret_id,
                    threshold: entry.minutes("threshold_minutes")?,
                })
            })
            .collect::<Result<_, Problem>>()
            .map_err(invalid)?;
        Ok(Event { layer, targets })
    }

    /// The layer one of the event's targets runs with.
    pub fn for_target(&self, target: &TargetLayer) -> Layer {
        Layer {
            secret_id: Some(target.secret_id.clone()),
            threshold: target.threshold.or(self.layer.threshold),
            ..self.layer.clone()
        }
    }
}
