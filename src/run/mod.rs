//! One check of one target, start to end: secret → statement → rows → messages → Slack →
//! summary. Both entry points call [`App::check`]; this is where the pieces meet, and the only
//! place that knows their order.

mod cancel;
mod diagnostics;
mod thread;

use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::Error;
use crate::long_queries::{self, message};
use crate::model::AlertMode;
use crate::redshift::{DataApi, RedshiftError};
use crate::rules::AlertRules;
use crate::secret::{SecretCache, SecretSource};
use crate::settings::{ConfigError, Settings};
use crate::slack::http::{HttpPost, Reqwest};
use crate::slack::Slack;
use crate::state::store::Store;
use crate::summary::{QuerySummary, Summary};
pub use cancel::HttpResponse;
pub use diagnostics::Diagnostics;
pub use thread::MAX_NEW_PARENTS;

/// Time kept back from the statement's wait for posting to Slack (or a third of what is left on
/// short deadlines): a statement that uses up all the time would leave none to report.
const SLACK_RESERVE: Duration = Duration::from_secs(3);

/// Long-lived state: clients built once per process and the secret cache, so a warm Lambda
/// container reuses connections and the secret across invocations.
pub struct App<H = Reqwest> {
    secrets: SecretSource,
    data_api: DataApi,
    slack: Slack<H>,
    /// Thread mode's table (`STATE_TABLE`); the other modes need none.
    state: Option<Store>,
    /// Signed Slack requests this container has seen (replays are refused).
    replays: cancel::Replays,
    /// The secret whose signing secret checks clicks (`SECRET_ID`): only its queries get a
    /// Cancel button, as a click on another target's could not be verified and acted on.
    button_secret: Option<String>,
}

impl App<Reqwest> {
    /// Builds the clients from the standard AWS configuration (credentials chain, region,
    /// `AWS_ENDPOINT_URL*`), the state table from `STATE_TABLE` and the Slack Web API's base
    /// from `SLACK_API_URL` (both optional).
    pub async fn from_environment() -> Self {
        let config = crate::aws::load_config().await;
        let env = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut slack = Slack::default();
        if let Some(base) = env("SLACK_API_URL") {
            slack = slack.with_api_base(crate::model::SecretUrl::parse(&base));
        }
        let state = env("STATE_TABLE").map(|table| {
            Store::new(
                aws_sdk_dynamodb::Client::new(&config),
                table.trim().to_owned(),
            )
        });
        App::new(
            SecretSource::new(
                aws_sdk_secretsmanager::Client::new(&config),
                SecretCache::new(crate::secret::cache::DEFAULT_TTL),
            ),
            DataApi::new(aws_sdk_redshiftdata::Client::new(&config)),
            slack,
        )
        .with_state(state)
        .with_button_secret(env("SECRET_ID").map(|s| s.trim().to_owned()))
    }
}

impl<H: HttpPost> App<H> {
    pub fn new(secrets: SecretSource, data_api: DataApi, slack: Slack<H>) -> Self {
        App {
            secrets,
            data_api,
            slack,
            state: None,
            replays: cancel::Replays::default(),
            button_secret: None,
        }
    }

    /// Draws Cancel buttons on the queries of `secret_id` (the deployment's `SECRET_ID`).
    pub fn with_button_secret(mut self, secret_id: Option<String>) -> Self {
        self.button_secret = secret_id;
        self
    }

