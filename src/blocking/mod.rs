//! The blocking check: who holds the lock a reported query waits for, and how many sessions a
//! reported query keeps waiting. It reads `SVV_TRANSACTIONS` (every lock held or wanted, with
//! its transaction's owner and start) and names the tables through `PG_CLASS`/`PG_NAMESPACE`.
//!
//! Redshift has three table lock modes, and which pairs conflict is documented ("Managing
//! concurrent write operations"): `AccessExclusiveLock` (DDL, `VACUUM`, `LOCK`) conflicts with
//! every lock; `ShareRowExclusiveLock` (`COPY`, `INSERT`, `UPDATE`, `DELETE`) with itself and
//! `AccessExclusiveLock`; `AccessShareLock` (`SELECT`, `UNLOAD`) only with
//! `AccessExclusiveLock`. A waiting lock is blocked by every granted lock on the same table, of
//! another session, that conflicts with it.

use std::collections::{BTreeMap, BTreeSet};

use crate::long_queries::row::parse_redshift_timestamp;
use crate::redshift::{MissingColumn, ResultSet};

/// Wait edges read at most: enough for any real pile-up, bounded whatever the cluster holds.
pub const MAX_ROWS: usize = 1000;

/// One session waiting for a lock another holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub waiting_pid: i64,
    pub wanted_mode: String,
    pub blocker: Holder,
}

/// The other side of a wait: who holds the lock, how, on what, since when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub pid: i64,
    pub user: Option<String>,
    pub lock_mode: String,
    /// `schema.table`, or the table id when the catalog does not name it.
    pub table: String,
    /// When the holder's transaction started (it holds the lock since then at the latest).
    pub held_since: String,
    /// Minutes since then, by the cluster's clock.
    pub held_minutes: i64,
    /// The holder is itself past the threshold (its transaction or query is older than N
    /// minutes): the root of the pile-up rather than a link in it.
    pub root: bool,
    #[serde(skip)]
    pub held_since_ts: Option<jiff::Timestamp>,
}

/// The check's part of the run's statement: every wait edge, oldest holder first, at most
/// [`MAX_ROWS`]. `now` is the statement's clock.
pub fn ctes(now: &str) -> String {
    let conflict = conflicts("w.lock_mode", "h.lock_mode");
    format!(
        "\
locks AS (
    SELECT pid,
           TRIM(txn_owner) AS user_name,
           txn_start,
           TRIM(lock_mode) AS lock_mode,
           relation,
           granted
    FROM svv_transactions
    WHERE lockable_object_type = 'relation'
),
waits AS (
    SELECT w.pid AS waiting_pid,
           w.lock_mode AS wanted_mode,
           h.pid AS blocker_pid,
           h.user_name AS blocker_user,
           h.lock_mode AS blocker_mode,
           h.txn_start AS blocker_since,
           DATEDIFF(second, h.txn_start, {now}) / 60 AS blocker_minutes,
           COALESCE(TRIM(n.nspname) || '.' || TRIM(c.relname), CAST(w.relation AS VARCHAR))
               AS table_name
    FROM locks w
    JOIN locks h
      ON h.relation = w.relation
     AND h.granted
     AND h.pid <> w.pid
    LEFT JOIN pg_class c ON c.oid = w.relation
    LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT w.granted
      AND {conflict}
    ORDER BY h.txn_start, w.pid
    LIMIT {MAX_ROWS}
)"
    )
}

/// SQL that is true when a lock wanted in mode `wanted` must wait for one held in mode `held`
/// on the same table (the conflicts listed at the top of this module).
pub fn conflicts(wanted: &str, held: &str) -> String {
    format!(
        "({wanted} = 'AccessExclusiveLock' OR {held} = 'AccessExclusiveLock' \
         OR ({wanted} = 'ShareRowExclusiveLock' AND {held} = 'ShareRowExclusiveLock'))"
    )
}

