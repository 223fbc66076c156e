//! One thread-mode check: the statement, the target's state, the plan, then its steps in order
//! of what matters most when time runs short: new parents, critical replies, ends, updates.
//!
//! Each step that posts is guarded by a conditional write made *before* the post, so that two
//! overlapping runs cannot both post it; a post that certainly failed undoes its write so the
//! next run tries again; a post that may have reached Slack (no answer) keeps it, preferring a
//! missed message to a duplicate (docs/reliability.md).
//!
//! The steps themselves are in [`steps`].

mod steps;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{App, Diagnostics};
use crate::blocking::Blocking;
use crate::copy::Phrases;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::long_queries::thread::{self as layout, Status, ThreadContext};
use crate::long_queries::{row, select, sql, LongQuery};
use crate::model::{AlertMode, Checks, Language, SlackAccess, Views};
use crate::redshift::RedshiftError;
use crate::rules::AlertRules;
use crate::secret::SecretConfig;
use crate::settings::{ConfigError, Settings};
use crate::slack::delivery::DeliveryError;
use crate::slack::http::HttpPost;
use crate::slack::{SlackError, WebApiTarget};
use crate::state::plan::{self, Plan, Seen};
use crate::state::store::Store;
use crate::state::{partition, Phase, QueryKey};
use crate::summary::{QuerySummary, Summary, ThreadSummary};

/// New parents one run posts at most; the rest are posted by the next run (none is lost, and
/// a runaway cluster cannot flood the channel in one go).
pub const MAX_NEW_PARENTS: usize = 10;

/// Slack codes after which no other call of the run can succeed.
const HOPELESS: [&str; 10] = [
    "invalid_auth",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_authed",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "missing_scope",
    "restricted_action",
];

struct Failure {
    step: &'static str,
    key: QueryKey,
    reason: DeliveryError,
}

/// The run's moving parts, so each step is a short method.
struct Run<'a, H: HttpPost> {
    app: &'a App<H>,
    settings: &'a Settings,
    secret: &'a SecretConfig,
    rules: &'a AlertRules,
    store: &'a Store,
    to: WebApiTarget<'a>,
    partition: String,
    claim: String,
    lease_until: i64,
    now: i64,
    deadline: Deadline,
    /// Each followed query's phase as this run last wrote or read it: the condition of its
    /// next write.
    phases: BTreeMap<QueryKey, Phase>,
    phrases: &'static dyn Phrases,
    /// What the blocking check found, by pid.
    blocking: BTreeMap<i64, Blocking>,
    counts: ThreadSummary,
    failures: Vec<Failure>,
    stop_slack: bool,
}

