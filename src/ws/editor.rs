//! The editor's socket: who else has this post open ("Jonas is editing this post"), and
//! each save as it happens, so an author hears at once that saving now would conflict (the
//! conflict rule itself is unchanged: this only warns earlier).
//!
//! Who is where lives in Redis, shared by every instance: a sorted set per post whose
//! members are the open editors, scored by when each expires unless its socket renews it
//! (every ping). A crashed instance's editors expire on their own.

use actix_web::{HttpRequest, HttpResponse, web};
use bytestring::ByteString;
use serde::{Deserialize, Serialize};

use super::{
    hub::{Announcement, Event, Hub, Topic},
    socket::{self, Channel},
};
use crate::{
    accounts::model::UserId, error::Error, extract::Writer, posts::model::PostId, state::AppState,
};

/// `GET /ws/posts/{id}/editor` (those who may edit the post)
pub async fn connect(
    state: web::Data<AppState>,
    req: HttpRequest,
    Writer(user): Writer,
    id: web::Path<i64>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let post = crate::posts::admin::editable(&state, &user, PostId(*id)).await?;
    let socket = socket::accept(&req, body, &state)?;
    let me = Present {
        conn: uuid::Uuid::new_v4().to_string(),
        user: user.id.0,
        name: user.display_name.clone(),
    };
    let channel = Editing {
        hub: state.hub.clone(),
        state: state.clone(),
        epoch: user.session_epoch,
        post: post.id,
        member: serde_json::to_string(&me).unwrap_or_default(),
        told: Default::default(),
        me,
    };
    Ok(socket.run(channel, Topic::Editor(post.id)))
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
        let here = Event::Editing(present(&self.hub, self.post).await);
        if let Some(text) = self.event(&here) {
            socket::send(out, text).await?;
        }
        let post = self.post.0;
        self.hub.announce(Announcement::Editing { post }).await;
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
        let json = match event {
            Event::Editing(present) => {
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
            Event::Saved {
                version,
                by,
                name,
                autosave,
            } => serde_json::json!({
                "type": "saved",
                "version": version,
                "name": name,
                "you": *by == self.me.user,
                "autosave": autosave,
            }),
            Event::Json(_) | Event::End(_) => return None,
        };
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
            crate::posts::admin::editable(&self.state, &user, self.post).await
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
        let post = self.post.0;
        self.hub.announce(Announcement::Editing { post }).await;
    }
}
