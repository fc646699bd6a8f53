//! Live updates over WebSocket: the post page shows new comments as they are posted (and
//! loses hidden or deleted ones) without reloading, and the editor shows who else has the
//! post open and says at once when someone saved it. Without JavaScript (or without a
//! socket), every page works as before.
//!
//! - Whatever changes a comment or saves a post announces it on one Redis channel
//!   (`{prefix}ws`) that every instance follows (`hub`); each instance passes it on to its own
//!   sockets watching that post. Announcements name what changed, never what a reader sees:
//!   each instance reads the comments once per announcement and renders them as every reader
//!   sees them. Without Redis, announcements reach this instance's sockets only.
//! - Sockets (`socket`): the handshake checks the `Origin` against `http.base_url`, and the
//!   editor's the session and the right to edit the post; connections per client and
//!   messages per second are limited, frames are small, silent clients are cut off, and every
//!   socket gets a close frame when the server stops (`Hub::close_all`).
//! - Rights can be lost while a socket is open, so they are asked again as it runs, and a
//!   socket that lost them is closed with 1008 (pages don't reconnect after it). A post's
//!   visibility, shared by all of its pages, the hub asks once for all of them: before it
//!   passes on a comment, after each save, and at each tick (the trash, psql). The editor's
//!   right, which is one person's, each editor socket asks before each event and each ping
//!   (`Channel::allowed`).

pub mod comments;
pub mod editor;
mod frames;
mod hub;
mod socket;

pub use hub::{Announcement, Hub, Topic};

use actix_web::web;

use crate::{
    accounts::model::CurrentUser,
    posts::model::PostId,
    state::{AppState, resource},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/ws/posts/{id}/comments").route(web::get().to(comments::connect)))
        .service(resource("/ws/posts/{id}/editor").route(web::get().to(editor::connect)));
}

/// These comments (post, comment) changed (new, edited, approved, hidden, shown, deleted):
/// every page showing their posts shows them as readers now see them.
pub async fn comments_changed(state: &AppState, changed: &[(PostId, i64)]) {
    let mut by_post: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for (post, id) in changed {
        by_post.entry(post.0).or_default().push(*id);
    }
    for (post, ids) in by_post {
        state
            .hub
            .announce(Announcement::Comments { post, ids })
            .await;
    }
}

/// `by` saved `post` as `version`: every editor open on it hears.
pub async fn post_saved(
    state: &AppState,
    post: PostId,
    version: i32,
    by: &CurrentUser,
    autosave: bool,
) {
    let saved = Announcement::Saved {
        post: post.0,
        version,
        by: by.id.0,
        name: by.display_name.clone(),
        autosave,
    };
    state.hub.announce(saved).await;
}
