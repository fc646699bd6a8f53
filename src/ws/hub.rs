//! This instance's sockets, by what they watch, and the one channel every instance hears
//! changes on. One per process, shared by every HTTP worker (a `web::Data<Hub>`).
//!
//! The hub names no feature: each live feature is a `Feed` the wiring registers, and the
//! hub passes it the announcements that carry its name. Announcements are JSON on the
//! PostgreSQL channel `quire_live`, `{"feed": …, "key": …, "data": …}`: most are sent by
//! triggers as the rows are written (so no write path can forget one), the rest by
//! `Hub::announce`. Every instance LISTENs, so each hears every write, its own and others'.

use std::{
    any::Any,
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytestring::ByteString;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::{broadcast, watch};

use crate::{
    config::{Settings, WsSettings},
    error::Error,
    kv::Kv,
};

/// The channel announcements travel on.
pub const CHANNEL: &str = "quire_live";

/// What a socket watches: a feed's name and its key (a post's id, say).
pub type Topic = (&'static str, i64);

/// What a socket is told.
pub enum Event {
    /// JSON sent as it is to every socket of the topic (a comment, a comment gone).
    Json(ByteString),
    /// A feed's own news, which each socket's `Channel` shapes for itself (who is editing,
    /// told to each without themselves).
    Data(Arc<dyn Any + Send + Sync>),
    /// What the topic showed is no longer there for its sockets (the post was unpublished):
    /// each closes, saying why.
    End(&'static str),
}

/// What instances hear: what changed, never what a reader sees, which each instance reads
/// for itself.
#[derive(Debug, Serialize, Deserialize)]
pub struct Announcement {
    pub feed: String,
    pub key: i64,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// A live feature: what its topics' sockets hear.
pub trait Feed: Send + Sync + 'static {
    /// Its topics' and announcements' name.
    fn name(&self) -> &'static str;

    /// An announcement for `key` (which this instance's sockets watch): pass on what they
    /// should hear (`Hub::send`).
    fn deliver<'a>(&'a self, hub: &'a Hub, key: i64, data: serde_json::Value) -> BoxFuture<'a, ()>;

    /// Every `ws.ping_ms`, with the keys this instance's sockets watch: what can change
    /// without an announcement (a scheduled post's time, an instance that died).
    fn tick<'a>(&'a self, hub: &'a Hub, keys: Vec<i64>) -> BoxFuture<'a, ()>;
}

/// Events waiting for a slow socket; one that falls further behind is closed (its page
/// says to reload).
const BACKLOG: usize = 64;

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    topics: Mutex<HashMap<Topic, broadcast::Sender<Arc<Event>>>>,
    feeds: Mutex<HashMap<&'static str, Arc<dyn Feed>>>,
    /// Open sockets per client address, and in all.
    clients: Mutex<(HashMap<IpAddr, u32>, u32)>,
    closing: watch::Sender<bool>,
    db: PgPool,
    redis: Kv,
    key_prefix: String,
    settings: WsSettings,
}

impl Hub {
    pub fn new(db: PgPool, redis: Kv, settings: &Settings) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::default(),
                feeds: Mutex::default(),
                clients: Mutex::default(),
                closing: watch::Sender::new(false),
                db,
                redis,
                key_prefix: settings.redis.key_prefix.clone(),
                settings: settings.ws.clone(),
            }),
        }
    }

    /// Pass announcements named `feed.name()` to `feed`.
    pub fn register(&self, feed: impl Feed) {
        if let Ok(mut feeds) = self.inner.feeds.lock() {
            feeds.insert(feed.name(), Arc::new(feed));
        }
    }

    fn feed(&self, name: &str) -> Option<Arc<dyn Feed>> {
        self.inner.feeds.lock().ok()?.get(name).cloned()
    }

    /// Hear every instance's announcements, and tick the feeds, until the returned tasks
    /// are aborted.
    pub fn listen(&self) -> [tokio::task::JoinHandle<()>; 2] {
        let hub = self.clone();
        let hear = tokio::spawn(async move {
            loop {
                if let Err(e) = hub.hear().await {
                    tracing::debug!(error = %e, "live: listening ended; again shortly");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let hub = self.clone();
        let tick = tokio::spawn(async move {
            let every = Duration::from_millis(hub.inner.settings.ping_ms);
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let feeds: Vec<_> = match hub.inner.feeds.lock() {
                    Ok(feeds) => feeds.values().cloned().collect(),
                    Err(_) => Vec::new(),
                };
                for feed in feeds {
                    let keys = hub.watched(feed.name());
                    if !keys.is_empty() {
                        feed.tick(&hub, keys).await;
                    }
                }
            }
        });
        [hear, tick]
    }

    async fn hear(&self) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.inner.db).await?;
        listener.listen(CHANNEL).await?;
        // `None`: the connection dropped and was made again; what changed meanwhile the
        // feeds' ticks catch up on.
        loop {
            let Some(heard) = listener.try_recv().await? else {
                continue;
            };
            match serde_json::from_str::<Announcement>(heard.payload()) {
                Ok(announcement) => self.deliver(announcement).await,
                Err(e) => tracing::warn!(error = %e, "an unreadable live announcement"),
            }
        }
    }

    pub fn settings(&self) -> &WsSettings {
        &self.inner.settings
    }

    pub fn redis(&self) -> &Kv {
        &self.inner.redis
    }

    pub fn db(&self) -> &PgPool {
        &self.inner.db
    }

    pub fn key_prefix(&self) -> &str {
        &self.inner.key_prefix
    }

    /// Tell every instance (this one too) what the database's triggers can't: news that
    /// is no write. If the database can't be reached, this instance's sockets still hear.
    pub async fn announce(&self, feed: &'static str, key: i64, data: serde_json::Value) {
        let announcement = Announcement {
            feed: feed.to_owned(),
            key,
            data,
        };
        let Ok(payload) = serde_json::to_string(&announcement) else {
            return;
        };
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.inner.db)
            .await;
        if sent.is_err() {
            self.deliver(announcement).await;
        }
    }

    /// Pass an announcement on to its feed, if this instance's sockets watch its key.
    async fn deliver(&self, announcement: Announcement) {
        let Some(feed) = self.feed(&announcement.feed) else {
            tracing::debug!(feed = announcement.feed, "live: no such feed here");
            return;
        };
        if self.watchers((feed.name(), announcement.key)).is_some() {
            feed.deliver(self, announcement.key, announcement.data)
                .await;
        }
    }

    /// Whether any socket of this instance watches `topic`.
    pub fn watching(&self, topic: Topic) -> bool {
        self.watchers(topic).is_some()
    }

    /// Tell `topic`'s sockets on this instance.
    pub fn send(&self, topic: Topic, event: Event) {
        if let Some(to) = self.watchers(topic) {
            let _ = to.send(Arc::new(event));
        }
    }

    /// The sender for `topic`, if any socket of this instance watches it.
    fn watchers(&self, topic: Topic) -> Option<broadcast::Sender<Arc<Event>>> {
        let topics = self.inner.topics.lock().ok()?;
        topics
            .get(&topic)
            .filter(|to| to.receiver_count() > 0)
            .cloned()
    }

    /// The keys this instance's sockets of `feed` watch.
    fn watched(&self, feed: &str) -> Vec<i64> {
        let Ok(topics) = self.inner.topics.lock() else {
            return Vec::new();
        };
        topics
            .keys()
            .filter(|(name, _)| *name == feed)
            .map(|(_, key)| *key)
            .collect()
    }

    /// Events for `topic`, until the returned watch is dropped.
    pub fn watch(&self, topic: Topic) -> Watch {
        let events = match self.inner.topics.lock() {
            Ok(mut topics) => topics
                .entry(topic)
                .or_insert_with(|| broadcast::channel(BACKLOG).0)
                .subscribe(),
            // A poisoned lock: a socket that hears nothing, rather than none.
            Err(_) => broadcast::channel(1).1,
        };
        Watch {
            hub: self.clone(),
            topic,
            events: Some(events),
        }
    }

    /// A place for one more socket from `client`, or why not.
    pub fn admit(&self, client: Option<IpAddr>) -> Result<Ticket, Error> {
        if *self.inner.closing.borrow() {
            return Err(Error::Unavailable);
        }
        let settings = &self.inner.settings;
        let client = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut clients = self.inner.clients.lock().map_err(|_| Error::Unavailable)?;
        let (per_client, total) = &mut *clients;
        if *total >= settings.max_connections {
            return Err(Error::TooMany(
                "This server holds as many live connections as it can; the page works \
                 without one, and will try again later."
                    .into(),
            ));
        }
        let mine = per_client.entry(client).or_default();
        if *mine >= settings.max_per_client {
            return Err(Error::TooMany(format!(
                "At most {} live connections from one address: close some tabs of this site.",
                settings.max_per_client
            )));
        }
        *mine += 1;
        *total += 1;
        Ok(Ticket {
            hub: self.clone(),
            client,
        })
    }

    /// Sockets open on this instance now.
    pub fn open(&self) -> u32 {
        self.inner.clients.lock().map_or(0, |c| c.1)
    }

    /// The server is stopping: every socket is sent a close frame and no new one is let in.
    pub fn close_all(&self) {
        self.inner.closing.send_replace(true);
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }
}

/// One socket's events; the topic goes when its last watcher does.
pub struct Watch {
    hub: Hub,
    topic: Topic,
    events: Option<broadcast::Receiver<Arc<Event>>>,
}

impl Watch {
    pub async fn recv(&mut self) -> Result<Arc<Event>, broadcast::error::RecvError> {
        match &mut self.events {
            Some(events) => events.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.events.take());
        if let Ok(mut topics) = self.hub.inner.topics.lock()
            && topics
                .get(&self.topic)
                .is_some_and(|to| to.receiver_count() == 0)
        {
            topics.remove(&self.topic);
        }
    }
}

/// A socket's place in the limits: given back when dropped.
pub struct Ticket {
    hub: Hub,
    client: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Ok(mut clients) = self.hub.inner.clients.lock() {
            let (per_client, total) = &mut *clients;
            *total = total.saturating_sub(1);
            if let Some(mine) = per_client.get_mut(&self.client) {
                *mine = mine.saturating_sub(1);
                if *mine == 0 {
                    per_client.remove(&self.client);
                }
            }
        }
    }
}
