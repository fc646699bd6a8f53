//! This instance's sockets, by what they watch, and the Redis channel every instance hears
//! changes on. One per process (`AppState::hub`), shared by every HTTP worker.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use crate::{
    comments::repo::{self, Live},
    config::{Settings, WsSettings},
    error::Error,
    kv::Kv,
    posts::model::PostId,
};

/// What a socket watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A published post's comments, on its page.
    Comments(PostId),
    /// A post open in the editor.
    Editor(PostId),
}

/// A kind of topic, whatever its post.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Comments,
    Editor,
}

/// What a socket is told.
#[derive(Debug)]
pub enum Event {
    /// JSON sent as it is to every socket of the topic (a comment, a comment gone).
    Json(ByteString),
    /// Who has the post open in the editor; each socket leaves itself out.
    Editing(Vec<super::editor::Present>),
    /// Someone saved the post.
    Saved {
        version: i32,
        by: i64,
        name: String,
        autosave: bool,
    },
    /// What the topic showed is no longer there for its sockets (the post was unpublished):
    /// each closes, saying why.
    End(&'static str),
}

/// What instances tell each other (JSON on `{prefix}ws`): what changed, never what a reader
/// sees, which each instance reads for itself.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Announcement {
    /// These comments of the post changed: new, edited, approved, hidden, shown or deleted.
    Comments { post: i64, ids: Vec<i64> },
    /// Someone opened or left the post in the editor.
    Editing { post: i64 },
    Saved {
        post: i64,
        version: i32,
        by: i64,
        name: String,
        autosave: bool,
    },
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
    /// Open sockets per client address, and in all.
    clients: Mutex<(HashMap<IpAddr, u32>, u32)>,
    closing: watch::Sender<bool>,
    db: PgPool,
    redis: Kv,
    channel: String,
    key_prefix: String,
    settings: WsSettings,
}

impl Hub {
    pub fn new(db: PgPool, redis: Kv, settings: &Settings) -> Self {
        let prefix = &settings.redis.key_prefix;
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::default(),
                clients: Mutex::default(),
                closing: watch::Sender::new(false),
                db,
                redis,
                channel: format!("{prefix}ws"),
                key_prefix: prefix.clone(),
                settings: settings.ws.clone(),
            }),
        }
    }

    /// Hear every instance's announcements, and refresh who is editing what, until the
    /// process ends.
    pub fn listen(&self) {
        crate::kv::follow(
            self.inner.redis.clone(),
            self.inner.channel.clone(),
            Arc::new(self.clone()),
        );
        let hub = self.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis(hub.inner.settings.ping_ms);
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                // An instance that died leaves its editors behind until their entries expire.
                for post in hub.watched(Kind::Editor) {
                    hub.deliver(Announcement::Editing { post: post.0 }).await;
                }
                // However a post was taken back (the trash, psql), its pages stop hearing.
                hub.end_unpublished(&hub.watched(Kind::Comments)).await;
            }
        });
    }

    pub fn settings(&self) -> &WsSettings {
        &self.inner.settings
    }

    pub fn redis(&self) -> &Kv {
        &self.inner.redis
    }

    pub fn key_prefix(&self) -> &str {
        &self.inner.key_prefix
    }

    /// Tell every instance (this one too). Without Redis, this instance's sockets still hear.
    pub async fn announce(&self, announcement: Announcement) {
        let Ok(payload) = serde_json::to_string(&announcement) else {
            return;
        };
        let publish = redis::cmd("PUBLISH")
            .arg(&self.inner.channel)
            .arg(payload)
            .clone();
        if self.inner.redis.cmd::<i64>(&publish).await.is_err() {
            self.deliver(announcement).await;
        }
    }

    /// Pass an announcement on to this instance's sockets that watch its post.
    async fn deliver(&self, announcement: Announcement) {
        match announcement {
            Announcement::Comments { post, ids } => {
                let post = PostId(post);
                let Some(to) = self.watchers(Topic::Comments(post)) else {
                    return;
                };
                // A comment changed on a post readers no longer see is no one's news.
                if !self.end_unpublished(&[post]).await.is_empty() {
                    return;
                }
                let shown = match repo::live(&self.inner.db, post, Live::These(&ids)).await {
                    Ok(shown) => shown,
                    Err(e) => {
                        tracing::warn!(error = %e, "live comments unread");
                        return;
                    }
                };
                for id in ids {
                    let json = match shown.iter().find(|c| c.id == id) {
                        Some(c) => super::comments::shown(c),
                        None => super::comments::gone(id),
                    };
                    let _ = to.send(Arc::new(Event::Json(json)));
                }
            }
            Announcement::Editing { post } => {
                let post = PostId(post);
                let Some(to) = self.watchers(Topic::Editor(post)) else {
                    return;
                };
                let present = super::editor::present(self, post).await;
                let _ = to.send(Arc::new(Event::Editing(present)));
            }
            Announcement::Saved {
                post,
                version,
                by,
                name,
                autosave,
            } => {
                if let Some(to) = self.watchers(Topic::Editor(PostId(post))) {
                    let saved = Event::Saved {
                        version,
                        by,
                        name,
                        autosave,
                    };
                    let _ = to.send(Arc::new(saved));
                }
                // Saving is how a post goes back to draft or is scheduled later.
                self.end_unpublished(&[PostId(post)]).await;
            }
        }
    }

    /// End the post page sockets of those of `posts` readers no longer see (the visibility
    /// rule is `published_posts`'): which ones. Each post is asked once for all of its
    /// sockets; the editor's sockets check their own rights (`Channel::allowed`).
    async fn end_unpublished(&self, posts: &[PostId]) -> Vec<PostId> {
        let watched: Vec<PostId> = posts
            .iter()
            .copied()
            .filter(|post| self.watchers(Topic::Comments(*post)).is_some())
            .collect();
        if watched.is_empty() {
            return Vec::new();
        }
        let gone = match crate::posts::repo::unpublished_among(&self.inner.db, &watched).await {
            Ok(gone) => gone,
            Err(e) => {
                // Asked again at the next tick.
                tracing::warn!(error = %e, "live posts' visibility unread");
                return Vec::new();
            }
        };
        for post in &gone {
            if let Some(to) = self.watchers(Topic::Comments(*post)) {
                let _ = to.send(Arc::new(Event::End("this post is no longer published")));
            }
        }
        gone
    }

    /// The sender for `topic`, if any socket of this instance watches it.
    fn watchers(&self, topic: Topic) -> Option<broadcast::Sender<Arc<Event>>> {
        let topics = self.inner.topics.lock().ok()?;
        topics
            .get(&topic)
            .filter(|to| to.receiver_count() > 0)
            .cloned()
    }

    /// The posts this instance's sockets of `kind` watch.
    fn watched(&self, kind: Kind) -> Vec<PostId> {
        let Ok(topics) = self.inner.topics.lock() else {
            return Vec::new();
        };
        topics
            .keys()
            .filter_map(|t| match (t, kind) {
                (Topic::Editor(post), Kind::Editor) | (Topic::Comments(post), Kind::Comments) => {
                    Some(*post)
                }
                _ => None,
            })
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

impl crate::kv::Follower for Hub {
    type Payload = String;

    fn set_healthy(&self, _healthy: bool) {}

    async fn ready(&self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn heard(&self, payload: String) {
        match serde_json::from_str(&payload) {
            Ok(announcement) => self.deliver(announcement).await,
            Err(e) => tracing::warn!(error = %e, "an unreadable live announcement"),
        }
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