pub(super) async fn check<H: HttpPost>(
    app: &App<H>,
    settings: &Settings,
    secret: &SecretConfig,
    rules: &AlertRules,
    views: Views,
    language: Language,
    deadline: Deadline,
) -> Result<Summary, Error> {
    let SlackAccess::WebApi { token, channel, .. } = &secret.slack else {
        return Err(ConfigError::ThreadWithoutWebApi {
            secret_id: settings.secret_id.clone(),
        }
        .into());
    };
    let store = app.state.as_ref().ok_or(ConfigError::ThreadWithoutTable)?;
    app.slack
        .api_base()
        .map_err(|problem| ConfigError::SlackApiUrl { problem })?;

    // Idle transactions are not queries: they have no thread to follow (README).
    let checks = Checks {
        idle_transactions: false,
        ..rules.checks
    };
    let statement = crate::long_queries::statement(
        views,
        settings.threshold,
        AlertMode::Thread,
        &AlertRules {
            checks,
            ..rules.clone()
        },
        None,
    );
    let (finished, result) = app.run_statement(secret, &statement, deadline).await?;
    let statement_id = finished.statement_id.clone();
    let unreadable_result = |missing| RedshiftError::MissingColumn {
        statement_id: statement_id.clone(),
        missing,
    };
    let rows = row::read(&result).map_err(unreadable_result)?;
    let diagnostics = Diagnostics::read(&result, checks).map_err(unreadable_result)?;
    drop(result);
    // Only a result below the row cap holds every running query: only then does a missing
    // query mean that it ended.
    let complete = rows.queries.len() + rows.unreadable.len() < sql::MAX_ROWS;
    let seen: Vec<Seen> = rows
        .queries
        .iter()
        .map(|q| Seen {
            key: key_of(q),
            reportable: select::is_reported(q, settings.threshold, AlertMode::Thread, rules),
            critical: is_critical(q, settings, rules),
        })
        .collect();

    let now = unix_now();
    let mut run = Run {
        app,
        settings,
        secret,
        rules,
        store,
        to: WebApiTarget {
            token,
            channel,
            masker: &secret.masker,
        },
        partition: partition(
            &secret.connection.target,
            &secret.connection.database,
            channel,
        ),
        claim: claim_id(),
        // A run cannot outlive its deadline (the backstop stops it), so past this its claims
        // are a dead run's.
        lease_until: now + deadline.remaining().as_secs() as i64 + 5,
        now,
        deadline,
        phases: BTreeMap::new(),
        phrases: crate::copy::table(language),
        blocking: diagnostics.blocking(
            &rows.queries.iter().map(|q| q.pid).collect::<Vec<_>>(),
            settings.threshold,
        ),
        counts: ThreadSummary::default(),
        failures: Vec::new(),
        stop_slack: settings.dry_run,
    };
    let loaded = store.load(&run.partition, deadline).await?;
    run.phases = loaded
        .items
        .iter()
        .map(|t| (t.key, t.phase.clone()))
        .collect();
    run.counts.state_reads = loaded.pages;
    run.counts.followed = loaded.items.len();
    if loaded.unreadable > 0 {
        tracing::warn!(
            items = loaded.unreadable,
            "state items that are not this function's were left alone"
        );
    }
    let plan = plan::plan(&loaded.items, &seen, complete, now, MAX_NEW_PARENTS);
    run.counts.busy = plan.busy;
    run.counts.deferred = plan.deferred;
    tracing::info!(
        %statement_id,
        running = seen.len(),
        followed = loaded.items.len(),
        post = plan.post.len(),
        update = plan.update.len(),
        escalate = plan.escalate.len(),
        vanished = plan.vanished.len(),
        busy = plan.busy,
        deferred = plan.deferred,
        "thread plan"
    );

    let messages = if settings.dry_run {
        Some(run.preview(&plan, &rows.queries))
    } else {
        run.execute(&plan, &rows.queries, &loaded.items).await?;
        None
    };

    let reported: Vec<&LongQuery> = rows
        .queries
        .iter()
        .zip(&seen)
        .filter(|(_, s)| s.reportable)
        .map(|(q, _)| q)
        .collect();
    let counts = run.counts;
    let posted = counts.posted + counts.escalated + counts.ended.len() + counts.reposted;
    if let Some(first) = run.failures.first() {
        tracing::warn!(
            failed = run.failures.len(),
            "some Slack calls of this run failed"
        );
        return Err(SlackError::Thread {
            failed: run.failures.len(),
            step: first.step,
            pid: first.key.pid,
            query_id: first.key.query_id,
            reason: first.reason.clone(),
        }
        .into());
    }
    tracing::info!(%statement_id, posted, updated = counts.updated, ended = counts.ended.len(), "check done");
    Ok(Summary {
        secret_id: settings.secret_id.clone(),
        threshold_minutes: settings.threshold.get(),
        window: settings.window(),
        alert_mode: AlertMode::Thread.name(),
        as_of: None,
        views,
        timezone: settings.timezone.name().to_owned(),
        statement_id,
        statement_wait_ms: u64::try_from(finished.waited.as_millis()).unwrap_or(u64::MAX),
        describe_calls: finished.describe_calls,
        queries: reported
            .iter()
            .map(|q| QuerySummary::new(q, run.blocking.get(&q.pid)))
            .collect(),
        queries_skipped: rows.queries.len() - reported.len(),
        unreadable_rows: rows.unreadable,
        queries_past_threshold: rows.past_threshold_total,
        queries_not_posted: counts.deferred,
        messages_posted: posted,
        dry_run: settings.dry_run,
        messages,
        messages_omitted: None,
        queries_omitted: None,
        thread: Some(counts),
        language,
        checks,
        idle_transactions: Vec::new(),
    })
}

impl<H: HttpPost> Run<'_, H> {
    pub(super) fn context(&self, user: Option<&str>) -> ThreadContext<'_> {
        ThreadContext {
            target: &self.secret.connection.target,
            database: &self.secret.connection.database,
            timezone: &self.settings.timezone,
            rules: self.rules,
            threshold_minutes: self
                .rules
                .threshold_for(user, self.settings.threshold)
                .get(),
            critical_minutes: self.rules.critical_for(user, self.settings.threshold),
            checked: jiff::Timestamp::from_second(self.now).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            blocking: &self.blocking,
            cancel: self
                .app
                .cancel_target(self.secret, &self.settings.secret_id),
            phrases: self.phrases,
        }
    }

    /// A dry run: the parents that would be posted.
    fn preview(&mut self, plan: &Plan, queries: &[LongQuery]) -> Vec<serde_json::Value> {
        self.counts.posted = plan.post.len();
        self.counts.updated = plan.update.len();
        self.counts.escalated = plan.escalate.len();
        plan.post
            .iter()
            .filter_map(|(key, _)| queries.iter().find(|q| key_of(q) == *key))
            .map(|q| layout::parent(q, Status::Running, &self.context(q.user.as_deref())).to_json())
            .collect()
    }

    pub(super) fn mine(&self) -> Phase {
        Phase::Claimed {
            claim: self.claim.clone(),
            lease_until: self.lease_until,
        }
    }

    pub(super) fn failed(&mut self, step: &'static str, key: QueryKey, reason: DeliveryError) {
        tracing::warn!(step, pid = key.pid, query_id = key.query_id, error = %reason, "Slack call failed");
        if reason.is_deadline() || reason.api_code().is_some_and(|c| HOPELESS.contains(&c)) {
            self.stop_slack = true;
        }
        self.failures.push(Failure { step, key, reason });
    }
}

/// A query is followed by its SYS id where known: it is the same while the query waits in its
/// queue and once it runs, where `SVV_QUERY_INFLIGHT`'s id only exists once it runs.
fn key_of(q: &LongQuery) -> QueryKey {
    QueryKey {
        pid: q.pid,
        query_id: q.sys_query_id.unwrap_or(q.query_id),
    }
}

fn is_critical(q: &LongQuery, settings: &Settings, rules: &AlertRules) -> bool {
    q.elapsed_minutes >= i64::from(rules.critical_for(q.user.as_deref(), settings.threshold))
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Names this run in its claims: unique enough across concurrent runs (process, clock).
fn claim_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos();
    format!("{:x}-{nanos:x}", std::process::id())
}
