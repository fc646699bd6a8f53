//! Every statement on `tags`.

use sqlx::{PgConnection, PgExecutor};

use super::model::{Tag, TagId, TagInput};
use crate::slug::Slug;

/// A tag's columns, as `Tag` reads them.
const TAG_COLUMNS: &str =
    "id, slug, name, description, meta_title, meta_description, image, accent";

pub async fn find_by_slug(db: impl PgExecutor<'_>, slug: &Slug) -> sqlx::Result<Option<Tag>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TAG_COLUMNS} FROM tags WHERE slug = $1"
    )))
    .bind(slug.as_str())
    .fetch_optional(db)
    .await
}

/// The ids of tags named `names`, in order, creating the missing ones. Names that make no
/// slug (only punctuation) are skipped; names with the same slug are one tag.
///
/// An existing tag is only read, never updated: a no-op `DO UPDATE` would still write a new
/// row version, take the row lock and fire the rename trigger (issue 9, section 7). One
/// statement for all names: `DO NOTHING` inserts the missing tags and the union reads the
/// existing ones.
pub async fn ensure(conn: &mut PgConnection, names: &[String]) -> sqlx::Result<Vec<TagId>> {
    let mut slugs: Vec<String> = Vec::with_capacity(names.len());
    let mut kept: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim();
        let Some(slug) = Slug::from_title(name) else {
            continue;
        };
        if !slugs.iter().any(|s| s == slug.as_str()) {
            slugs.push(slug.as_str().to_owned());
            kept.push(name.to_owned());
        }
    }
    if slugs.is_empty() {
        return Ok(Vec::new());
    }
    // A tag another transaction inserted after this statement's snapshot was taken is
    // neither inserted nor seen (its id comes back NULL); the next statement sees it.
    for _ in 0..3 {
        let ids: Vec<Option<TagId>> = sqlx::query_scalar(
            "WITH input AS (
                 SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS i(slug, name, ord)
             ),
             created AS (
                 INSERT INTO tags (slug, name) SELECT slug, name FROM input ORDER BY ord
                 ON CONFLICT (slug) DO NOTHING
                 RETURNING id, slug
             )
             SELECT COALESCE(c.id, t.id)
               FROM input i
               LEFT JOIN created c ON c.slug = i.slug
               LEFT JOIN tags t ON t.slug = i.slug
              ORDER BY i.ord",
        )
        .bind(&slugs)
        .bind(&kept)
        .fetch_all(&mut *conn)
        .await?;
        if let Some(ids) = ids.into_iter().collect::<Option<Vec<TagId>>>() {
            return Ok(ids);
        }
    }
    Err(sqlx::Error::Protocol(
        "a tag kept appearing and disappearing while it was being ensured".into(),
    ))
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
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TAG_COLUMNS} FROM tags WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Create a tag; `Ok(None)` when another tag has its slug.
pub async fn create(db: impl PgExecutor<'_>, tag: &TagInput) -> sqlx::Result<Option<TagId>> {
    let created = sqlx::query_scalar(
        "INSERT INTO tags (name, slug, description, meta_title, meta_description, image, accent)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (slug) DO NOTHING
         RETURNING id",
    )
    .bind(&tag.name)
    .bind(tag.slug.as_str())
    .bind(&tag.description)
    .bind(&tag.meta_title)
    .bind(&tag.meta_description)
    .bind(&tag.image)
    .bind(&tag.accent)
    .fetch_optional(db)
    .await?;
    Ok(created)
}

/// Write every field of a tag (a rename queues its posts' refresh, and a new slug leaves a
/// redirect, both by triggers). A taken slug fails on `tags_slug_key`.
pub async fn update(db: impl PgExecutor<'_>, id: TagId, tag: &TagInput) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tags SET name = $2, slug = $3, description = $4, meta_title = $5,
                         meta_description = $6, image = $7, accent = $8
          WHERE id = $1",
    )
    .bind(id)
    .bind(&tag.name)
    .bind(tag.slug.as_str())
    .bind(&tag.description)
    .bind(&tag.meta_title)
    .bind(&tag.meta_description)
    .bind(&tag.image)
    .bind(&tag.accent)
    .execute(db)
    .await?;
    Ok(())
}