/// The check's rows in the run's result (`row_kind = 'wait'`): the waiting session in `pid`.
pub fn rows() -> String {
    crate::long_queries::sql::side_row(
        "CAST(NULL AS VARCHAR(128))",
        "waiting_pid",
        "blocker_since",
        "CAST(NULL AS BIGINT)",
        KIND,
        [
            "wanted_mode",
            "blocker_pid",
            "blocker_user",
            "blocker_mode",
            "blocker_since",
            "blocker_minutes",
            "table_name",
            "NULL",
        ],
        "waits",
    )
}

/// This check's `row_kind`.
pub const KIND: &str = "wait";

/// Reads the wait edges; a row that cannot be read is left out (the rest still tell).
pub fn read(set: &ResultSet) -> Result<Vec<Wait>, MissingColumn> {
    // A result without the column has no side-check rows (an older statement's).
    let Some(kind) = set.column("row_kind") else {
        return Ok(Vec::new());
    };
    let [waiting, wanted, pid, user, mode, since, minutes, table] = [
        set.require("pid")?,
        set.require("wanted_mode")?,
        set.require("blocker_pid")?,
        set.require("blocker_user")?,
        set.require("blocker_mode")?,
        set.require("blocker_since")?,
        set.require("blocker_minutes")?,
        set.require("table_name")?,
    ];
    let text = |row: &[crate::redshift::Cell], i: usize| {
        row.get(i)
            .and_then(|c| c.text().ok().flatten())
            .map(|t| t.trim().to_owned())
    };
    Ok(set
        .rows
        .iter()
        .filter(|row| text(row, kind).as_deref() == Some(KIND))
        .filter_map(|row| {
            let since_text = text(row, since)?;
            Some(Wait {
                waiting_pid: row.get(waiting)?.long().ok()??,
                wanted_mode: text(row, wanted)?,
                blocker: Holder {
                    pid: row.get(pid)?.long().ok()??,
                    user: text(row, user).filter(|u| !u.is_empty()),
                    lock_mode: text(row, mode)?,
                    table: text(row, table)?,
                    held_since_ts: parse_redshift_timestamp(&since_text),
                    held_since: since_text,
                    held_minutes: row.get(minutes)?.long().ok()??,
                    root: false,
                },
            })
        })
        .collect())
}

/// What the check says about one reported query.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Blocking {
    /// Who holds what it waits for (one entry per holder and table).
    pub blocked_by: Vec<Holder>,
    /// How many other sessions wait for a lock it holds.
    pub blocks: usize,
    /// Where the pile-up starts, when that is not one of its own holders: the end of the chain
    /// of waits (a holder that waits for nobody and is past the threshold).
    pub root_pid: Option<i64>,
}

/// Attaches the waits to the reported queries (by pid). A holder is the root of a pile-up
/// when it waits for nobody itself and has been in its transaction for `threshold_minutes` or
/// more, or is a reported query; a chain of waits is followed to its root.
pub fn attach(
    waits: &[Wait],
    reported_pids: &[i64],
    threshold_minutes: u32,
) -> BTreeMap<i64, Blocking> {
    let reported: BTreeSet<i64> = reported_pids.iter().copied().collect();
    let mut holders: BTreeMap<i64, &Holder> = BTreeMap::new();
    let mut first_blocker: BTreeMap<i64, i64> = BTreeMap::new();
    let mut waiting_on: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for wait in waits {
        holders.entry(wait.blocker.pid).or_insert(&wait.blocker);
        first_blocker
            .entry(wait.waiting_pid)
            .or_insert(wait.blocker.pid);
        waiting_on
            .entry(wait.blocker.pid)
            .or_default()
            .insert(wait.waiting_pid);
    }
    let is_root = |pid: i64| {
        !first_blocker.contains_key(&pid)
            && (reported.contains(&pid)
                || holders
                    .get(&pid)
                    .is_some_and(|h| h.held_minutes >= i64::from(threshold_minutes)))
    };
    // Follows the waits from `pid` to a session that waits for nobody (a cycle, which Redshift
    // resolves by aborting a transaction, ends the walk where it closes).
    let chain_end = |mut pid: i64| {
        let mut seen = BTreeSet::from([pid]);
        while let Some(next) = first_blocker.get(&pid) {
            if !seen.insert(*next) {
                break;
            }
            pid = *next;
        }
        pid
    };
    let mut facts: BTreeMap<i64, Blocking> = BTreeMap::new();
    for wait in waits.iter().filter(|w| reported.contains(&w.waiting_pid)) {
        let mut holder = wait.blocker.clone();
        holder.root = is_root(holder.pid);
        let entry = facts.entry(wait.waiting_pid).or_default();
        if !entry.blocked_by.contains(&holder) {
            entry.blocked_by.push(holder);
        }
    }
    for (pid, entry) in facts.iter_mut() {
        if entry.blocked_by.iter().any(|h| h.root) {
            continue;
        }
        let end = chain_end(*pid);
        if end != *pid && is_root(end) {
            entry.root_pid = Some(end);
        }
    }
    for pid in &reported {
        if let Some(waiters) = waiting_on.get(pid) {
            facts.entry(*pid).or_default().blocks = waiters.len();
        }
    }
    facts
}