    /// The secret a Cancel button names: `secret_id`, when it is the one clicks are verified
    /// with and it sets cancelling up.
    fn cancel_target<'a>(
        &self,
        secret: &crate::secret::SecretConfig,
        secret_id: &'a str,
    ) -> Option<&'a str> {
        let can = secret
            .interactivity
            .as_ref()
            .is_some_and(|i| i.can_cancel());
        (can && self.button_secret.as_deref() == Some(secret_id)).then_some(secret_id)
    }

    /// Keeps thread mode's state in `store`.
    pub fn with_state(mut self, store: Option<Store>) -> Self {
        self.state = store;
        self
    }

    /// Runs `statement` on the secret's target, keeping time back for Slack: a statement that
    /// used up the whole deadline would leave none to report what it found.
    async fn run_statement(
        &self,
        secret: &crate::secret::SecretConfig,
        statement: &crate::redshift::Statement,
        deadline: Deadline,
    ) -> Result<(crate::redshift::Finished, crate::redshift::ResultSet), RedshiftError> {
        let statement_deadline = deadline.earlier_by(SLACK_RESERVE.min(deadline.remaining() / 3));
        self.data_api
            .run(
                &secret.connection,
                statement,
                statement_deadline,
                &secret.masker,
            )
            .await
    }

    /// Runs one check and finishes by `deadline`, whatever the services do.
    #[tracing::instrument(skip_all, fields(secret_id = %settings.secret_id, threshold_minutes = settings.threshold.get(), dry_run = settings.dry_run))]
    pub async fn check(&self, settings: &Settings, deadline: Deadline) -> Result<Summary, Error> {
        let secret_id = settings.secret_id.as_str();
        let secret = self.secrets.get(secret_id, deadline).await?;
        let rules = AlertRules::default()
            .with(&secret.rules)
            .with(&settings.rules);
        let language = settings.language.or(secret.language).unwrap_or_default();
        let views = settings
            .query_source
            .views_on(&secret.connection.target)
            .ok_or(ConfigError::InflightOnServerless)?;
        let as_of = match settings.alert_mode {
            AlertMode::Window => None,
            AlertMode::Once { .. } => Some(reference_time(settings.scheduled_time)),
            AlertMode::Thread => {
                return thread::check(self, settings, &secret, &rules, views, language, deadline)
                    .await
                    .inspect_err(|err| {
                        if let Error::Slack(e) = err {
                            if e.credential_is_dead() {
                                self.secrets.invalidate(secret_id);
                            }
                        }
                    });
            }
        };
        let statement = long_queries::statement(
            views,
            settings.threshold,
            settings.alert_mode,
            &rules,
            as_of,
        );
        let (finished, result) = self.run_statement(&secret, &statement, deadline).await?;
        let statement_id = finished.statement_id;
        let findings =
            long_queries::evaluate(&result, settings.threshold, settings.alert_mode, &rules)
                .map_err(|missing| RedshiftError::MissingColumn {
                    statement_id: statement_id.clone(),
                    missing,
                })?;
        let diagnostics = Diagnostics::read(&result, rules.checks).map_err(|missing| {
            RedshiftError::MissingColumn {
                statement_id: statement_id.clone(),
                missing,
            }
        })?;
        drop(result);
        tracing::info!(
            %statement_id,
            queries = findings.reported.len(),
            lock_waits = diagnostics.waits.len(),
            idle_transactions = diagnostics.idle.len(),
            skipped = findings.skipped,
            unreadable = findings.unreadable.len(),
            describe_calls = finished.describe_calls,
            wait_ms = finished.waited.as_millis() as u64,
            "statement finished"
        );
        for row in &findings.unreadable {
            tracing::warn!(%statement_id, row = row.row, pid = row.pid, problem = %row.problem, "a result row could not be read");
        }

        let window = settings.window();
        let pids: Vec<i64> = findings.reported.iter().map(|q| q.pid).collect();
        let blocking = diagnostics.blocking(&pids, settings.threshold);
        let context = message::Context {
            target: &secret.connection.target,
            database: &secret.connection.database,
            window,
            timezone: &settings.timezone,
            rules: &rules,
            past_threshold_total: findings.past_threshold_total,
            blocking: &blocking,
            cancel: self.cancel_target(&secret, secret_id),
            phrases: crate::copy::table(language),
        };
        let mut messages = message::build(&findings.reported, &findings.unreadable, &context);
        messages.extend(crate::idle_transactions::message::build(
            &diagnostics.idle,
            &context,
        ));
        let queries_not_posted = findings
            .reported
            .len()
            .saturating_sub(message::shown(findings.reported.len()));

        let messages_posted = if settings.dry_run || messages.is_empty() {
            0
        } else {
            self.slack
                .post_all(&secret.slack, &messages, deadline, &secret.masker)
                .await
                .inspect_err(|err| {
                    if err.credential_is_dead() {
                        self.secrets.invalidate(secret_id);
                    }
                })?
        };
        tracing::info!(%statement_id, queries = findings.reported.len(), messages_posted, dry_run = settings.dry_run, "check done");

        Ok(Summary {
            secret_id: secret_id.to_owned(),
            threshold_minutes: settings.threshold.get(),
            window,
            alert_mode: settings.alert_mode.name(),
            as_of: as_of.map(|t| t.to_string()),
            views,
            timezone: settings.timezone.name().to_owned(),
            statement_id,
            statement_wait_ms: u64::try_from(finished.waited.as_millis()).unwrap_or(u64::MAX),
            describe_calls: finished.describe_calls,
            queries: findings
                .reported
                .iter()
                .map(|q| QuerySummary::new(q, blocking.get(&q.pid)))
                .collect(),
            queries_skipped: findings.skipped,
            unreadable_rows: findings.unreadable,
            queries_past_threshold: findings.past_threshold_total,
            queries_not_posted,
            messages_posted,
            dry_run: settings.dry_run,
            messages: settings
                .dry_run
                .then(|| messages.iter().map(|m| m.to_json()).collect()),
            messages_omitted: None,
            queries_omitted: None,
            thread: None,
            language,
            checks: rules.checks,
            idle_transactions: diagnostics.idle,
        })
    }
}

/// The run's scheduled time, or, for a hand-made event without one, the start of the current
/// minute (scheduled runs start on whole minutes too).
fn reference_time(scheduled: Option<jiff::Timestamp>) -> jiff::Timestamp {
    scheduled.unwrap_or_else(|| {
        let now = jiff::Timestamp::now();
        tracing::warn!(
            "alert_mode once without the event's `time`: measuring from the current minute"
        );
        jiff::Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(60))
            .unwrap_or(now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_scheduled_time_once_mode_measures_from_the_current_minute() {
        let at = reference_time(None);
        assert_eq!(at.as_second() % 60, 0);
        assert!((jiff::Timestamp::now().as_second() - at.as_second()) < 61);
        let given: jiff::Timestamp = "2026-11-28T09:45:00Z".parse().unwrap();
        assert_eq!(reference_time(Some(given)), given);
    }
}
