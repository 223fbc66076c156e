//! One thread-mode check: the statement, the target's state, the plan, then its steps in order
//! of what matters most when time runs short: new parents, critical replies, ends, updates.
//!
//! Each step that posts is guarded by a conditional write made *before* the post, so that two
//! overlapping runs cannot both post it; a post that certainly failed undoes its write so the
//! next run tries again; a post that may have reached Slack (no answer) keeps it, preferring a
//! missed message to a duplicate (docs/reliability.md).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{App, SLACK_RESERVE};
use crate::copy::en::English;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::long_queries::ended::{self, Found, Sought};
use crate::long_queries::thread::{self as layout, Status, ThreadContext};
use crate::long_queries::{row, select, sql, LongQuery};
use crate::model::{AlertMode, SlackAccess, Views};
use crate::redshift::RedshiftError;
use crate::rules::AlertRules;
use crate::secret::SecretConfig;
use crate::settings::{ConfigError, Settings};
use crate::slack::delivery::DeliveryError;
use crate::slack::http::HttpPost;
use crate::slack::{InThread, SlackError, WebApiTarget};
use crate::state::plan::{self, Claim, Plan, Seen};
use crate::state::store::{NewItem, Store};
use crate::state::{partition, Phase, QueryKey, Tracked};
use crate::summary::{EndedSummary, QuerySummary, Summary, ThreadSummary};

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

    let statement =
        crate::long_queries::statement(views, settings.threshold, AlertMode::Thread, rules, None);
    let statement_deadline = deadline.earlier_by(SLACK_RESERVE.min(deadline.remaining() / 3));
    let (finished, result) = app
        .data_api
        .run(
            &secret.connection,
            &statement,
            statement_deadline,
            &secret.masker,
        )
        .await?;
    let statement_id = finished.statement_id.clone();
    let rows = row::read(&result).map_err(|missing| RedshiftError::MissingColumn {
        statement_id: statement_id.clone(),
        missing,
    })?;
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
        queries: reported.iter().map(|q| QuerySummary::from(*q)).collect(),
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
    })
}

