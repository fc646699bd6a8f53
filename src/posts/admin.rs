//! The authoring admin for posts: dashboard, list, editor with preview, revisions, trash.
//! Every handler checks `authz` on the server; templates only hide what would be refused.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description};

use super::{
    SaveError,
    model::{AdminRow, PostForEdit, PostId, PostInput, PostStatus, Revision, state_label},
    repo::{self, AdminFilter},
};
use crate::extract::TokenOnly;
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    authz::{self, Action},
    db::{Page, PageNumber},
    error::Error,
    extract::{CsrfForm, FormLimit, Viewer, Writer, human_bytes},
    ratelimit::Limiter,
    render::{
        Layout, SafeHtml,
        form::FormErrors,
        markdown,
        page::{Pager, human_date_time},
    },
    state::{AppState, read, resource},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/admin").route(read().to(dashboard)))
        .service(
            resource("/admin/posts")
                .app_data(FormLimit::Editor)
                .route(read().to(index))
                .route(web::post().to(create)),
        )
        .service(resource("/admin/posts/new").route(read().to(new)))
        .service(resource("/admin/posts/trash").route(read().to(trash)))
        .service(resource("/admin/posts/{id}/edit").route(read().to(edit)))
        .service(
            resource("/admin/posts/{id}")
                .app_data(FormLimit::Editor)
                .route(web::post().to(update)),
        )
        .service(
            resource("/admin/posts/{id}/delete")
                .route(read().to(confirm_delete))
                .route(web::post().to(delete)),
        )
        .service(resource("/admin/posts/{id}/restore").route(web::post().to(restore)))
        .service(resource("/admin/posts/{id}/revisions").route(read().to(revisions)))
        .service(resource("/admin/posts/{id}/revisions/{rev}").route(read().to(revision)))
        .service(
            resource("/admin/posts/{id}/revisions/{rev}/restore")
                .route(web::post().to(restore_revision)),
        );
}

fn layout(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    title: &str,
    path: &str,
) -> Layout {
    Layout::new(&state.site, title, "", path)
        .noindex()
        .viewer(Viewer(Some(user.clone())), session)
}

/// Load a post the user may edit: 404 if there is none, 403 if it is someone else's and
/// they are only an author.
async fn editable(state: &AppState, user: &CurrentUser, id: PostId) -> Result<PostForEdit, Error> {
    let post = repo::find_for_edit(&state.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    let author = post.author_id;
    authz::require(user, Action::EditPost { author })?;
    Ok(post)
}

// ---- dashboard ----

#[derive(Template)]
#[template(path = "posts/admin/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    drafts: i64,
    scheduled: i64,
    published: i64,
    recent: Vec<AdminRow>,
    everyone: bool,
}

/// `GET /admin`: the user's drafts, scheduled and recent posts, with counts. Editors and
/// admins see the whole site's.
pub async fn dashboard(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
) -> Result<HttpResponse, Error> {
    let everyone = authz::can(&user, Action::EditAnyPost);
    let author = (!everyone).then_some(user.id);
    let (drafts, scheduled, published) = repo::counts(&state.db, author).await?;
    let filter = AdminFilter {
        author,
        ..AdminFilter::default()
    };
    let recent = repo::admin_list(&state.db, &filter, PageNumber::FIRST, 10).await?;
    render(
        StatusCode::OK,
        DashboardPage {
            layout: layout(&state, &session, &user, "Dashboard", "/admin"),
            drafts,
            scheduled,
            published,
            recent: recent.into_iter().take(10).collect(),
            everyone,
        },
    )
}

// ---- the list ----

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub q: String,
    pub page: Option<PageNumber>,
}

#[derive(Template)]
#[template(path = "posts/admin/index.html")]
struct IndexPage {
    layout: Layout,
    posts: Vec<AdminRow>,
    pager: Pager,
    query: ListQuery,
    everyone: bool,
    trash: bool,
}

