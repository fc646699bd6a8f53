//! The authoring admin for posts: the dashboard, the list, the trash, deleting and
//! restoring. The editor is `editor.rs`, revisions `revisions.rs`. Every handler checks
//! `authz` on the server; templates are only handed its answers.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    bulk::{self, BulkAction},
    model::{AdminRow, PostForEdit, PostId, PostStatus},
    repo::{self, AdminFilter, AdminSort},
};
use crate::extract::TokenOnly;
use crate::render::confirm::Confirm;
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    authz::{self, Action},
    db::{Page, PageNumber},
    error::Error,
    extract::{CsrfForm, SignedIn, Writer, header},
    render::{Layout, page::Pager},
    state::AppState,
};

pub(super) fn layout(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    title: &str,
    path: &str,
) -> Layout {
    Layout::new(&state.site(), title, "", path)
        .noindex()
        .header(Some(header(user, session)))
}

/// Load a post the user may edit: 404 if there is none, 403 if it is someone else's and
/// they are only an author.
pub(crate) async fn editable(
    state: &AppState,
    user: &CurrentUser,
    id: PostId,
) -> Result<PostForEdit, Error> {
    let post = repo::find_for_edit(&state.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    let author = post.author_id;
    authz::require(user, Action::EditPost { author })?;
    if post.is_page() {
        authz::require(user, Action::ManagePages)?;
    }
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
    stats: crate::stats::admin::Stats,
    /// How much demo content there is ("30 posts and 4 authors"), for an admin while any is.
    demo: Option<String>,
    /// What the last action left to say (removing the demo content).
    flash: Option<String>,
}

/// What a reader who opens `/admin` reads: what the admin is and who can let them in.
#[derive(Template)]
#[template(path = "posts/admin/not_yet.html")]
struct NotYetPage {
    layout: Layout,
}

/// `GET /admin`: the user's drafts, scheduled and recent posts, with counts. Editors and
/// admins see the whole site's. While nobody has claimed the site, the way in is `/setup`;
/// a reader gets a page that says who can grant access (still a 403).
pub async fn dashboard(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    if !authz::can(&user, Action::Write) {
        if !crate::accounts::repo::admin_exists(&state.db).await? {
            return Ok(see_other("/setup"));
        }
        let page = NotYetPage {
            layout: layout(&state, &session, &user, "The admin", "/admin"),
        };
        return render(StatusCode::FORBIDDEN, page);
    }
    let everyone = authz::can(&user, Action::EditAnyPost);
    let author = (!everyone).then_some(user.id);
    let (drafts, scheduled, published) = repo::counts(&state.db, author).await?;
    let filter = AdminFilter {
        author,
        ..AdminFilter::default()
    };
    let recent = repo::admin_list(&state.db, &filter, PageNumber::FIRST, 10).await?;
    let stats = crate::stats::admin::load(&state.db, author).await?;
    let demo = if authz::can(&user, Action::RemoveDemo) {
        Some(crate::seed::find_demo(&state.db).await?).filter(|d| !d.is_empty())
    } else {
        None
    };
    render(
        StatusCode::OK,
        DashboardPage {
            layout: layout(&state, &session, &user, "Dashboard", "/admin"),
            drafts,
            scheduled,
            published,
            recent: recent.into_iter().take(10).collect(),
            everyone,
            stats,
            demo: demo.map(|d| d.count()),
            flash: session.take_flash(),
        },
    )
}

/// `GET /admin/demo/remove` (admins): what removing the demo content takes and what it
/// leaves; changes nothing.
pub async fn confirm_remove_demo(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::RemoveDemo)?;
    let demo = crate::seed::find_demo(&state.db).await?;
    let path = "/admin/demo/remove";
    let layout = layout(&state, &session, &user, "Remove demo content", path);
    let mut page = Confirm::new(layout, session.csrf_token(), "Remove the demo content?");
    if demo.is_empty() {
        page = page.says("There is no demo content left to remove.");
        page.cancel = "/admin".into();
        return render(StatusCode::OK, page);
    }
    page = page
        .says(format!(
            "This deletes for good what quire seed made and nobody has changed: {}, with the \
             demo tags no other post uses.",
            demo.count()
        ))
        .says(
            "Nothing you or your writers wrote is touched: a demo post someone edited or \
             commented on stays, and so does its author.",
        );
    if !demo.kept.is_empty() {
        page = page.says(format!("Staying: {}.", demo.kept.join("; ")));
    }
    render(
        StatusCode::OK,
        page.button(&format!("Remove {}", demo.count()), path, "/admin"),
    )
}

