//! Every statement on `import_keys` (what each import brought) and `imports` (the admin's
//! import runs).

use std::collections::HashMap;

use sqlx::{PgConnection, PgExecutor};

/// What an earlier import of the same source brought for one object.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Key {
    pub source_id: String,
    pub target_id: i64,
    pub digest: String,
    pub target_version: Option<i32>,
    /// The post's version now (posts only): differs from `target_version` when someone
    /// edited it here since.
    pub current_version: Option<i32>,
    /// The post's kind and slug now (posts only).
    pub kind: Option<crate::posts::model::PostKind>,
    pub slug: Option<String>,
}

/// The keys of `kind` objects among `ids` whose object still exists (a key whose post was
/// purged since is as good as none: the post is made again).
const NOT_A_POST: &str =
    "NULL::int AS current_version, NULL::post_kind AS kind, NULL::text AS slug";

pub async fn keys(
    db: impl PgExecutor<'_>,
    source: &str,
    kind: &str,
    ids: &[String],
) -> sqlx::Result<HashMap<String, Key>> {
    // One join, to the kind's own table (a join per kind in one statement defeats the
    // primary keys: a full scan of comments per batch).
    let (table, post) = match kind {
        "post" => ("posts", "t.version AS current_version, t.kind, t.slug"),
        "user" => ("users", NOT_A_POST),
        "tag" => ("tags", NOT_A_POST),
        "comment" => ("comments", NOT_A_POST),
        _ => ("uploads", NOT_A_POST),
    };
    let rows: Vec<Key> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT k.source_id, k.target_id, k.digest, k.target_version,
                {post}
           FROM import_keys k JOIN {table} t ON t.id = k.target_id
          WHERE k.source = $1 AND k.kind = $2 AND k.source_id = ANY($3)"
    )))
    .bind(source)
    .bind(kind)
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|k| (k.source_id.clone(), k)).collect())
}

/// Fresh statistics for `import_keys`: it grows from nothing to hundreds of thousands of
/// rows within one import, and without them the planner stops using its primary key.
pub async fn analyze(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query("ANALYZE import_keys").execute(db).await?;
    Ok(())
}

/// One remembered object.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub source_id: String,
    pub target_id: i64,
    pub digest: String,
    pub target_version: Option<i32>,
}

/// Remember these objects of `kind` (or update what was remembered), in one statement.
pub async fn remember(
    conn: &mut PgConnection,
    source: &str,
    kind: &str,
    keys: &[NewKey],
) -> sqlx::Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = keys.iter().map(|k| k.source_id.as_str()).collect();
    let targets: Vec<i64> = keys.iter().map(|k| k.target_id).collect();
    let digests: Vec<&str> = keys.iter().map(|k| k.digest.as_str()).collect();
    let versions: Vec<Option<i32>> = keys.iter().map(|k| k.target_version).collect();
    sqlx::query(
        "INSERT INTO import_keys (source, kind, source_id, target_id, digest, target_version)
         SELECT $1, $2, * FROM unnest($3::text[], $4::bigint[], $5::text[], $6::int[])
         ON CONFLICT (source, kind, source_id) DO UPDATE
            SET target_id = EXCLUDED.target_id, digest = EXCLUDED.digest,
                target_version = EXCLUDED.target_version, updated_at = now()",
    )
    .bind(source)
    .bind(kind)
    .bind(&ids)
    .bind(&targets)
    .bind(&digests)
    .bind(&versions)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An import started from the admin.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub format: String,
    pub file_name: String,
    pub state: RunState,
    pub plan: sqlx::types::Json<serde_json::Value>,
    pub report: Option<sqlx::types::Json<serde_json::Value>>,
    pub roles: sqlx::types::Json<HashMap<String, String>>,
    pub done: i64,
    pub total: i64,
    pub error: Option<String>,
    /// Who started it: the account the import acts as.
    pub created_by: Option<crate::accounts::model::UserId>,
    pub created_at: time::OffsetDateTime,
    pub finished_at: Option<time::OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "import_state", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Checking,
    Checked,
    Queued,
    Running,
    Done,
    Failed,
}

const RUN: &str = "SELECT id, format, file_name, state, plan, report, roles, done, total, error,
                          created_by, created_at, finished_at FROM imports";

pub async fn create_run(
    db: impl PgExecutor<'_>,
    format: &str,
    file_name: &str,
    by: crate::accounts::model::UserId,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO imports (format, file_name, created_by) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(format)
    .bind(file_name)
    .bind(by)
    .fetch_one(db)
    .await
}

pub async fn run(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Run>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{RUN} WHERE id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn recent_runs(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<Run>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RUN} ORDER BY id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The dry run's plan: the run waits for the admin's go.
pub async fn checked(
    db: impl PgExecutor<'_>,
    id: i64,
    plan: &serde_json::Value,
    total: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE imports SET state = 'checked', plan = $2, total = $3, error = NULL
          WHERE id = $1 AND state = 'checking'",
    )
    .bind(id)
    .bind(sqlx::types::Json(plan))
    .bind(total)
    .execute(db)
    .await?;
    Ok(())
}

/// Queue a checked run with the roles the admin chose; `false` if it was not waiting.
pub async fn queue_run(
    db: impl PgExecutor<'_>,
    id: i64,
    roles: &HashMap<String, String>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE imports SET state = 'queued', roles = $2 WHERE id = $1 AND state = 'checked'",
    )
    .bind(id)
    .bind(sqlx::types::Json(roles))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Mark a queued (or interrupted) run as running; `false` if it is finished already.
pub async fn start_run(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE imports SET state = 'running', error = NULL
          WHERE id = $1 AND state IN ('queued', 'running', 'failed')",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn progress(db: impl PgExecutor<'_>, id: i64, done: i64, total: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE imports SET done = $2, total = GREATEST(total, $3) WHERE id = $1")
        .bind(id)
        .bind(done)
        .bind(total)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn finish_run(
    db: impl PgExecutor<'_>,
    id: i64,
    report: Result<&serde_json::Value, &str>,
) -> sqlx::Result<()> {
    let (state, report, error) = match report {
        Ok(report) => (RunState::Done, Some(sqlx::types::Json(report)), None),
        Err(e) => (RunState::Failed, None, Some(e)),
    };
    sqlx::query(
        "UPDATE imports SET state = $2, report = COALESCE($3, report), error = $4,
                finished_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(report)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}