const ADMIN_PER_PAGE: u32 = 20;

fn filter_for(user: &CurrentUser, query: &ListQuery) -> Result<(AdminFilter, bool), Error> {
    let everyone = authz::can(user, Action::EditAnyPost);
    let mut filter = AdminFilter::default();
    match query.status.as_str() {
        "" | "all" => {}
        "draft" => filter.status = Some(PostStatus::Draft),
        "published" => filter.status = Some(PostStatus::Published),
        "scheduled" => filter.scheduled = true,
        _ => {
            return Err(Error::BadRequest(
                "status must be draft, published or scheduled".into(),
            ));
        }
    }
    // Authors see their own posts; editors and admins everyone's, optionally one author's.
    filter.author = if everyone {
        match query.author.trim() {
            "" => None,
            a => {
                Some(crate::accounts::model::UserId(a.parse().map_err(|_| {
                    Error::BadRequest("author must be an id".into())
                })?))
            }
        }
    } else {
        Some(user.id)
    };
    filter.tag = Some(query.tag.trim().to_owned()).filter(|t| !t.is_empty());
    filter.title =
        Some(query.q.trim().chars().take(200).collect::<String>()).filter(|t| !t.is_empty());
    Ok((filter, everyone))
}

/// `GET /admin/posts?status=&author=&tag=&q=&page=`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    let query = query.into_inner();
    let (filter, everyone) = filter_for(&user, &query)?;
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let rows = repo::admin_list(&state.db, &filter, number, ADMIN_PER_PAGE).await?;
    let list = Page::from_overfetch(rows, number, ADMIN_PER_PAGE);
    let path = list_path(&query);
    render(
        StatusCode::OK,
        IndexPage {
            layout: layout(&state, &session, &user, "Posts", "/admin/posts"),
            pager: Pager::new(&path, &list),
            posts: list.items,
            query,
            everyone,
            trash: false,
        },
    )
}

/// The list's URL with its filters, for the pager's links.
fn list_path(q: &ListQuery) -> String {
    let pairs: Vec<String> = [
        ("status", &q.status),
        ("author", &q.author),
        ("tag", &q.tag),
        ("q", &q.q),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| {
        format!(
            "{k}={}",
            url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
        )
    })
    .collect();
    if pairs.is_empty() {
        "/admin/posts".into()
    } else {
        format!("/admin/posts?{}", pairs.join("&"))
    }
}

/// `GET /admin/posts/trash`: deleted posts of the last 30 days (editors and admins).
pub async fn trash(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::RestorePosts)?;
    let query = query.into_inner();
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let filter = AdminFilter {
        deleted: true,
        ..AdminFilter::default()
    };
    let rows = repo::admin_list(&state.db, &filter, number, ADMIN_PER_PAGE).await?;
    let list = Page::from_overfetch(rows, number, ADMIN_PER_PAGE);
    render(
        StatusCode::OK,
        IndexPage {
            layout: layout(&state, &session, &user, "Trash", "/admin/posts/trash"),
            pager: Pager::new("/admin/posts/trash", &list),
            posts: list.items,
            query,
            everyone: true,
            trash: true,
        },
    )
}

// ---- the editor ----

#[derive(Debug, Default, Clone, Deserialize)]
pub struct EditorForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub excerpt: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub cover_image: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub status: String,
    /// `YYYY-MM-DDTHH:MM` from a datetime-local input: UTC, or local time when `tz_offset`
    /// came with it.
    #[serde(default)]
    pub publish_at: String,
    /// Minutes to add to `publish_at` to get UTC (JavaScript's `getTimezoneOffset`), set by
    /// static/js/local-time.js; empty without JavaScript, meaning UTC.
    #[serde(default)]
    pub tz_offset: String,
    /// The version the author started from; a string, so a damaged value re-renders the
    /// form (text kept) instead of failing to parse.
    #[serde(default)]
    pub version: String,
    /// "save" or "preview".
    #[serde(default)]
    pub intent: String,
}