/// `POST /admin/demo/remove` (admins): the demo content goes (`seed::remove_demo`); the
/// dashboard says what went and what stayed.
pub async fn remove_demo(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::RemoveDemo)?;
    let removed = crate::seed::remove_demo(&state.db).await?;
    let mut message = if removed.is_empty() {
        "There was no demo content to remove.".to_owned()
    } else {
        format!("Removed the demo content: {}.", removed.count())
    };
    if !removed.kept.is_empty() {
        message.push_str(&format!(" Kept: {}.", removed.kept.join("; ")));
    }
    session.flash(&message);
    Ok(see_other("/admin"))
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
    /// `changed` (the default), `date`, `title` or `views`.
    #[serde(default)]
    pub sort: String,
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
    /// What the last bulk action did (`bulk`), said once.
    flash: Option<String>,
    /// Why the list is empty when the author filter names nobody.
    no_author: bool,
    /// (username, display name) of everyone with posts, for the author field's suggestions.
    authors: Vec<(String, String)>,
    /// This list's address (filters, sort and page): where `bulk` comes back to.
    back: String,
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
        "featured" => filter.featured = true,
        _ => {
            return Err(Error::BadRequest(
                "status must be draft, published, scheduled or featured".into(),
            ));
        }
    }
    // Authors see their own posts; editors and admins everyone's, optionally one author's,
    // named by username or display name.
    if everyone {
        filter.author_name = Some(query.author.trim().chars().take(100).collect::<String>())
            .filter(|a| !a.is_empty());
    } else {
        filter.author = Some(user.id);
    }
    filter.sort = AdminSort::parse(query.sort.trim())
        .ok_or_else(|| Error::BadRequest("sort must be changed, date, title or views".into()))?;
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
    let authors = if everyone {
        repo::post_authors(&state.db).await?
    } else {
        Vec::new()
    };
    let no_author = list.items.is_empty()
        && filter.author_name.as_ref().is_some_and(|name| {
            let name = name.to_lowercase();
            !authors.iter().any(|(username, display)| {
                *username == name || display.to_lowercase().contains(&name)
            })
        });
    render(
        StatusCode::OK,
        IndexPage {
            layout: layout(&state, &session, &user, "Posts", "/admin/posts"),
            back: crate::render::page::page_href(&path, list.number),
            pager: Pager::new(&path, &list),
            posts: list.items,
            query,
            everyone,
            trash: false,
            flash: session.take_flash(),
            no_author,
            authors,
        },
    )
}

/// `POST /admin/posts/bulk`: `action` (and `tag`) on every ticked `id`, each post through
/// the one-post path (`posts::bulk`); back to the list it came from (`back`), which says
/// what was done and what was skipped. Ids that name no post at all refuse the whole
/// request (a forged or mistyped form), before anything is changed.
pub async fn bulk(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let action = BulkAction::parse(field("action"), field("tag")).map_err(Error::BadRequest)?;
    let mut ids: Vec<PostId> = Vec::new();
    for (_, v) in fields.iter().filter(|(k, _)| k == "id") {
        let id = v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                let shown: String = v.chars().take(40).collect();
                Error::BadRequest(format!("“{shown}” is not a post number"))
            })?;
        if !ids.contains(&PostId(id)) {
            ids.push(PostId(id));
        }
        if ids.len() > bulk::MOST {
            return Err(Error::BadRequest(format!(
                "At most {} posts can be changed at once; tick fewer.",
                bulk::MOST
            )));
        }
    }
    if ids.is_empty() {
        return Err(Error::BadRequest(
            "Tick the posts to change first (the boxes beside their titles).".into(),
        ));
    }
    let known = repo::existing(&state.db, &ids).await?;
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !known.contains(id))
        .map(|id| format!("#{}", id.0))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::BadRequest(format!(
            "No post has the number {}: nothing was changed.",
            unknown.join(", ")
        )));
    }
    let summary = bulk::apply(
        &state.db,
        &user,
        &action,
        &ids,
        state.settings.posts.max_body_bytes,
    )
    .await?;
    session.flash(&summary.sentence(&action));
    let back = crate::render::page::safe_next(field("back"));
    let back = if back.starts_with("/admin/posts") && !back.starts_with("/admin/posts/") {
        back
    } else {
        "/admin/posts".to_owned()
    };
    Ok(see_other(&back))
}

/// The list's URL with its filters and order, for the pager's links and the sort links.
fn list_path(q: &ListQuery) -> String {
    let pairs: Vec<String> = [
        ("status", &q.status),
        ("author", &q.author),
        ("tag", &q.tag),
        ("q", &q.q),
        ("sort", &q.sort),
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
            flash: None,
            no_author: false,
            authors: Vec::new(),
            back: String::new(),
        },
    )
}

// ---- delete, trash, restore ----

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
    let path = format!("/admin/posts/{}/delete", post.id.0);
    let page = Confirm::new(
        layout(&state, &session, &user, "Delete post", &path),
        session.csrf_token(),
        format!("Delete “{}”?", post.title),
    )
    .says("It goes to the trash; editors can restore it for 30 days. Readers no longer see it.")
    .button(
        "Delete post",
        &path,
        &format!("/admin/posts/{}/edit", post.id.0),
    );
    render(StatusCode::OK, page)
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
