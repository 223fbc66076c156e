//! What one thread-mode run does, decided from what the channel follows (the stored items) and
//! what runs now (the statement's rows), without touching DynamoDB or Slack.

use std::collections::{BTreeMap, BTreeSet};

use super::{Phase, QueryKey, Tracked};

/// A query the statement found running past its window's lower bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub key: QueryKey,
    /// Past its user's threshold and not excluded: it gets a parent.
    pub reportable: bool,
    /// At or past its critical point.
    pub critical: bool,
}

/// How a parent comes to be posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody follows it yet.
    New,
    /// A run claimed it and died: its lease is over.
    TakeOver { claim: String },
}

/// One run's work, each list in the order it is done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Parents to post (at most the cap a run; the rest wait for the next run).
    pub post: Vec<(QueryKey, Claim)>,
    /// Running queries whose parent is updated in place.
    pub update: Vec<(QueryKey, String)>,
    /// Running queries that reached their critical point: one reply each.
    pub escalate: Vec<(QueryKey, String)>,
    /// Followed queries no longer running: their end is looked up.
    pub vanished: Vec<QueryKey>,
    /// Claims of queries no longer running whose run died: removed.
    pub abandoned: Vec<(QueryKey, String)>,
    /// Claimed by a run that is still within its lease: left to it.
    pub busy: usize,
    /// Past the cap of new parents a run: posted by the next run.
    pub deferred: usize,
}

/// Decides a run. `complete` says the statement's result holds every running query (it was not
/// cut at its row cap): only then is a missing query known to have ended. `now` is in seconds
/// since the epoch.
pub fn plan(tracked: &[Tracked], seen: &[Seen], complete: bool, now: i64, max_new: usize) -> Plan {
    let items: BTreeMap<QueryKey, &Tracked> = tracked.iter().map(|t| (t.key, t)).collect();
    let running: BTreeSet<QueryKey> = seen.iter().map(|s| s.key).collect();
    let mut plan = Plan::default();
    for query in seen {
        match items.get(&query.key).map(|t| &t.phase) {
            None if query.reportable => plan.post.push((query.key, Claim::New)),
            None => {}
            Some(Phase::Claimed { claim, lease_until }) if *lease_until < now => plan.post.push((
                query.key,
                Claim::TakeOver {
                    claim: claim.clone(),
                },
            )),
            Some(Phase::Claimed { .. }) => plan.busy += 1,
            Some(Phase::Open { ts }) => {
                if query.critical {
                    plan.escalate.push((query.key, ts.clone()));
                }
                plan.update.push((query.key, ts.clone()));
            }
            Some(Phase::Critical { ts }) => plan.update.push((query.key, ts.clone())),
            // Ended, yet running: the lookup said so (a query it mistook); leave it be.
            Some(Phase::Ended { .. }) => {}
        }
    }
    if plan.post.len() > max_new {
        plan.deferred = plan.post.len() - max_new;
        plan.post.truncate(max_new);
    }
    for item in tracked.iter().filter(|t| !running.contains(&t.key)) {
        match &item.phase {
            Phase::Open { .. } | Phase::Critical { .. } if complete => plan.vanished.push(item.key),
            Phase::Claimed { claim, lease_until } if *lease_until < now && complete => {
                plan.abandoned.push((item.key, claim.clone()))
            }
            _ => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::long_queries::ended::Outcome;

    fn key(pid: i64) -> QueryKey {
        QueryKey {
            pid,
            query_id: pid * 10,
        }
    }

    fn item(pid: i64, phase: Phase) -> Tracked {
        Tracked {
            key: key(pid),
            phase,
            user: None,
            start: 0,
            seen_running: 0,
            sys_id: false,
            shown_query_id: 0,
        }
    }

    fn seen(pid: i64, reportable: bool, critical: bool) -> Seen {
        Seen {
            key: key(pid),
            reportable,
            critical,
        }
    }

    fn open(ts: &str) -> Phase {
        Phase::Open { ts: ts.into() }
    }

    #[test]
    fn a_new_query_is_posted_a_followed_one_updated_and_escalated_once() {
        let tracked = [
            item(2, open("2.0")),
            item(3, Phase::Critical { ts: "3.0".into() }),
        ];
        let p = plan(
            &tracked,
            &[
                seen(1, true, false),
                seen(2, true, true),
                seen(3, true, true),
                seen(4, false, false),
            ],
            true,
            100,
            10,
        );
        assert_eq!(p.post, vec![(key(1), Claim::New)]);
        assert_eq!(p.escalate, vec![(key(2), "2.0".into())]);
        assert_eq!(
            p.update,
            vec![(key(2), "2.0".into()), (key(3), "3.0".into())]
        );
        assert!(p.vanished.is_empty() && p.abandoned.is_empty());
    }

    #[test]
    fn claims_are_left_to_their_run_until_the_lease_ends() {
        let claimed = |lease_until| Phase::Claimed {
            claim: "run-a".into(),
            lease_until,
        };
        let live = plan(
            &[item(1, claimed(200))],
            &[seen(1, true, false)],
            true,
            100,
            10,
        );
        assert_eq!((live.post.len(), live.busy), (0, 1));
        let dead = plan(
            &[item(1, claimed(50))],
            &[seen(1, true, false)],
            true,
            100,
            10,
        );
        assert_eq!(
            dead.post,
            vec![(
                key(1),
                Claim::TakeOver {
                    claim: "run-a".into()
                }
            )]
        );
        let gone = plan(
            &[item(1, claimed(50)), item(2, claimed(500))],
            &[],
            true,
            100,
            10,
        );
        assert_eq!(gone.abandoned, vec![(key(1), "run-a".into())]);
    }

    #[test]
    fn an_end_is_only_concluded_from_a_complete_result() {
        let tracked = [
            item(1, open("1.0")),
            item(2, Phase::Critical { ts: "2.0".into() }),
            item(
                3,
                Phase::Ended {
                    ts: "3.0".into(),
                    outcome: Outcome::Finished,
                },
            ),
        ];
        assert_eq!(
            plan(&tracked, &[], true, 0, 10).vanished,
            vec![key(1), key(2)]
        );
        assert!(plan(&tracked, &[], false, 0, 10).vanished.is_empty());
    }

    #[test]
    fn new_parents_past_the_cap_wait_for_the_next_run() {
        let many: Vec<Seen> = (1..=13).map(|pid| seen(pid, true, false)).collect();
        let p = plan(&[], &many, true, 0, 10);
        assert_eq!((p.post.len(), p.deferred), (10, 3));
        assert_eq!(
            p.post[0].0,
            key(1),
            "oldest first, as the statement orders them"
        );
    }
}