const DATETIME_LOCAL: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");

impl EditorForm {
    fn from_post(post: &PostForEdit) -> Self {
        Self {
            title: post.title.clone(),
            slug: post.slug.clone(),
            excerpt: post.excerpt.clone(),
            tags: post.tag_names(),
            cover_image: post.cover_image.clone().unwrap_or_default(),
            body: post.body_markdown.clone(),
            status: match state_label(post.status, post.published_at) {
                "Draft" => "draft",
                "Scheduled" => "scheduled",
                _ => "published",
            }
            .into(),
            publish_at: post
                .published_at
                .and_then(|t| t.format(DATETIME_LOCAL).ok())
                .unwrap_or_default(),
            version: post.version.to_string(),
            ..Self::default()
        }
    }

    /// The Publish button is Save with the status set to published.
    fn with_intent(mut self) -> Self {
        if self.intent == "publish" {
            self.status = "published".into();
            self.intent = "save".into();
        }
        self
    }

    /// Check every field against the limits (`max_body`: `posts.max_body_bytes`); the
    /// messages say what to change.
    fn parse(&self, max_body: usize) -> Result<PostInput, FormErrors> {
        let mut errors = FormErrors::default();
        let title = self.title.trim();
        if title.is_empty() {
            errors.add("title", "Give the post a title");
        } else if title.chars().count() > 300 {
            errors.add("title", "A title can be at most 300 characters");
        }
        let slug = errors.check("slug", super::slug_for(title, &self.slug));
        if self.excerpt.chars().count() > 500 {
            errors.add("excerpt", "An excerpt can be at most 500 characters");
        }
        if self.body.len() > max_body {
            errors.add("body", too_long(max_body, self.body.len()));
        }
        let tags: Vec<String> = self
            .tags
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if tags.len() > 10 {
            errors.add("tags", "A post can have at most 10 tags");
        } else if tags.iter().any(|t| t.chars().count() > 100) {
            errors.add("tags", "A tag can be at most 100 characters");
        }
        let cover = self.cover_image.trim();
        let cover_ok = cover.is_empty()
            || (cover.len() <= 500
                && ((cover.starts_with('/') && !cover.starts_with("//"))
                    || cover.starts_with("https://")));
        if !cover_ok {
            errors.add(
                "cover_image",
                "A cover image is a path on this site (/uploads/…) or an https:// URL",
            );
        }
        let status = match self.status.as_str() {
            "" | "draft" => PostStatus::Draft,
            "published" => PostStatus::Published,
            "scheduled" => PostStatus::Scheduled,
            _ => {
                errors.add("status", "Choose draft, publish or schedule");
                PostStatus::Draft
            }
        };
        let mut publish_at = None;
        // Real offsets lie within ±14 hours; anything else is treated as UTC.
        let offset: i64 = self.tz_offset.trim().parse().unwrap_or(0);
        let offset = if offset.abs() <= 14 * 60 { offset } else { 0 };
        if status == PostStatus::Scheduled {
            let parsed = PrimitiveDateTime::parse(self.publish_at.trim(), DATETIME_LOCAL)
                .map(|t| t.assume_utc() + time::Duration::minutes(offset));
            match parsed {
                Ok(t) if t > OffsetDateTime::now_utc() => publish_at = Some(t),
                Ok(_) => errors.add("publish_at", "Pick a time in the future, or publish now"),
                Err(_) => errors.add("publish_at", "Pick the date and time to publish at"),
            }
        }
        match slug {
            Some(slug) if errors.is_empty() => Ok(PostInput {
                title: title.to_owned(),
                slug,
                excerpt: self.excerpt.trim().to_owned(),
                body_markdown: self.body.replace("\r\n", "\n"),
                cover_image: (!cover.is_empty()).then(|| cover.to_owned()),
                status,
                publish_at,
                tags,
            }),
            _ => Err(errors),
        }
    }
}