/// How many distinct sessions wait for locks `pid` holds.
pub fn sessions_blocked_by(waits: &[Wait], pid: i64) -> usize {
    waits
        .iter()
        .filter(|w| w.blocker.pid == pid)
        .map(|w| w.waiting_pid)
        .collect::<BTreeSet<_>>()
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(waiting: i64, blocker: i64, since: &str, held_minutes: i64) -> Wait {
        Wait {
            waiting_pid: waiting,
            wanted_mode: "AccessShareLock".into(),
            blocker: Holder {
                pid: blocker,
                user: Some("etl".into()),
                lock_mode: "AccessExclusiveLock".into(),
                table: "public.orders".into(),
                held_since: since.into(),
                held_minutes,
                root: false,
                held_since_ts: parse_redshift_timestamp(since),
            },
        }
    }

    #[test]
    fn a_chain_names_each_waiters_holder_and_its_root() {
        // 3 waits for 2, which waits for 1; 1 has held its lock for an hour.
        let waits = [
            wait(2, 1, "2026-11-28 09:00:00", 60),
            wait(3, 2, "2026-11-28 09:55:00", 5),
            wait(4, 1, "2026-11-28 09:00:00", 60),
        ];
        let facts = attach(&waits, &[2, 3], 30);
        assert_eq!(facts[&2].blocked_by[0].pid, 1);
        assert!(
            facts[&2].blocked_by[0].root,
            "held for an hour, waits for nobody"
        );
        assert_eq!(facts[&2].blocks, 1, "3 waits for 2");
        assert_eq!(facts[&3].blocked_by[0].pid, 2);
        assert!(
            !facts[&3].blocked_by[0].root,
            "2 is reported, but waits for 1 itself"
        );
        assert_eq!(facts[&3].root_pid, Some(1), "the chain starts at 1");
        assert_eq!(facts[&3].blocks, 0);
        let young = attach(&waits[1..2], &[3], 30);
        assert!(!young[&3].blocked_by[0].root, "five minutes, not reported");
        assert_eq!(young[&3].root_pid, None);
        let reported_holder = attach(&waits[1..2], &[2, 3], 30);
        assert!(
            reported_holder[&3].blocked_by[0].root,
            "a reported query that waits for nobody"
        );
        assert_eq!(sessions_blocked_by(&waits, 1), 2);
    }

    #[test]
    fn the_statement_asks_for_conflicting_locks_only() {
        let sql = ctes("GETDATE()");
        for needle in [
            "NOT w.granted",
            "h.pid <> w.pid",
            "'AccessExclusiveLock'",
            "'ShareRowExclusiveLock'",
            "pg_namespace",
        ] {
            assert!(sql.contains(needle), "{needle}");
        }
    }
}
