//! Every statement on `uploads`.

use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::accounts::model::UserId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Upload {
    pub file_name: String,
    pub bytes: i32,
    pub created_at: OffsetDateTime,
}

impl Upload {
    pub fn url(&self) -> String {
        format!("/uploads/{}", self.file_name)
    }
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    file_name: &str,
    content_type: &str,
    bytes: i32,
    uploader: UserId,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(file_name)
    .bind(content_type)
    .bind(bytes)
    .bind(uploader)
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
    sqlx::query_as(
        "SELECT file_name, bytes, created_at FROM uploads
          WHERE $1::bigint IS NULL OR uploader_id = $1
          ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(uploader)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Record an upload unless one with this (content-addressed) name exists; `true` if new.
pub async fn insert_if_new(
    db: impl PgExecutor<'_>,
    file_name: &str,
    content_type: &str,
    bytes: i32,
    uploader: UserId,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id)
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM uploads WHERE file_name = $1)",
    )
    .bind(file_name)
    .bind(content_type)
    .bind(bytes)
    .bind(uploader)
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
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
