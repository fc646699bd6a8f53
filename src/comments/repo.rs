//! Every statement on `comments`.

use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::{
    accounts::model::UserId,
    posts::model::PostId,
    render::{SafeHtml, page::human_date_time},
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Comment {
    pub id: i64,
    pub post_id: PostId,
    pub post_slug: String,
    pub post_author_id: UserId,
    pub author_id: UserId,
    pub author_name: String,
    pub author_username: String,
    pub body_markdown: String,
    pub body_html: SafeHtml,
    pub hidden: bool,
    pub created_at: OffsetDateTime,
    pub edited: bool,
}

impl Comment {
    pub fn when(&self) -> String {
        human_date_time(&self.created_at)
    }

    pub fn iso(&self) -> String {
        crate::render::page::iso_date(&self.created_at)
    }
}

const SELECT: &str = "SELECT c.id, c.post_id, p.slug AS post_slug, p.author_id AS post_author_id,
            c.author_id, u.display_name AS author_name, u.username AS author_username,
            c.body_markdown, c.body_html, c.hidden_at IS NOT NULL AS hidden, c.created_at,
            c.updated_at > c.created_at + interval '1 second' AS edited
       FROM comments c
       JOIN posts p ON p.id = c.post_id
       JOIN users u ON u.id = c.author_id";

pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Comment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE c.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    post: PostId,
    author: UserId,
    body_markdown: &str,
    body_html: &SafeHtml,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO comments (post_id, author_id, body_markdown, body_html)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(post)
    .bind(author)
    .bind(body_markdown)
    .bind(body_html)
    .fetch_one(db)
    .await
}

pub async fn update_body(
    db: impl PgExecutor<'_>,
    id: i64,
    body_markdown: &str,
    body_html: &SafeHtml,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET body_markdown = $2, body_html = $3 WHERE id = $1")
        .bind(id)
        .bind(body_markdown)
        .bind(body_html)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_hidden(db: impl PgExecutor<'_>, id: i64, hidden: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET hidden_at = CASE WHEN $2 THEN COALESCE(hidden_at, now()) END WHERE id = $1")
        .bind(id)
        .bind(hidden)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM comments WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// A comment as the JSON API shows it, with its author's profile as the viewer sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiComment {
    pub id: i64,
    pub body_markdown: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub author_username: String,
    pub author_bio: String,
    pub author_image: Option<String>,
    pub following: bool,
}

const API_SELECT: &str = "SELECT c.id, c.body_markdown, c.created_at, c.updated_at,
            u.username AS author_username, u.bio AS author_bio, u.avatar_url AS author_image,
            EXISTS (SELECT 1 FROM follows o WHERE o.follower_id = $2 AND o.followed_id = u.id)
                AS following
       FROM comments c JOIN users u ON u.id = c.author_id";

/// The comments readers see on `post` (not hidden, not by disabled accounts), oldest first.
pub async fn visible_on(
    db: impl PgExecutor<'_>,
    post: PostId,
    viewer: Option<UserId>,
) -> sqlx::Result<Vec<ApiComment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{API_SELECT}
          WHERE c.post_id = $1 AND c.hidden_at IS NULL AND u.disabled_at IS NULL
          ORDER BY c.created_at, c.id"
    )))
    .bind(post)
    .bind(viewer)
    .fetch_all(db)
    .await
}

/// One comment in the API's shape.
pub async fn api_comment(
    db: impl PgExecutor<'_>,
    id: i64,
    viewer: Option<UserId>,
) -> sqlx::Result<Option<ApiComment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{API_SELECT} WHERE c.id = $1")))
        .bind(id)
        .bind(viewer)
        .fetch_optional(db)
        .await
}
