//! Log set-up for each entry point.
//!
//! - Lambda follows the platform's logging controls: `AWS_LAMBDA_LOG_LEVEL` (the application
//!   log level set in the function's `LoggingConfig`) wins over `RUST_LOG`, and
//!   `AWS_LAMBDA_LOG_FORMAT` picks JSON lines with top-level `timestamp`, `level`, `message`,
//!   `requestId` and fields (what CloudWatch Logs Insights and Lambda's own level filter read)
//!   or plain text.
//! - The CLI writes one line per event to stderr, so stdout carries only the summary; colour
//!   only on a terminal, never with `NO_COLOR`.
//!
//! Whatever is asked, only this crate logs below `warn` unless `RUST_LOG` names another crate
//! explicitly: the SDK's and HTTP stack's own traces can hold request details, and a bare
//! `RUST_LOG=trace` must never put them in a log.

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

const CRATE: &str = "redshift_long_query_alert";

/// The level Lambda's application log filter lets through, as Lambda spells it (`INFO`,
/// `WARN`, …): the metrics line carries it so the filter never drops metrics.
static APPLICATION_LEVEL: OnceLock<&'static str> = OnceLock::new();

pub fn application_level() -> &'static str {
    APPLICATION_LEVEL.get().copied().unwrap_or("INFO")
}

/// A level as Lambda names it, from any casing; `FATAL` counts as `ERROR` here (tracing has
/// no fatal), `None` for anything else.
fn lambda_level(text: &str) -> Option<(&'static str, &'static str)> {
    match text.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(("trace", "TRACE")),
        "DEBUG" => Some(("debug", "DEBUG")),
        "INFO" => Some(("info", "INFO")),
        "WARN" | "WARNING" => Some(("warn", "WARN")),
        "ERROR" => Some(("error", "ERROR")),
        "FATAL" => Some(("error", "FATAL")),
        _ => None,
    }
}

/// The filter directives for a level setting: this crate at `level`, everything else at
/// `warn`. A `RUST_LOG` that names targets is added as given, for whoever wants the SDK's own
/// logs.
pub fn directives(lambda_log_level: Option<&str>, rust_log: Option<&str>) -> String {
    let base = |level: &str| format!("warn,{CRATE}={level}");
    if let Some((level, _)) = lambda_log_level.and_then(lambda_level) {
        return base(level);
    }
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => base("info"),
        Some(spec) => match lambda_level(spec) {
            Some((level, _)) => base(level),
            None if spec.contains('=') => format!("{},{spec}", base("info")),
            None => base("info"),
        },
    }
}

fn filter(directives: &str) -> EnvFilter {
    EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new(format!("warn,{CRATE}=info")))
}

/// Lambda: JSON lines (or text) on stdout, where Lambda's log capture reads them.
pub fn init_lambda() {
    let lambda_log_level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    let level = lambda_log_level
        .as_deref()
        .and_then(lambda_level)
        .map_or("INFO", |(_, name)| name);
    let _ = APPLICATION_LEVEL.set(level);
    let directives = directives(
        lambda_log_level.as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .map(|f| f.trim().eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    if json {
        tracing_subscriber::fmt()
            .with_env_filter(filter(&directives))
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(std::io::stdout)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter(&directives))
            .with_ansi(false)
            .with_target(false)
            .with_writer(std::io::stdout)
            .init();
    }
}

/// CLI: readable lines on stderr.
pub fn init_cli() {
    let directives = directives(None, std::env::var("RUST_LOG").ok().as_deref());
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter(&directives))
        .with_ansi(colour)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

/// The current time as Lambda's log filter wants it (RFC 3339, UTC, milliseconds); without a
/// valid one Lambda would treat a line as INFO whatever its level.
pub fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// One JSON object per event with every field at the top level: `timestamp`, `level`,
/// `message`, the fields of the spans it runs in (`requestId` among them) and its own.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(timestamp()));
        line.insert(
            "level".into(),
            Value::String(event.metadata().level().as_str().to_owned()),
        );
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields) {
                    line.extend(map);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Records an event's fields into a JSON object, numbers and booleans as such.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_level_wins_over_rust_log_and_other_crates_stay_at_warn() {
        assert_eq!(
            directives(Some("WARN"), Some("debug")),
            format!("warn,{CRATE}=warn")
        );
        assert_eq!(
            directives(Some("FATAL"), None),
            format!("warn,{CRATE}=error")
        );
        assert_eq!(
            directives(None, Some("trace")),
            format!("warn,{CRATE}=trace")
        );
        assert_eq!(directives(None, None), format!("warn,{CRATE}=info"));
        assert_eq!(
            directives(Some("nonsense"), Some("DEBUG")),
            format!("warn,{CRATE}=debug")
        );
        assert_eq!(
            directives(None, Some("aws_smithy_runtime=debug")),
            format!("warn,{CRATE}=info,aws_smithy_runtime=debug")
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let ts = timestamp();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert!(
            ts.ends_with('Z') && ts.len() == "2026-11-30T05:00:00.000Z".len(),
            "{ts}"
        );
    }
}
