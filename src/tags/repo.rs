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
