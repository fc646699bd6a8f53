//! The editor's socket: who else has this post open ("Jonas is editing this post"), and
//! each save as it happens, so an author hears at once that saving now would conflict (the
//! conflict rule itself is unchanged: this only warns earlier).
//!
//! Who is where lives in Redis, shared by every instance: a sorted set per post whose
//! members are the open editors, scored by when each expires unless its socket renews it
//! (every ping). A crashed instance's editors expire on their own. Each save is announced
//! by the database (a trigger on `post_revisions`), whichever door it came through.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use bytestring::ByteString;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::{
    accounts::model::UserId,
    error::Error,
    extract::Writer,
    posts::model::PostId,
    state::AppState,
    ws::{
        Event, Hub,
        socket::{self, Channel},
    },
};

/// The feed's name: its topics are `("editor", post id)`.
pub const FEED: &str = "editor";

/// `GET /ws/posts/{id}/editor` (those who may edit the post)
pub async fn connect(
    state: web::Data<AppState>,
    hub: web::Data<Hub>,
    req: HttpRequest,
    Writer(user): Writer,
    id: web::Path<i64>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let post = super::admin::editable(&state, &user, PostId(*id)).await?;
    let socket = socket::accept(&req, body, &state, &hub)?;
    let me = Present {
        conn: uuid::Uuid::new_v4().to_string(),
        user: user.id.0,
        name: user.display_name.clone(),
    };
    let channel = Editing {
        hub: Hub::clone(&hub),
        state: state.clone(),
        epoch: user.session_epoch,
        post: post.id,
        member: serde_json::to_string(&me).unwrap_or_default(),
        told: Default::default(),
        me,
    };
    Ok(socket.run(channel, (FEED, post.id.0)))
}

/// What the hub hears for this feed: `{"t": "editing"}` (someone opened or left the post:
/// `Hub::announce` here) and `{"t": "saved", version, by, name, autosave}` (the trigger on
/// `post_revisions`).
pub struct Feed;

#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum News {
    Editing,
    Saved(Saved),
}

/// Someone saved the post.
#[derive(Debug, Deserialize)]
struct Saved {
    version: i32,
    by: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    autosave: bool,
}

/// Who has the post open: each socket leaves itself out.
struct Here(Vec<Present>);

impl crate::ws::Feed for Feed {
    fn name(&self) -> &'static str {
        FEED
    }

    fn deliver<'a>(&'a self, hub: &'a Hub, key: i64, data: serde_json::Value) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let event: Arc<dyn std::any::Any + Send + Sync> = match serde_json::from_value(data) {
                Ok(News::Editing) => Arc::new(Here(present(hub, PostId(key)).await)),
                Ok(News::Saved(saved)) => Arc::new(saved),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable editor news");
                    return;
                }
            };
            hub.send((FEED, key), Event::Data(event));
        })
    }

    /// An instance that died leaves its editors behind until their entries expire.
    fn tick<'a>(&'a self, hub: &'a Hub, keys: Vec<i64>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for key in keys {
                let here = Here(present(hub, PostId(key)).await);
                hub.send((FEED, key), Event::Data(Arc::new(here)));
            }
        })
    }
}

/// Tell every instance that someone opened or left `post` in the editor.
async fn moved(hub: &Hub, post: PostId) {
    hub.announce(FEED, post.0, serde_json::json!({"t": "editing"}))
        .await;
}

/// Someone with the post open in the editor: one per socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Present {
    conn: String,
    user: i64,
    name: String,
}

struct Editing {
    hub: Hub,
    state: web::Data<AppState>,
    /// The session's epoch when the socket opened: signing out everywhere ends the socket too.
    epoch: i32,
    post: PostId,
    me: Present,
    /// `me` as stored in the set.
    member: String,
    /// The presence last told, so the same news isn't told twice (it comes at the opening
    /// and again through Redis).
    told: std::cell::RefCell<Option<ByteString>>,
}

/// The editor's socket takes no messages: anything sent closes it.
#[derive(Debug, Deserialize)]
enum Nothing {}

fn key(hub: &Hub, post: PostId) -> String {
    format!("{}ws:editing:{}", hub.key_prefix(), post.0)
}

fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// Who has `post` open now, on any instance (nobody, as far as we know, without Redis).
pub async fn present(hub: &Hub, post: PostId) -> Vec<Present> {
    let key = key(hub, post);
    let read = redis::pipe()
        .cmd("ZREMRANGEBYSCORE")
        .arg(&key)
        .arg("-inf")
        .arg(now_ms())
        .ignore()
        .cmd("ZRANGE")
        .arg(&key)
        .arg(0)
        .arg(-1)
        .clone();
    let (members,): (Vec<String>,) = hub.redis().pipe(&read).await.unwrap_or_default();
    members
        .iter()
        .filter_map(|m| serde_json::from_str(m).ok())
        .collect()
}

impl Editing {
    /// Here, for another `ws.idle_ms`.
    async fn renew(&self) {
        let idle = i64::try_from(self.hub.settings().idle_ms).unwrap_or(60_000);
        let key = key(&self.hub, self.post);
        let here = redis::pipe()
            .cmd("ZADD")
            .arg(&key)
            .arg(now_ms() + idle)
            .arg(&self.member)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(idle * 2)
            .ignore()
            .clone();
        let _ = self.hub.redis().pipe::<()>(&here).await;
    }
}

impl Channel for Editing {
    type Message = Nothing;

    async fn opened(&mut self, out: &mut actix_ws::Session) -> Result<(), actix_ws::Closed> {
        self.renew().await;
        // Who is here, told at once: the round trip through Redis below can be lost (Redis
        // slow or away), and then this editor would only learn it at the next tick.
        let here = Event::Data(Arc::new(Here(present(&self.hub, self.post).await)));
        if let Some(text) = self.event(&here) {
            socket::send(out, text).await?;
        }
        moved(&self.hub, self.post).await;
        Ok(())
    }

    async fn message(
        &mut self,
        nothing: Nothing,
        _: &mut actix_ws::Session,
    ) -> Result<(), actix_ws::Closed> {
        match nothing {}
    }

    fn event(&self, event: &Event) -> Option<ByteString> {
        let Event::Data(news) = event else {
            return None;
        };
        if let Some(Here(present)) = news.downcast_ref::<Here>() {
            {
                let mut people: Vec<&str> = Vec::new();
                for p in present.iter().filter(|p| p.user != self.me.user) {
                    if !people.contains(&p.name.as_str()) {
                        people.push(&p.name);
                    }
                }
                let elsewhere = present
                    .iter()
                    .any(|p| p.user == self.me.user && p.conn != self.me.conn);
                let text: ByteString =
                    serde_json::json!({"type": "editing", "people": people, "you_elsewhere": elsewhere})
                        .to_string()
                        .into();
                if self.told.borrow().as_ref() == Some(&text) {
                    return None;
                }
                *self.told.borrow_mut() = Some(text.clone());
                return Some(text);
            }
        }
        let saved = news.downcast_ref::<Saved>()?;
        let json = serde_json::json!({
            "type": "saved",
            "version": saved.version,
            "name": saved.name,
            "you": saved.by == self.me.user,
            "autosave": saved.autosave,
        });
        Some(json.to_string().into())
    }

    /// Still signed in (the account enabled, the session not ended everywhere), and still
    /// allowed to edit the post (the rule the editor's own pages apply).
    async fn allowed(&mut self) -> Result<(), String> {
        let verdict = async {
            let user = crate::accounts::repo::find_current(&self.state.db, UserId(self.me.user))
                .await?
                .filter(|u| u.session_epoch == self.epoch)
                .ok_or(Error::Forbidden)?;
            super::admin::editable(&self.state, &user, self.post).await
        };
        match verdict.await {
            Ok(_) => Ok(()),
            Err(Error::Forbidden | Error::NotFound) => {
                Err("you may no longer edit this post: reload the page".into())
            }
            // The database is away: asked again at the next event or ping.
            Err(_) => Ok(()),
        }
    }

    async fn tick(&mut self) {
        self.renew().await;
    }

    async fn closed(self) {
        let leave = redis::cmd("ZREM")
            .arg(key(&self.hub, self.post))
            .arg(&self.member)
            .clone();
        let _ = self.hub.redis().cmd::<i64>(&leave).await;
        moved(&self.hub, self.post).await;
    }
}