/// A tag on the public index: those with at least one published post, and how many.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublicTag {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub accent: String,
    pub posts: i64,
}

/// How the public index is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOrder {
    /// Most posts first (then by name).
    Count,
    Name,
}

/// Every tag with a published post, with its count (`/tags`). Counted along the tag's own
/// index of published posts, as the tag page reads it.
pub async fn list_public(db: impl PgExecutor<'_>, order: TagOrder) -> sqlx::Result<Vec<PublicTag>> {
    let sql = match order {
        TagOrder::Count => "SELECT * FROM public_tags ORDER BY posts DESC, lower(name), slug",
        TagOrder::Name => "SELECT * FROM public_tags ORDER BY lower(name), slug",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH public_tags AS (
             SELECT t.slug, t.name, t.description, t.accent, count(*) AS posts
               FROM tags t
               JOIN post_tags x ON x.tag_id = t.id
               JOIN published_posts p ON p.id = x.post_id
              GROUP BY t.id)
         {sql}"
    )))
    .fetch_all(db)
    .await
}

/// Other tags a tag may be merged into, by name: not `except`, and not one going away
/// itself (merged or deleted).
pub async fn merge_targets(db: impl PgExecutor<'_>, except: TagId) -> sqlx::Result<Vec<TagRow>> {
    sqlx::query_as(
        "SELECT t.id, t.slug, t.name, t.description,
                (SELECT count(*) FROM post_tags x WHERE x.tag_id = t.id) AS posts
           FROM tags t
          WHERE t.id <> $1
            AND NOT EXISTS (SELECT 1 FROM tag_jobs j
                             WHERE j.tag_id = t.id AND (j.merge_into IS NOT NULL OR j.deleting))
          ORDER BY lower(t.name), t.slug",
    )
    .bind(except)
    .fetch_all(db)
    .await
}

/// How many posts (of any status) carry `tag`.
pub async fn post_count(db: impl PgExecutor<'_>, tag: TagId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM post_tags WHERE tag_id = $1")
        .bind(tag)
        .fetch_one(db)
        .await
}

// ---- jobs: work on a tag's posts too big for one request (see `tags::jobs`) ----

/// A queued job on the posts of `tag_id`: a refresh of their tag lists after a rename, or,
/// with `merge_into`, moving them to that tag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagJob {
    pub tag_id: TagId,
    pub merge_into: Option<TagId>,
    /// Taking the tag off its posts, then deleting it.
    pub deleting: bool,
    pub done_through: i64,
}

/// A job as the admin sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub name: String,
    pub into_name: Option<String>,
    pub deleting: bool,
    pub total: i32,
    pub done: i32,
}

/// Queue moving every post of `from` to `into` (and then deleting `from`).
pub async fn queue_merge(db: impl PgExecutor<'_>, from: TagId, into: TagId) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tag_jobs (tag_id, merge_into, total)
         VALUES ($1, $2, (SELECT count(*) FROM post_tags WHERE tag_id = $1))
         ON CONFLICT (tag_id) DO UPDATE
            SET merge_into = EXCLUDED.merge_into, deleting = false, total = EXCLUDED.total,
                done = 0, done_through = 0",
    )
    .bind(from)
    .bind(into)
    .execute(db)
    .await?;
    Ok(())
}

/// Queue taking `tag` off every post that carries it (and then deleting it).
pub async fn queue_delete(db: impl PgExecutor<'_>, tag: TagId) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tag_jobs (tag_id, deleting, total)
         VALUES ($1, true, (SELECT count(*) FROM post_tags WHERE tag_id = $1))
         ON CONFLICT (tag_id) DO UPDATE
            SET merge_into = NULL, deleting = true, total = EXCLUDED.total, done = 0,
                done_through = 0",
    )
    .bind(tag)
    .execute(db)
    .await?;
    Ok(())
}

/// The job on `tag`, without locking it.
pub async fn job(db: impl PgExecutor<'_>, tag: TagId) -> sqlx::Result<Option<TagJob>> {
    sqlx::query_as(
        "SELECT tag_id, merge_into, deleting, done_through FROM tag_jobs WHERE tag_id = $1",
    )
    .bind(tag)
    .fetch_optional(db)
    .await
}

