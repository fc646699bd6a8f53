//! Reader pages for tags.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::model::Tag;
use crate::{
    db::PageQuery,
    error::Error,
    extract::Visitor,
    posts::{self, model::PostSummary, pages::Listing},
    render::{Layout, page, page::Pager},
    slug::Slug,
    state::AppState,
};

#[derive(Template)]
#[template(path = "tags/show.html")]
struct ShowPage {
    layout: Layout,
    tag: Tag,
    posts: Vec<PostSummary>,
    pager: Pager,
}

/// `GET /tags/{slug}`: the tag's description and its published posts, newest first.
pub async fn show(
    state: web::Data<AppState>,
    visitor: Visitor,
    slug: web::Path<Slug>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let number = query.number();
    let (tag, rows) =
        posts::repo::list_published_by_tag(&state.db, &slug, number, state.site().per_page)
            .await?
            .ok_or(Error::NotFound)?;
    let path = format!("/tags/{}", tag.slug);
    let title = format!("Posts tagged “{}”", tag.name);
    let Listing {
        layout,
        posts,
        pager,
    } = Listing::new(&state.site(), &path, &title, &tag.description, rows, number)?;
    page(ShowPage {
        layout: layout.header(visitor.header),
        tag,
        posts,
        pager,
    })
}
