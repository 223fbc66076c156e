//! One reader for every JSON object a user hands us: the invocation event, the secret, and the
//! alerting rules inside either. Each problem names the key (with its path, like
//! `targets[1].threshold_minutes`) and what was expected; whether it may also show what was
//! found depends on the source: an event's values are the user's own input and help them, a
//! secret's values are credentials and are never repeated.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::Minutes;

/// May a problem quote the value it found?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// The kind and a shortened rendering (`a string "30"`): the event's own input.
    Values,
    /// The kind alone (`a string`): the secret.
    KindOnly,
}

/// A key with a value of the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub expected: &'static str,
    pub found: String,
}

/// A JSON object read key by key. `null` counts as "not given" everywhere: a key is either
/// left out or has a value of its documented type.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a> {
    map: &'a Map<String, Value>,
    prefix: Option<(&'a str, usize)>,
    quote: Quote,
}

impl<'a> Object<'a> {
    pub fn new(map: &'a Map<String, Value>, quote: Quote) -> Self {
        Object {
            map,
            prefix: None,
            quote,
        }
    }

    /// The key as a problem names it.
    pub fn path(&self, key: &str) -> String {
        match self.prefix {
            Some((list, index)) => format!("{list}[{index}].{key}"),
            None => key.to_owned(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn problem(&self, key: &str, expected: &'static str, found: &Value) -> Problem {
        Problem {
            key: self.path(key),
            expected,
            found: describe(found, self.quote),
        }
    }

    /// Reads `key` with `read`, which returns `None` for a value of the wrong shape.
    pub fn read<T>(
        &self,
        key: &str,
        expected: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => read(value)
                .map(Some)
                .ok_or_else(|| self.problem(key, expected, value)),
        }
    }

    /// A non-empty string, trimmed.
    pub fn string(&self, key: &str, expected: &'static str) -> Result<Option<String>, Problem> {
        self.read(key, expected, non_empty_string)
    }

    /// A string turned into `T` by `parse`.
    pub fn parsed<T>(
        &self,
        key: &str,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, Problem> {
        self.read(key, expected, |v| v.as_str().and_then(parse))
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, Problem> {
        self.read(key, "true or false", Value::as_bool)
    }

    pub fn minutes(&self, key: &str) -> Result<Option<Minutes>, Problem> {
        self.read(key, Minutes::EXPECTED, minutes)
    }

    /// A list of non-empty strings.
    pub fn strings(
        &self,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<Vec<String>>, Problem> {
        self.read(key, expected, |v| {
            v.as_array()?.iter().map(non_empty_string).collect()
        })
    }

    /// An object whose values `read` turns into `T`, keyed by its trimmed keys.
    pub fn map_of<T>(
        &self,
        key: &str,
        expected: &'static str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<BTreeMap<String, T>>, Problem> {
        self.read(key, expected, |v| {
            v.as_object()?
                .iter()
                .map(|(k, v)| Some((k.trim().to_owned(), read(v)?)))
                .collect()
        })
    }

    /// A non-empty list of objects, each read as an [`Object`] whose problems name their place
    /// (`targets[1].secret_id`). At most `max` entries.
    pub fn objects(
        &self,
        key: &'a str,
        expected: &'static str,
        max: usize,
    ) -> Result<Option<Vec<Object<'a>>>, Problem> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let list = value
            .as_array()
            .filter(|l| !l.is_empty() && l.len() <= max)
            .ok_or_else(|| self.problem(key, expected, value))?;
        list.iter()
            .enumerate()
            .map(|(index, entry)| {
                let map = entry.as_object().ok_or_else(|| Problem {
                    key: format!("{}[{index}]", self.path(key)),
                    expected,
                    found: describe(entry, self.quote),
                })?;
                Ok(Object {
                    map,
                    prefix: Some((key, index)),
                    quote: self.quote,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

fn non_empty_string(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A JSON number that is a whole number of minutes in range.
pub fn minutes(value: &Value) -> Option<Minutes> {
    value
        .as_u64()
        .and_then(|m| u32::try_from(m).ok())
        .and_then(Minutes::new)
}

/// "a string", "an object", … for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: &Value, quote: Quote) -> String {
    match quote {
        Quote::KindOnly => kind(value).to_owned(),
        Quote::Values => format!("{} {}", kind(value), shorten(&value.to_string())),
    }
}

/// Keeps messages readable when someone pastes something huge into a field.
pub fn shorten(text: &str) -> String {
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

    fn object(value: &Value, quote: Quote) -> Object<'_> {
        Object::new(value.as_object().unwrap(), quote)
    }

    #[test]
    fn problems_name_the_key_and_quote_only_event_values() {
        let v = json!({"threshold_minutes": "30", "token": "SECRETVALUE"});
        let p = object(&v, Quote::Values)
            .minutes("threshold_minutes")
            .unwrap_err();
        assert_eq!(p.key, "threshold_minutes");
        assert_eq!(p.found, "a string \"30\"");
        assert!(p.expected.contains("1 to 10080"));
        let p = object(&v, Quote::KindOnly).minutes("token").unwrap_err();
        assert_eq!(p.found, "a string");
    }

    #[test]
    fn null_and_absent_keys_are_not_given() {
        let v = json!({"a": null});
        let o = object(&v, Quote::Values);
        assert_eq!(o.string("a", "x").unwrap(), None);
        assert_eq!(o.minutes("b").unwrap(), None);
        assert!(o.get("a").is_none());
    }

    #[test]
    fn nested_objects_name_their_place() {
        let v = json!({"targets": [{"secret_id": "a"}, {"threshold_minutes": 0}]});
        let list = object(&v, Quote::Values)
            .objects("targets", "a list", 10)
            .unwrap()
            .unwrap();
        assert_eq!(
            list[1].minutes("threshold_minutes").unwrap_err().key,
            "targets[1].threshold_minutes"
        );
        let too_many = object(&v, Quote::Values).objects("targets", "a list", 1);
        assert_eq!(too_many.unwrap_err().key, "targets");
        let not_object = json!({"targets": [1]});
        assert_eq!(
            object(&not_object, Quote::Values)
                .objects("targets", "x", 5)
                .unwrap_err()
                .key,
            "targets[0]"
        );
    }

    #[test]
    fn huge_values_are_shortened() {
        let v = json!({"dry_run": "x".repeat(10_000)});
        let p = object(&v, Quote::Values).boolean("dry_run").unwrap_err();
        assert!(p.found.chars().count() < 120);
    }
}
