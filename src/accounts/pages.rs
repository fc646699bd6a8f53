//! Reader-facing pages about people.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{model::Author, model::Username, repo};
use crate::{
    accounts::session::AuthSession,
    db::PageQuery,
    error::Error,
    extract::Viewer,
    posts::{self, model::PostSummary, pages::Listing},
    render::{Layout, page, page::Pager},
    state::AppState,
};

#[derive(Template)]
#[template(path = "accounts/author.html")]
struct AuthorPage {
    layout: Layout,
    author: Author,
    posts: Vec<PostSummary>,
    pager: Pager,
}

/// `GET /authors/{username}`: an author's bio and their published posts, newest first.
pub async fn author(
    state: web::Data<AppState>,
    viewer: Viewer,
    session: AuthSession,
    username: web::Path<Username>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let author = repo::find_author(&state.db, &username)
        .await?
        .ok_or(Error::NotFound)?;
    let number = query.number();
    let rows =
        posts::repo::list_published_by_author(&state.db, author.id, number, state.site.per_page)
            .await?;
    let path = format!("/authors/{}", author.username);
    let title = format!("Posts by {}", author.display_name);
    let Listing {
        layout,
        posts,
        pager,
    } = Listing::new(&state.site, &path, &title, &author.bio, rows, number)?;
    page(AuthorPage {
        layout: layout.viewer(viewer, &session),
        posts,
        pager,
        author,
    })
}
