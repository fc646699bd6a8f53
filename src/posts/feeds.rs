//! Machine-read views of the published posts: the Atom feeds (the site's, each tag's, each
//! author's, one renderer) and the stylesheet browsers show them with, the sitemap, robots.txt.

use actix_web::{
    HttpResponse,
    http::header::{CacheControl, CacheDirective, ContentType},
    web,
};
use askama::Template;
use time::OffsetDateTime;

use super::{
    model::Post,
    repo::{self, FeedOf},
};
use crate::{
    accounts::{self, model::Username},
    cache::{Key, Keys},
    db::Reads,
    error::Error,
    render::{page::iso_date, text::strip_xml_forbidden},
    site::Site,
    slug::Slug,
    state::AppState,
    tags,
};

/// Entries in the feed, newest first.
const FEED_ENTRIES: i64 = 20;
/// What feeds are served as (see `render_feed`).
pub const FEED_TYPE: &str = "application/xml; charset=utf-8";
/// The sitemap protocol's limit per file.
const SITEMAP_URLS: i64 = 50_000;

#[derive(Template)]
#[template(path = "posts/feed.xml")]
struct Feed<'a> {
    site: &'a Site,
    /// The feed's own title and subtitle (the site's, or a tag's or an author's).
    title: String,
    subtitle: String,
    /// The page the feed follows (`/`, `/tags/rust`) and the feed's own path.
    page_path: String,
    self_path: String,
    updated: String,
    posts: Vec<Post>,
}

/// One feed, whichever posts it carries: Atom 1.0 (RFC 4287), the newest 20 of them with
/// full content, styled for browsers by `/feed.xsl`.
async fn render_feed(
    state: &AppState,
    reads: &Reads,
    keys: &Keys,
    of: FeedOf,
    title: String,
    subtitle: String,
    page_path: String,
) -> Result<HttpResponse, Error> {
    let posts = repo::feed(reads, of, FEED_ENTRIES).await?;
    keys.add(Key::Posts)
        .add_all(posts.iter().map(|p| p.summary.id));
    // The feed changed when its newest entry did; an empty feed is as new as the request.
    let updated = posts
        .iter()
        .map(|p| p.updated_at.max(p.summary.published_at))
        .max()
        .unwrap_or_else(OffsetDateTime::now_utc);
    let self_path = match page_path.as_str() {
        "/" => "/feed.xml".to_owned(),
        path => format!("{path}/feed.xml"),
    };
    let body = Feed {
        site: &state.site(),
        title,
        subtitle,
        page_path,
        self_path,
        updated: iso_date(&updated),
        posts,
    }
    .render()?;
    // Posts saved before forms dropped them may still hold characters XML forbids; one of
    // them would make the whole feed unreadable for every subscriber.
    let body = strip_xml_forbidden(&body).into_owned();
    // `application/xml`, not Atom's own type: browsers show an `application/atom+xml`
    // response as plain text and never apply its stylesheet, and feed readers read the
    // document, not the type (the pages' `<link rel="alternate">` still says Atom).
    Ok(xml(FEED_TYPE, body))
}

/// `GET /feed.xml`: the site's newest posts.
pub async fn feed(
    state: web::Data<AppState>,
    reads: Reads,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    let site = state.site();
    render_feed(
        &state,
        &reads,
        &keys,
        FeedOf::Site,
        site.title.clone(),
        site.description.clone(),
        "/".to_owned(),
    )
    .await
}

/// `GET /tags/{slug}/feed.xml`: the tag's newest posts (404 for a tag that doesn't exist;
/// an existing tag with nothing published yet has an empty feed, as its page is empty).
pub async fn tag_feed(
    state: web::Data<AppState>,
    reads: Reads,
    slug: web::Path<Slug>,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    let tag = tags::repo::find_by_slug(&reads, &slug)
        .await?
        .ok_or(Error::NotFound)?;
    keys.add(tag.id);
    let title = format!("{} · {}", tag.name, state.site().title);
    let path = format!("/tags/{}", tag.slug);
    let of = FeedOf::Tag(tag.id);
    render_feed(&state, &reads, &keys, of, title, tag.description, path).await
}

/// `GET /authors/{username}/feed.xml`: the author's newest posts (404 as their page is).
pub async fn author_feed(
    state: web::Data<AppState>,
    reads: Reads,
    username: web::Path<Username>,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    let author = accounts::repo::find_author(&reads, &username)
        .await?
        .ok_or(Error::NotFound)?;
    keys.add(author.id);
    let title = format!("{} · {}", author.display_name, state.site().title);
    let path = format!("/authors/{}", author.username);
    let of = FeedOf::Author(author.id);
    render_feed(&state, &reads, &keys, of, title, author.bio, path).await
}

#[derive(Template)]
#[template(path = "posts/feed.xsl", escape = "html")]
struct FeedStyle<'a> {
    site: &'a Site,
}

/// `GET /feed.xsl`: what a browser shows for a feed (each feed names it in an
/// `<?xml-stylesheet?>`): a page in the site's style that says what a feed is and lists
/// its entries. No script and no inline style: the page is under the feed's
/// Content-Security-Policy. Feed readers ignore it.
pub async fn feed_style(state: web::Data<AppState>, keys: Keys) -> Result<HttpResponse, Error> {
    // The site's name and style, nothing else.
    keys.add(Key::Site);
    let body = FeedStyle {
        site: &state.site(),
    }
    .render()?;
    Ok(xml("text/xsl; charset=utf-8", body))
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
/// At the edge it goes with the lists (a post coming, going or moving, a tag), not with
/// each post: an edit's new `lastmod` shows once the edge's copy expires.
pub async fn sitemap(
    state: web::Data<AppState>,
    reads: Reads,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    keys.add(Key::Posts).add(Key::Tags);
    let tags = tags::repo::published_tag_slugs(&reads).await?;
    let authors = accounts::repo::published_author_usernames(&reads).await?;
    let room = SITEMAP_URLS - 1 - i64::try_from(tags.len() + authors.len()).unwrap_or(0);
    let posts = repo::sitemap(&reads, room.max(0))
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
