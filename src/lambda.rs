//! The Lambda entry: read the event loosely, resolve the settings, run one check within the
//! invocation's deadline, return the summary (or a typed error Lambda reports as `errorType`).

use std::time::{Duration, SystemTime};

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

use crate::check::App;
use crate::config::{self, EnvDefaults, Overrides};
use crate::error::Error;

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
    let settings = config::resolve(env, &overrides)?;
    let summary = app.check(&settings, deadline).await.inspect_err(|err| {
        tracing::error!(error_type = err.error_type(), error = %err, "check failed");
    })?;
    Ok(serde_json::to_value(summary).expect("the summary is plain data"))
}

/// Turns Lambda's wall-clock deadline into a monotonic one, less the margin.
pub fn local_deadline(lambda_deadline: SystemTime, now: SystemTime) -> Instant {
    let left = lambda_deadline
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
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
}
