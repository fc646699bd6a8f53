//! Comments: logged-in readers comment on published posts; the comment's author may edit it
//! for 15 minutes and delete it; the post's author, editors and admins hide or delete it. With comments
//! held for approval, a new commenter's comment waits in `/admin/comments` (`admin`).

pub mod admin;
pub mod live;
pub mod model;
pub mod notify;
pub mod pages;
pub mod repo;

pub use model::CommentView;

use time::{Duration, OffsetDateTime};

use crate::{
    accounts::model::{CurrentUser, UserId},
    authz::{self, Action},
    posts::model::PostId,
    settings::model::CommentsMode,
    state::AppState,
};

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

/// Comments one person may post (or edit) per minute.
pub const PER_MINUTE: u32 = 5;

/// Why a comment was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error("commenting too fast")]
    TooFast,
    /// An admin turned comments off.
    #[error("comments are closed")]
    Closed,
    /// The site wants a verified address first (site settings), and this account's isn't.
    #[error("the account's email address is not verified")]
    Unverified,
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `user` is over the comment allowance for `what` (posting, editing).
pub async fn too_fast(
    state: &AppState,
    what: &'static str,
    user: &CurrentUser,
) -> redis::RedisResult<bool> {
    let limiter = state.limiter(what, PER_MINUTE, std::time::Duration::from_secs(60));
    Ok(limiter.over(&user.id.0.to_string()).await?.is_some())
}

/// `markdown::render_comment` on the blocking pool: a reader's text never stalls the
/// workers that serve pages.
pub async fn render_off_thread(body: String) -> crate::render::SafeHtml {
    tokio::task::spawn_blocking(move || crate::render::markdown::render_comment(&body))
        .await
        .unwrap_or_default()
}

/// `user` comments `text` on `post` (a published post: the caller checked): checked,
/// within the allowance, rendered and sanitized once. The site's form and the API both
/// add comments here.
///
/// With comments held for approval (site settings), the comment of someone who has none
/// approved yet waits, unless they moderate this post's comments anyway.
pub async fn add(
    state: &AppState,
    user: &CurrentUser,
    post: PostId,
    post_author: UserId,
    text: &str,
) -> Result<i64, AddError> {
    if !state.site().comments_open() {
        return Err(AddError::Closed);
    }
    let body = parse_body(text).map_err(AddError::Invalid)?;
    if state.site().settings.verify_email
        && !crate::accounts::verify::is_verified(&state.db, user.id).await?
    {
        return Err(AddError::Unverified);
    }
    if too_fast(state, "comment", user).await? {
        return Err(AddError::TooFast);
    }
    let held = state.site().settings.comments == CommentsMode::Held
        && !authz::can(user, Action::ModerateCommentsOn { post_author })
        && !repo::is_trusted(&state.db, user.id).await?;
    let html = render_off_thread(body.clone()).await;
    // The comment and the post author's notification, together or not at all.
    let mut tx = state.db.begin().await?;
    let id = repo::insert(&mut *tx, post, user.id, &body, &html, held).await?;
    if state.settings.mail.is_configured() {
        notify::queue(&mut *tx, id).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// A comment someone asks to delete, with what decides it. One rule for every door (the
/// post page's Delete button, `DELETE /api/articles/{slug}/comments/{id}`, the moderation
/// screens): its own author may delete it while readers see its post (like editing, but with
/// no time limit: taking one's words back is always allowed); the post's author, editors and
/// admins may delete it any time (`authz::Action::DeleteComment`).
#[derive(Debug, Clone, Copy)]
pub struct CommentDeletion {
    /// `None`: a guest's comment, which only moderators delete.
    pub author: Option<UserId>,
    pub post_author: UserId,
    pub post_published: bool,
}

impl CommentDeletion {
    pub fn of(comment: &repo::Comment) -> Self {
        Self {
            author: comment.author_id,
            post_author: comment.post_author_id,
            post_published: comment.post_published,
        }
    }

    /// May `user` delete it?
    pub fn allowed(&self, user: &CurrentUser) -> bool {
        let post_author = self.post_author;
        let action = Action::DeleteComment {
            author: self.author,
            post_author,
        };
        authz::can(user, action)
            && (self.post_published || authz::can(user, Action::ModerateCommentsOn { post_author }))
    }
}

/// Why a comment was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("not theirs to delete")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `user` deletes `comment`, if `CommentDeletion` allows it; readers' pages hear of it.
pub async fn delete(
    state: &AppState,
    user: &CurrentUser,
    comment: &repo::Comment,
) -> Result<(), DeleteError> {
    if !CommentDeletion::of(comment).allowed(user) {
        return Err(DeleteError::Forbidden);
    }
    repo::delete(&state.db, comment.id).await?;
    Ok(())
}

/// Why an edit was not saved.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("not theirs to change (or no longer)")]
    Forbidden,
    #[error("editing too fast")]
    TooFast,
    /// The message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `user` changes `comment`'s words to `text`: its author, within the edit window
/// (`may_edit`), within the editing allowance, checked and rendered as a new comment is.
/// The site's form and GraphQL both edit here.
pub async fn edit(
    state: &AppState,
    user: &CurrentUser,
    comment: &repo::Comment,
    text: &str,
) -> Result<(), EditError> {
    if !may_edit(
        user,
        comment.author_id,
        comment.created_at,
        comment.post_published,
    ) {
        return Err(EditError::Forbidden);
    }
    if too_fast(state, "comment-edit", user).await? {
        return Err(EditError::TooFast);
    }
    let body = parse_body(text).map_err(EditError::Invalid)?;
    let html = render_off_thread(body.clone()).await;
    repo::update_body(&state.db, comment.id, &body, &html).await?;
    Ok(())
}

/// The comment's own author, within the edit window, while readers see its post: the
/// comments of a post taken back (unpublished, scheduled again, trashed) stay as they were,
/// as no one can read or add to them either (issue 24).
pub fn may_edit(
    user: &CurrentUser,
    author: Option<crate::accounts::model::UserId>,
    created_at: OffsetDateTime,
    post_published: bool,
) -> bool {
    post_published
        && authz::can(user, Action::EditComment { author })
        && OffsetDateTime::now_utc() - created_at < EDIT_WINDOW
}
