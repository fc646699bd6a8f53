//! Fixed-window counters in Redis, shared by every app instance: logins, registrations,
//! comments, previews.
//!
//! Each attempt is counted *before* it is judged, in one atomic script: a burst of
//! simultaneous requests can't all slip past a check that has not yet seen the others.

use std::time::Duration;

use crate::kv::Kv;

/// Counters under one name (e.g. "login:ip"), each key allowed `limit` hits per `window`.
pub struct Limiter<'a> {
    pub redis: &'a Kv,
    pub prefix: &'a str,
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
}

/// INCR, start the window on the first hit, and report the count and the seconds left.
const HIT: &str = r"
local n = redis.call('INCR', KEYS[1])
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
        let script = redis::Script::new(HIT);
        let mut invocation = script.key(self.key(id));
        invocation.arg(self.window.as_secs().max(1));
        let (count, ttl): (u64, i64) = self.redis.script(&invocation).await?;
        Ok(Hit {
            count,
            limit: u64::from(self.limit),
            reset_secs: u64::try_from(ttl.max(1)).unwrap_or(1),
        })
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
