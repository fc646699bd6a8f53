//! Comment handlers: post, edit (15 minutes), hide, unhide, delete (its author or a moderator).

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{EditError, may_edit, repo};
use crate::extract::TokenOnly;
use crate::render::confirm::Confirm;
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, SignedIn, header},
    posts,
    render::{Layout, form::FormErrors},
    slug::Slug,
    state::AppState,
};

#[derive(Debug, Default, Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    pub body: String,
    /// The honeypot: hidden from people (CSS), filled by naive bots.
    #[serde(default)]
    pub leave_empty: String,
}

#[derive(Template)]
#[template(path = "comments/form.html")]
struct FormPage {
    layout: Layout,
    csrf_token: String,
    action: String,
    back: String,
    body: String,
    errors: FormErrors,
}

fn form_page(
    state: &AppState,
    session: &AuthSession,
    user: CurrentUser,
    action: String,
    back: String,
    body: String,
    errors: FormErrors,
) -> FormPage {
    FormPage {
        layout: Layout::new(&state.site(), "Your comment", "", &action)
            .noindex()
            .header(Some(header(&user, session))),
        csrf_token: session.csrf_token(),
        action,
        back,
        body,
        errors,
    }
}

/// `POST /posts/{slug}/comments`
pub async fn create(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    slug: web::Path<Slug>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<HttpResponse, Error> {
    let post = posts::repo::find_published(&state.db, slug.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    let back = format!("/posts/{}", post.summary.slug);
    let action = format!("{back}/comments");
    // A hidden field people never see; naive bots fill every field.
    if !form.leave_empty.is_empty() {
        return Err(Error::BadRequest(
            "the form was filled in by a program".into(),
        ));
    }
    let errors = match super::add(
        &state,
        &user,
        post.summary.id,
        post.summary.author_id,
        &form.body,
    )
    .await
    {
        Ok(id) => return Ok(see_other(&format!("{back}#comment-{id}"))),
        Err(super::AddError::Invalid(message)) => {
            let mut errors = FormErrors::default();
            errors.add("body", message);
            (StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
        Err(super::AddError::TooFast) => (
            StatusCode::TOO_MANY_REQUESTS,
            FormErrors::general("You are commenting very fast. Wait a minute, then post again."),
        ),
        Err(super::AddError::Closed) => (
            StatusCode::FORBIDDEN,
            FormErrors::general("Comments are closed on this site; your text is below."),
        ),
        Err(super::AddError::Unverified) => (
            StatusCode::FORBIDDEN,
            FormErrors::general(
                "Verify your email address before commenting: follow the link we emailed you, \
                 or get a new one on your account page. Your text is below.",
            ),
        ),
        Err(super::AddError::Redis(e)) => return Err(e.into()),
        Err(super::AddError::Db(e)) => return Err(e.into()),
    };
    let (status, errors) = errors;
    let page = form_page(&state, &session, user, action, back, form.body, errors);
    render(status, page)
}

/// `GET /comments/{id}/edit`: the author's own comment, within 15 minutes.
pub async fn edit(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let comment = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    if !may_edit(
        &user,
        comment.author_id,
        comment.created_at,
        comment.post_published,
    ) {
        return Err(Error::Forbidden);
    }
    let page = form_page(
        &state,
        &session,
        user,
        format!("/comments/{}", comment.id),
        format!("/posts/{}#comment-{}", comment.post_slug, comment.id),
        comment.body_markdown,
        FormErrors::default(),
    );
    render(StatusCode::OK, page)
}

/// `POST /comments/{id}`
pub async fn update(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<HttpResponse, Error> {
    let comment = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    let back = format!("/posts/{}#comment-{}", comment.post_slug, comment.id);
    let action = format!("/comments/{}", comment.id);
    let (status, errors) = match super::edit(&state, &user, &comment, &form.body).await {
        Ok(()) => return Ok(see_other(&back)),
        Err(EditError::Forbidden) => return Err(Error::Forbidden),
        Err(EditError::Redis(e)) => return Err(e.into()),
        Err(EditError::Db(e)) => return Err(e.into()),
        Err(EditError::TooFast) => (
            StatusCode::TOO_MANY_REQUESTS,
            FormErrors::general("You are editing very fast. Wait a minute, then save again."),
        ),
        Err(EditError::Invalid(message)) => {
            let mut errors = FormErrors::default();
            errors.add("body", message);
            (StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
    };
    let page = form_page(&state, &session, user, action, back, form.body, errors);
    render(status, page)
}

/// Load a comment its viewer may moderate.
async fn moderated(state: &AppState, user: &CurrentUser, id: i64) -> Result<repo::Comment, Error> {
    let comment = repo::find(&state.db, id).await?.ok_or(Error::NotFound)?;
    let post_author = comment.post_author_id;
    authz::require(user, Action::ModerateCommentsOn { post_author })?;
    Ok(comment)
}

/// Hide or show a comment, then return to it.
async fn set_hidden(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    hidden: bool,
) -> Result<HttpResponse, Error> {
    let c = moderated(state, user, id).await?;
    repo::set_hidden(&state.db, c.id, hidden).await?;
    Ok(see_other(&format!(
        "/posts/{}#comment-{}",
        c.post_slug, c.id
    )))
}

/// `POST /comments/{id}/hide`
pub async fn hide(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    set_hidden(&state, &user, *id, true).await
}

/// `POST /comments/{id}/unhide`
pub async fn unhide(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    set_hidden(&state, &user, *id, false).await
}

/// `POST /comments/{id}/approve`: a waiting comment goes public (moderators of the post).
pub async fn approve(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let c = moderated(&state, &user, *id).await?;
    repo::approve(&state.db, &[c.id]).await?;
    Ok(see_other(&format!(
        "/posts/{}#comment-{}",
        c.post_slug, c.id
    )))
}

/// The start of a comment's text, to name it on a confirmation.
pub(super) fn quoted(body_markdown: &str) -> String {
    let text: String = body_markdown
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() > 120 {
        format!("“{}…”", text.chars().take(120).collect::<String>())
    } else {
        format!("“{text}”")
    }
}

/// `GET /comments/{id}/delete`: which comment goes, asked first; changes nothing.
pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let c = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    if !super::CommentDeletion::of(&c).allowed(&user) {
        return Err(Error::Forbidden);
    }
    let path = format!("/comments/{}/delete", c.id);
    let layout = Layout::new(&state.site(), "Delete comment", "", &path)
        .noindex()
        .header(Some(header(&user, &session)));
    let whose = if c.author_id == Some(user.id) {
        "your comment".to_owned()
    } else {
        format!("{}’s comment", c.author_name)
    };
    let mut page = Confirm::new(layout, session.csrf_token(), format!("Delete {whose}?"))
        .says(quoted(&c.body_markdown))
        .says("It is deleted for good: readers no longer see it, and it can't be brought back.")
        .button(
            "Delete comment",
            &path,
            &format!("/posts/{}#comment-{}", c.post_slug, c.id),
        );
    page.admin = false;
    render(StatusCode::OK, page)
}

/// `POST /comments/{id}/delete`: its author, or a moderator of its post
/// (`CommentDeletion`, the API's rule too).
pub async fn delete(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let c = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    match super::delete(&state, &user, &c).await {
        Ok(()) => Ok(see_other(&format!("/posts/{}#comments", c.post_slug))),
        Err(super::DeleteError::Forbidden) => Err(Error::Forbidden),
        Err(super::DeleteError::Db(e)) => Err(e.into()),
    }
}
