//! Every statement on `uploads` and `media_uses`.

use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::accounts::model::UserId;

/// The columns of `Upload`, in its order.
const ROW: &str = "id, file_name, content_type, bytes, uploader_id, original_name, alt, width, \
                   height, animated, widths, state, error, created_at, processed_at";

/// An upload as the library, the pages and the API see it.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct Upload {
    pub id: i64,
    /// `<sha256>.<ext>`: the key of the image readers get.
    pub file_name: String,
    pub content_type: String,
    /// Size of the upload as sent.
    pub bytes: i32,
    pub uploader_id: UserId,
    /// The file's name on the uploader's machine ('' when unknown).
    pub original_name: String,
    /// The description offered whenever the image is inserted.
    pub alt: String,
    /// Pixels, after EXIF orientation once processed.
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub animated: bool,
    /// The widths made for `srcset`, smallest first.
    pub widths: Vec<i32>,
    /// `pending`, `ready` or `failed`.
    pub state: String,
    /// Why processing failed, in words for the library.
    pub error: String,
    pub created_at: OffsetDateTime,
    pub processed_at: Option<OffsetDateTime>,
}

impl Upload {
    /// The path readers fetch it at on this site (`/uploads/<name>`), as posts store it.
    pub fn url(&self) -> String {
        format!("/uploads/{}", self.file_name)
    }

    pub fn is_ready(&self) -> bool {
        self.state == "ready"
    }
}

pub struct NewUpload<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub bytes: i32,
    pub uploader: UserId,
    pub original_name: &'a str,
    pub width: u32,
    pub height: u32,
}

/// Record an upload; if its name (its content) is known already, the row as it is.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewUpload<'_>) -> sqlx::Result<Upload> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH added AS (
             INSERT INTO uploads (file_name, content_type, bytes, uploader_id, original_name,
                                  width, height)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (file_name) DO UPDATE SET file_name = EXCLUDED.file_name
             RETURNING {ROW})
         SELECT * FROM added"
    )))
    .bind(new.file_name)
    .bind(new.content_type)
    .bind(new.bytes)
    .bind(new.uploader)
    .bind(new.original_name)
    .bind(i32::try_from(new.width).unwrap_or(i32::MAX))
    .bind(i32::try_from(new.height).unwrap_or(i32::MAX))
    .fetch_one(db)
    .await
}

/// The upload named `file_name` (`<sha256>.<ext>`).
pub async fn find(db: impl PgExecutor<'_>, file_name: &str) -> sqlx::Result<Option<Upload>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW} FROM uploads WHERE file_name = $1"
    )))
    .bind(file_name)
    .fetch_optional(db)
    .await
}

/// The uploads named in `file_names` (any order; unknown names are left out).
pub async fn find_many(
    db: impl PgExecutor<'_>,
    file_names: &[String],
) -> sqlx::Result<Vec<Upload>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW} FROM uploads WHERE file_name = ANY($1)"
    )))
    .bind(file_names)
    .fetch_all(db)
    .await
}

/// The upload with id `id`.
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Upload>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW} FROM uploads WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// What processing found: the image's size after orientation and the widths made.
pub async fn mark_ready(
    db: impl PgExecutor<'_>,
    file_name: &str,
    width: u32,
    height: u32,
    animated: bool,
    widths: &[u32],
) -> sqlx::Result<()> {
    let widths: Vec<i32> = widths
        .iter()
        .map(|w| i32::try_from(*w).unwrap_or(i32::MAX))
        .collect();
    sqlx::query(
        "UPDATE uploads SET state = 'ready', error = '', width = $2, height = $3, animated = $4,
                widths = $5, processed_at = now()
          WHERE file_name = $1",
    )
    .bind(file_name)
    .bind(i32::try_from(width).unwrap_or(i32::MAX))
    .bind(i32::try_from(height).unwrap_or(i32::MAX))
    .bind(animated)
    .bind(widths)
    .execute(db)
    .await?;
    Ok(())
}

