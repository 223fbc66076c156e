//! One check, start to end: secret → statement → poll → rows → messages → webhook → summary.
//! Both the Lambda handler and the CLI call [`App::check`].

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{Settings, Window};
use crate::error::Error;
use crate::redshift::{DataApi, LongQuery};
use crate::secret::{fetch_secret, SecretCache, DEFAULT_CACHE_TTL};
use crate::slack::{self, HttpWebhook, MessageContext, RetryPolicy, SlackError, WebhookTransport};

/// Time kept back from the statement's wait for posting to Slack (or cut to a third of what is
/// left on short deadlines): a statement that uses up all the time would leave none to report.
const SLACK_RESERVE: Duration = Duration::from_secs(3);

/// What a run found and did. Returned by the Lambda function, printed by the CLI. It never
/// contains a query's full text or anything read from the secret.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub threshold_minutes: u32,
    pub window: Window,
    pub timezone: String,
    pub statement_id: String,
    pub statement_wait_ms: u64,
    pub describe_calls: u32,
    pub queries: Vec<QuerySummary>,
    pub messages_posted: usize,
    pub dry_run: bool,
    /// The messages that would have been posted; only in a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Value>>,
}

/// One long-running query, without its text.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct QuerySummary {
    pub user: Option<String>,
    pub pid: i64,
    pub query_id: i64,
    pub start_time: String,
    pub elapsed_minutes: i64,
    pub text_chars: usize,
    pub text_truncated: bool,
}

impl From<&LongQuery> for QuerySummary {
    fn from(q: &LongQuery) -> Self {
        QuerySummary {
            user: q.user.clone(),
            pid: q.pid,
            query_id: q.query_id,
            start_time: q.start_time.to_string(),
            elapsed_minutes: q.elapsed_minutes,
            text_chars: q.text.chars().count(),
            text_truncated: q.text_truncated,
        }
    }
}

/// Long-lived state: clients built once per process and the secret cache, so a warm Lambda
/// container reuses connections and the secret across invocations.
pub struct App<W = HttpWebhook> {
    secrets: aws_sdk_secretsmanager::Client,
    data_api: DataApi,
    webhook: W,
    secret_cache: SecretCache,
    retry: RetryPolicy,
}

impl App<HttpWebhook> {
    /// Builds the clients from the standard AWS configuration (credentials chain, region,
    /// `AWS_ENDPOINT_URL*`), with timeouts so that no single call can hang a run.
    pub async fn from_environment() -> Result<Self, Error> {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .build();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .load()
            .await;
        let webhook =
            HttpWebhook::new().map_err(|e| SlackError::Client(e.without_url().to_string()))?;
        Ok(App::new(
            aws_sdk_secretsmanager::Client::new(&config),
            DataApi::new(aws_sdk_redshiftdata::Client::new(&config)),
            webhook,
        ))
    }
}

impl<W: WebhookTransport> App<W> {
    pub fn new(secrets: aws_sdk_secretsmanager::Client, data_api: DataApi, webhook: W) -> Self {
        App {
            secrets,
            data_api,
            webhook,
            secret_cache: SecretCache::new(DEFAULT_CACHE_TTL),
            retry: RetryPolicy::default(),
        }
    }

    /// Runs one check and finishes by `deadline`, whatever the services do.
    #[tracing::instrument(skip_all, fields(threshold_minutes = settings.threshold_minutes, dry_run = settings.dry_run))]
    pub async fn check(&self, settings: &Settings, deadline: Instant) -> Result<Summary, Error> {
        let secret_id = settings.secret_id.as_str();
        let secret = self
            .secret_cache
            .get_or_fetch(secret_id, || fetch_secret(&self.secrets, secret_id))
            .await?;

        let window = settings.window();
        let left = deadline.saturating_duration_since(Instant::now());
        let statement_deadline = deadline - SLACK_RESERVE.min(left / 3);

        let statement_id = self
            .data_api
            .submit(&secret, window, statement_deadline)
            .await?;
        tracing::info!(%statement_id, min_minutes = window.min_minutes, max_minutes = window.max_minutes, "statement submitted");

        let finished = self
            .data_api
            .wait_until_finished(&statement_id, statement_deadline)
            .await?;
        let queries = self
            .data_api
            .fetch_rows(&statement_id, statement_deadline)
            .await?;
        tracing::info!(
            %statement_id,
            queries = queries.len(),
            describe_calls = finished.describe_calls,
            wait_ms = finished.waited.as_millis() as u64,
            "statement finished"
        );

        let messages = slack::build_messages(
            &queries,
            &MessageContext {
                cluster: &secret.cluster_identifier,
                database: &secret.database,
                window,
                timezone: &settings.timezone,
            },
        );

        let messages_posted = if settings.dry_run || messages.is_empty() {
            0
        } else {
            match slack::post_all(
                &self.webhook,
                &secret.webhook,
                &messages,
                deadline,
                &self.retry,
            )
            .await
            {
                Ok(posted) => posted,
                Err(err) => {
                    if let SlackError::Undelivered { reason, .. } = &err {
                        if reason.webhook_is_dead() {
                            self.secret_cache.invalidate(secret_id).await;
                        }
                    }
                    return Err(err.into());
                }
            }
        };
        tracing::info!(%statement_id, queries = queries.len(), messages_posted, dry_run = settings.dry_run, "check done");

        Ok(Summary {
            threshold_minutes: settings.threshold_minutes,
            window,
            timezone: settings.timezone.name().to_owned(),
            statement_id,
            statement_wait_ms: finished.waited.as_millis() as u64,
            describe_calls: finished.describe_calls,
            queries: queries.iter().map(QuerySummary::from).collect(),
            messages_posted,
            dry_run: settings.dry_run,
            messages: settings.dry_run.then_some(messages),
        })
    }
}