fn too_long(max_body: usize, len: usize) -> String {
    format!(
        "The body can be at most {} of Markdown (this one is {}). Your text is below, unsaved.",
        human_bytes(max_body),
        human_bytes(len)
    )
}

/// Previews one person may ask for per minute: each renders up to a whole post.
const PREVIEWS_PER_MINUTE: u32 = 30;

/// Render a preview of `body` off the async workers, within the person's preview allowance.
async fn preview(
    state: &AppState,
    user: &CurrentUser,
    page: &mut EditPage,
) -> Result<StatusCode, Error> {
    let max = state.settings.posts.max_body_bytes;
    if page.form.body.len() > max {
        page.errors.add("body", too_long(max, page.form.body.len()));
        page.errors.general = Some(TOO_LONG.replace("Not saved", "No preview"));
        return Ok(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let limiter = Limiter {
        redis: &state.redis,
        prefix: &state.settings.redis.key_prefix,
        name: "preview",
        limit: PREVIEWS_PER_MINUTE,
        window: std::time::Duration::from_secs(60),
    };
    if limiter.over(&user.id.0.to_string()).await?.is_some() {
        page.errors = FormErrors::general(
            "You are previewing very fast. Wait a minute, then preview again; your text is kept.",
        );
        return Ok(StatusCode::TOO_MANY_REQUESTS);
    }
    page.preview = Some(markdown::render_off_thread(page.form.body.clone()).await);
    Ok(StatusCode::OK)
}

/// Why a save didn't parse, with the status to answer: 413 when the body is over the limit.
fn rejected(
    form: &EditorForm,
    max_body: usize,
    mut errors: FormErrors,
) -> (StatusCode, FormErrors) {
    if form.body.len() > max_body {
        errors.general.get_or_insert_with(|| TOO_LONG.to_owned());
        (StatusCode::PAYLOAD_TOO_LARGE, errors)
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, errors)
    }
}

/// The summary at the top of the editor when the body is over the limit (the body field
/// says by how much).
const TOO_LONG: &str = "Not saved: the body is longer than a post may be. Your text is kept below.";

/// A line of a comparison between two texts.
pub struct DiffLine {
    pub kind: &'static str,
    pub text: String,
}

/// Line diff of two texts. Bounded: past a second of work, `similar` settles for a coarser
/// diff, so two 1 MiB texts can't hold a thread for long. CPU-bound: see `diff_off_thread`.
pub fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            kind: match c.tag() {
                similar::ChangeTag::Delete => "del",
                similar::ChangeTag::Insert => "ins",
                similar::ChangeTag::Equal => "eq",
            },
            text: c.value().trim_end_matches('\n').to_owned(),
        })
        .collect()
}

/// `diff` on the blocking pool.
pub async fn diff_off_thread(old: String, new: String) -> Vec<DiffLine> {
    tokio::task::spawn_blocking(move || diff(&old, &new))
        .await
        .unwrap_or_default()
}

/// Another person's save that beat this one: who, when, and how their text differs.
pub struct ConflictInfo {
    pub when: String,
    pub title: String,
    pub diff: Vec<DiffLine>,
}

#[derive(Template)]
#[template(path = "posts/admin/edit.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    /// `None` for a new post.
    post: Option<PostForEdit>,
    form: EditorForm,
    errors: FormErrors,
    preview: Option<SafeHtml>,
    conflict: Option<ConflictInfo>,
    saved: bool,
}

fn edit_page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    post: Option<PostForEdit>,
    form: EditorForm,
) -> EditPage {
    let (title, path) = match &post {
        Some(p) => (
            format!("Edit “{}”", p.title),
            format!("/admin/posts/{}/edit", p.id.0),
        ),
        None => ("New post".to_owned(), "/admin/posts/new".to_owned()),
    };
    EditPage {
        layout: layout(state, session, user, &title, &path),
        csrf_token: session.csrf_token(),
        post,
        form,
        errors: FormErrors::default(),
        preview: None,
        conflict: None,
        saved: false,
    }
}

