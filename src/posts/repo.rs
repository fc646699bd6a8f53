//! Every statement on `posts` and `post_tags`. Readers' queries read `published_posts`, the
//! view that holds the visibility rule, so none of them can forget it.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

use super::model::{NewPost, Post, PostId, PostSummary};
use crate::{
    accounts::model::UserId,
    db::{Page, PageNumber},
    render::SafeHtml,
    tags::model::TagId,
};

/// The columns of a `PostSummary`, with the author joined. Tags come from `tag_list`, the
/// copy of post_tags that triggers keep, so lists need no join per row.
macro_rules! summary_select {
    () => {
        "SELECT p.id, p.slug, p.title, p.excerpt, p.reading_minutes, p.cover_image,
                p.published_at, u.username AS author_username, u.display_name AS author_name,
                p.tag_list AS tags"
    };
}

/// The SQL of each reader list, public so the index test can `EXPLAIN` exactly these.
pub mod sql {
    pub const HOME: &str = concat!(
        summary_select!(),
        " FROM published_posts p JOIN users u ON u.id = p.author_id
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1 OFFSET $2"
    );
    /// Ordered by post_tags' copy of published_at, which its index serves directly.
    pub const BY_TAG: &str = concat!(
        summary_select!(),
        " FROM post_tags x
          JOIN published_posts p ON p.id = x.post_id
          JOIN users u ON u.id = p.author_id
         WHERE x.tag_id = $3
         ORDER BY x.published_at DESC NULLS LAST, x.post_id DESC
         LIMIT $1 OFFSET $2"
    );
    pub const BY_AUTHOR: &str = concat!(
        summary_select!(),
        " FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.author_id = $3
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1 OFFSET $2"
    );
    pub const SHOW: &str = concat!(
        summary_select!(),
        ", p.body_html, p.updated_at, u.bio AS author_bio
          FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.slug = $1"
    );
    pub const FEED: &str = concat!(
        summary_select!(),
        ", p.body_html, p.updated_at, u.bio AS author_bio
          FROM published_posts p JOIN users u ON u.id = p.author_id
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1"
    );
}

/// The newest published posts, one page (plus one row, see `Page::from_overfetch`).
pub async fn list_published(
    db: impl PgExecutor<'_>,
    page: PageNumber,
    per_page: u32,
) -> sqlx::Result<Vec<PostSummary>> {
    sqlx::query_as(sql::HOME)
        .bind(Page::<()>::limit(per_page))
        .bind(page.offset(per_page))
        .fetch_all(db)
        .await
}

pub async fn list_published_by_tag(
    db: impl PgExecutor<'_>,
    tag: TagId,
    page: PageNumber,
    per_page: u32,
) -> sqlx::Result<Vec<PostSummary>> {
    sqlx::query_as(sql::BY_TAG)
        .bind(Page::<()>::limit(per_page))
        .bind(page.offset(per_page))
        .bind(tag)
        .fetch_all(db)
        .await
}

pub async fn list_published_by_author(
    db: impl PgExecutor<'_>,
    author: UserId,
    page: PageNumber,
    per_page: u32,
) -> sqlx::Result<Vec<PostSummary>> {
    sqlx::query_as(sql::BY_AUTHOR)
        .bind(Page::<()>::limit(per_page))
        .bind(page.offset(per_page))
        .bind(author)
        .fetch_all(db)
        .await
}

/// The post at `slug` if readers may see it; `None` for drafts, future posts and unknown slugs.
pub async fn find_published(db: impl PgExecutor<'_>, slug: &str) -> sqlx::Result<Option<Post>> {
    sqlx::query_as(sql::SHOW)
        .bind(slug)
        .fetch_optional(db)
        .await
}

/// The newest `limit` published posts with their bodies, for the Atom feed.
pub async fn feed(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<Post>> {
    sqlx::query_as(sql::FEED).bind(limit).fetch_all(db).await
}

/// Sitemap entries: slug and last change of published posts, newest first.
pub async fn sitemap(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<(String, OffsetDateTime)>> {
    sqlx::query_as(
        "SELECT slug, updated_at FROM published_posts
          ORDER BY published_at DESC, id DESC
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Insert a post whose Markdown is already rendered. `ON CONFLICT DO NOTHING` on the slug:
/// `None` means the slug is taken.
pub async fn insert(
    db: impl PgExecutor<'_>,
    post: &NewPost,
    excerpt: &str,
    body_html: &SafeHtml,
    reading_minutes: i32,
) -> sqlx::Result<Option<PostId>> {
    sqlx::query_scalar(
        "INSERT INTO posts (author_id, title, slug, excerpt, body_markdown, body_html,
                            reading_minutes, cover_image, status, published_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (slug) DO NOTHING
         RETURNING id",
    )
    .bind(post.author_id)
    .bind(&post.title)
    .bind(post.slug.as_str())
    .bind(excerpt)
    .bind(&post.body_markdown)
    .bind(body_html)
    .bind(reading_minutes)
    .bind(&post.cover_image)
    .bind(post.status)
    .bind(post.published_at)
    .fetch_optional(db)
    .await
}

/// Replace a post's tags with `tags`, keeping their order.
pub async fn set_tags(conn: &mut PgConnection, post: PostId, tags: &[TagId]) -> sqlx::Result<()> {
    let positions: Vec<i16> = (0..tags.len())
        .map(|i| i16::try_from(i).unwrap_or(i16::MAX))
        .collect();
    sqlx::query("DELETE FROM post_tags WHERE post_id = $1")
        .bind(post)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO post_tags (post_id, tag_id, position)
         SELECT $1, tag_id, position FROM UNNEST($2::bigint[], $3::smallint[]) AS t(tag_id, position)
         ON CONFLICT DO NOTHING",
    )
    .bind(post)
    .bind(tags)
    .bind(&positions)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How many posts exist at all (drafts included): seeding checks this.
pub async fn count_all(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(db)
        .await
}
