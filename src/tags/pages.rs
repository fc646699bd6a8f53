//! Reader pages for tags: the tag index (`/tags`), each tag's page, and its accent.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{
    model::Tag,
    repo::{self, PublicTag, TagOrder},
};
use crate::{
    cache::{Key, Keys},
    db::{PageQuery, Reads},
    error::Error,
    extract::Visitor,
    posts::{self, model::PostSummary, pages::Listing},
    render::{Layout, page, page::Pager},
    slug::Slug,
    state::AppState,
};

#[derive(Template)]
#[template(path = "tags/index.html")]
struct IndexPage {
    layout: Layout,
    tags: Vec<PublicTag>,
    by_name: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct IndexQuery {
    /// `name` for A to Z; anything else (or nothing): most posts first.
    #[serde(default)]
    sort: String,
}

/// `GET /tags`: every tag with a published post, with how many, most used first (or A to Z
/// with `?sort=name`). Kept by the page cache like the other reader pages.
pub async fn index(
    state: web::Data<AppState>,
    reads: Reads,
    visitor: Visitor,
    query: web::Query<IndexQuery>,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    // Its counts change as posts come and go.
    keys.add(Key::Tags).add(Key::Posts);
    let by_name = query.sort == "name";
    let order = if by_name {
        TagOrder::Name
    } else {
        TagOrder::Count
    };
    let tags = repo::list_public(&reads, order).await?;
    let site = state.site();
    let description = format!(
        "Every topic on {}, with how many posts each has.",
        site.title
    );
    let mut layout = Layout::new(&site, "Tags", &description, "/tags");
    if by_name {
        // The same list in another order: one address for search engines.
        layout.noindex = true;
    }
    page(IndexPage {
        layout: layout.header(visitor.header),
        tags,
        by_name,
    })
}

#[derive(Template)]
#[template(path = "tags/show.html")]
struct ShowPage {
    layout: Layout,
    images: crate::media::images::Images,
    tag: Tag,
    posts: Vec<PostSummary>,
    pager: Pager,
}

impl ShowPage {
    /// The tag's accent stylesheet's address, one per colour (so a changed colour is a new
    /// address no browser has kept).
    fn accent_href(&self) -> String {
        format!(
            "/tags/{}/accent.css?v={}",
            self.tag.slug,
            self.tag.accent.trim_start_matches('#')
        )
    }
}

/// `GET /tags/{slug}`: the tag's description and its published posts, newest first. Its
/// meta title and description, and image, when it has them, are the page's.
pub async fn show(
    state: web::Data<AppState>,
    reads: Reads,
    visitor: Visitor,
    slug: web::Path<Slug>,
    query: web::Query<PageQuery>,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    let number = query.number();
    let (tag, rows) =
        posts::repo::list_published_by_tag(&reads, &slug, number, state.site().per_page)
            .await?
            .ok_or(Error::NotFound)?;
    keys.add(tag.id)
        .add(Key::Posts)
        .add_all(rows.iter().map(|p| p.id));
    let path = format!("/tags/{}", tag.slug);
    let title = match tag.meta_title.is_empty() {
        true => format!("Posts tagged “{}”", tag.name),
        false => tag.meta_title.clone(),
    };
    let description = match tag.meta_description.is_empty() {
        true => &tag.description,
        false => &tag.meta_description,
    };
    let listing = Listing::new(&state.site(), &path, &title, description, rows, number)?;
    let images = listing
        .images(&reads, &state, &[tag.image.as_str()])
        .await?;
    let Listing {
        mut layout,
        posts,
        pager,
    } = listing;
    if !tag.image.is_empty() {
        let (card, size) = images.social(&tag.image);
        layout.og_image = Some(layout.absolute(&card));
        layout.og_image_size = size;
    }
    page(ShowPage {
        layout: layout.header(visitor.header),
        images,
        tag,
        posts,
        pager,
    })
}

#[derive(Debug, Deserialize)]
pub struct AccentQuery {
    #[serde(default)]
    #[expect(dead_code, reason = "only makes each colour's address its own")]
    v: Option<String>,
}

/// `GET /tags/{slug}/accent.css`: the tag's accent colour over the site's, for its page (a
/// stylesheet: the Content-Security-Policy allows no inline style). Empty for a tag without
/// one.
pub async fn accent_css(
    reads: Reads,
    slug: web::Path<Slug>,
    _version: web::Query<AccentQuery>,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    let tag = repo::find_by_slug(&reads, &slug)
        .await?
        .ok_or(Error::NotFound)?;
    keys.add(tag.id);
    Ok(HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(crate::settings::admin::accent_css(&tag.accent)))
}
