//! The authoring admin for posts: the dashboard, the list, the trash, deleting and
//! restoring. The editor is `editor.rs`, revisions `revisions.rs`. Every handler checks
//! `authz` on the server; templates are only handed its answers.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    model::{AdminRow, PostForEdit, PostId, PostStatus},
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
        "featured" => filter.featured = true,
        _ => {
            return Err(Error::BadRequest(
                "status must be draft, published, scheduled or featured".into(),
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
