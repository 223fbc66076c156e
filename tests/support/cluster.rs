//! Scenarios for the local Redshift (`devstack/redshift_model.py`): the cluster's clock and the
//! queries in flight, declared by when they started. The statement the binary sends computes
//! everything else (elapsed minutes, the window, the text) itself.

use serde_json::{json, Value};

/// The frozen cluster clock of most tests: `GETDATE()` answers this.
pub const NOW: &str = "2026-11-28T10:00:00Z";

/// A cluster frozen at `now` with these queries in flight.
pub fn at(now: &str, queries: Vec<Value>) -> Value {
    json!({ "now": now, "frozen": true, "queries": queries })
}

/// A running query of `user` (`None`: a dropped user) that started `seconds_ago` before the
/// cluster's clock.
pub fn query(pid: i64, user: Option<&str>, seconds_ago: f64, text: &str) -> Value {
    json!({
        "pid": pid,
        "query_id": pid * 10,
        "user": user,
        "started_seconds_ago": seconds_ago,
        "text": text,
    })
}

/// `minutes` whole minutes and half a second ago: safely inside the minute a test means.
pub fn minutes(m: u32) -> f64 {
    f64::from(m) * 60.0 + 0.5
}