fn key_of(q: &LongQuery) -> QueryKey {
    QueryKey {
        pid: q.pid,
        query_id: q.query_id,
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

impl<H: HttpPost> Run<'_, H> {
    fn context(&self, user: Option<&str>) -> ThreadContext<'_> {
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
            phrases: &English,
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

    /// Moves `key` from its current phase to `next`; `false` when another run moved it first.
    async fn move_item(&mut self, key: QueryKey, next: Phase) -> Result<bool, Error> {
        let Some(current) = self.phases.get(&key).cloned() else {
            return Ok(false);
        };
        self.counts.state_writes += 1;
        let moved = self
            .store
            .move_to(
                &self.partition,
                key,
                &current,
                &next,
                self.now,
                self.deadline,
            )
            .await?;
        if moved {
            self.phases.insert(key, next);
        }
        Ok(moved)
    }

    fn mine(&self) -> Phase {
        Phase::Claimed {
            claim: self.claim.clone(),
            lease_until: self.lease_until,
        }
    }

    fn failed(&mut self, step: &'static str, key: QueryKey, reason: DeliveryError) {
        tracing::warn!(step, pid = key.pid, query_id = key.query_id, error = %reason, "Slack call failed");
        if reason.is_deadline() || reason.api_code().is_some_and(|c| HOPELESS.contains(&c)) {
            self.stop_slack = true;
        }
        self.failures.push(Failure { step, key, reason });
    }

    async fn execute(
        &mut self,
        plan: &Plan,
        queries: &[LongQuery],
        items: &[Tracked],
    ) -> Result<(), Error> {
        let find = |key: &QueryKey| queries.iter().find(|q| key_of(q) == *key);
        for (key, how) in &plan.post {
            if let Some(query) = find(key) {
                self.post_parent(query, how).await?;
            }
        }
        for (key, ts) in &plan.escalate {
            if let Some(query) = find(key) {
                self.escalate(query, ts).await?;
            }
        }
        let vanished: Vec<&Tracked> = items
            .iter()
            .filter(|t| plan.vanished.contains(&t.key))
            .collect();
        if !vanished.is_empty() && !self.stop_slack {
            self.end(&vanished).await?;
        }
        for (key, ts) in &plan.update {
            if let Some(query) = find(key) {
                self.update(query, ts).await?;
            }
        }
        for (key, claim) in &plan.abandoned {
            self.counts.state_writes += 1;
            if self
                .store
                .release(&self.partition, *key, claim, self.deadline)
                .await?
            {
                self.counts.abandoned += 1;
            }
        }
        Ok(())
    }

    /// Claims `query` (or takes a dead run's claim over), posts its parent, records it.
    async fn post_parent(&mut self, query: &LongQuery, how: &Claim) -> Result<(), Error> {
        if self.stop_slack {
            return Ok(());
        }
        let key = key_of(query);
        let claimed = match how {
            Claim::New => {
                let new = NewItem {
                    now: self.now,
                    user: query.user.as_deref(),
                    start: query.start_time.as_second(),
                    // The cluster's clock, as the statement measured it.
                    seen_running: query.start_time.as_second() + query.elapsed_minutes * 60,
                    sys_id: self
                        .settings
                        .query_source
                        .views_on(&self.secret.connection.target)
                        == Some(Views::Sys),
                };
                self.counts.state_writes += 1;
                let claimed = self
                    .store
                    .claim(
                        &self.partition,
                        key,
                        &self.claim,
                        self.lease_until,
                        &new,
                        self.deadline,
                    )
                    .await?;
                if claimed {
                    self.phases.insert(key, self.mine());
                }
                claimed
            }
            Claim::TakeOver { .. } => {
                tracing::warn!(
                    pid = key.pid,
                    query_id = key.query_id,
                    "taking over the claim of a run that did not finish"
                );
                self.move_item(key, self.mine()).await?
            }
        };
        if !claimed {
            self.counts.busy += 1;
            return Ok(());
        }
        if self.post_claimed(query).await? {
            self.counts.posted += 1;
        }
        Ok(())
    }

    /// Posts the parent of a query this run has claimed; `true` when it was posted.
    async fn post_claimed(&mut self, query: &LongQuery) -> Result<bool, Error> {
        let key = key_of(query);
        let ctx = self.context(query.user.as_deref());
        let message = layout::parent(query, Status::Running, &ctx);
        match self
            .app
            .slack
            .post_message(self.to, &message, None, self.deadline)
            .await
        {
            Ok(ts) => {
                if !self.record_parent(key, &ts).await? {
                    tracing::warn!(
                        pid = key.pid,
                        query_id = key.query_id,
                        "the claim was taken over while its parent was posted"
                    );
                    return Ok(true);
                }
                if is_critical(query, self.settings, self.rules) {
                    self.escalate(query, &ts).await?;
                }
                Ok(true)
            }
            Err(reason) => {
                if !matches!(reason, DeliveryError::MaybeDelivered { .. }) {
                    // Certainly not posted: free the query for the next run.
                    self.counts.state_writes += 1;
                    if self
                        .store
                        .release(&self.partition, key, &self.claim, self.deadline)
                        .await?
                    {
                        self.phases.remove(&key);
                    }
                }
                self.failed("post the parent", key, reason);
                Ok(false)
            }
        }
    }

    /// Records a posted parent. This write matters more than any other: if it is lost, the
    /// claim looks like a dead run's once its lease ends, and the query gets a second parent.
    /// So beyond the SDK's retries it is tried again while the deadline allows.
    async fn record_parent(&mut self, key: QueryKey, ts: &str) -> Result<bool, Error> {
        let mut wait = Duration::from_secs(1);
        loop {
            match self.move_item(key, Phase::Open { ts: ts.to_owned() }).await {
                Err(Error::State(e)) if !e.is_deadline() && self.deadline.allows(wait * 2) => {
                    tracing::warn!(pid = key.pid, query_id = key.query_id, error = %e, "recording a posted parent failed: trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                other => return other,
            }
        }
    }

    async fn escalate(&mut self, query: &LongQuery, ts: &str) -> Result<(), Error> {
        if self.stop_slack {
            return Ok(());
        }
        let key = key_of(query);
        if !self
            .move_item(key, Phase::Critical { ts: ts.to_owned() })
            .await?
        {
            return Ok(());
        }
        let message = layout::critical_reply(query, &self.context(query.user.as_deref()));
        let thread = InThread {
            parent_ts: ts,
            broadcast: true,
        };
        match self
            .app
            .slack
            .post_message(self.to, &message, Some(thread), self.deadline)
            .await
        {
            Ok(_) => self.counts.escalated += 1,
            Err(reason) => {
                if !matches!(reason, DeliveryError::MaybeDelivered { .. }) {
                    self.move_item(key, Phase::Open { ts: ts.to_owned() })
                        .await?;
                }
                self.failed("post the critical reply", key, reason);
            }
        }
        Ok(())
    }

    /// Looks up how the vanished queries ended (one statement) and tells their threads.
    async fn end(&mut self, vanished: &[&Tracked]) -> Result<(), Error> {
        let sought: Vec<Sought> = vanished
            .iter()
            .map(|t| Sought {
                pid: t.key.pid,
                query_id: t.key.query_id,
                start: t.start,
                seen_running: t.seen_running,
                sys_id: t.sys_id,
            })
            .collect();
        let statement = ended::statement(&sought);
        let lookup_deadline = self
            .deadline
            .earlier_by(SLACK_RESERVE.min(self.deadline.remaining() / 3));
        self.counts.lookup_statements += 1;
        let (finished, result) = self
            .app
            .data_api
            .run(
                &self.secret.connection,
                &statement,
                lookup_deadline,
                &self.secret.masker,
            )
            .await?;
        let found =
            ended::find(&result, &sought).map_err(|missing| RedshiftError::MissingColumn {
                statement_id: finished.statement_id.clone(),
                missing,
            })?;
        for (item, found) in vanished.iter().zip(found) {
            if let Found::Ended { outcome, end, text } = found {
                self.tell_end(item, outcome, end, text).await?;
            }
        }
        Ok(())
    }

    async fn tell_end(
        &mut self,
        item: &Tracked,
        outcome: ended::Outcome,
        end: Option<i64>,
        text: Option<String>,
    ) -> Result<(), Error> {
        if self.stop_slack {
            return Ok(());
        }
        let Some(ts) = item.phase.ts().map(str::to_owned) else {
            return Ok(());
        };
        let before = item.phase.clone();
        let done = Phase::Ended {
            ts: ts.clone(),
            outcome,
        };
        if !self.move_item(item.key, done).await? {
            return Ok(());
        }
        let ran = (end.unwrap_or(item.seen_running) - item.start).max(0) / 60;
        let minutes = Some(ran);
        let start = jiff::Timestamp::from_second(item.start).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let query = LongQuery {
            user: item.user.clone(),
            pid: item.key.pid,
            query_id: item.key.query_id,
            start_time: start,
            elapsed_minutes: ran,
            text_truncated: text.as_ref().is_some_and(|t| t.chars().count() >= 4000),
            text: text.unwrap_or_default(),
        };
        let ctx = self.context(item.user.as_deref());
        let parent = layout::parent(&query, Status::Ended { outcome, minutes }, &ctx);
        let end_at = end.and_then(|e| jiff::Timestamp::from_second(e).ok());
        let reply = layout::ended_reply(outcome, minutes, end_at, &ctx);
        let slack = &self.app.slack;
        let updated = slack.update(self.to, &ts, &parent, self.deadline).await;
        let result = match updated {
            Err(e) if e.api_code() == Some("message_not_found") => {
                // Deleted by hand: there is no thread left to tell.
                Ok(String::new())
            }
            Err(e) => Err(e),
            Ok(()) => {
                let thread = InThread {
                    parent_ts: &ts,
                    broadcast: false,
                };
                slack
                    .post_message(self.to, &reply, Some(thread), self.deadline)
                    .await
            }
        };
        match result {
            Ok(_) => self.counts.ended.push(EndedSummary {
                pid: item.key.pid,
                query_id: item.key.query_id,
                outcome,
                minutes,
            }),
            Err(reason) => {
                if !matches!(reason, DeliveryError::MaybeDelivered { .. }) {
                    self.move_item(item.key, before).await?;
                }
                self.failed("tell the thread the query ended", item.key, reason);
            }
        }
        Ok(())
    }

    /// Updates a running query's parent; a parent deleted by hand is posted again.
    async fn update(&mut self, query: &LongQuery, ts: &str) -> Result<(), Error> {
        if self.stop_slack {
            return Ok(());
        }
        let key = key_of(query);
        let message = layout::parent(query, Status::Running, &self.context(query.user.as_deref()));
        match self
            .app
            .slack
            .update(self.to, ts, &message, self.deadline)
            .await
        {
            Ok(()) => self.counts.updated += 1,
            Err(e) if e.api_code() == Some("message_not_found") => {
                if self.move_item(key, self.mine()).await? {
                    tracing::warn!(
                        pid = key.pid,
                        query_id = key.query_id,
                        "the parent was deleted: posting it again"
                    );
                    if self.post_claimed(query).await? {
                        self.counts.reposted += 1;
                    }
                }
            }
            Err(reason) => self.failed("update the parent", key, reason),
        }
        Ok(())
    }
}
