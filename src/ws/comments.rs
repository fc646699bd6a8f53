//! The post page's socket: the post's comments as they are posted, edited, approved, hidden
//! or deleted, as every reader sees them.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use bytestring::ByteString;
use serde::Deserialize;
use sqlx::PgPool;

use super::{
    hub::{Event, Topic},
    socket::{self, Channel},
};
use crate::{
    comments::{
        CommentView,
        repo::{self, Live},
    },
    error::Error,
    posts::model::PostId,
    state::AppState,
};

/// `GET /ws/posts/{id}/comments` (anyone: the post page, published posts only)
pub async fn connect(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let post = PostId(*id);
    if !crate::posts::repo::is_published(&state.db, post).await? {
        return Err(Error::NotFound);
    }
    let socket = socket::accept(&req, body, &state)?;
    let channel = Comments {
        db: state.db.clone(),
        post,
        caught_up: false,
    };
    Ok(socket.run(channel, Topic::Comments(post)))
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
            Event::Editing(_) | Event::Saved { .. } | Event::End(_) => None,
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
