//! The steps of a thread-mode run, each guarded by its conditional write (see the parent
//! module for the order and the rules).

use std::time::Duration;

use super::{is_critical, key_of, Run};
use crate::error::Error;
use crate::long_queries::ended::{self, Found, Sought};
use crate::long_queries::thread::{self as layout, Status};
use crate::long_queries::LongQuery;
use crate::redshift::RedshiftError;
use crate::slack::delivery::DeliveryError;
use crate::slack::http::HttpPost;
use crate::slack::InThread;
use crate::state::plan::{Claim, Plan};
use crate::state::store::NewItem;
use crate::state::{Phase, QueryKey, Tracked};
use crate::summary::EndedSummary;

impl<H: HttpPost> Run<'_, H> {
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

    pub(super) async fn execute(
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
                    sys_id: query.sys_query_id.is_some(),
                    shown_query_id: query.query_id,
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
        self.counts.lookup_statements += 1;
        let (finished, result) = self
            .app
            .run_statement(self.secret, &statement, self.deadline)
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
            query_id: item.shown_query_id,
            start_time: start,
            elapsed_minutes: ran,
            text_truncated: text.as_ref().is_some_and(|t| t.chars().count() >= 4000),
            text: text.unwrap_or_default(),
            sys_id: item.sys_id,
            ..LongQuery::default()
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
