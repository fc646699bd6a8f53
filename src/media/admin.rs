//! `/admin/uploads`: upload an image (multipart) and copy its Markdown into a post.

use actix_multipart::form::{MultipartForm, MultipartFormConfig, bytes::Bytes, text::Text};
use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
    web,
};
use askama::Template;

use super::{Store, repo};
use crate::render::page::personal as render;
use crate::{
    accounts::session::AuthSession,
    authz::{self, Action},
    error::Error,
    extract::{Writer, header},
    render::{Layout, form::FormErrors},
    state::AppState,
};

/// Multipart limits from the settings: bigger than `uploads.max_bytes` is a 413 page.
pub fn config(max_bytes: usize) -> MultipartFormConfig {
    MultipartFormConfig::default()
        .total_limit(max_bytes + 64 * 1024)
        .memory_limit(max_bytes + 64 * 1024)
        .error_handler(move |err, _req| {
            let overflow = matches!(
                &err,
                actix_multipart::MultipartError::Payload(actix_web::error::PayloadError::Overflow)
            ) || err.status_code() == StatusCode::PAYLOAD_TOO_LARGE;
            if overflow {
                Error::TooLarge(format!(
                    "Images can be at most {}.",
                    crate::extract::human_bytes(max_bytes)
                ))
                .into()
            } else {
                Error::BadRequest(format!("the upload could not be read: {err}")).into()
            }
        })
}

#[derive(MultipartForm)]
pub struct UploadForm {
    csrf_token: Option<Text<String>>,
    file: Option<Bytes>,
}

#[derive(Template)]
#[template(path = "media/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    uploads: Vec<repo::Upload>,
    errors: FormErrors,
    just_uploaded: Option<String>,
}

async fn page(
    state: &AppState,
    session: &AuthSession,
    user: crate::accounts::model::CurrentUser,
    errors: FormErrors,
    just_uploaded: Option<String>,
) -> Result<IndexPage, Error> {
    // Editors see every upload; authors their own.
    let mine = (!authz::can(&user, Action::SeeAllUploads)).then_some(user.id);
    Ok(IndexPage {
        uploads: repo::recent(&state.db, mine, 30).await?,
        layout: Layout::new(&state.site(), "Images", "", "/admin/uploads")
            .noindex()
            .header(Some(header(&user, session))),
        csrf_token: session.csrf_token(),
        errors,
        just_uploaded,
    })
}

#[derive(Debug, serde::Deserialize)]
pub struct IndexQuery {
    pub uploaded: Option<String>,
}

/// `GET /admin/uploads`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, Error> {
    let just = query.uploaded.clone().filter(|n| super::valid_name(n));
    render(
        StatusCode::OK,
        page(&state, &session, user, FormErrors::default(), just).await?,
    )
}

/// Why an upload was refused, in words for the person who sent it.
struct Refused(String);

/// Check and store what `user` sent; the new file's name.
async fn receive(
    state: &AppState,
    store: &Store,
    session: &AuthSession,
    user: &crate::accounts::model::CurrentUser,
    form: UploadForm,
) -> Result<Result<String, Refused>, Error> {
    let token = form.csrf_token.map(|t| t.0).unwrap_or_default();
    if !session.csrf_matches(&token) {
        return Err(Error::CsrfRejected);
    }
    let max_bytes = state.settings.uploads.max_bytes;
    if form.file.as_ref().is_some_and(|f| f.data.len() > max_bytes) {
        // The multipart limit leaves room for the form's other parts; the image itself gets
        // exactly `uploads.max_bytes`.
        return Err(Error::TooLarge(format!(
            "Images can be at most {}.",
            crate::extract::human_bytes(max_bytes)
        )));
    }
    let Some(file) = form.file else {
        return Ok(Err(Refused("Choose an image to upload.".into())));
    };
    let name = file.file_name.clone().unwrap_or_default();
    match super::receive(
        &state.db,
        store,
        &state.settings.uploads,
        file.data,
        &name,
        user.id,
    )
    .await
    {
        Ok(upload) => Ok(Ok(upload.file_name)),
        Err(super::NotKept::Refused(why)) => Ok(Err(Refused(super::sentence(&why)))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/uploads` (multipart: `csrf_token`, `file`).
pub async fn upload(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    session: AuthSession,
    Writer(user): Writer,
    MultipartForm(form): MultipartForm<UploadForm>,
) -> Result<HttpResponse, Error> {
    match receive(&state, &store, &session, &user, form).await? {
        Ok(name) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/admin/uploads?uploaded={name}")))
            .finish()),
        Err(Refused(message)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&state, &session, user, FormErrors::general(message), None).await?,
        ),
    }
}

/// `POST /admin/uploads/paste` (multipart: `csrf_token`, `file`): the editor's script
/// uploading an image pasted or dropped into the body, with the same checks. JSON: the
/// image's `url`, or the `error` to show.
pub async fn paste(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    session: AuthSession,
    Writer(user): Writer,
    MultipartForm(form): MultipartForm<UploadForm>,
) -> Result<HttpResponse, Error> {
    let (status, body) = match receive(&state, &store, &session, &user, form).await? {
        Ok(name) => (
            StatusCode::CREATED,
            serde_json::json!({ "url": format!("/uploads/{name}") }),
        ),
        Err(Refused(message)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({ "error": message }),
        ),
    };
    Ok(HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(body))
}
