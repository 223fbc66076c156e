//! One check, start to end: secret → statement → poll → rows → messages → webhook → summary.
//! Both the Lambda handler and the CLI call [`App::check`].

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{AlertMode, ConfigError, QuerySource, Settings, Window};
use crate::error::Error;
use crate::redshift::{DataApi, LongQuery};
use crate::rules::AlertRules;
use crate::secret::{fetch_secret, SecretCache, Target, DEFAULT_CACHE_TTL};
use crate::slack::{self, HttpWebhook, MessageContext, RetryPolicy, SlackError, WebhookTransport};
use crate::sql::{self, Clock, Views};

/// Time kept back from the statement's wait for posting to Slack (or cut to a third of what is
/// left on short deadlines): a statement that uses up all the time would leave none to report.
const SLACK_RESERVE: Duration = Duration::from_secs(3);

/// What a run found and did. Returned by the Lambda function, printed by the CLI. It never
/// contains a query's full text or anything read from the secret.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub secret_id: String,
    pub threshold_minutes: u32,
    pub window: Window,
    pub alert_mode: &'static str,
    /// The time elapsed minutes were measured from, in `once` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    pub views: Views,
    pub timezone: String,
    pub statement_id: String,
    pub statement_wait_ms: u64,
    pub describe_calls: u32,
    pub queries: Vec<QuerySummary>,
    /// Rows left out by `exclude_users` or per-user thresholds.
    pub queries_skipped: usize,
    /// How many queries run past the base threshold in all, in the window or not.
    pub queries_past_threshold: Option<i64>,
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
    pub async fn from_environment() -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .build();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .load()
            .await;
        App::new(
            aws_sdk_secretsmanager::Client::new(&config),
            DataApi::new(aws_sdk_redshiftdata::Client::new(&config)),
            HttpWebhook::new(),
        )
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
    #[tracing::instrument(skip_all, fields(secret_id = %settings.secret_id, threshold_minutes = settings.threshold_minutes, dry_run = settings.dry_run))]
    pub async fn check(&self, settings: &Settings, deadline: Instant) -> Result<Summary, Error> {
        let secret_id = settings.secret_id.as_str();
        let secret = self
            .secret_cache
            .get_or_fetch(secret_id, || fetch_secret(&self.secrets, secret_id))
            .await?;
        let rules = secret
            .rules
            .clone()
            .overlay(&settings.rule_overrides)
            .map_err(|p| ConfigError::InvalidEventKey {
                key: p.key,
                expected: p.expected,
                found: "a value of another shape".into(),
            })?;
        let views = choose_views(settings.query_source, &secret.target)?;
        let as_of = match settings.alert_mode {
            AlertMode::Window => None,
            AlertMode::Once { .. } => Some(reference_time(settings.scheduled_time)),
        };
        let clock = if as_of.is_some() {
            Clock::AsOf
        } else {
            Clock::Cluster
        };

        let window = settings.window();
        let statement_window = statement_window(settings, &rules);
        let left = deadline.saturating_duration_since(Instant::now());
        let statement_deadline = deadline - SLACK_RESERVE.min(left / 3);

        let statement_id = self
            .data_api
            .submit(
                &secret,
                &sql::statement(views, clock),
                sql::parameters(statement_window, settings.threshold_minutes, as_of),
                statement_deadline,
            )
            .await?;
        tracing::info!(%statement_id, min_minutes = window.min_minutes, max_minutes = window.max_minutes, "statement submitted");

        let finished = self
            .data_api
            .wait_until_finished(&statement_id, statement_deadline)
            .await?;
        let rows = self
            .data_api
            .fetch_rows(&statement_id, statement_deadline)
            .await?;
        let found = rows.queries.len();
        let queries: Vec<LongQuery> = rows
            .queries
            .into_iter()
            .filter(|q| is_reported(q, settings, &rules))
            .collect();
        tracing::info!(
            %statement_id,
            rows = found,
            queries = queries.len(),
            describe_calls = finished.describe_calls,
            wait_ms = finished.waited.as_millis() as u64,
            "statement finished"
        );

        let messages = slack::build_messages(
            &queries,
            &MessageContext {
                target: &secret.target,
                database: &secret.database,
                window,
                timezone: &settings.timezone,
                rules: &rules,
                past_threshold_total: rows.past_threshold_total,
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
                    let SlackError::Undelivered { reason, .. } = &err;
                    if reason.webhook_is_dead() {
                        self.secret_cache.invalidate(secret_id).await;
                    }
                    return Err(err.into());
                }
            }
        };
        tracing::info!(%statement_id, queries = queries.len(), messages_posted, dry_run = settings.dry_run, "check done");

        Ok(Summary {
            secret_id: secret_id.to_owned(),
            threshold_minutes: settings.threshold_minutes,
            window,
            alert_mode: settings.alert_mode.name(),
            as_of: as_of.map(|t| t.to_string()),
            views,
            timezone: settings.timezone.name().to_owned(),
            statement_id,
            statement_wait_ms: finished.waited.as_millis() as u64,
            describe_calls: finished.describe_calls,
            queries: queries.iter().map(QuerySummary::from).collect(),
            queries_skipped: found - queries.len(),
            queries_past_threshold: rows.past_threshold_total,
            messages_posted,
            dry_run: settings.dry_run,
            messages: settings.dry_run.then_some(messages),
        })
    }
}

