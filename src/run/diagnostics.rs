//! What the side checks found, read from the run's one result: the statement carries the
//! blocking and idle-transaction checks beside the long queries (`row_kind`), so they add no
//! statement, no round trip and no wait of their own.

use std::collections::BTreeMap;

use crate::blocking::{self, Blocking, Wait};
use crate::idle_transactions::{self, IdleTransaction};
use crate::model::{Checks, Minutes};
use crate::redshift::{MissingColumn, ResultSet};

/// What the side checks found.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub waits: Vec<Wait>,
    pub idle: Vec<IdleTransaction>,
}

impl Diagnostics {
    /// Reads the rows of the checks that ran.
    pub fn read(set: &ResultSet, checks: Checks) -> Result<Diagnostics, MissingColumn> {
        Ok(Diagnostics {
            waits: if checks.blocking {
                blocking::read(set)?
            } else {
                Vec::new()
            },
            idle: if checks.idle_transactions {
                idle_transactions::read(set)?
            } else {
                Vec::new()
            },
        })
    }

    /// The blocking facts of the reported queries, by pid.
    pub fn blocking(&self, reported_pids: &[i64], threshold: Minutes) -> BTreeMap<i64, Blocking> {
        blocking::attach(&self.waits, reported_pids, threshold.get())
    }
}
