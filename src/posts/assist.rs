//! What the editor's script (static/js/editor.js) asks of the server while an author types:
//! a live preview made by the readers' own renderer, and autosave. Both answer JSON (or an
//! HTML fragment); without the script the editor's Preview and Save buttons do the same work
//! as plain form posts.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Deserialize;
use serde_json::json;

use super::{
    SaveError, SaveKind,
    admin::editable,
    editor::{EditorForm, too_long},
    model::{PostId, PostStatus},
    repo,
};
use crate::render::page::see_other;
use crate::{
    accounts::model::CurrentUser,
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, TokenOnly, Writer},
    render::{budget::Meter, form::FormErrors, markdown, page::human_date_time},
    state::AppState,
};

#[derive(Debug, Deserialize)]
pub struct PreviewForm {
    #[serde(default)]
    pub body: String,
}

/// A JSON answer the script shows in the editor's status line. Never cached: it is one
/// person's.
fn answer(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "private, no-store"))
        .json(body)
}

/// Admit `user` to the render threads (`render::budget`), or the 429 for the status line.
async fn admit<'a>(
    state: &'a AppState,
    user: &CurrentUser,
) -> Result<Meter<'a>, Box<HttpResponse>> {
    crate::render::budget::Budget::of(state)
        .admit(user.id.0)
        .await
        .map_err(|spent| {
            let mut res = refused(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Paused for {} seconds: too much previewing and saving in a row. Your \
                     text is kept.",
                    spent.retry_after
                ),
                &FormErrors::default(),
            );
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                spent.retry_after.into(),
            );
            Box::new(res)
        })
}

/// A refusal: `error` for the status line, `fields` naming what to fix.
fn refused(status: StatusCode, error: &str, fields: &FormErrors) -> HttpResponse {
    let fields: serde_json::Map<String, serde_json::Value> = fields
        .fields()
        .map(|(f, m)| (f.to_owned(), m.into()))
        .collect();
    answer(status, json!({ "error": error, "fields": fields }))
}

/// `POST /admin/preview` (`body`): the Markdown as readers will get it (sanitized and
/// highlighted), an HTML fragment for the preview pane.
pub async fn preview(
    state: web::Data<AppState>,
    Writer(user): Writer,
    CsrfForm(form): CsrfForm<PreviewForm>,
) -> Result<HttpResponse, Error> {
    let max = state.settings.posts.max_body_bytes;
    if form.body.len() > max {
        let message = too_long(max, form.body.len()).replace("Your text is below, unsaved.", "");
        return Ok(refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            message.trim(),
            &FormErrors::default(),
        ));
    }
    let meter = match admit(&state, &user).await {
        Ok(meter) => meter,
        Err(refusal) => return Ok(*refusal),
    };
    let html = meter.measure(markdown::render_off_thread(form.body)).await;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "private, no-store"))
        .body(html.as_str().to_owned()))
}

/// What an autosave did, for the script: where the post now lives and its version (the
/// next save names it), and whether the text went into the post or was kept aside.
fn saved(id: PostId, version: i32, kept_aside: bool) -> HttpResponse {
    let now = human_date_time(&time::OffsetDateTime::now_utc());
    answer(
        StatusCode::OK,
        json!({
            "saved": if kept_aside { "aside" } else { "draft" },
            "id": id.0,
            "version": version,
            "action": format!("/admin/posts/{}", id.0),
            "edit_url": format!("/admin/posts/{}/edit", id.0),
            "autosave_url": format!("/admin/posts/{}/autosave", id.0),
            "at": now,
        }),
    )
}

const CONFLICT: &str = "Someone else saved this post after you opened it. Your text is kept; \
                        press Save to compare the two versions.";

