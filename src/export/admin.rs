//! `/admin/export` (admins): what the archive holds, and two buttons that download it, as
//! Quire's zip or as WordPress's WXR.
//!
//! The downloads are POSTs with the CSRF token, not links: an export reads the whole blog
//! (seconds to minutes, a temporary file the size of the blog), so no prefetcher, crawler or
//! page elsewhere may start one. Each is written to an unnamed temporary file (gone when
//! the response is sent, or if the server stops) and then streamed from it, so memory stays
//! flat; its route has a longer deadline than other pages (`router`, `middleware::LongWork`).

use std::io::Seek;

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{ContentDisposition, DispositionParam, DispositionType},
    },
    web,
};
use askama::Template;

use crate::{
    accounts::session::AuthSession,
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, header},
    render::{Layout, page::personal as render},
    state::AppState,
};

#[derive(Template)]
#[template(path = "export/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    counts: super::Counts,
}

/// `GET /admin/export`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ExportSite)?;
    let counts = super::counts(&mut *state.db.acquire().await?).await?;
    let layout = Layout::new(&state.site(), "Export", "", "/admin/export")
        .noindex()
        .header(Some(header(&user, &session)));
    render(
        StatusCode::OK,
        IndexPage {
            layout,
            csrf_token: session.csrf_token(),
            counts,
        },
    )
}

/// `POST /admin/export/archive`: the zip (`quire export`).
pub async fn archive(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    _form: CsrfForm<TokenOnly>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ExportSite)?;
    let file = temporary().await?;
    let (file, report) = super::archive(
        &state.db,
        &state.settings,
        file,
        &indicatif::ProgressBar::hidden(),
    )
    .await?;
    if !report.missing_uploads.is_empty() {
        tracing::warn!(
            missing = report.missing_uploads.len(),
            "uploads listed in the database are not in uploads.dir; the archive lists them without their files"
        );
    }
    download(file, "zip", "application/zip", &req).await
}

/// `POST /admin/export/wxr`: the WXR (`quire export --format wxr`).
pub async fn wxr(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    _form: CsrfForm<TokenOnly>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ExportSite)?;
    let file = temporary().await?;
    let (file, _) = super::wxr(
        &state.db,
        &state.settings,
        file,
        &indicatif::ProgressBar::hidden(),
    )
    .await?;
    download(file, "xml", "application/rss+xml", &req).await
}

/// An unnamed temporary file: nothing else can open it, and it is gone once closed.
async fn temporary() -> Result<std::fs::File, Error> {
    Ok(web::block(tempfile::tempfile)
        .await
        .map_err(anyhow::Error::from)?
        .map_err(anyhow::Error::from)?)
}

/// `file`, from its start, as an attachment named after today.
async fn download(
    mut file: std::fs::File,
    extension: &str,
    content_type: &str,
    req: &HttpRequest,
) -> Result<HttpResponse, Error> {
    let name = format!(
        "quire-export-{}.{extension}",
        time::OffsetDateTime::now_utc().date()
    );
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(name.clone())],
    };
    let file = web::block(move || {
        file.rewind()?;
        NamedFile::from_file(file, &name)
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(anyhow::Error::from)?;
    let mut res = file
        .set_content_type(content_type.parse().map_err(anyhow::Error::from)?)
        .set_content_disposition(disposition)
        .use_etag(false)
        .use_last_modified(false)
        .into_response(req);
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
