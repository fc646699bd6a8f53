//! `/admin/media/{id}`: one image — a preview, its facts, its alt text (the form), where it
//! is used (with links), the Markdown that inserts it, and deleting it (refused while used).
//! Only its uploader, or someone who sees every upload, may open, describe or delete it.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use crate::media::{self, Alt, Store, repo};
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    error::Error,
    extract::{CsrfForm, TokenOnly, Writer, header},
    render::{
        Layout,
        confirm::Confirm,
        form::FormErrors,
        page::{human_date_time, personal as render, see_other},
    },
    state::AppState,
};

/// A place an image is used, as the page links it.
pub struct UsedIn {
    /// "Post", "Page", "Avatar of", "Tag", "Site".
    pub kind: &'static str,
    pub label: String,
    pub href: String,
}

impl UsedIn {
    fn of(p: repo::Place) -> Self {
        let (kind, href) = match p.place.as_str() {
            "post" if p.page => ("Page", format!("/admin/posts/{}/edit", p.ref_id)),
            "post" => ("Post", format!("/admin/posts/{}/edit", p.ref_id)),
            "user" => ("Avatar of", format!("/authors/{}", p.username)),
            "tag" => ("Tag", format!("/admin/tags/{}/edit", p.ref_id)),
            _ => ("Site", "/admin/settings".to_owned()),
        };
        let label = match (p.place.as_str(), p.label.trim()) {
            ("site", _) => "logo or icon".to_owned(),
            (_, "") => format!("#{}", p.ref_id),
            (_, label) => label.to_owned(),
        };
        Self { kind, label, href }
    }
}

#[derive(Template)]
#[template(path = "media/admin/show.html")]
struct ShowPage {
    layout: Layout,
    csrf_token: String,
    upload: repo::Upload,
    name: String,
    thumb: String,
    uploader: String,
    size: String,
    dimensions: String,
    date: String,
    places: Vec<UsedIn>,
    markdown: String,
    alt: String,
    errors: FormErrors,
    saved: bool,
}

#[derive(Template)]
#[template(path = "media/admin/in_use.html")]
struct InUsePage {
    layout: Layout,
    upload: repo::Upload,
    name: String,
    places: Vec<UsedIn>,
}

fn layout(state: &AppState, session: &AuthSession, user: &CurrentUser, title: &str) -> Layout {
    Layout::new(&state.site(), title, "", "/admin/media")
        .noindex()
        .header(Some(header(user, session)))
}

/// The upload `id`, if `user` may see and change it (others' are not found, as if absent).
async fn load(state: &AppState, user: &CurrentUser, id: i64) -> Result<repo::Upload, Error> {
    Ok(load_listed(state, user, id).await?.upload)
}

async fn load_listed(state: &AppState, user: &CurrentUser, id: i64) -> Result<repo::Listed, Error> {
    let filter = repo::Filter {
        id: Some(id),
        ..Default::default()
    };
    repo::list(&state.db, &filter, 1, 0)
        .await?
        .pop()
        .filter(|l| super::may_change(user, &l.upload))
        .ok_or(Error::NotFound)
}

async fn places(state: &AppState, upload: &repo::Upload) -> Result<Vec<UsedIn>, Error> {
    Ok(repo::places(&state.db, &upload.file_name)
        .await?
        .into_iter()
        .map(UsedIn::of)
        .collect())
}

