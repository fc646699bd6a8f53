//! A post's revisions: the list, one compared with the current text, and restoring one
//! (as a new revision, so a restore can itself be undone).

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;

use super::{
    SaveError,
    admin::{editable, layout},
    diff::{DiffLine, diff_off_thread},
    editor::EditorForm,
    model::{PostForEdit, PostId, Revision},
    repo,
};
use crate::extract::TokenOnly;
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    accounts::session::AuthSession,
    error::Error,
    extract::{CsrfForm, Writer},
    render::Layout,
    state::AppState,
};

/// A row of the revisions list: one revision, or a run of autosaves shown as its newest with
/// the rest folded under it.
pub struct RevisionRow {
    pub latest: Revision,
    pub earlier: Vec<Revision>,
}

/// Fold runs of autosaves (`revisions` newest first) into one row each.
pub fn fold(revisions: Vec<Revision>) -> Vec<RevisionRow> {
    let mut rows: Vec<RevisionRow> = Vec::new();
    for revision in revisions {
        match rows.last_mut() {
            Some(row) if row.latest.autosave && revision.autosave => row.earlier.push(revision),
            _ => rows.push(RevisionRow {
                latest: revision,
                earlier: Vec::new(),
            }),
        }
    }
    rows
}

#[derive(Template)]
#[template(path = "posts/admin/revisions.html")]
struct RevisionsPage {
    layout: Layout,
    post: PostForEdit,
    rows: Vec<RevisionRow>,
}

/// `GET /admin/posts/{id}/revisions`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    let revisions = repo::revisions(&state.db, post.id).await?;
    render(
        StatusCode::OK,
        RevisionsPage {
            layout: layout(
                &state,
                &session,
                &user,
                "Revisions",
                &format!("/admin/posts/{}/revisions", post.id.0),
            ),
            post,
            rows: fold(revisions),
        },
    )
}

#[derive(Template)]
#[template(path = "posts/admin/revision.html")]
struct RevisionPage {
    layout: Layout,
    csrf_token: String,
    post: PostForEdit,
    revision: Revision,
    diff: Vec<DiffLine>,
}

/// `GET /admin/posts/{id}/revisions/{rev}`: one revision, compared with the current text.
pub async fn show(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, Error> {
    let (id, rev) = path.into_inner();
    let post = editable(&state, &user, PostId(id)).await?;
    let revision = repo::revision(&state.db, post.id, rev)
        .await?
        .ok_or(Error::NotFound)?;
    render(
        StatusCode::OK,
        RevisionPage {
            layout: layout(
                &state,
                &session,
                &user,
                "Revision",
                &format!("/admin/posts/{id}/revisions/{rev}"),
            ),
            csrf_token: session.csrf_token(),
            diff: diff_off_thread(revision.body_markdown.clone(), post.body_markdown.clone()).await,
            post,
            revision,
        },
    )
}

/// `POST /admin/posts/{id}/revisions/{rev}/restore`: the revision's text becomes the post's
/// (as a new revision: nothing is lost, the restore can itself be undone).
pub async fn restore(
    state: web::Data<AppState>,
    Writer(user): Writer,
    path: web::Path<(i64, i64)>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let (id, rev) = path.into_inner();
    let post = editable(&state, &user, PostId(id)).await?;
    let revision = repo::revision(&state.db, post.id, rev)
        .await?
        .ok_or(Error::NotFound)?;
    let mut form = EditorForm::from_post(&post);
    form.title = revision.title;
    form.excerpt = revision.excerpt;
    form.body = revision.body_markdown;
    // A revision saved under a larger limit than today's is still restored.
    let input = form
        .parse(usize::MAX, post.kind)
        .map_err(|_| Error::BadRequest("that revision can't be restored as it is".into()))?;
    match super::update(
        &state.db,
        user.id,
        post.id,
        post.version,
        &input,
        super::SaveKind::Manual,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/admin/posts/{id}/edit?saved=1"))),
        Err(SaveError::Conflict(_)) => Err(Error::BadRequest(
            "the post changed while restoring; open the revision again".into(),
        )),
        Err(SaveError::Gone) => Err(Error::NotFound),
        Err(SaveError::SlugTaken) => Err(Error::BadRequest("the post's slug is taken".into())),
        Err(SaveError::Other(e)) => Err(Error::Internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(version: i32, autosave: bool) -> Revision {
        Revision {
            id: i64::from(version),
            version,
            title: String::new(),
            excerpt: String::new(),
            body_markdown: String::new(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            autosave,
            editor_name: String::new(),
        }
    }

    #[test]
    fn runs_of_autosaves_fold_into_one_row() {
        let rows = fold(
            [
                (6, true),
                (5, true),
                (4, false),
                (3, true),
                (2, true),
                (1, false),
            ]
            .into_iter()
            .map(|(v, a)| revision(v, a))
            .collect(),
        );
        let shape: Vec<(i32, usize)> = rows
            .iter()
            .map(|r| (r.latest.version, r.earlier.len()))
            .collect();
        assert_eq!(shape, [(6, 1), (4, 0), (3, 1), (1, 0)]);
    }
}
