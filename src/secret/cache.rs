//! Secrets read by this process, each kept for a bounded time, so a warm Lambda container does
//! not pay a Secrets Manager call on every run while a rotated webhook is still picked up within
//! minutes. Failures are never cached.
//!
//! The lock guards the map only, never a fetch: concurrent targets never wait on each other's
//! secrets (two runs that miss the same secret at once both fetch it, which is harmless).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::SecretConfig;

/// How long a warm container trusts its copy of a secret.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
/// A warm container invoked with ever new `secret_id`s keeps at most this many.
pub const MAX_ENTRIES: usize = 64;

#[derive(Debug)]
pub struct SecretCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<SecretConfig>)>>,
}

impl SecretCache {
    pub fn new(ttl: Duration) -> Self {
        SecretCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<SecretConfig>)>> {
        // A panic elsewhere cannot leave the map half-written: every update is one insert or
        // remove. So a poisoned lock is still a usable map.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached copy, when it is fresh.
    pub fn get(&self, secret_id: &str) -> Option<Arc<SecretConfig>> {
        let entries = self.entries();
        let (read_at, config) = entries.get(secret_id)?;
        (read_at.elapsed() < self.ttl).then(|| Arc::clone(config))
    }

    pub fn put(&self, secret_id: &str, config: SecretConfig) -> Arc<SecretConfig> {
        let config = Arc::new(config);
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(secret_id) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, (read_at, _))| *read_at)
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                entries.remove(&id);
            }
        }
        entries.insert(secret_id.to_owned(), (Instant::now(), Arc::clone(&config)));
        config
    }

    /// Forgets a secret, e.g. after Slack said its credential no longer works: the next run
    /// reads the (perhaps rotated) value again instead of failing for the rest of the TTL.
    pub fn invalidate(&self, secret_id: &str) {
        self.entries().remove(secret_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::parse_secret;

    fn config() -> SecretConfig {
        parse_secret(
            "s",
            r#"{"slack_webhook_url":"https://hooks.slack.com/x","cluster_identifier":"c",
                "database":"dev","db_user":"monitor"}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_fresh_copy_is_reused_and_a_stale_or_invalidated_one_is_not() {
        let cache = SecretCache::new(Duration::from_secs(300));
        assert!(cache.get("a").is_none());
        cache.put("a", config());
        assert!(cache.get("a").is_some());
        cache.invalidate("a");
        assert!(cache.get("a").is_none());
        let no_reuse = SecretCache::new(Duration::ZERO);
        no_reuse.put("a", config());
        assert!(no_reuse.get("a").is_none());
    }

    #[test]
    fn the_cache_never_grows_past_its_cap() {
        let cache = SecretCache::new(Duration::from_secs(300));
        for i in 0..(MAX_ENTRIES * 3) {
            cache.put(&format!("s{i}"), config());
        }
        assert_eq!(cache.entries().len(), MAX_ENTRIES);
        assert!(cache.get(&format!("s{}", MAX_ENTRIES * 3 - 1)).is_some());
    }
}
