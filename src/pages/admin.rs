//! `/admin/pages` (editors and admins): the list of pages and a new page. Editing one is
//! the post editor's work (`/admin/posts/{id}/edit`), which knows a page from a post.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;

use crate::{
    accounts::session::AuthSession,
    authz::{self, Action},
    db::PageNumber,
    error::Error,
    extract::{SignedIn, header},
    posts::{
        model::{AdminRow, PostKind},
        repo::{self, AdminFilter},
    },
    render::{Layout, page::personal as render},
    state::AppState,
};

/// More pages than a site has: the list is one screen.
const MOST_PAGES: u32 = 200;

#[derive(Template)]
#[template(path = "pages/admin/index.html")]
struct IndexPage {
    layout: Layout,
    pages: Vec<AdminRow>,
}

/// `GET /admin/pages`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManagePages)?;
    let filter = AdminFilter {
        kind: Some(PostKind::Page),
        ..AdminFilter::default()
    };
    let pages = repo::admin_list(&state.db, &filter, PageNumber::FIRST, MOST_PAGES).await?;
    render(
        StatusCode::OK,
        IndexPage {
            layout: Layout::new(&state.site(), "Pages", "", "/admin/pages")
                .noindex()
                .header(Some(header(&user, &session))),
            pages,
        },
    )
}
