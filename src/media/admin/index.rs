//! `/admin/media`: the library's grid (thumbnails, names, sizes, where used), its search
//! and "unused" filter, the upload form; `/admin/media.json`, the same list for the
//! editor's image dialog; `POST /admin/uploads/paste`, the editor's paste and drop.

use actix_multipart::form::{MultipartForm, MultipartFormConfig, bytes::Bytes, text::Text};
use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;

use crate::media::{self, Store, repo};
use crate::render::page::personal as render;
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    db::{Page, PageNumber},
    error::Error,
    extract::{Writer, header},
    render::{
        Layout,
        form::FormErrors,
        page::{Pager, human_date},
    },
    state::AppState,
};

const PER_PAGE: u32 = 48;

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

/// One tile of the grid.
pub struct Tile {
    pub upload: repo::Upload,
    pub uploader: String,
    pub uses: i64,
    pub thumb: String,
}

impl Tile {
    pub fn name(&self) -> String {
        super::display_name(&self.upload)
    }

    pub fn size(&self) -> String {
        crate::input::human_bytes(usize::try_from(self.upload.bytes).unwrap_or(0))
    }

    /// "1200 × 800", or nothing while unknown.
    pub fn dimensions(&self) -> String {
        dimensions(&self.upload)
    }

    pub fn date(&self) -> String {
        human_date(&self.upload.created_at)
    }

    pub fn width(&self) -> i32 {
        self.upload.width.unwrap_or(480)
    }

    pub fn height(&self) -> i32 {
        self.upload.height.unwrap_or(480)
    }

    /// "Used in 2 places", "Unused".
    pub fn used(&self) -> String {
        match self.uses {
            0 => "Unused".into(),
            n => format!(
                "Used in {}",
                crate::render::number::count(n, "place", "places")
            ),
        }
    }
}

pub fn dimensions(u: &repo::Upload) -> String {
    match (u.width, u.height) {
        (Some(w), Some(h)) => format!("{w} × {h}"),
        _ => String::new(),
    }
}

#[derive(Template)]
#[template(path = "media/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    tiles: Vec<Tile>,
    pager: Pager,
    q: String,
    unused: bool,
    errors: FormErrors,
    /// The upload just made: its page is one click away.
    just_uploaded: Option<repo::Upload>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IndexQuery {
    #[serde(default)]
    pub q: String,
    /// "1" (a checkbox): only uploads used nowhere.
    #[serde(default)]
    pub unused: Option<String>,
    #[serde(default)]
    pub page: Option<PageNumber>,
    /// The name of the upload just made (after the form's redirect).
    #[serde(default)]
    pub uploaded: Option<String>,
}

impl IndexQuery {
    fn q(&self) -> String {
        self.q.trim().chars().take(200).collect()
    }

    fn filter(&self, user: &CurrentUser) -> repo::Filter {
        repo::Filter {
            uploader: super::whose(user),
            q: self.q(),
            unused: self.unused.is_some(),
            ..Default::default()
        }
    }
}

async fn page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    query: &IndexQuery,
    errors: FormErrors,
) -> Result<IndexPage, Error> {
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let rows = repo::list(
        &state.db,
        &query.filter(user),
        Page::<()>::limit(PER_PAGE),
        number.offset(PER_PAGE),
    )
    .await?;
    let list = Page::from_overfetch(rows, number, PER_PAGE);
    if list.is_past_the_end() {
        return Err(Error::NotFound);
    }
    let q = query.q();
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        params.append_pair("q", &q);
    }
    if query.unused.is_some() {
        params.append_pair("unused", "1");
    }
    let params = params.finish();
    let path = match params.is_empty() {
        true => "/admin/media".to_owned(),
        false => format!("/admin/media?{params}"),
    };
    let just_uploaded = match query.uploaded.as_deref().filter(|n| media::valid_name(n)) {
        Some(name) => repo::find(&state.db, name)
            .await?
            .filter(|u| super::may_change(user, u)),
        None => None,
    };
    Ok(IndexPage {
        layout: Layout::new(&state.site(), "Media library", "", "/admin/media")
            .noindex()
            .header(Some(header(user, session))),
        csrf_token: session.csrf_token(),
        pager: Pager::new(&path, &list),
        tiles: list
            .items
            .into_iter()
            .map(|l| Tile {
                thumb: super::thumb(state, &l.upload),
                upload: l.upload,
                uploader: l.uploader,
                uses: l.uses,
            })
            .collect(),
        unused: query.unused.is_some(),
        q,
        errors,
        just_uploaded,
    })
}

