//! Fixed-window counters in Redis, shared by every app instance: logins, registrations,
//! comments, previews, and every API call.
//!
//! Each attempt is counted *before* it is judged, in one atomic script: a burst of
//! simultaneous requests can't all slip past a check that has not yet seen the others.
//!
//! The API's allowance is asked on every call, so it is counted in `Batched`: on this
//! instance first, sent to Redis in one pipeline every `Batched::EVERY`, so a call waits for
//! Redis only the first time its caller is seen in a window. Exact on one instance; with
//! several, each may let through what the others counted since their last flush.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::kv::Kv;

/// Counters under one name (e.g. "login:ip"), each key allowed `limit` hits per `window`.
pub struct Limiter<'a> {
    pub redis: &'a Kv,
    pub prefix: &'a str,
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
}

/// INCRBY (ARGV[2] hits), start the window on the first hit, and report the count and the
/// seconds left.
const HIT: &str = r"
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

impl Limiter<'_> {
    fn key(&self, id: &str) -> String {
        format!("{}rl:{}:{id}", self.prefix, self.name)
    }

    /// Count one attempt by `id`, then judge it: `Some(seconds to wait)` if it is over the
    /// limit (this attempt included), `None` if it may go ahead.
    pub async fn over(&self, id: &str) -> redis::RedisResult<Option<u64>> {
        let hit = self.hit(id).await?;
        Ok(hit.over().then_some(hit.reset_secs))
    }

    /// Count one attempt by `id`: where it stands in its window.
    pub async fn hit(&self, id: &str) -> redis::RedisResult<Hit> {
        self.add(id, 1).await
    }

    /// Count `n` (an attempt's weight: milliseconds of work, say; 0 only asks) for `id`:
    /// where it stands in its window.
    pub async fn add(&self, id: &str, n: u64) -> redis::RedisResult<Hit> {
        let script = redis::Script::new(HIT);
        let mut invocation = script.key(self.key(id));
        invocation.arg(self.window.as_secs().max(1)).arg(n);
        let (count, ttl): (u64, i64) = self.redis.script(&invocation).await?;
        Ok(Hit {
            count,
            limit: u64::from(self.limit),
            reset_secs: seconds(ttl),
        })
    }

    /// Count one attempt by `id` in `batched`: judged by the count Redis gave at the last
    /// flush plus what this instance counted since. Waits for Redis only for an `id` not
    /// yet seen in this window.
    pub async fn hit_batched(&self, batched: &Batched, id: &str) -> redis::RedisResult<Hit> {
        let key = self.key(id);
        let limit = u64::from(self.limit);
        let now = Instant::now();
        {
            let mut entries = batched.lock();
            if let Some(e) = entries.get_mut(&key).filter(|e| e.window_ends > now) {
                e.pending += 1;
                return Ok(Hit {
                    count: e.counted + e.pending,
                    limit,
                    reset_secs: e.window_ends.duration_since(now).as_secs().max(1),
                });
            }
        }
        let hit = self.hit(id).await?;
        // Calls that came meanwhile may have made the entry already: keep their counts.
        let fresh = Entry {
            counted: hit.count,
            pending: 0,
            window: self.window,
            window_ends: now + Duration::from_secs(hit.reset_secs),
        };
        let mut entries = batched.lock();
        match entries.get_mut(&key) {
            Some(e) if e.window_ends > now => e.counted = e.counted.max(hit.count),
            _ => {
                entries.insert(key, fresh);
            }
        }
        Ok(hit)
    }

    /// Forget `id`'s attempts (a successful login clears its own failures).
    pub async fn reset(&self, id: &str) -> redis::RedisResult<()> {
        self.redis.cmd(redis::cmd("DEL").arg(self.key(id))).await
    }
}

/// One counted attempt: the window's count so far (this one included), the limit, and
/// the seconds until the window starts again.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub count: u64,
    pub limit: u64,
    pub reset_secs: u64,
}

impl Hit {
    pub fn over(&self) -> bool {
        self.count > self.limit
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.count)
    }
}

/// Redis's TTL as whole seconds, at least one.
fn seconds(ttl: i64) -> u64 {
    u64::try_from(ttl.max(1)).unwrap_or(1)
}

/// API calls counted on this instance between flushes to Redis (see the module's note).
#[derive(Default)]
pub struct Batched {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    /// The window's count in Redis at the last flush: every instance's.
    counted: u64,
    /// Counted here since.
    pending: u64,
    window: Duration,
    window_ends: Instant,
}

impl Batched {
    /// How often counts go to Redis: how far a count can lag on the other instances.
    pub const EVERY: Duration = Duration::from_millis(100);

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flush every `EVERY`, for as long as this `Batched` lives.
    pub fn spawn(self: &Arc<Self>, redis: crate::kv::Kv) -> tokio::task::JoinHandle<()> {
        let batched = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Self::EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(batched) = batched.upgrade() else {
                    return;
                };
                batched.flush(&redis).await;
            }
        })
    }

    /// Send what was counted here since the last flush, learn every instance's counts, and
    /// forget windows that are over. A failed flush keeps its counts for the next one.
    pub async fn flush(&self, redis: &crate::kv::Kv) {
        let now = Instant::now();
        let sent: Vec<(String, u64, u64)> = {
            let mut entries = self.lock();
            entries.retain(|_, e| e.window_ends > now);
            entries
                .iter()
                .filter(|(_, e)| e.pending > 0)
                .map(|(key, e)| (key.clone(), e.pending, e.window.as_secs().max(1)))
                .collect()
        };
        if sent.is_empty() {
            return;
        }
        // EVAL, not EVALSHA: nothing to reload after a Redis restart, ten times a second.
        let mut pipe = redis::pipe();
        for (key, pending, window) in &sent {
            pipe.cmd("EVAL")
                .arg(HIT)
                .arg(1)
                .arg(key)
                .arg(window)
                .arg(pending);
        }
        let Ok(replies) = redis.pipe::<Vec<(u64, i64)>>(&pipe).await else {
            return;
        };
        let mut entries = self.lock();
        for ((key, pending, _), (count, ttl)) in sent.into_iter().zip(replies) {
            if let Some(e) = entries.get_mut(&key) {
                e.pending = e.pending.saturating_sub(pending);
                e.counted = count;
                e.window_ends = now + Duration::from_secs(seconds(ttl));
            }
        }
    }
}
