//! The Lambda entry: read the event loosely, resolve the settings, run the check (or one per
//! entry of the event's `targets`, concurrently) within the invocation's deadline, write each
//! check's metrics, and return the typed answer or an error Lambda reports as `errorType`.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime};

use futures_util::{FutureExt, StreamExt};
use lambda_runtime::{service_fn, LambdaEvent};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tracing::Instrument;

use crate::deadline::Deadline;
use crate::error::{Error, ErrorBody};
use crate::metrics;
use crate::run::{App, HttpResponse};
use crate::settings::{self, ConfigError, EnvLayer, Event, Settings, Surface};
use crate::summary::Summary;

/// Finish this long before Lambda's own timeout, so the error (with the statement id and what
/// happened) is reported by us rather than replaced by a bare "Task timed out".
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);
/// The answer stays well under Lambda's 6 MB response limit: past this, dry-run messages and
/// then query lists are left out (and counted).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Room in the answer for what is not a summary (target errors, the envelope).
const RESPONSE_OVERHEAD: usize = 64 * 1024;
/// Targets checked at the same time. Each holds its result while it runs (a few MB at most):
/// a cap keeps fifty targets' peak memory that of four.
pub const CONCURRENT_TARGETS: usize = 4;

/// The invocation's payload, read so that nothing the runtime hands over can fail before our
/// own code sees it: a body that is not JSON becomes a `ConfigError`, not a runtime error with
/// a Rust type name as its `errorType`.
#[derive(Debug)]
pub struct Payload(Result<Value, String>);

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Payload(
            Value::deserialize(deserializer).map_err(|e| e.to_string()),
        ))
    }
}

/// What an invocation answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    Check(Box<Summary>),
    Targets {
        targets: Vec<TargetReport>,
    },
    /// The answer to a Function URL request (a Slack click).
    Http(HttpResponse),
}

/// One target's outcome, in the answer to an event with `targets`.
#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub secret_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// The `lambda` entry point: serves invocations, or explains why it cannot.
pub async fn main() -> std::process::ExitCode {
    // Outside Lambda the runtime would panic on the first missing variable: say so instead.
    if let Some(var) = missing_lambda_variable(|name| std::env::var(name).ok()) {
        eprintln!(
            "error: `lambda` serves AWS Lambda invocations, and {var} is not set as Lambda sets \
             it; to check once from a shell, use `check`"
        );
        return std::process::ExitCode::from(2);
    }
    crate::logging::init_lambda();
    let app = App::from_environment().await;
    match serve(app).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the Lambda runtime stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The first variable the Lambda runtime needs that is missing or unusable.
fn missing_lambda_variable(get: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let present = |name: &str| get(name).is_some_and(|v| !v.trim().is_empty());
    if !present("AWS_LAMBDA_RUNTIME_API") {
        return Some("AWS_LAMBDA_RUNTIME_API");
    }
    if !present("AWS_LAMBDA_FUNCTION_NAME") {
        return Some("AWS_LAMBDA_FUNCTION_NAME");
    }
    if !present("AWS_LAMBDA_FUNCTION_VERSION") {
        return Some("AWS_LAMBDA_FUNCTION_VERSION");
    }
    match get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").map(|m| m.trim().parse::<i32>()) {
        Some(Ok(_)) => None,
        _ => Some("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
    }
}

/// Serves invocations until the runtime stops the process.
pub async fn serve(app: App) -> Result<(), lambda_runtime::Error> {
    let app = &app;
    let env = &EnvLayer::from_env();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload>| {
        // An error-level span passes any level filter, so every log line of the invocation
        // carries its request id, whatever the application log level.
        let span = tracing::error_span!("invocation", requestId = %event.context.request_id);
        async move {
            let deadline = local_deadline(event.context.deadline(), SystemTime::now());
            let payload = event.payload.0.map_err(|detail| {
                Error::from(ConfigError::EventNotJson {
                    detail: crate::input::shorten(&detail),
                })
            })?;
            handle(app, env, &payload, deadline).await
        }
        .instrument(span)
    }))
    .await
}

/// One invocation. A failure is returned, never a panic, so the warm process keeps serving.
pub async fn handle(
    app: &App,
    env: &EnvLayer,
    event: &Value,
    deadline: Deadline,
) -> Result<Response, Error> {
    if crate::interaction::request::is_http(event) {
        let zone = env
            .timezone
            .as_deref()
            .and_then(crate::model::Zone::parse)
            .unwrap_or_else(crate::model::Zone::utc);
        return Ok(Response::Http(
            app.interact(event, env.secret_id.as_deref(), &zone).await,
        ));
    }
    let event = Event::read(event)?;
    if event.targets.is_empty() {
        let settings = settings::resolve(&event.layer, env, Surface::Lambda)?;
        let summary = checked(app, &settings, deadline, MAX_RESPONSE_BYTES).await?;
        return Ok(Response::Check(Box::new(summary)));
    }

    // Every target's settings are validated before any of them is checked.
    let all: Vec<Settings> = event
        .targets
        .iter()
        .map(|target| settings::resolve(&event.for_target(target), env, Surface::Lambda))
        .collect::<Result<_, _>>()?;
    // Each summary gets its share of the answer as soon as it is made, so no target's dry-run
    // messages pile up in memory waiting for the others.
    let budget = (MAX_RESPONSE_BYTES - RESPONSE_OVERHEAD) / all.len();
    let results: Vec<_> =
        futures_util::stream::iter(all.iter().map(|s| checked(app, s, deadline, budget)))
            .buffered(CONCURRENT_TARGETS)
            .collect()
            .await;

    let mut reports = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (settings, result) in all.iter().zip(results) {
        let secret_id = settings.secret_id.clone();
        match result {
            Ok(summary) => reports.push(TargetReport {
                secret_id,
                summary: Some(summary),
                error: None,
            }),
            Err(err) => {
                reports.push(TargetReport {
                    secret_id: secret_id.clone(),
                    summary: None,
                    error: Some(err.body()),
                });
                failures.push((secret_id, err));
            }
        }
    }
    tracing::info!(
        targets = reports.len(),
        failed = failures.len(),
        "targets checked"
    );
    if failures.is_empty() {
        Ok(Response::Targets { targets: reports })
    } else {
        Err(Error::Targets {
            total: reports.len(),
            failures,
        })
    }
}