async fn show_page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    listed: repo::Listed,
    alt: String,
    errors: FormErrors,
    saved: bool,
) -> Result<ShowPage, Error> {
    let repo::Listed {
        upload, uploader, ..
    } = listed;
    let name = super::display_name(&upload);
    Ok(ShowPage {
        layout: layout(state, session, user, &name),
        csrf_token: session.csrf_token(),
        thumb: super::thumb(state, &upload),
        size: crate::input::human_bytes(usize::try_from(upload.bytes).unwrap_or(0)),
        dimensions: super::index::dimensions(&upload),
        date: human_date_time(&upload.created_at),
        places: places(state, &upload).await?,
        markdown: media::markdown(&upload.alt, &upload.file_name),
        uploader,
        name,
        upload,
        alt,
        errors,
        saved,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/media/{id}`
pub async fn show(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, Error> {
    let listed = load_listed(&state, &user, *id).await?;
    let alt = listed.upload.alt.clone();
    let page = show_page(
        &state,
        &session,
        &user,
        listed,
        alt,
        FormErrors::default(),
        query.saved.is_some(),
    )
    .await?;
    render(StatusCode::OK, page)
}

#[derive(Debug, Default, Deserialize)]
pub struct AltForm {
    #[serde(default)]
    alt: String,
}

/// `POST /admin/media/{id}`: `alt`, the description offered whenever it is inserted.
pub async fn update(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<AltForm>,
) -> Result<HttpResponse, Error> {
    let listed = load_listed(&state, &user, *id).await?;
    let upload = &listed.upload;
    match Alt::parse(&form.alt) {
        Ok(alt) => {
            if !repo::set_alt(&state.db, upload.id, alt.as_str()).await? {
                return Err(Error::NotFound);
            }
            Ok(see_other(&format!("/admin/media/{}?saved=1", upload.id)))
        }
        Err(message) => {
            let mut errors = FormErrors::default();
            errors.add("alt", crate::input::capitalise(&message));
            let page = show_page(&state, &session, &user, listed, form.alt, errors, false).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

fn in_use(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    upload: repo::Upload,
    places: Vec<UsedIn>,
) -> InUsePage {
    let name = super::display_name(&upload);
    InUsePage {
        layout: layout(state, session, user, &format!("{name} is in use")),
        upload,
        name,
        places,
    }
}

/// `GET /admin/media/{id}/delete`: are you sure? While the image is used, the places to
/// change first instead.
pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let upload = load(&state, &user, *id).await?;
    let used = places(&state, &upload).await?;
    if !used.is_empty() {
        return render(
            StatusCode::OK,
            in_use(&state, &session, &user, upload, used),
        );
    }
    let name = super::display_name(&upload);
    let page = Confirm::new(
        layout(&state, &session, &user, "Delete image"),
        session.csrf_token(),
        format!("Delete {name}?"),
    )
    .says(format!(
        "The image and every size made of it are removed; {} will no longer show it.",
        upload.url()
    ))
    .button(
        "Delete image",
        &format!("/admin/media/{}/delete", upload.id),
        &format!("/admin/media/{}", upload.id),
    );
    render(StatusCode::OK, page)
}

/// `POST /admin/media/{id}/delete`: refused (409, with the places) while anything uses the
/// image; else the row goes (in one statement with the check, so a save that starts using
/// it at that moment wins), then its files. A file the store fails to remove is logged, not
/// shown: the row is gone, and a file no row names is harmless.
pub async fn delete(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let upload = load(&state, &user, *id).await?;
    if !repo::delete_unused(&state.db, &upload.file_name).await? {
        let used = places(&state, &upload).await?;
        if used.is_empty() {
            // Deleted by someone else meanwhile.
            return Ok(see_other("/admin/media"));
        }
        return render(
            StatusCode::CONFLICT,
            in_use(&state, &session, &user, upload, used),
        );
    }
    for key in files(&upload) {
        if let Err(e) = store.delete(&key).await {
            tracing::warn!(error = %e, key, "a deleted upload's file stays in the store");
        }
    }
    Ok(see_other("/admin/media"))
}

/// Every file kept for `upload`: as sent, as served, each width in its format and WebP,
/// and the social card.
pub fn files(upload: &repo::Upload) -> Vec<String> {
    let name = &upload.file_name;
    let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    let mut keys = vec![
        format!("{}{name}", media::store::ORIGINALS),
        name.clone(),
        media::og_key(name),
    ];
    for w in &upload.widths {
        let Ok(w) = u32::try_from(*w) else { continue };
        keys.push(media::width_key(name, w, ext));
        if ext != "webp" {
            keys.push(media::width_key(name, w, "webp"));
        }
    }
    keys
}
