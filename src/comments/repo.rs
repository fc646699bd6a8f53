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
