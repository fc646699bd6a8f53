//! Posts: the reader pages, the feeds, and the use-cases that write posts.

pub mod admin;
pub mod feeds;
pub mod model;
pub mod pages;
pub mod repo;

use actix_web::web;
use anyhow::Context;
use sqlx::PgPool;

use crate::{
    accounts::model::UserId,
    app::{read, resource},
    render::{SafeHtml, markdown},
    slug::Slug,
    tags,
};
use model::{PostForEdit, PostId, PostInput, PostStatus};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/").route(read().to(pages::index)))
        .service(resource("/posts/{slug}").route(read().to(pages::show)))
        .service(resource("/feed.xml").route(read().to(feeds::feed)))
        .service(resource("/sitemap.xml").route(read().to(feeds::sitemap)))
        .service(resource("/robots.txt").route(read().to(feeds::robots)));
    admin::routes(cfg);
}

/// Longest excerpt we derive from a body, in characters.
const EXCERPT_CHARS: usize = 220;

/// What a body becomes when saved: the excerpt (given or derived), the sanitized HTML and
/// the reading time. Done here, once: reading a post does no Markdown work.
fn prepare(body_markdown: &str, excerpt: &str) -> (String, SafeHtml, i32) {
    let excerpt = if excerpt.trim().is_empty() {
        markdown::excerpt(body_markdown, EXCERPT_CHARS)
    } else {
        markdown::truncate_words(excerpt.trim(), 500)
    };
    (
        excerpt,
        markdown::render(body_markdown),
        markdown::reading_minutes(body_markdown),
    )
}

/// `prepare` on the blocking pool: a 1 MiB body takes a while to render, and the async
/// workers must stay free for readers.
async fn prepare_off_thread(
    body_markdown: &str,
    excerpt: &str,
) -> anyhow::Result<(String, SafeHtml, i32)> {
    let (body, excerpt) = (body_markdown.to_owned(), excerpt.to_owned());
    tokio::task::spawn_blocking(move || prepare(&body, &excerpt))
        .await
        .context("rendering a post")
}

/// Create a post by `author` with its tags and first revision, in one transaction.
/// `published_at` is the moment it goes (went) public; `None` for drafts. `Ok(None)`: the
/// slug is taken.
pub async fn create(
    db: &PgPool,
    author: UserId,
    post: &PostInput,
    published_at: Option<time::OffsetDateTime>,
) -> anyhow::Result<Option<PostId>> {
    let (excerpt, body_html, reading_minutes) =
        prepare_off_thread(&post.body_markdown, &post.excerpt).await?;
    let mut tx = db.begin().await?;
    let Some(id) = repo::insert(
        &mut *tx,
        author,
        post,
        published_at,
        &excerpt,
        &body_html,
        reading_minutes,
    )
    .await?
    else {
        return Ok(None);
    };
    let tag_ids = tags::repo::ensure(&mut tx, &post.tags).await?;
    repo::set_tags(&mut tx, id, &tag_ids).await?;
    repo::insert_revision(
        &mut tx,
        id,
        author,
        1,
        &post.title,
        &excerpt,
        &post.body_markdown,
    )
    .await?;
    tx.commit().await.context("committing a new post")?;
    Ok(Some(id))
}

/// A new post from the editor, by `author`.
pub async fn create_from_input(
    db: &PgPool,
    author: UserId,
    input: &PostInput,
) -> anyhow::Result<Option<PostId>> {
    let published_at = match input.status {
        PostStatus::Draft => None,
        PostStatus::Published => Some(time::OffsetDateTime::now_utc()),
        PostStatus::Scheduled => input.publish_at,
    };
    create(db, author, input, published_at).await
}

/// Why an edit was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the slug is taken")]
    SlugTaken,
    /// Someone saved since this edit began: here is the post as it is now.
    #[error("the post changed since you opened it")]
    Conflict(Box<PostForEdit>),
    #[error("the post is gone")]
    Gone,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("posts_slug_key") => {
                SaveError::SlugTaken
            }
            _ => SaveError::Other(e.into()),
        }
    }
}

/// Save an edit made to `expected` version: post, tags and a revision in one transaction.
/// A stale version is refused (nothing is overwritten) with the post as it is now.
pub async fn update(
    db: &PgPool,
    editor: UserId,
    id: PostId,
    expected: i32,
    input: &PostInput,
) -> Result<i32, SaveError> {
    let (excerpt, body_html, reading_minutes) =
        prepare_off_thread(&input.body_markdown, &input.excerpt).await?;
    let mut tx = db.begin().await.map_err(anyhow::Error::from)?;
    let saved = repo::update(
        &mut tx,
        id,
        expected,
        input,
        &excerpt,
        &body_html,
        reading_minutes,
    )
    .await?;
    let Some(version) = saved else {
        drop(tx);
        return match repo::find_for_edit(db, id).await? {
            Some(current) if current.deleted_at.is_none() => {
                Err(SaveError::Conflict(Box::new(current)))
            }
            _ => Err(SaveError::Gone),
        };
    };
    let tag_ids = tags::repo::ensure(&mut tx, &input.tags).await?;
    repo::set_tags(&mut tx, id, &tag_ids).await?;
    repo::insert_revision(
        &mut tx,
        id,
        editor,
        version,
        &input.title,
        &excerpt,
        &input.body_markdown,
    )
    .await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    Ok(version)
}

/// A slug for a new post: the one asked for, or one made from the title.
pub fn slug_for(title: &str, asked: &str) -> Result<Slug, String> {
    if asked.trim().is_empty() {
        Slug::from_title(title).ok_or_else(|| "give the post a title with letters or digits".into())
    } else {
        Slug::parse(asked.trim())
    }
}
