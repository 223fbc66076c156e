//! The Lambda entry: read the event loosely, resolve the settings, run the check (or one per
//! entry of the event's `targets`, concurrently) within the invocation's deadline, write the
//! run's metrics, and return the summary or a typed error Lambda reports as `errorType`.

use std::time::{Duration, SystemTime};

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::check::{App, Summary};
use crate::config::{self, EnvDefaults, Overrides};
use crate::error::Error;
use crate::metrics;

/// Finish this long before Lambda's own timeout, so the error (with the statement id and what
/// happened) is reported by us rather than replaced by a bare "Task timed out".
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// Serves invocations until the runtime stops the process.
pub async fn serve(app: App) -> Result<(), lambda_runtime::Error> {
    let app = &app;
    let env = &EnvDefaults::from_env();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = local_deadline(event.context.deadline(), SystemTime::now());
        handle(app, env, &event.payload, deadline).await
    }))
    .await
}

/// One invocation. A failure is returned, never a panic, so the warm process keeps serving.
pub async fn handle(
    app: &App,
    env: &EnvDefaults,
    event: &Value,
    deadline: Instant,
) -> Result<Value, Error> {
    let overrides = Overrides::from_event(event)?;
    if overrides.targets.is_empty() {
        let settings = config::resolve(env, &overrides)?;
        let summary = checked(app, &settings, deadline).await?;
        return Ok(serde_json::to_value(summary).expect("the summary is plain data"));
    }

    // Every target's settings are validated before any of them is checked.
    let settings: Vec<_> = overrides
        .targets
        .iter()
        .map(|target| config::resolve(env, &overrides.for_target(target)))
        .collect::<Result<_, _>>()?;
    let results =
        futures_util::future::join_all(settings.iter().map(|s| checked(app, s, deadline))).await;

    let mut reports = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (settings, result) in settings.iter().zip(results) {
        match result {
            Ok(summary) => {
                reports.push(json!({"secret_id": settings.secret_id, "summary": summary}))
            }
            Err(err) => {
                reports.push(json!({
                    "secret_id": settings.secret_id,
                    "error": {"errorType": err.error_type(), "errorMessage": err.to_string()},
                }));
                failures.push((settings.secret_id.clone(), err));
            }
        }
    }
    tracing::info!(
        targets = reports.len(),
        failed = failures.len(),
        "targets checked"
    );
    if failures.is_empty() {
        Ok(json!({ "targets": reports }))
    } else {
        Err(Error::Targets {
            total: reports.len(),
            failures,
        })
    }
}

/// One check, logged and measured whatever its outcome.
async fn checked(
    app: &App,
    settings: &config::Settings,
    deadline: Instant,
) -> Result<Summary, Error> {
    let result = app.check(settings, deadline).await;
    metrics::emit(&settings.secret_id, result.as_ref().ok());
    result.inspect_err(|err| {
        tracing::error!(secret_id = %settings.secret_id, error_type = err.error_type(), error = %err, "check failed");
    })
}

/// Turns Lambda's wall-clock deadline into a monotonic one, less the margin.
pub fn local_deadline(lambda_deadline: SystemTime, now: SystemTime) -> Instant {
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
    }
    .saturating_sub(DEADLINE_MARGIN);
    Instant::now() + left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_keeps_a_margin_and_never_lies_in_the_past() {
        let now = SystemTime::now();
        let d = local_deadline(now + Duration::from_secs(60), now);
        let left = d - Instant::now();
        assert!(left <= Duration::from_millis(58_500) && left > Duration::from_secs(58));
        let past = local_deadline(now - Duration::from_secs(5), now);
        assert!(past <= Instant::now());
    }

    #[test]
    fn a_budget_instead_of_an_epoch_deadline_is_read_as_time_left() {
        // cargo lambda watch answers `Lambda-Runtime-Deadline-Ms: 600000`.
        let budget = std::time::UNIX_EPOCH + Duration::from_millis(600_000);
        let left = local_deadline(budget, SystemTime::now()) - Instant::now();
        assert!(left > Duration::from_secs(598) && left <= Duration::from_millis(598_500));
    }
}
