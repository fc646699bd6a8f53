//! Redis, as the app reaches it: one lazily connected, self-healing handle whose every call
//! has a deadline, and a breaker that fails calls at once while Redis is known to be away.
//!
//! Redis holds sessions and rate-limit counters. When it is down or hung, anonymous reading
//! must go on and session pages must answer 503 within a second or two, never hang. So:
//! - the app starts without Redis (nothing connects until first use);
//! - each call gets `redis.timeout_ms`;
//! - a failure opens the breaker: later calls fail immediately instead of each waiting out
//!   the timeout, and a probe (`watch`), woken at once, closes it again within a quarter
//!   second of Redis answering (issue 24: it used to take 2 to 3 s).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::{
    ErrorKind, FromRedisValue, RedisError, RedisResult,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::Mutex;

use crate::config::RedisSettings;

#[derive(Clone)]
pub struct Kv {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    timeout: Duration,
    /// `None` until the first successful connect; the manager then reconnects by itself.
    conn: Mutex<Option<ConnectionManager>>,
    down: AtomicBool,
    /// Wakes the probe when a call finds Redis away, so it needn't finish a healthy pause.
    wake: tokio::sync::Notify,
    /// Commands that failed while Redis was away and must still happen (making kept pages
    /// stale): run when Redis is reachable again, before the breaker lets anything through.
    deferred: std::sync::Mutex<Vec<redis::Cmd>>,
}

impl Kv {
    /// A handle for `settings.url`; nothing connects yet.
    pub fn new(settings: &RedisSettings) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let client = redis::Client::open(settings.url.expose_secret())
            .map_err(|e| anyhow::anyhow!("redis.url is not a valid Redis URL: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                timeout: settings.timeout(),
                conn: Mutex::new(None),
                down: AtomicBool::new(false),
                wake: tokio::sync::Notify::new(),
                deferred: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// Is Redis known to be out of reach right now?
    pub fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::Relaxed)
    }

    fn mark(&self, ok: bool) {
        let was_down = self.inner.down.swap(!ok, Ordering::Relaxed);
        if was_down && ok {
            tracing::info!("redis is reachable again");
        } else if !was_down && !ok {
            tracing::warn!("redis is unreachable: session pages answer 503 until it returns");
            self.inner.wake.notify_one();
        }
    }

    async fn connection(&self) -> RedisResult<ConnectionManager> {
        let mut slot = self.inner.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let t = self.inner.timeout;
        // No retries of its own: the manager's backoff starts at a second, and while Redis is
        // away the probe is the retry loop, a fresh attempt every quarter second.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(t)
            .set_response_timeout(t)
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(self.inner.client.clone(), config).await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// A new pub/sub connection of its own (the page cache's subscriber).
    pub async fn pubsub(&self) -> RedisResult<redis::aio::PubSub> {
        self.inner.client.get_async_pubsub().await
    }

    /// Run a command within the deadline; while the breaker is open this fails at once.
    pub async fn cmd<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        self.guarded(async |mut conn: ConnectionManager| cmd.query_async(&mut conn).await)
            .await
    }

    /// Run a pipeline within the deadline.
    pub async fn pipe<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> RedisResult<T> {
        self.guarded(async |mut conn: ConnectionManager| pipe.query_async(&mut conn).await)
            .await
    }