/// Check the form as Save would, without changing the post's status: autosave never
/// publishes, schedules or unpublishes.
fn draft_input(
    state: &AppState,
    form: &EditorForm,
    kind: super::model::PostKind,
) -> Result<super::model::PostInput, Box<HttpResponse>> {
    let max = state.settings.posts.max_body_bytes;
    let mut form = form.clone();
    form.status = "draft".into();
    form.parse(max, kind).map_err(|errors| {
        let status = if form.body.len() > max {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let first = errors.fields().next().map(|(_, m)| m.to_owned());
        let message = format!(
            "Not autosaved: {}",
            first.as_deref().unwrap_or("check the form")
        );
        Box::new(refused(status, &message, &errors))
    })
}

/// `POST /admin/posts/autosave`: the first autosave of a new post creates it, as a draft.
pub async fn autosave_new(
    state: web::Data<AppState>,
    Writer(user): Writer,
    CsrfForm(form): CsrfForm<EditorForm>,
) -> Result<HttpResponse, Error> {
    let kind = form.new_kind();
    if kind == super::model::PostKind::Page {
        authz::require(&user, Action::ManagePages)?;
    }
    let input = match draft_input(&state, &form, kind) {
        Ok(input) => input,
        Err(refusal) => return Ok(*refusal),
    };
    let meter = match admit(&state, &user).await {
        Ok(meter) => meter,
        Err(refusal) => return Ok(*refusal),
    };
    let created = meter
        .measure(super::create_from_input(&state.db, user.id, &input))
        .await?;
    match created {
        Some(id) => Ok(saved(id, 1, false)),
        None => {
            let mut errors = FormErrors::default();
            errors.add("slug", "That slug is taken; choose another");
            Ok(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not autosaved: that slug is taken; choose another",
                &errors,
            ))
        }
    }
}

/// `POST /admin/posts/{id}/autosave`. A draft is saved (same version check as Save, as an
/// autosave revision); a published or scheduled post is left as readers see it and the text
/// is kept aside for its editor until they save, publish or discard it. Text that meets a
/// newer save is kept aside too, and the answer is 409: nothing typed is lost, nothing
/// anyone saved is overwritten.
pub async fn autosave(
    state: web::Data<AppState>,
    Writer(user): Writer,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<EditorForm>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    if post.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    let Ok(version) = form.version.trim().parse::<i32>() else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "Not autosaved: the form lost track of its version. Save to keep your text.",
            &FormErrors::default(),
        ));
    };
    // Checked as Save would, even when kept aside: what waits there is saved later as is.
    let input = match draft_input(&state, &form, post.kind) {
        Ok(input) => input,
        Err(refusal) => return Ok(*refusal),
    };
    if post.status != PostStatus::Draft || version != post.version {
        return keep_aside(&state, &user, post.id, version, post.version, &form).await;
    }
    let meter = match admit(&state, &user).await {
        Ok(meter) => meter,
        Err(refusal) => return Ok(*refusal),
    };
    let saved_as = meter
        .measure(super::update(
            &state.db,
            user.id,
            post.id,
            version,
            &input,
            SaveKind::Autosave,
        ))
        .await;
    match saved_as {
        Ok(version) => Ok(saved(post.id, version, false)),
        Err(SaveError::Conflict(current)) => {
            keep_aside(&state, &user, post.id, version, current.version, &form).await
        }
        Err(SaveError::SlugTaken) => {
            let mut errors = FormErrors::default();
            errors.add("slug", "That slug is taken; choose another");
            Ok(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not autosaved: that slug is taken; choose another",
                &errors,
            ))
        }
        Err(SaveError::Gone) => Err(Error::NotFound),
        Err(SaveError::Other(e)) => Err(Error::Internal(e)),
    }
}

/// Keep `form` aside (edited from `version`; the post is at `current`): 200, or 409 when
/// someone saved since.
async fn keep_aside(
    state: &AppState,
    user: &CurrentUser,
    id: PostId,
    version: i32,
    current: i32,
    form: &EditorForm,
) -> Result<HttpResponse, Error> {
    let value = serde_json::to_value(form).map_err(anyhow::Error::from)?;
    repo::keep_aside(&state.db, id, user.id, version, &value).await?;
    if version != current {
        return Ok(answer(
            StatusCode::CONFLICT,
            json!({ "error": CONFLICT, "conflict": true, "fields": {} }),
        ));
    }
    Ok(saved(id, version, true))
}

/// `POST /admin/posts/{id}/autosave/discard`: forget the text autosave kept aside.
pub async fn discard(
    state: web::Data<AppState>,
    Writer(user): Writer,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    repo::forget_kept_aside(&state.db, post.id, user.id).await?;
    Ok(see_other(&format!("/admin/posts/{}/edit", post.id.0)))
}
