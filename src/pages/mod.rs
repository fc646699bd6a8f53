//! Pages (About, Contact, Colophon): posts of another kind, written in the same editor
//! with revisions and autosave, served at `/{slug}`, never listed with posts. The menus
//! that link them are `settings::navigation`.

pub mod admin;

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::{
    error::Error,
    extract::Visitor,
    posts::{model::PageView, repo},
    render::{Layout, page},
    slug::Slug,
    state::AppState,
};

/// First path segments the app uses, or will: a page can't take them. Kept in one place;
/// a test checks every route of the authorization table against it.
pub const RESERVED: &[&str] = &[
    "account",
    "admin",
    "api",
    "articles",
    "assets",
    "auth",
    "author",
    "authors",
    "comments",
    "confirm",
    "docs",
    "feed",
    "feeds",
    "following",
    "healthz",
    "login",
    "logout",
    "media",
    "metrics",
    "newsletter",
    "oauth",
    "page",
    "pages",
    "password",
    "post",
    "posts",
    "preview",
    "profiles",
    "readyz",
    "register",
    "reset",
    "rss",
    "search",
    "setup",
    "signin",
    "signup",
    "sitemap",
    "static",
    "subscribe",
    "tag",
    "tags",
    "unsubscribe",
    "uploads",
    "user",
    "users",
    "verify",
    "webhooks",
    "ws",
];

/// `slug` if a page may have it: not one of the app's own addresses.
pub fn free_slug(slug: Slug) -> Result<Slug, String> {
    match RESERVED.contains(&slug.as_str()) {
        true => Err(format!(
            "/{} is one of the site's own addresses; choose another slug",
            slug.as_str()
        )),
        false => Ok(slug),
    }
}

#[derive(Template)]
#[template(path = "pages/show.html")]
struct ShowPage {
    layout: Layout,
    images: crate::media::images::Images,
    page: PageView,
}

/// `GET /{slug}`: a published page.
pub async fn show(
    state: web::Data<AppState>,
    reads: crate::db::Reads,
    visitor: Visitor,
    slug: web::Path<String>,
    keys: crate::cache::Keys,
) -> Result<HttpResponse, Error> {
    let slug = Slug::parse(&slug).map_err(|_| Error::NotFound)?;
    let found = repo::find_page(&reads, slug.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    keys.add(found.id).add(found.author_id);
    let path = format!("/{}", found.slug);
    let layout =
        Layout::new(&state.site(), &found.title, &found.excerpt, &path).header(visitor.header);
    let images = crate::media::images::Images::load(
        &reads,
        &state.settings.uploads,
        crate::media::images::sources(found.body_html.as_str())
            .chain(found.cover_image.as_deref())
            .chain(found.meta.0.social_image.as_deref()),
    )
    .await?;
    let layout = found
        .meta
        .0
        .apply(layout, found.cover_image.as_deref(), &images);
    page::page(ShowPage {
        layout,
        images,
        page: found,
    })
}
