//! Each instance's own copy of the hottest kept pages, so a hit needs no Redis round trip.
//!
//! It stays honest through the generation every write bumps in Redis:
//! - a subscriber per instance hears each new generation over Redis pub/sub, records it,
//!   and acknowledges it; the writer (`Pages::stale`) waits for as many acknowledgements as
//!   PUBLISH reached subscribers (at most `ACK_WAIT`) before its response is sent, so the
//!   next request on any instance finds its copies out of date and asks Redis;
//! - while the subscription is not known to be healthy (starting, reconnecting, a failed
//!   PING), copies are not used at all: every lookup goes to Redis as before;
//! - a copy is used at most `cache.local_ttl_ms` after it was fetched, which bounds what a
//!   subscription that died without a sign could ever serve, and never after Redis drops
//!   the page (so a scheduled post appears at its time here too);
//! - at most `cache.local_max_bytes` are kept (arbitrary copies are dropped beyond).

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::Kept;
use crate::kv::Kv;

/// How long a writer waits for every instance to acknowledge a new generation.
pub const ACK_WAIT: Duration = Duration::from_millis(250);

struct Copy {
    generation: u64,
    /// `cache.local_ttl_ms` after it was fetched, or when Redis drops it if sooner.
    until: Instant,
    page: Arc<Kept>,
}

pub struct Local {
    max_bytes: usize,
    ttl: Duration,
    /// The newest generation heard; meaningful only while `healthy`.
    generation: AtomicU64,
    healthy: AtomicBool,
    copies: RwLock<(HashMap<String, Copy>, usize)>,
}

impl Local {
    pub fn new(max_bytes: usize, ttl: Duration) -> Self {
        Self {
            max_bytes,
            ttl,
            generation: AtomicU64::new(0),
            healthy: AtomicBool::new(false),
            copies: RwLock::new((HashMap::new(), 0)),
        }
    }

    fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// The copy of `key`, if it is of the current generation and fresh enough.
    pub fn get(&self, key: &str) -> Option<Arc<Kept>> {
        if !self.enabled() || !self.healthy.load(Ordering::Acquire) {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let copies = self.copies.read().ok()?;
        let copy = copies.0.get(key)?;
        (copy.generation == generation && Instant::now() < copy.until).then(|| copy.page.clone())
    }

    /// Keep `page`, found in Redis under `generation` and kept there `left` longer.
    pub fn put(&self, key: &str, generation: u64, left: Duration, page: Arc<Kept>) {
        if !self.enabled() || page.size() > self.max_bytes / 4 {
            return;
        }
        let Ok(mut copies) = self.copies.write() else {
            return;
        };
        let (map, bytes) = &mut *copies;
        let size = page.size();
        if let Some(old) = map.insert(
            key.to_owned(),
            Copy {
                generation,
                until: Instant::now() + left.min(self.ttl),
                page,
            },
        ) {
            *bytes -= old.page.size();
        }
        *bytes += size;
        while *bytes > self.max_bytes {
            let Some(victim) = map.keys().next().cloned() else {
                break;
            };
            if let Some(old) = map.remove(&victim) {
                *bytes -= old.page.size();
            }
        }
    }

    fn hear(&self, generation: u64) {
        self.generation.fetch_max(generation, Ordering::AcqRel);
    }

    fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
    }

    /// Listen for new generations until the returned task is stopped, reconnecting as
    /// needed; nothing to listen for when this instance keeps no copies.
    pub fn listen(
        self: &Arc<Self>,
        redis: Kv,
        channel: String,
        generation_key: String,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if !self.enabled() {
            return None;
        }
        let follower = Arc::new(Generations {
            local: self.clone(),
            redis: redis.clone(),
            generation_key,
        });
        Some(crate::kv::follow(redis, channel, follower))
    }
}

/// The page cache's side of `kv::follow`.
struct Generations {
    local: Arc<Local>,
    redis: Kv,
    generation_key: String,
}

impl crate::kv::Follower for Generations {
    type Payload = i64;

    fn set_healthy(&self, healthy: bool) {
        self.local.set_healthy(healthy);
    }

    async fn ready(&self) -> anyhow::Result<()> {
        let get = redis::cmd("GET").arg(&self.generation_key).clone();
        let current: Option<u64> = self.redis.cmd(&get).await?;
        self.local.hear(current.unwrap_or(0));
        Ok(())
    }

    async fn heard(&self, generation: i64) {
        let generation = u64::try_from(generation).unwrap_or(0);
        self.local.hear(generation);
        self.redis
            .acknowledge(&ack_key(&self.generation_key, generation))
            .await;
    }
}

/// Where subscribers count their acknowledgements of `generation`.
pub fn ack_key(generation_key: &str, generation: u64) -> String {
    format!("{generation_key}:ack:{generation}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Arc<Kept> {
        Arc::new(Kept {
            etag: "\"e\"".into(),
            content_type: "text/html".into(),
            keys: String::new(),
            fresh_until: None,
            body: actix_web::web::Bytes::from(body.to_owned()),
        })
    }

    #[test]
    fn copies_are_used_only_while_healthy_and_of_the_current_generation() {
        let local = Local::new(1 << 20, Duration::from_secs(60));
        local.hear(3);
        local.put("/", 3, Duration::from_secs(60), page("home"));
        assert!(local.get("/").is_none(), "not healthy yet");
        local.set_healthy(true);
        assert!(local.get("/").is_some());
        local.hear(4);
        assert!(local.get("/").is_none(), "a newer generation was heard");
        local.hear(2);
        assert_eq!(
            local.generation.load(Ordering::Acquire),
            4,
            "never goes back"
        );
        local.put("/", 4, Duration::ZERO, page("home"));
        assert!(local.get("/").is_none(), "Redis dropped it already");
    }

    #[test]
    fn memory_stays_within_its_budget() {
        let local = Local::new(1_000, Duration::from_secs(60));
        local.set_healthy(true);
        for i in 0..100 {
            local.put(
                &format!("/posts/{i}"),
                0,
                Duration::from_secs(60),
                page(&"x".repeat(200)),
            );
        }
        let (map, bytes) = &*local.copies.read().expect("not poisoned");
        assert!(
            *bytes <= 1_000 && map.len() <= 4,
            "{bytes} bytes in {}",
            map.len()
        );
        assert_eq!(*bytes, map.values().map(|c| c.page.size()).sum::<usize>());
    }
}