/// `auto` reads `SVV_QUERY_INFLIGHT` on a cluster and the SYS views on Serverless, which has no
/// `SVV_QUERY_INFLIGHT`.
fn choose_views(source: QuerySource, target: &Target) -> Result<Views, ConfigError> {
    match (source, target) {
        (QuerySource::Auto | QuerySource::Svv, Target::Cluster(_)) => Ok(Views::Inflight),
        (QuerySource::Auto | QuerySource::Sys, Target::Workgroup(_)) => Ok(Views::Sys),
        (QuerySource::Sys, Target::Cluster(_)) => Ok(Views::Sys),
        (QuerySource::Svv, Target::Workgroup(_)) => Err(ConfigError::InflightOnServerless),
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

/// The window the statement selects: wide enough for the base threshold and every per-user
/// threshold; [`is_reported`] then applies each user's own.
fn statement_window(settings: &Settings, rules: &AlertRules) -> Window {
    std::iter::once(settings.threshold_minutes)
        .chain(rules.user_thresholds.values().copied())
        .map(|t| settings.window_for(t))
        .reduce(|a, b| Window {
            min_minutes: a.min_minutes.min(b.min_minutes),
            max_minutes: a.max_minutes.max(b.max_minutes),
        })
        .expect("at least the base threshold")
}

fn is_reported(query: &LongQuery, settings: &Settings, rules: &AlertRules) -> bool {
    let user = query.user.as_deref();
    let window = settings.window_for(rules.threshold_for(user, settings.threshold_minutes));
    !rules.is_excluded(user)
        && query.elapsed_minutes >= i64::from(window.min_minutes)
        && query.elapsed_minutes < i64::from(window.max_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{resolve, EnvDefaults, Overrides};
    use serde_json::json;

    fn settings(event: Value) -> Settings {
        let env = EnvDefaults {
            secret_id: Some("s".into()),
            ..EnvDefaults::default()
        };
        resolve(&env, &Overrides::from_event(&event).unwrap()).unwrap()
    }

    fn rules(value: Value) -> AlertRules {
        AlertRules::default()
            .overlay(value.as_object().unwrap())
            .unwrap()
    }

    fn query(user: Option<&str>, elapsed: i64) -> LongQuery {
        LongQuery {
            user: user.map(str::to_owned),
            pid: 1,
            query_id: 1,
            start_time: jiff::Timestamp::UNIX_EPOCH,
            elapsed_minutes: elapsed,
            text: String::new(),
            text_truncated: false,
        }
    }

    #[test]
    fn the_statement_window_covers_every_users_threshold() {
        let s = settings(json!({"threshold_minutes": 30}));
        let r = rules(json!({"user_thresholds": {"etl": 120, "quick": 10}}));
        assert_eq!(
            statement_window(&s, &r),
            Window {
                min_minutes: 10,
                max_minutes: 240
            }
        );
        assert_eq!(statement_window(&s, &AlertRules::default()), s.window());
    }

    #[test]
    fn each_user_is_judged_by_their_own_threshold_and_excluded_users_never() {
        let s = settings(json!({"threshold_minutes": 30}));
        let r = rules(json!({"user_thresholds": {"etl": 120}, "exclude_users": ["loader"]}));
        assert!(is_reported(&query(Some("alice"), 30), &s, &r));
        assert!(!is_reported(&query(Some("alice"), 60), &s, &r));
        assert!(!is_reported(&query(Some("etl"), 100), &s, &r));
        assert!(is_reported(&query(Some("etl"), 120), &s, &r));
        assert!(is_reported(&query(Some("etl"), 239), &s, &r));
        assert!(!is_reported(&query(Some("loader"), 45), &s, &r));
        assert!(is_reported(&query(None, 45), &s, &r));
    }

    #[test]
    fn once_mode_reports_a_query_in_exactly_one_scheduled_run() {
        // Runs every 10 minutes; a query's elapsed minutes grow by 10 between runs, so exactly
        // one run sees it in [30, 40).
        let s = settings(json!({"alert_mode": "once", "schedule_minutes": 10}));
        let seen: Vec<i64> = (0..12)
            .map(|run| 3 + run * 10)
            .filter(|elapsed| is_reported(&query(Some("a"), *elapsed), &s, &AlertRules::default()))
            .collect();
        assert_eq!(seen, [33]);
    }

    #[test]
    fn serverless_reads_the_sys_views_and_refuses_svv() {
        let cluster = Target::Cluster("c".into());
        let workgroup = Target::Workgroup("w".into());
        assert_eq!(
            choose_views(QuerySource::Auto, &cluster).unwrap(),
            Views::Inflight
        );
        assert_eq!(
            choose_views(QuerySource::Sys, &cluster).unwrap(),
            Views::Sys
        );
        assert_eq!(
            choose_views(QuerySource::Auto, &workgroup).unwrap(),
            Views::Sys
        );
        assert!(choose_views(QuerySource::Svv, &workgroup).is_err());
    }

    #[test]
    fn without_a_scheduled_time_once_mode_measures_from_the_current_minute() {
        let at = reference_time(None);
        assert_eq!(at.as_second() % 60, 0);
        assert!((jiff::Timestamp::now().as_second() - at.as_second()) < 61);
        let given: jiff::Timestamp = "2026-11-28T09:45:00Z".parse().unwrap();
        assert_eq!(reference_time(Some(given)), given);
    }
}
