//! Every statement on `post_views`.

use sqlx::PgExecutor;
use time::Date;

use crate::{accounts::model::UserId, posts::model::PostId};

/// Add counted views (by day and post slug) in one statement. A slug that is no post now
/// (renamed or deleted since) is dropped.
pub async fn add(db: impl PgExecutor<'_>, counted: &[((Date, String), i64)]) -> sqlx::Result<()> {
    let days: Vec<Date> = counted.iter().map(|((d, _), _)| *d).collect();
    let slugs: Vec<&str> = counted.iter().map(|((_, s), _)| s.as_str()).collect();
    let views: Vec<i64> = counted.iter().map(|(_, n)| *n).collect();
    sqlx::query(
        "INSERT INTO post_views (post_id, day, views)
         SELECT p.id, v.day, sum(v.views)
           FROM unnest($1::date[], $2::text[], $3::bigint[]) AS v (day, slug, views)
           JOIN posts p ON p.slug = v.slug AND p.kind = 'post'
          GROUP BY p.id, v.day
         ON CONFLICT (post_id, day) DO UPDATE SET views = post_views.views + EXCLUDED.views",
    )
    .bind(days)
    .bind(slugs)
    .bind(views)
    .execute(db)
    .await?;
    Ok(())
}

/// Views per day over the `days` days up to today (UTC), oldest first, days without views
/// as 0: of `author`'s posts, or of all.
pub async fn daily(
    db: impl PgExecutor<'_>,
    author: Option<UserId>,
    days: i32,
) -> sqlx::Result<Vec<(Date, i64)>> {
    sqlx::query_as(
        "SELECT d.day::date, COALESCE(sum(v.views), 0)::bigint
           FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($2::int - 1),
                                (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d (day)
           LEFT JOIN post_views v ON v.day = d.day::date
                AND ($1::bigint IS NULL
                     OR v.post_id IN (SELECT id FROM posts WHERE author_id = $1))
          GROUP BY d.day ORDER BY d.day",
    )
    .bind(author)
    .bind(days)
    .fetch_all(db)
    .await
}

/// A post among the most read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TopPost {
    pub id: PostId,
    pub title: String,
    pub slug: String,
    pub views: i64,
}

/// The `limit` most read posts over the last `days` days (`author`'s, or all).
pub async fn top(
    db: impl PgExecutor<'_>,
    author: Option<UserId>,
    days: i32,
    limit: i64,
) -> sqlx::Result<Vec<TopPost>> {
    sqlx::query_as(
        "SELECT p.id, p.title, p.slug, sum(v.views)::bigint AS views
           FROM post_views v JOIN posts p ON p.id = v.post_id
          WHERE v.day > (now() AT TIME ZONE 'UTC')::date - $2::int
            AND p.deleted_at IS NULL
            AND ($1::bigint IS NULL OR p.author_id = $1)
          GROUP BY p.id ORDER BY views DESC, p.id DESC
          LIMIT $3",
    )
    .bind(author)
    .bind(days)
    .bind(limit)
    .fetch_all(db)
    .await
}
