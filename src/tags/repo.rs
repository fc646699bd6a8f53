//! Every statement on `tags`.

use sqlx::{PgConnection, PgExecutor};

use super::model::{Tag, TagId};
use crate::slug::Slug;

pub async fn find_by_slug(db: impl PgExecutor<'_>, slug: &Slug) -> sqlx::Result<Option<Tag>> {
    sqlx::query_as("SELECT id, slug, name, description FROM tags WHERE slug = $1")
        .bind(slug.as_str())
        .fetch_optional(db)
        .await
}

/// The ids of tags named `names`, in order, creating the missing ones. Names that make no
/// slug (only punctuation) are skipped; names with the same slug are one tag.
pub async fn ensure(conn: &mut PgConnection, names: &[String]) -> sqlx::Result<Vec<TagId>> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim();
        let Some(slug) = Slug::from_title(name) else {
            continue;
        };
        // DO UPDATE (a no-op) rather than DO NOTHING, so RETURNING yields the existing row too.
        let id: TagId = sqlx::query_scalar(
            "INSERT INTO tags (slug, name) VALUES ($1, $2)
             ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug
             RETURNING id",
        )
        .bind(slug.as_str())
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

pub async fn set_description(
    db: impl PgExecutor<'_>,
    id: TagId,
    description: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE tags SET description = $2 WHERE id = $1 AND description <> $2")
        .bind(id)
        .bind(description)
        .execute(db)
        .await?;
    Ok(())
}

/// Slugs of tags with at least one published post, for the sitemap.
pub async fn published_tag_slugs(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT t.slug FROM tags t
          WHERE EXISTS (SELECT 1 FROM post_tags pt JOIN published_posts p ON p.id = pt.post_id
                         WHERE pt.tag_id = t.id)
          ORDER BY t.slug",
    )
    .fetch_all(db)
    .await
}

/// A tag with how many posts (of any status) carry it, for the admin.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagRow {
    pub id: TagId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub posts: i64,
}

pub async fn list_with_counts(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<TagRow>> {
    sqlx::query_as(
        "SELECT t.id, t.slug, t.name, t.description, count(pt.post_id) AS posts
           FROM tags t LEFT JOIN post_tags pt ON pt.tag_id = t.id
          GROUP BY t.id ORDER BY t.name",
    )
    .fetch_all(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: TagId) -> sqlx::Result<Option<Tag>> {
    sqlx::query_as("SELECT id, slug, name, description FROM tags WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Rename (name and slug) and describe a tag. A taken slug fails on `tags_slug_key`.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: TagId,
    name: &str,
    slug: &Slug,
    description: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE tags SET name = $2, slug = $3, description = $4 WHERE id = $1")
        .bind(id)
        .bind(name)
        .bind(slug.as_str())
        .bind(description)
        .execute(db)
        .await?;
    Ok(())
}

/// Move every post of `from` to `into`, then delete `from`. Triggers refresh the posts'
/// tag lists.
pub async fn merge(conn: &mut PgConnection, from: TagId, into: TagId) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO post_tags (post_id, tag_id, position)
         SELECT post_id, $2, position FROM post_tags WHERE tag_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(from)
    .bind(into)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM tags WHERE id = $1")
        .bind(from)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