/// One check, bounded by the deadline, with a panic turned into an error, logged and measured
/// whatever its outcome, its summary cut to `budget` bytes.
async fn checked(
    app: &App,
    settings: &Settings,
    deadline: Deadline,
    budget: usize,
) -> Result<Summary, Error> {
    let run = deadline
        .later_by(crate::deadline::BACKSTOP_GRACE)
        .bound("the run", app.check(settings, deadline));
    let result = match AssertUnwindSafe(run).catch_unwind().await {
        Ok(Ok(result)) => result,
        Ok(Err(timed_out)) => Err(Error::Deadline(timed_out)),
        Err(panic) => Err(Error::Internal(panic_message(panic.as_ref()))),
    };
    metrics::emit(&settings.secret_id, result.as_ref().ok());
    result.map(|summary| fit(summary, budget)).inspect_err(|err| {
        tracing::error!(secret_id = %settings.secret_id, error_type = err.error_type(), error = %err, "check failed");
    })
}

/// A panic's message, if it has one, shortened.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("a panic: {}", crate::input::shorten(&text))
}

/// Keeps a summary within `budget` bytes of JSON: first without dry-run messages, then with
/// shorter query lists, each cut counted in the summary.
pub fn fit(mut summary: Summary, budget: usize) -> Summary {
    let size = |s: &Summary| serde_json::to_vec(s).map_or(usize::MAX, |v| v.len());
    if size(&summary) <= budget {
        return summary;
    }
    if let Some(messages) = summary.messages.take() {
        summary.messages_omitted = Some(messages.len());
    }
    while size(&summary) > budget && !summary.queries.is_empty() {
        let keep = summary.queries.len() / 2;
        let dropped = summary.queries.len() - keep;
        summary.queries.truncate(keep);
        *summary.queries_omitted.get_or_insert(0) += dropped;
    }
    summary
}

/// Turns Lambda's wall-clock deadline into a monotonic one, less the margin.
pub fn local_deadline(lambda_deadline: SystemTime, now: SystemTime) -> Deadline {
    // cargo lambda watch sends the budget (600000 ms) instead of an epoch time: a "deadline"
    // before 2001 can only mean that, so read it as milliseconds from now.
    let since_epoch = lambda_deadline
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let left = if since_epoch < Duration::from_secs(978_307_200) {
        since_epoch
    } else {
        lambda_deadline
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
    };
    Deadline::after(left.saturating_sub(DEADLINE_MARGIN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::LONGEST_RUN;

    #[tokio::test(start_paused = true)]
    async fn the_deadline_keeps_a_margin_and_never_overflows() {
        let now = SystemTime::now();
        let left = local_deadline(now + Duration::from_secs(60), now).remaining();
        assert_eq!(left, Duration::from_millis(58_500));
        assert!(local_deadline(now - Duration::from_secs(5), now).is_past());
        let far_future = SystemTime::UNIX_EPOCH + Duration::from_secs(u32::MAX as u64 * 100);
        assert!(local_deadline(far_future, now).remaining() <= LONGEST_RUN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_instead_of_an_epoch_deadline_is_read_as_time_left() {
        // cargo lambda watch answers `Lambda-Runtime-Deadline-Ms: 600000`.
        let budget = std::time::UNIX_EPOCH + Duration::from_millis(600_000);
        let left = local_deadline(budget, SystemTime::now()).remaining();
        assert_eq!(left, Duration::from_millis(598_500));
    }

    #[test]
    fn a_payload_that_is_not_json_is_kept_as_an_error_not_a_failure() {
        let mut de = serde_json::Deserializer::from_str("{not json");
        let payload = Payload::deserialize(&mut de).unwrap();
        assert!(payload.0.is_err());
        let mut de = serde_json::Deserializer::from_str(r#"{"a": 1}"#);
        assert_eq!(Payload::deserialize(&mut de).unwrap().0.unwrap()["a"], 1);
    }

    #[test]
    fn the_lambda_entry_names_the_first_missing_variable() {
        let full = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ];
        let with = |skip: &str, memory: &str| {
            missing_lambda_variable(|name| {
                if name == skip {
                    return None;
                }
                if name == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" {
                    return Some(memory.to_owned());
                }
                full.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert_eq!(with("", "128"), None);
        assert_eq!(
            with("AWS_LAMBDA_FUNCTION_NAME", "128"),
            Some("AWS_LAMBDA_FUNCTION_NAME")
        );
        assert_eq!(with("", "lots"), Some("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
    }

    #[test]
    fn panic_messages_are_kept_short() {
        let long = "x".repeat(500);
        let message = panic_message(&long);
        assert!(message.starts_with("a panic: x") && message.chars().count() < 120);
    }
}
