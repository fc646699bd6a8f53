//! Posts: the reader pages, the feeds, and the use-cases that write posts.

pub mod feeds;
pub mod model;
pub mod pages;
pub mod repo;

use actix_web::web;
use anyhow::Context;
use sqlx::PgPool;

use crate::{app::read, render::markdown, tags};
use model::{NewPost, PostId};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", read().to(pages::index))
        .route("/posts/{slug}", read().to(pages::show))
        .route("/feed.xml", read().to(feeds::feed))
        .route("/sitemap.xml", read().to(feeds::sitemap))
        .route("/robots.txt", read().to(feeds::robots));
}

/// Longest excerpt we derive from a body, in characters.
const EXCERPT_CHARS: usize = 220;

/// Create a post with its tags in one transaction. The Markdown is rendered and sanitized
/// here, once: reading a post does no Markdown work. `Ok(None)`: the slug is taken.
pub async fn create(db: &PgPool, post: &NewPost) -> anyhow::Result<Option<PostId>> {
    let body_html = markdown::render(&post.body_markdown);
    let reading_minutes = markdown::reading_minutes(&post.body_markdown);
    let excerpt = if post.excerpt.trim().is_empty() {
        markdown::excerpt(&post.body_markdown, EXCERPT_CHARS)
    } else {
        markdown::truncate_words(post.excerpt.trim(), 500)
    };
    let mut tx = db.begin().await?;
    let Some(id) = repo::insert(&mut *tx, post, &excerpt, &body_html, reading_minutes).await?
    else {
        return Ok(None);
    };
    let tag_ids = tags::repo::ensure(&mut tx, &post.tags).await?;
    repo::set_tags(&mut tx, id, &tag_ids).await?;
    tx.commit().await.context("committing a new post")?;
    Ok(Some(id))
}