    /// Run a Lua script within the deadline.
    pub async fn script<T: FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        self.guarded(async |mut conn: ConnectionManager| script.invoke_async(&mut conn).await)
            .await
    }

    /// Run a Lua script within `timeout` instead of the usual deadline: the page cache
    /// waits less for Redis than a session does. Running out of this shorter time doesn't
    /// open the breaker (a slow moment isn't an outage for sessions); failing to connect does.
    pub async fn script_within<T: FromRedisValue>(
        &self,
        timeout: std::time::Duration,
        script: &redis::ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        self.guarded_within(timeout, false, async |mut conn: ConnectionManager| {
            script.invoke_async(&mut conn).await
        })
        .await
    }

    async fn guarded<T>(
        &self,
        call: impl AsyncFnOnce(ConnectionManager) -> RedisResult<T>,
    ) -> RedisResult<T> {
        self.guarded_within(self.inner.timeout, true, call).await
    }

    async fn guarded_within<T>(
        &self,
        timeout: std::time::Duration,
        timeout_trips: bool,
        call: impl AsyncFnOnce(ConnectionManager) -> RedisResult<T>,
    ) -> RedisResult<T> {
        if self.is_down() {
            return Err(unavailable("redis is unreachable (breaker open)"));
        }
        let attempt = async {
            let conn = self.connection().await?;
            call(conn).await
        };
        let result = match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) if !timeout_trips => return Err(unavailable("redis call timed out")),
            Err(_) => Err(unavailable("redis call timed out")),
        };
        match &result {
            Ok(_) => self.mark(true),
            Err(e) if is_outage(e) => self.mark(false),
            Err(_) => {}
        }
        result
    }

    /// Wait until `listeners` subscribers have counted themselves in `ack_key` (they heard a
    /// message), or `wait` passed; whether they all did.
    pub async fn acknowledged(&self, ack_key: &str, listeners: u64, wait: Duration) -> bool {
        let acks = redis::cmd("GET").arg(ack_key).clone();
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            match self.cmd::<Option<u64>>(&acks).await {
                Ok(Some(heard)) if heard >= listeners => return true,
                Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                Err(_) => return false,
            }
        }
        false
    }

    /// Count this subscriber in `ack_key` (kept 10 s): see `acknowledged`.
    pub async fn acknowledge(&self, ack_key: &str) {
        let ack = redis::pipe()
            .cmd("INCR")
            .arg(ack_key)
            .ignore()
            .cmd("EXPIRE")
            .arg(ack_key)
            .arg(10)
            .ignore()
            .clone();
        let _ = self.pipe::<()>(&ack).await;
    }

    /// Run `cmd` when Redis is reachable again (it failed now). Repeats are run once.
    pub fn defer(&self, cmd: redis::Cmd) {
        if let Ok(mut deferred) = self.inner.deferred.lock()
            && !deferred
                .iter()
                .any(|c| c.get_packed_command() == cmd.get_packed_command())
        {
            deferred.push(cmd);
        }
    }

    /// One PING, bypassing the breaker: what the probe and `/readyz` use. When it answers,
    /// deferred commands run first, so nothing reads Redis before they are done.
    pub async fn ping(&self) -> bool {
        let deferred: Vec<redis::Cmd> = self
            .inner
            .deferred
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default();
        let attempt = async {
            let mut conn = self.connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await?;
            for cmd in &deferred {
                cmd.query_async::<redis::Value>(&mut conn).await?;
            }
            RedisResult::Ok(())
        };
        let ok = matches!(
            tokio::time::timeout(self.inner.timeout, attempt).await,
            Ok(Ok(_))
        );
        if !ok {
            // The next attempt connects afresh: a manager that lost its connection hands the
            // failure of its last reconnect to the next caller (made while Redis was away)
            // before it tries again, which cost a probe round or two after Redis returned.
            *self.inner.conn.lock().await = None;
        }
        if ok
            && !deferred.is_empty()
            && let Ok(mut pending) = self.inner.deferred.lock()
        {
            pending.retain(|c| {
                !deferred
                    .iter()
                    .any(|d| d.get_packed_command() == c.get_packed_command())
            });
        }
        self.mark(ok);
        ok
    }

    /// Probe Redis every quarter second while it is down, so the breaker closes soon after
    /// Redis returns; while it is up, every 5 s or as soon as a call finds it away. Runs until
    /// it is stopped (the task returned).
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let kv = self.clone();
        tokio::spawn(async move {
            loop {
                if kv.ping().await {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(5)) => {}
                        () = kv.inner.wake.notified() => {}
                    }
                } else {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        })
    }
}

fn unavailable(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::IoError, what))
}

/// Errors that mean "Redis is away", as opposed to a bad command or reply.
fn is_outage(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal()
}

/// What follows a channel of announcements (`follow`): the page cache's generations
/// (numbers), live updates (`ws`, JSON).
pub trait Follower: Send + Sync + 'static {
    /// What each message carries.
    type Payload: FromRedisValue + Send;
    /// Whether announcements can be trusted now (false until subscribed, and after a drop).
    fn set_healthy(&self, healthy: bool);
    /// Subscribed: read the current number, so none announced meanwhile is missed.
    fn ready(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// An announcement arrived.
    fn heard(&self, payload: Self::Payload) -> impl Future<Output = ()> + Send;
}

/// Follow `channel` until the returned task is stopped: subscribe, `ready`, then `heard` for each
/// message (one at a time, in order), with a PING a second so a dead connection is noticed; after any failure,
/// unhealthy and again in 500 ms.
pub fn follow<F: Follower>(
    redis: Kv,
    channel: String,
    follower: Arc<F>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            follower.set_healthy(false);
            if let Err(e) = subscribed(&redis, &channel, &*follower).await {
                tracing::debug!(channel, error = %e, "subscription ended");
            }
            follower.set_healthy(false);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

async fn subscribed(redis: &Kv, channel: &str, follower: &impl Follower) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let timeout = Duration::from_millis(500);
    let pubsub = tokio::time::timeout(timeout, redis.pubsub()).await??;
    let (mut sink, mut stream) = pubsub.split();
    tokio::time::timeout(timeout, sink.subscribe(channel)).await??;
    // Subscribed first, then read: nothing announced can fall between the two.
    follower.ready().await?;
    follower.set_healthy(true);
    let second = Duration::from_secs(1);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    anyhow::bail!("subscription closed");
                };
                follower.heard(message.get_payload()?).await;
            }
            _ = ping.tick() => {
                // A subscribed connection answers PING with ["pong", ""], not "PONG".
                tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await??;
            }
        }
    }
}