/// The job on `tag`, locked until the transaction ends: batches of one job run one at a time.
pub async fn lock_job(conn: &mut PgConnection, tag: TagId) -> sqlx::Result<Option<TagJob>> {
    sqlx::query_as(
        "SELECT tag_id, merge_into, deleting, done_through FROM tag_jobs WHERE tag_id = $1
            FOR UPDATE",
    )
    .bind(tag)
    .fetch_optional(&mut *conn)
    .await
}

/// Lock the tag's row. `exclusive` also keeps posts from gaining the tag until commit (adding
/// a post_tags row takes a key-share lock on it); otherwise only renames wait.
pub async fn lock(conn: &mut PgConnection, tag: TagId, exclusive: bool) -> sqlx::Result<()> {
    sqlx::query(if exclusive {
        "SELECT 1 FROM tags WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT 1 FROM tags WHERE id = $1 FOR NO KEY UPDATE"
    })
    .bind(tag)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The oldest queued job's tag.
pub async fn next_job(db: impl PgExecutor<'_>) -> sqlx::Result<Option<TagId>> {
    sqlx::query_scalar("SELECT tag_id FROM tag_jobs ORDER BY created_at, tag_id LIMIT 1")
        .fetch_optional(db)
        .await
}

/// Queued jobs, oldest first, for the admin.
pub async fn jobs(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as(
        "SELECT t.name, i.name AS into_name, j.deleting, j.total, j.done
           FROM tag_jobs j JOIN tags t ON t.id = j.tag_id LEFT JOIN tags i ON i.id = j.merge_into
          ORDER BY j.created_at, j.tag_id",
    )
    .fetch_all(db)
    .await
}

/// The next `limit` posts of `tag` after post id `after`, by id.
pub async fn posts_after(
    conn: &mut PgConnection,
    tag: TagId,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT post_id FROM post_tags WHERE tag_id = $1 AND post_id > $2
          ORDER BY post_id LIMIT $3",
    )
    .bind(tag)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Rebuild the tag lists of posts `ids` (only those that changed are written).
pub async fn refresh_tag_lists(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("SELECT refresh_tag_lists($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Move up to `limit` posts from `from` to `into` (a post that has both keeps `into` where it
/// was). Triggers refresh those posts' tag lists, once each. Returns how many left `from`.
pub async fn move_posts(
    conn: &mut PgConnection,
    from: TagId,
    into: TagId,
    limit: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "WITH batch AS (
             SELECT post_id FROM post_tags WHERE tag_id = $1 ORDER BY post_id LIMIT $3
         ),
         moved AS (
             DELETE FROM post_tags pt USING batch b
              WHERE pt.tag_id = $1 AND pt.post_id = b.post_id
             RETURNING pt.post_id, pt.position
         ),
         added AS (
             INSERT INTO post_tags (post_id, tag_id, position)
             SELECT post_id, $2, position FROM moved
             ON CONFLICT DO NOTHING
         )
         SELECT count(*) FROM moved",
    )
    .bind(from)
    .bind(into)
    .bind(limit)
    .fetch_one(&mut *conn)
    .await
}

/// Take `tag` off up to `limit` of its posts (triggers refresh their tag lists, and so
/// their search text, once each). Returns how many.
pub async fn drop_posts(conn: &mut PgConnection, tag: TagId, limit: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "WITH batch AS (
             SELECT post_id FROM post_tags WHERE tag_id = $1 ORDER BY post_id LIMIT $2
         ),
         dropped AS (
             DELETE FROM post_tags pt USING batch b
              WHERE pt.tag_id = $1 AND pt.post_id = b.post_id
             RETURNING pt.post_id
         )
         SELECT count(*) FROM dropped",
    )
    .bind(tag)
    .bind(limit)
    .fetch_one(&mut *conn)
    .await
}

