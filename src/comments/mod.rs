//! Comments: logged-in readers comment on published posts; the comment's author may edit it
//! for 15 minutes; the post's author, editors and admins hide or delete it.

pub mod model;
pub mod pages;
pub mod repo;

pub use model::CommentView;

use actix_web::web;

use crate::state::{read, resource};
use time::{Duration, OffsetDateTime};

use crate::{
    accounts::model::CurrentUser,
    authz::{self, Action},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    let post = web::post;
    cfg.service(resource("/posts/{slug}/comments").route(post().to(pages::create)))
        .service(resource("/comments/{id}/edit").route(read().to(pages::edit)))
        .service(resource("/comments/{id}").route(post().to(pages::update)))
        .service(resource("/comments/{id}/hide").route(post().to(pages::hide)))
        .service(resource("/comments/{id}/unhide").route(post().to(pages::unhide)))
        .service(resource("/comments/{id}/delete").route(post().to(pages::delete)));
}

pub const MAX_CHARS: usize = 5000;
/// How long a comment's author may still change it.
pub const EDIT_WINDOW: Duration = Duration::minutes(15);

/// A comment body, checked: 1 to 5,000 characters after trimming.
pub fn parse_body(body: &str) -> Result<String, String> {
    let body = body.trim();
    match body.chars().count() {
        0 => Err("Write something first".into()),
        n if n > MAX_CHARS => Err(format!(
            "A comment can be at most {MAX_CHARS} characters (this one has {n})"
        )),
        _ => Ok(body.replace("\r\n", "\n")),
    }
}

/// The comment's own author, within the edit window.
pub fn may_edit(
    user: &CurrentUser,
    author: crate::accounts::model::UserId,
    created_at: OffsetDateTime,
) -> bool {
    authz::can(user, Action::EditComment { author })
        && OffsetDateTime::now_utc() - created_at < EDIT_WINDOW
}
