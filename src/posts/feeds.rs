//! Machine-read views of the published posts: the Atom feed, the sitemap, robots.txt.

use actix_web::{
    HttpResponse,
    http::header::{CacheControl, CacheDirective, ContentType},
    web,
};
use askama::Template;
use time::OffsetDateTime;

use super::{model::Post, repo};
use crate::{
    accounts,
    error::Error,
    render::{page::iso_date, text::strip_xml_forbidden},
    site::Site,
    state::AppState,
    tags,
};

/// Entries in the feed, newest first.
const FEED_ENTRIES: i64 = 20;
/// The sitemap protocol's limit per file.
const SITEMAP_URLS: i64 = 50_000;

#[derive(Template)]
#[template(path = "posts/feed.xml")]
struct Feed<'a> {
    site: &'a Site,
    updated: String,
    posts: Vec<Post>,
}

/// `GET /feed.xml`: Atom 1.0 (RFC 4287), the newest 20 published posts with full content.
pub async fn feed(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let posts = repo::feed(&state.db, FEED_ENTRIES).await?;
    // The feed changed when its newest entry did; an empty feed is as new as the request.
    let updated = posts
        .iter()
        .map(|p| p.updated_at.max(p.summary.published_at))
        .max()
        .unwrap_or_else(OffsetDateTime::now_utc);
    let body = Feed {
        site: &state.site(),
        updated: iso_date(&updated),
        posts,
    }
    .render()?;
    // Posts saved before forms dropped them may still hold characters XML forbids; one of
    // them would make the whole feed unreadable for every subscriber.
    let body = strip_xml_forbidden(&body).into_owned();
    Ok(xml("application/atom+xml; charset=utf-8", body))
}

#[derive(Template)]
#[template(path = "posts/sitemap.xml")]
struct Sitemap<'a> {
    base: &'a str,
    posts: Vec<(String, String)>,
    tags: Vec<String>,
    authors: Vec<String>,
}

/// `GET /sitemap.xml`: the home page, every published page and post, and the tag and author pages
/// that list at least one of them. Capped at the protocol's 50,000 URLs, newest posts first.
pub async fn sitemap(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let tags = tags::repo::published_tag_slugs(&state.db).await?;
    let authors = accounts::repo::published_author_usernames(&state.db).await?;
    let room = SITEMAP_URLS - 1 - i64::try_from(tags.len() + authors.len()).unwrap_or(0);
    let posts = repo::sitemap(&state.db, room.max(0))
        .await?
        .into_iter()
        .map(|(slug, updated)| (slug, iso_date(&updated)))
        .collect();
    let body = Sitemap {
        base: &state.site().base,
        posts,
        tags,
        authors,
    }
    .render()?;
    Ok(xml("application/xml; charset=utf-8", body))
}

/// `GET /robots.txt`: crawl everything public; point at the sitemap.
pub async fn robots(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .body(format!(
            "User-agent: *\nDisallow: /admin\nDisallow: /api/\nDisallow: /auth/\n\nSitemap: {}/sitemap.xml\n",
            state.site().base
        ))
}

fn xml(content_type: &'static str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(300),
        ]))
        .body(body)
}