/// `GET /admin/posts/new`
pub async fn new(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
) -> Result<HttpResponse, Error> {
    render(
        StatusCode::OK,
        edit_page(&state, &session, &user, None, EditorForm::default()),
    )
}

/// `POST /admin/posts`: create, or show a preview of what would be created.
pub async fn create(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    CsrfForm(form): CsrfForm<EditorForm>,
) -> Result<HttpResponse, Error> {
    let form = form.with_intent();
    let max_body = state.settings.posts.max_body_bytes;
    let mut page = edit_page(&state, &session, &user, None, form.clone());
    if form.intent == "preview" {
        let status = preview(&state, &user, &mut page).await?;
        return render(status, page);
    }
    let input = match form.parse(max_body) {
        Ok(input) => input,
        Err(errors) => {
            let (status, errors) = rejected(&form, max_body, errors);
            page.errors = errors;
            return render(status, page);
        }
    };
    match super::create_from_input(&state.db, user.id, &input).await? {
        Some(id) => Ok(see_other(&format!("/admin/posts/{}/edit?saved=1", id.0))),
        None => {
            page.errors
                .add("slug", "That slug is taken; choose another");
            render(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct EditQuery {
    #[serde(default)]
    pub saved: Option<u8>,
}

/// `GET /admin/posts/{id}/edit`
pub async fn edit(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    if post.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    let form = EditorForm::from_post(&post);
    let mut page = edit_page(&state, &session, &user, Some(post), form);
    page.saved = query.saved.is_some();
    render(StatusCode::OK, page)
}

/// `POST /admin/posts/{id}`: save an edit (or preview it). A save of a stale version is
/// refused with the other person's change shown and this person's text kept in the form.
pub async fn update(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<EditorForm>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    let id = post.id;
    let form = form.with_intent();
    let max_body = state.settings.posts.max_body_bytes;
    let mut page = edit_page(&state, &session, &user, Some(post), form.clone());
    if form.intent == "preview" {
        let status = preview(&state, &user, &mut page).await?;
        return render(status, page);
    }
    let input = match form.parse(max_body) {
        Ok(input) => input,
        Err(errors) => {
            let (status, errors) = rejected(&form, max_body, errors);
            page.errors = errors;
            return render(status, page);
        }
    };
    let Ok(version) = form.version.trim().parse::<i32>() else {
        page.errors = FormErrors::general(
            "The form lost track of which version you started from. Your text is below, \
             unsaved: copy it, reload the post, and paste it back.",
        );
        return render(StatusCode::BAD_REQUEST, page);
    };
    match super::update(&state.db, user.id, id, version, &input).await {
        Ok(_) => Ok(see_other(&format!("/admin/posts/{}/edit?saved=1", id.0))),
        Err(SaveError::SlugTaken) => {
            page.errors
                .add("slug", "That slug is taken; choose another");
            render(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(SaveError::Conflict(current)) => {
            page.conflict = Some(ConflictInfo {
                when: human_date_time(&current.updated_at),
                title: current.title.clone(),
                diff: diff_off_thread(current.body_markdown.clone(), form.body.clone()).await,
            });
            page.errors = FormErrors::general(
                "Someone else saved this post after you opened it. Your text is below, unsaved; \
                 compare it with theirs, then save again to replace their version.",
            );
            // Saving again is now a deliberate choice to replace what they wrote.
            page.form.version = current.version.to_string();
            page.post = Some(*current);
            render(StatusCode::CONFLICT, page)
        }
        Err(SaveError::Gone) => Err(Error::NotFound),
        Err(SaveError::Other(e)) => Err(Error::Internal(e)),
    }
}

// ---- delete, trash, restore ----

#[derive(Template)]
#[template(path = "posts/admin/delete.html")]
struct DeletePage {
    layout: Layout,
    csrf_token: String,
    post: PostForEdit,
}

/// `GET /admin/posts/{id}/delete`: ask first.
pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    if post.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    render(
        StatusCode::OK,
        DeletePage {
            layout: layout(
                &state,
                &session,
                &user,
                "Delete post",
                &format!("/admin/posts/{}/delete", post.id.0),
            ),
            csrf_token: session.csrf_token(),
            post,
        },
    )
}

/// `POST /admin/posts/{id}/delete`: to the trash, restorable for 30 days.
pub async fn delete(
    state: web::Data<AppState>,
    Writer(user): Writer,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    if !repo::soft_delete(&state.db, post.id).await? {
        return Err(Error::NotFound);
    }
    Ok(see_other("/admin/posts"))
}

/// `POST /admin/posts/{id}/restore` (editors and admins).
pub async fn restore(
    state: web::Data<AppState>,
    Writer(user): Writer,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::RestorePosts)?;
    if !repo::restore(&state.db, PostId(*id)).await? {
        return Err(Error::NotFound);
    }
    Ok(see_other(&format!("/admin/posts/{}/edit", *id)))
}

// ---- revisions ----

#[derive(Template)]
#[template(path = "posts/admin/revisions.html")]
struct RevisionsPage {
    layout: Layout,
    post: PostForEdit,
    revisions: Vec<Revision>,
}

/// `GET /admin/posts/{id}/revisions`
pub async fn revisions(
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
            revisions,
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
pub async fn revision(
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
pub async fn restore_revision(
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
        .parse(usize::MAX)
        .map_err(|_| Error::BadRequest("that revision can't be restored as it is".into()))?;
    match super::update(&state.db, user.id, post.id, post.version, &input).await {
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

    #[test]
    fn a_scheduled_post_needs_a_future_time() {
        let form = EditorForm {
            title: "T".into(),
            status: "scheduled".into(),
            publish_at: "2000-01-01T10:00".into(),
            ..EditorForm::default()
        };
        assert!(form.parse(1 << 20).is_err());
        let future = EditorForm {
            publish_at: "2999-01-01T10:00".into(),
            ..form
        };
        let input = future.parse(1 << 20).expect("valid");
        assert_eq!(input.status, PostStatus::Scheduled);
        assert_eq!(input.slug.as_str(), "t");
    }

    #[test]
    fn a_local_time_with_its_offset_becomes_utc() {
        let form = EditorForm {
            title: "T".into(),
            status: "scheduled".into(),
            publish_at: "2999-01-01T10:00".into(),
            tz_offset: "-60".into(), // UTC+1
            ..EditorForm::default()
        };
        let at = form
            .parse(1 << 20)
            .expect("valid")
            .publish_at
            .expect("a time");
        assert_eq!((at.hour(), at.minute()), (9, 0));
        let absurd = EditorForm {
            tz_offset: "100000".into(),
            ..form
        };
        assert_eq!(
            absurd
                .parse(1 << 20)
                .expect("valid")
                .publish_at
                .map(|t| t.hour()),
            Some(10)
        );
    }

    #[test]
    fn cover_images_are_local_paths_or_https() {
        for (cover, ok) in [
            ("/uploads/a.png", true),
            ("https://x.example/a.png", true),
            ("javascript:x", false),
            ("//evil/a.png", false),
            ("http://x/a.png", false),
        ] {
            let form = EditorForm {
                title: "T".into(),
                cover_image: cover.into(),
                ..EditorForm::default()
            };
            assert_eq!(form.parse(1 << 20).is_ok(), ok, "{cover}");
        }
    }

    #[test]
    fn diffs_mark_lines() {
        let d = diff("a\nb\n", "a\nc\n");
        let kinds: Vec<_> = d.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, ["eq", "del", "ins"]);
    }
}