/// `GET /admin/media?q=&unused=1&page=`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, Error> {
    render(
        StatusCode::OK,
        page(&state, &session, &user, &query, FormErrors::default()).await?,
    )
}

/// `GET /admin/uploads`: the library's old address.
pub async fn redirect_old() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/admin/media"))
        .finish()
}

/// One image as the editor's dialog lists it.
#[derive(Debug, serde::Serialize)]
struct JsonImage {
    id: i64,
    url: String,
    thumb: String,
    alt: String,
    name: String,
    width: Option<i32>,
    height: Option<i32>,
    /// The Markdown that inserts it, with its alt text.
    markdown: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct JsonQuery {
    #[serde(default)]
    q: String,
}

/// `GET /admin/media.json?q=`: the viewer's images (everyone's for editors) the editor's
/// dialog offers, newest first, failed ones left out. Private: never cached on the way.
pub async fn json(
    state: web::Data<AppState>,
    Writer(user): Writer,
    query: web::Query<JsonQuery>,
) -> Result<HttpResponse, Error> {
    let filter = repo::Filter {
        uploader: super::whose(&user),
        q: query.q.trim().chars().take(200).collect(),
        usable: true,
        ..Default::default()
    };
    let rows = repo::list(&state.db, &filter, 60, 0).await?;
    let images: Vec<JsonImage> = rows
        .into_iter()
        .map(|l| {
            let u = l.upload;
            JsonImage {
                id: u.id,
                url: u.url(),
                thumb: super::thumb(&state, &u),
                markdown: media::markdown(&u.alt, &u.file_name),
                name: super::display_name(&u),
                alt: u.alt,
                width: u.width,
                height: u.height,
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(serde_json::json!({ "images": images })))
}

/// Why an upload was refused, in words for the person who sent it.
struct Refused(String);

/// The multipart form, read only once the sender is known to be a writer: the extractors
/// of a handler race, and a reader's or a stranger's request must be refused as such (403,
/// the login page), not for the shape of its body.
async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<UploadForm, actix_web::Error> {
    let MultipartForm(form) =
        MultipartForm::<UploadForm>::from_request(req, &mut payload.into_inner()).await?;
    Ok(form)
}

/// Check and store what `user` sent; the upload's row.
async fn receive(
    state: &AppState,
    store: &Store,
    session: &AuthSession,
    user: &CurrentUser,
    form: UploadForm,
) -> Result<Result<repo::Upload, Refused>, Error> {
    let token = form.csrf_token.map(|t| t.0).unwrap_or_default();
    if !session.csrf_matches(&token) {
        return Err(Error::CsrfRejected);
    }
    let Some(file) = form.file else {
        return Ok(Err(Refused("Choose an image to upload.".into())));
    };
    let name = file.file_name.clone().unwrap_or_default();
    match media::receive(
        &state.db,
        store,
        &state.settings.uploads,
        file.data,
        &name,
        user.id,
    )
    .await
    {
        Ok(upload) => Ok(Ok(upload)),
        // (Over `uploads.max_bytes` is `NotKept::TooLarge`: the 413 page, as the multipart
        // limit's, which leaves room for the form's other parts.)
        Err(media::NotKept::Refused(why)) => Ok(Err(Refused(media::sentence(&why)))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/media` (and its old address `POST /admin/uploads`; multipart:
/// `csrf_token`, `file`).
pub async fn upload(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    session: AuthSession,
    Writer(user): Writer,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let form = read_form(&req, payload).await?;
    match receive(&state, &store, &session, &user, form).await? {
        Ok(upload) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/admin/media?uploaded={}", upload.file_name),
            ))
            .finish()),
        Err(Refused(message)) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                &state,
                &session,
                &user,
                &IndexQuery::default(),
                FormErrors::general(message),
            )
            .await?,
        )?),
    }
}

/// `POST /admin/uploads/paste` (multipart: `csrf_token`, `file`): the editor's script
/// uploading an image pasted, dropped or chosen in its dialog, with the same checks. JSON:
/// the image's `url` and its stored `alt` (the same bytes again are the same upload, which
/// may be described already), or the `error` to show.
pub async fn paste(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    session: AuthSession,
    Writer(user): Writer,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let form = read_form(&req, payload).await?;
    let (status, body) = match receive(&state, &store, &session, &user, form).await? {
        Ok(upload) => (
            StatusCode::CREATED,
            serde_json::json!({
                "url": upload.url(),
                "alt": upload.alt,
                "markdown": media::markdown(&upload.alt, &upload.file_name),
            }),
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
