//! Live comments: the post page's socket hears the post's comments as they are posted,
//! edited, approved, hidden or deleted, as every reader sees them. The database announces
//! each change (a trigger on `comments`), so no write path can forget to.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use bytestring::ByteString;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use sqlx::PgPool;

use super::{
    CommentView,
    repo::{self, Live},
};
use crate::{
    error::Error,
    posts::model::PostId,
    state::AppState,
    ws::{
        Event, Hub,
        socket::{self, Channel},
    },
};

/// The feed's name: its topics are `("comments", post id)`.
pub const FEED: &str = "comments";

/// `GET /ws/posts/{id}/comments` (anyone: the post page, published posts only)
pub async fn connect(
    state: web::Data<AppState>,
    hub: web::Data<Hub>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let post = PostId(*id);
    if !crate::posts::repo::is_published(&state.db, post).await? {
        return Err(Error::NotFound);
    }
    let socket = socket::accept(&req, body, &state, &hub)?;
    let channel = Comments {
        db: state.db.clone(),
        post,
        caught_up: false,
    };
    Ok(socket.run(channel, (FEED, post.0)))
}

/// What the hub hears for this feed, from the triggers on `comments` and `posts`
/// (migration `announce_live_changes`): `{"ids": [...]}`, the comments of the post that
/// changed (new, edited, approved, hidden, shown or deleted), none when only the post's
/// visibility may have.
pub struct Feed;

#[derive(Debug, Default, Deserialize)]
struct Changed {
    #[serde(default)]
    ids: Vec<i64>,
}

impl crate::ws::Feed for Feed {
    fn name(&self) -> &'static str {
        FEED
    }

    fn deliver<'a>(&'a self, hub: &'a Hub, key: i64, data: serde_json::Value) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let post = PostId(key);
            // A comment changed on a post readers no longer see is no one's news.
            if !end_unpublished(hub, &[post]).await.is_empty() {
                return;
            }
            let Changed { ids } = serde_json::from_value(data).unwrap_or_default();
            if ids.is_empty() {
                return;
            }
            let shown = match repo::live(hub.db(), post, Live::These(&ids)).await {
                Ok(shown) => shown,
                Err(e) => {
                    tracing::warn!(error = %e, "live comments unread");
                    return;
                }
            };
            for id in ids {
                let json = match shown.iter().find(|c| c.id == id) {
                    Some(c) => self::shown(c),
                    None => gone(id),
                };
                hub.send((FEED, key), Event::Json(json));
            }
        })
    }

    /// However a post was taken back (the trash, psql, its time not come), its pages stop
    /// hearing.
    fn tick<'a>(&'a self, hub: &'a Hub, keys: Vec<i64>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let posts: Vec<PostId> = keys.into_iter().map(PostId).collect();
            end_unpublished(hub, &posts).await;
        })
    }
}

/// End the post page sockets of those of `posts` readers no longer see (the visibility
/// rule is `published_posts`'): which ones. Each post is asked once for all its sockets.
async fn end_unpublished(hub: &Hub, posts: &[PostId]) -> Vec<PostId> {
    let gone = match crate::posts::repo::unpublished_among(hub.db(), posts).await {
        Ok(gone) => gone,
        Err(e) => {
            // Asked again at the next tick.
            tracing::warn!(error = %e, "live posts' visibility unread");
            return Vec::new();
        }
    };
    for post in &gone {
        hub.send(
            (FEED, post.0),
            Event::End("this post is no longer published"),
        );
    }
    gone
}

struct Comments {
    db: PgPool,
    post: PostId,
    /// `since` was answered: once per socket is all a page needs (it hears the rest).
    caught_up: bool,
}

/// What the page asks.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Ask {
    /// The comments after the newest the page shows (it was made before the socket opened,
    /// or the socket dropped for a while): at most `repo::LIVE_CATCH_UP`.
    Since { id: i64 },
}

impl Channel for Comments {
    type Message = Ask;

    async fn message(
        &mut self,
        ask: Ask,
        out: &mut actix_ws::Session,
    ) -> Result<(), actix_ws::Closed> {
        let Ask::Since { id } = ask;
        if std::mem::replace(&mut self.caught_up, true) {
            return Ok(());
        }
        let newer = repo::live(&self.db, self.post, Live::After(id))
            .await
            .unwrap_or_default();
        for c in &newer {
            socket::send(out, shown(c)).await?;
        }
        Ok(())
    }

    fn event(&self, event: &Event) -> Option<ByteString> {
        match event {
            Event::Json(json) => Some(json.clone()),
            Event::Data(_) | Event::End(_) => None,
        }
    }
}

/// A comment as the post page shows every reader, without its author's or a moderator's
/// controls.
#[derive(Template)]
#[template(path = "comments/live.html")]
struct LiveComment<'a> {
    c: &'a CommentView,
}

/// `{"type": "comment", "id": …, "html": …}`: show this comment (new, or in place of the
/// one with its id).
pub fn shown(c: &CommentView) -> ByteString {
    let html = LiveComment { c }.render().unwrap_or_default();
    serde_json::json!({"type": "comment", "id": c.id, "html": html.trim()})
        .to_string()
        .into()
}

/// `{"type": "gone", "id": …}`: readers no longer see this comment.
pub fn gone(id: i64) -> ByteString {
    serde_json::json!({"type": "gone", "id": id})
        .to_string()
        .into()
}
