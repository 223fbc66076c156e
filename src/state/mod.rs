//! Thread-mode state: which queries the channel follows and where each stands. The decisions
//! are pure ([`plan`]); the store is DynamoDB ([`store`]), one item per query under one
//! partition per target and channel, so a run reads all of a target's items with one `Query`.
//!
//! An item moves through these phases, each move a conditional write, so that overlapping runs
//! (a slow run and the next scheduled one, a manual invoke) never both post:
//!
//! ```text
//!   (none) ──claim──▶ Claimed ──posted──▶ Open ──critical──▶ Critical
//!                       │  ▲                 │                  │
//!              post failed: released     parent deleted: re-claimed
//!                                            └──── ended ───────┴──▶ Ended (expires)
//! ```
//!
//! A claim holds a lease until its run's own deadline: a run cannot outlive it, so a claim whose
//! lease is over belongs to a run that crashed, and the next run takes it over.

pub mod plan;
pub mod store;

use crate::long_queries::ended::Outcome;
use crate::model::{ChannelId, Target};

/// Ended items are kept this long (DynamoDB's TTL then removes them): long enough that a late
/// run does not mistake a just-ended query for a new one.
pub const ENDED_TTL_SECONDS: i64 = 24 * 3600;
/// Any item expires this long after it was written last, so a table never keeps items of a
/// target that is gone.
pub const ITEM_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// The partition of one target's queries in one channel.
pub fn partition(target: &Target, database: &str, channel: &ChannelId) -> String {
    let kind = match target {
        Target::Cluster(_) => "cluster",
        Target::Workgroup(_) => "workgroup",
    };
    format!("{kind}:{}/{database}#{}", target.name(), channel.as_str())
}

/// A query's key within its partition: pids are reused, so the query id is part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueryKey {
    pub pid: i64,
    pub query_id: i64,
}

impl QueryKey {
    pub fn sort_key(&self) -> String {
        format!("{}#{}", self.pid, self.query_id)
    }

    pub fn parse(sort_key: &str) -> Option<QueryKey> {
        let (pid, query_id) = sort_key.split_once('#')?;
        Some(QueryKey {
            pid: pid.parse().ok()?,
            query_id: query_id.parse().ok()?,
        })
    }
}

/// Where a followed query stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// A run is posting its parent. `claim` names that run; after `lease_until` (seconds since
    /// the epoch) the run is presumed dead.
    Claimed { claim: String, lease_until: i64 },
    /// Its parent is `ts`.
    Open { ts: String },
    /// Past the critical point, and the thread was told.
    Critical { ts: String },
    /// It ended, and the thread was told.
    Ended { ts: String, outcome: Outcome },
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Claimed { .. } => "claimed",
            Phase::Open { .. } => "open",
            Phase::Critical { .. } => "critical",
            Phase::Ended { .. } => "ended",
        }
    }

    /// The parent's `ts`, once posted.
    pub fn ts(&self) -> Option<&str> {
        match self {
            Phase::Claimed { .. } => None,
            Phase::Open { ts } | Phase::Critical { ts } | Phase::Ended { ts, .. } => Some(ts),
        }
    }
}

/// One followed query, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub key: QueryKey,
    pub phase: Phase,
    pub user: Option<String>,
    /// When it started (seconds since the epoch).
    pub start: i64,
    /// When a run first saw it past its threshold (seconds since the epoch).
    pub seen_running: i64,
    /// Its key's query id is a SYS view's (`SYS_QUERY_HISTORY`), not `SVV_QUERY_INFLIGHT`'s.
    pub sys_id: bool,
    /// The query id its messages show (the one its views gave when it was first seen).
    pub shown_query_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_partitions_separate_targets_and_channels() {
        let key = QueryKey {
            pid: 1073741999,
            query_id: 42,
        };
        assert_eq!(QueryKey::parse(&key.sort_key()), Some(key));
        assert_eq!(QueryKey::parse("12"), None);
        let c1 = ChannelId::parse("C0ALERTS01").unwrap();
        let c2 = ChannelId::parse("C0OTHER001").unwrap();
        let a = Target::Cluster("analytics".into());
        let w = Target::Workgroup("analytics".into());
        let keys = [
            partition(&a, "dev", &c1),
            partition(&a, "dev", &c2),
            partition(&w, "dev", &c1),
            partition(&a, "prod", &c1),
        ];
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{k}");
        }
    }
}
