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
        let script = redis::Script::new(HIT);
        let mut invocation = script.key(self.key(id));
        invocation.arg(self.window.as_secs().max(1));
        let (count, ttl): (u64, i64) = self.redis.script(&invocation).await?;
        Ok((count > u64::from(self.limit)).then(|| u64::try_from(ttl.max(1)).unwrap_or(1)))
    }

    /// Forget `id`'s attempts (a successful login clears its own failures).
    pub async fn reset(&self, id: &str) -> redis::RedisResult<()> {
        self.redis.cmd(redis::cmd("DEL").arg(self.key(id))).await
    }
}