/// Record a batch: `done` more posts, the last of them `through` (refreshes walk by id).
pub async fn advance_job(
    conn: &mut PgConnection,
    tag: TagId,
    through: i64,
    done: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tag_jobs SET done_through = $2, done = LEAST(done + $3, total) WHERE tag_id = $1",
    )
    .bind(tag)
    .bind(through)
    .bind(i32::try_from(done).unwrap_or(i32::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn finish_job(conn: &mut PgConnection, tag: TagId) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM tag_jobs WHERE tag_id = $1")
        .bind(tag)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Delete the tags of `slugs` that no post carries and whose description is still the one
/// at the same place in `descriptions` (the demo's tags, once its posts are gone: a tag
/// someone described or used is theirs). Returns how many went.
pub async fn delete_unused_as_made(
    db: impl PgExecutor<'_>,
    slugs: &[String],
    descriptions: &[&str],
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM tags t USING UNNEST($1::text[], $2::text[]) AS made(slug, description)
          WHERE t.slug = made.slug AND t.description = made.description
            AND NOT EXISTS (SELECT 1 FROM post_tags pt WHERE pt.tag_id = t.id)
            AND NOT EXISTS (SELECT 1 FROM tag_jobs j WHERE j.tag_id = t.id OR j.merge_into = t.id)",
    )
    .bind(slugs)
    .bind(descriptions)
    .execute(db)
    .await?
    .rows_affected())
}

/// Delete a tag (its job goes with it).
pub async fn delete(conn: &mut PgConnection, tag: TagId) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM tags WHERE id = $1")
        .bind(tag)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The names of the tags on at least one published post, sorted.
pub async fn names_in_use(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT t.name FROM tags t
          WHERE EXISTS (SELECT 1 FROM post_tags x JOIN published_posts p ON p.id = x.post_id
                         WHERE x.tag_id = t.id)
          ORDER BY t.name",
    )
    .fetch_all(db)
    .await
}

/// Give these tags their descriptions, where they have none yet (an import never
/// overwrites what someone wrote here).
pub async fn describe_where_blank(
    conn: &mut PgConnection,
    described: &[(TagId, String)],
) -> sqlx::Result<()> {
    if described.is_empty() {
        return Ok(());
    }
    let ids: Vec<TagId> = described.iter().map(|(id, _)| *id).collect();
    let texts: Vec<&str> = described.iter().map(|(_, d)| d.as_str()).collect();
    sqlx::query(
        "UPDATE tags t SET description = d.description
           FROM unnest($1::bigint[], $2::text[]) AS d(id, description)
          WHERE t.id = d.id AND t.description = ''",
    )
    .bind(&ids)
    .bind(&texts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A tag as `quire export` writes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedTag {
    pub id: TagId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub created_at: time::OffsetDateTime,
}

/// The next `limit` tags after id `after`, by id: the export reads them in pages.
pub async fn export_after(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<ExportedTag>> {
    sqlx::query_as(
        "SELECT id, slug, name, description, created_at
           FROM tags WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many tags there are.
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM tags")
        .fetch_one(db)
        .await
}

/// A tag as GraphQL shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagNode {
    pub id: TagId,
    pub slug: String,
    pub name: String,
    pub description: String,
}

/// The tags of each of `posts`, in their authors' order: one statement for a page of posts.
pub async fn for_posts(
    db: impl PgExecutor<'_>,
    posts: &[crate::posts::model::PostId],
) -> sqlx::Result<Vec<(crate::posts::model::PostId, TagNode)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        post_id: crate::posts::model::PostId,
        #[sqlx(flatten)]
        tag: TagNode,
    }
    let ids: Vec<i64> = posts.iter().map(|p| p.0).collect();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT x.post_id, t.id, t.slug, t.name, t.description
           FROM post_tags x JOIN tags t ON t.id = x.tag_id
          WHERE x.post_id = ANY($1)
          ORDER BY x.post_id, x.position, t.name",
    )
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.post_id, r.tag)).collect())
}

/// The tags at `slugs` (GraphQL's `tag` and `tags`), in no particular order.
pub async fn nodes_by_slugs(
    db: impl PgExecutor<'_>,
    slugs: &[String],
) -> sqlx::Result<Vec<TagNode>> {
    sqlx::query_as("SELECT id, slug, name, description FROM tags WHERE slug = ANY($1)")
        .bind(slugs)
        .fetch_all(db)
        .await
}