/// The decoder refused the file: the reason, for the library (at most 500 characters).
pub async fn mark_failed(
    db: impl PgExecutor<'_>,
    file_name: &str,
    error: &str,
) -> sqlx::Result<()> {
    let error: String = error.chars().take(500).collect();
    sqlx::query(
        "UPDATE uploads SET state = 'failed', error = $2, processed_at = now()
          WHERE file_name = $1",
    )
    .bind(file_name)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// The newest uploads, of one person or of everyone.
pub async fn recent(
    db: impl PgExecutor<'_>,
    uploader: Option<UserId>,
    limit: i64,
) -> sqlx::Result<Vec<Upload>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW} FROM uploads
          WHERE $1::bigint IS NULL OR uploader_id = $1
          ORDER BY created_at DESC, id DESC LIMIT $2"
    )))
    .bind(uploader)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Where an upload is used: `place` ('post', 'user', 'tag', 'site') and the row's id.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct Use {
    pub place: String,
    pub ref_id: i64,
}

/// Every place `file_name` is used (kept by the database's triggers).
pub async fn uses(db: impl PgExecutor<'_>, file_name: &str) -> sqlx::Result<Vec<Use>> {
    sqlx::query_as(
        "SELECT place, ref_id FROM media_uses WHERE file_name = $1 ORDER BY place, ref_id",
    )
    .bind(file_name)
    .fetch_all(db)
    .await
}

/// Forget an upload, unless it is used somewhere (checked in the same statement, so a save
/// that starts using it at that moment wins). `true` if deleted.
pub async fn delete_unused(db: impl PgExecutor<'_>, file_name: &str) -> sqlx::Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM uploads WHERE file_name = $1
            AND NOT EXISTS (SELECT 1 FROM media_uses WHERE file_name = $1)",
    )
    .bind(file_name)
    .execute(db)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Record an upload unless one with this (content-addressed) name exists; `true` if new.
pub async fn insert_if_new(db: impl PgExecutor<'_>, new: &NewUpload<'_>) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id, original_name, width,
                              height)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (file_name) DO NOTHING",
    )
    .bind(new.file_name)
    .bind(new.content_type)
    .bind(new.bytes)
    .bind(new.uploader)
    .bind(new.original_name)
    .bind(i32::try_from(new.width).unwrap_or(i32::MAX))
    .bind(i32::try_from(new.height).unwrap_or(i32::MAX))
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Every upload's name after `after`, by name, `limit` at a time (`quire media regenerate`).
pub async fn names_after(
    db: impl PgExecutor<'_>,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT file_name FROM uploads WHERE file_name > $1 ORDER BY file_name LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// An upload as `quire export` writes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedUpload {
    pub id: i64,
    pub file_name: String,
    pub content_type: String,
    pub bytes: i32,
    pub uploader_id: UserId,
    pub created_at: OffsetDateTime,
}

/// The next `limit` uploads after id `after`, by id: the export reads them in pages.
pub async fn export_after(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<ExportedUpload>> {
    sqlx::query_as(
        "SELECT id, file_name, content_type, bytes, uploader_id, created_at
           FROM uploads WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many uploads there are.
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(db)
        .await
}

/// What the library's grid asks for: whose uploads (`None`: everyone's), a search of the
/// original name and alt text, only those used nowhere.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One upload (its page).
    pub id: Option<i64>,
    pub uploader: Option<UserId>,
    pub q: String,
    pub unused: bool,
    /// Leave out failed uploads (the editor's dialog and the picker offer none).
    pub usable: bool,
    /// Only processed ones (the picker shows their thumbnails).
    pub ready: bool,
}

/// An upload in the library's grid: the row, who sent it and how many places use it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub upload: Upload,
    pub uploader: String,
    pub uses: i64,
}

