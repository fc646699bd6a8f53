//! Fixed-window counters in Redis, shared by every app instance: login failures now,
//! comment posting later.

use std::time::Duration;

use redis::aio::ConnectionManager;

/// Counters under one name (e.g. "login:ip"), each key allowed `limit` hits per `window`.
pub struct Limiter<'a> {
    pub redis: &'a ConnectionManager,
    pub prefix: &'a str,
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
}

impl Limiter<'_> {
    fn key(&self, id: &str) -> String {
        format!("{}rl:{}:{id}", self.prefix, self.name)
    }

    /// Has `id` used up its allowance? Returns the seconds until the window ends if so.
    pub async fn exhausted(&self, id: &str) -> redis::RedisResult<Option<u64>> {
        let mut conn = self.redis.clone();
        let key = self.key(id);
        let (count, ttl): (Option<u32>, i64) = redis::pipe()
            .get(&key)
            .ttl(&key)
            .query_async(&mut conn)
            .await?;
        Ok(match count {
            Some(n) if n >= self.limit => Some(u64::try_from(ttl.max(1)).unwrap_or(1)),
            _ => None,
        })
    }

    /// Count one hit for `id`; the window starts with the first hit.
    pub async fn hit(&self, id: &str) -> redis::RedisResult<()> {
        let mut conn = self.redis.clone();
        let key = self.key(id);
        let () = redis::pipe()
            .incr(&key, 1)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(self.window.as_secs())
            .arg("NX")
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn reset(&self, id: &str) -> redis::RedisResult<()> {
        let mut conn = self.redis.clone();
        redis::cmd("DEL")
            .arg(self.key(id))
            .query_async::<()>(&mut conn)
            .await
    }
}