/// One page of the library, newest first (`limit` rows from `offset`).
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Listed>> {
    let columns = ROW
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut q = sqlx::QueryBuilder::new(format!(
        "SELECT {columns}, coalesce(nullif(p.display_name, ''), p.username, '') AS uploader,
                (SELECT count(*) FROM media_uses m WHERE m.file_name = u.file_name) AS uses
           FROM uploads u LEFT JOIN users p ON p.id = u.uploader_id
          WHERE true"
    ));
    if let Some(id) = filter.id {
        q.push(" AND u.id = ").push_bind(id);
    }
    if let Some(who) = filter.uploader {
        q.push(" AND u.uploader_id = ").push_bind(who);
    }
    let text = filter.q.trim();
    if !text.is_empty() {
        let pattern = crate::db::contains_pattern(text);
        q.push(" AND (u.original_name ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR u.alt ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    if filter.unused {
        q.push(" AND NOT EXISTS (SELECT 1 FROM media_uses m WHERE m.file_name = u.file_name)");
    }
    if filter.usable {
        q.push(" AND u.state <> 'failed'");
    }
    if filter.ready {
        q.push(" AND u.state = 'ready'");
    }
    q.push(" ORDER BY u.created_at DESC, u.id DESC LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    q.build_query_as().fetch_all(db).await
}

/// A place an upload is used, with what to call it and where to change it.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct Place {
    /// 'post', 'user', 'tag' or 'site'.
    pub place: String,
    pub ref_id: i64,
    /// The post's title, the person's name, the tag's name ('' for the site).
    pub label: String,
    /// A person's username (their page's address); '' for the others.
    pub username: String,
    /// A post: whether it is a page (About, Contact).
    pub page: bool,
}

/// Every place `file_name` is used, named (`media_uses`, kept by the triggers).
pub async fn places(db: impl PgExecutor<'_>, file_name: &str) -> sqlx::Result<Vec<Place>> {
    sqlx::query_as(
        "SELECT m.place, m.ref_id,
                coalesce(p.title, nullif(u.display_name, ''), u.username, t.name, '') AS label,
                coalesce(u.username, '') AS username,
                coalesce(p.kind = 'page', false) AS page
           FROM media_uses m
           LEFT JOIN posts p ON m.place = 'post' AND p.id = m.ref_id
           LEFT JOIN users u ON m.place = 'user' AND u.id = m.ref_id
           LEFT JOIN tags t ON m.place = 'tag' AND t.id = m.ref_id
          WHERE m.file_name = $1
          ORDER BY m.place, label, m.ref_id",
    )
    .bind(file_name)
    .fetch_all(db)
    .await
}

/// Keep `alt` as the upload's description (already `media::Alt::parse`d).
pub async fn set_alt(db: impl PgExecutor<'_>, id: i64, alt: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE uploads SET alt = $2 WHERE id = $1")
        .bind(id)
        .bind(alt)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

// Direct uploads (`upload_intents`): the keys handed out by `POST /api/uploads/presign`.

/// A presigned upload address handed to `user_id`, until `expires_at`.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct Intent {
    pub object_key: String,
    pub user_id: UserId,
    pub file_name: String,
    pub content_type: String,
    pub declared_bytes: i64,
    pub expires_at: OffsetDateTime,
}

/// Record that `intent.user_id` may PUT to `intent.object_key` until `intent.expires_at`.
pub async fn insert_intent(db: impl PgExecutor<'_>, intent: &Intent) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO upload_intents (object_key, user_id, file_name, content_type,
                                     declared_bytes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&intent.object_key)
    .bind(intent.user_id)
    .bind(&intent.file_name)
    .bind(&intent.content_type)
    .bind(intent.declared_bytes)
    .bind(intent.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The intent of `key`, expired or not.
pub async fn find_intent(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<Option<Intent>> {
    sqlx::query_as(
        "SELECT object_key, user_id, file_name, content_type, declared_bytes, expires_at
           FROM upload_intents WHERE object_key = $1",
    )
    .bind(key)
    .fetch_optional(db)
    .await
}

pub async fn delete_intent(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM upload_intents WHERE object_key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// Keys whose address expired more than `grace_secs` ago (a PUT begun in time has ended).
pub async fn expired_intents(
    db: impl PgExecutor<'_>,
    grace_secs: f64,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT object_key FROM upload_intents
          WHERE expires_at < now() - make_interval(secs => $1)
          ORDER BY expires_at LIMIT $2",
    )
    .bind(grace_secs)
    .bind(limit)
    .fetch_all(db)
    .await
}
