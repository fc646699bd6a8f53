//! The `jobs` table's SQL: queue, claim, renew, finish, and what the admin and `/metrics` read.

use std::time::Duration;

use sqlx::{PgConnection, PgExecutor, PgPool};
use time::OffsetDateTime;

use super::job::{Job, NewJob};

/// Queue `job`; `None` when a job of its kind with its key exists already.
pub async fn enqueue(db: impl PgExecutor<'_>, job: &NewJob) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, payload, key, run_at, max_attempts)
         VALUES ($1, $2, $3, COALESCE($4, now()), $5)
         ON CONFLICT (kind, key) WHERE key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(job.kind)
    .bind(&job.payload)
    .bind(&job.key)
    .bind(job.run_at)
    .bind(job.max_attempts)
    .fetch_optional(db)
    .await
}

/// Queue a keyless job of `kind` unless one is queued and not started (`jobs_queue_once`).
pub(super) async fn queue_once(db: impl PgExecutor<'_>, kind: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT jobs_queue_once($1)")
        .bind(kind)
        .execute(db)
        .await?;
    Ok(())
}

/// Queue many jobs of one kind in one statement (the benchmark, newsletters).
pub(super) async fn enqueue_many(
    db: impl PgExecutor<'_>,
    kind: &str,
    payloads: &[serde_json::Value],
) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("INSERT INTO jobs (kind, payload) SELECT $1, p FROM unnest($2::jsonb[]) AS p")
            .bind(kind)
            .bind(payloads)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Take up to `limit` due jobs for `worker`, leased for `lease`.
pub async fn claim(
    db: &PgPool,
    worker: &str,
    limit: i64,
    lease: Duration,
) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as(
        "UPDATE jobs j
            SET state = 'running', attempts = j.attempts + 1, locked_by = $1,
                locked_until = now() + make_interval(secs => $3), started_at = now(),
                -- A coalescing job (`jobs_queue_once`) makes room for the next once it starts.
                key = CASE WHEN j.key = 'once' THEN NULL ELSE j.key END
           FROM (SELECT id FROM jobs
                  WHERE state = 'queued' AND run_at <= now()
                  ORDER BY run_at, id
                  LIMIT $2
                  FOR UPDATE SKIP LOCKED) due
          WHERE j.id = due.id
         RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts",
    )
    .bind(worker)
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(db)
    .await
}

/// Renew the leases of the jobs `ids` that `worker` holds (those it is still working on).
pub async fn renew(db: &PgPool, worker: &str, ids: &[i64], lease: Duration) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $2)
          WHERE state = 'running' AND locked_by = $1 AND id = ANY($3)",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(ids)
    .execute(db)
    .await?
    .rows_affected())
}

/// Jobs whose lease ended (their worker died or lost the database): queued again now, or
/// failed if that was their last attempt.
pub async fn reap(db: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE jobs
            SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
                last_error = 'its worker stopped before it finished (the lease ended)',
                locked_by = NULL, locked_until = NULL, run_at = now()
          WHERE state = 'running' AND locked_until < now()",
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Done, if `worker` still holds it (`false`: its lease ended and it was taken back).
pub async fn finish(db: impl PgExecutor<'_>, id: i64, worker: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE jobs
            SET state = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL,
                last_error = NULL
          WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(worker)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Done, many at once (those `worker` still holds).
pub async fn finish_many(db: &PgPool, ids: &[i64], worker: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE jobs
            SET state = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL,
                last_error = NULL
          WHERE id = ANY($1) AND locked_by = $2 AND state = 'running'",
    )
    .bind(ids)
    .bind(worker)
    .execute(db)
    .await?
    .rows_affected())
}

/// Done, in the transaction that did the job's work: both or neither happen. `false`: the
/// job is no longer this worker's, and the caller rolls back.
pub async fn finish_in(conn: &mut PgConnection, job: &Job, worker: &str) -> sqlx::Result<bool> {
    finish(&mut *conn, job.id, worker).await
}

/// A failed attempt: queued again after `wait`, or failed for good when it was the last one
/// (or `permanent`).
pub async fn fail(
    db: &PgPool,
    id: i64,
    worker: &str,
    error: &str,
    wait: Duration,
    permanent: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs
            SET state = CASE WHEN $5 OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                finished_at = CASE WHEN $5 OR attempts >= max_attempts THEN now() END,
                run_at = now() + make_interval(secs => $4),
                last_error = left($3, 2000), locked_by = NULL, locked_until = NULL
          WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(error)
    .bind(wait.as_secs_f64())
    .bind(permanent)
    .execute(db)
    .await?;
    Ok(())
}

/// Back to the queue, to run after `wait`, the attempt not counted (`Outcome::Later`, or a
/// job given back at shutdown).
pub async fn release(db: &PgPool, id: i64, worker: &str, wait: Duration) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs
            SET state = 'queued', attempts = greatest(attempts - 1, 0),
                run_at = now() + make_interval(secs => $3), locked_by = NULL, locked_until = NULL
          WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(wait.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

/// Whether a job of `kind` other than `id` waits in the queue (not running): a job that found
/// the service it talks to away can leave what is left to that one.
pub async fn another_queued(db: impl PgExecutor<'_>, kind: &str, id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND state = 'queued' AND id <> $2)",
    )
    .bind(kind)
    .bind(id)
    .fetch_one(db)
    .await
}

/// Whether a job of `kind` is queued or running.
pub async fn on_its_way(db: impl PgExecutor<'_>, kind: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND state IN ('queued', 'running'))",
    )
    .bind(kind)
    .fetch_one(db)
    .await
}

/// Why running job `id` hands itself back (`Outcome::Later`), for `/admin/jobs`: waiting out
/// an outage is no failed attempt, but an operator should see what it waits for.
pub async fn note(db: impl PgExecutor<'_>, id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET last_error = left($2, 2000) WHERE id = $1 AND state = 'running'")
        .bind(id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// Every job `worker` still holds, back to the queue (shutdown).
pub async fn release_all(db: &PgPool, worker: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE jobs
            SET state = 'queued', attempts = greatest(attempts - 1, 0), run_at = now(),
                locked_by = NULL, locked_until = NULL
          WHERE state = 'running' AND locked_by = $1",
    )
    .bind(worker)
    .execute(db)
    .await?
    .rows_affected())
}

/// Finished jobs past `keep_done_hours`, and failed ones past 30 days, deleted; at most
/// `limit` rows per call, so the purge never holds many locks.
pub async fn purge(db: &PgPool, keep_done_hours: u32, limit: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs
             WHERE (state = 'done' AND finished_at < now() - make_interval(hours => $1))
                OR (state = 'failed' AND finished_at < now() - interval '30 days')
             LIMIT $2)",
    )
    .bind(i32::try_from(keep_done_hours).unwrap_or(i32::MAX))
    .bind(limit)
    .execute(db)
    .await?
    .rows_affected())
}

/// A job as the admin lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub kind: String,
    pub key: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub payload: serde_json::Value,
    /// The job named for people (`Registry::describe`), filled in by `/admin/jobs`.
    #[sqlx(skip)]
    pub title: String,
}

/// The columns of a `Row`.
const ROW: &str = "id, kind, key, state, attempts, max_attempts, run_at, created_at, finished_at,
                   locked_by, last_error, payload";

/// One job as the admin lists it (its discard confirmation names it).
pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW} FROM jobs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Jobs in `state`: the queue in the order it runs, the others newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    state: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Row>> {
    let order = match state {
        "queued" => "run_at, id",
        "running" => "started_at, id",
        _ => "id DESC",
    };
    // `order` is one of the three literals above.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW} FROM jobs WHERE state = $1 ORDER BY {order} LIMIT $2 OFFSET $3"
    )))
    .bind(state)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// How many jobs are in each state, and how long the oldest due queued job has waited (s).
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
    pub done: i64,
    pub oldest_due_secs: f64,
}

pub async fn counts(db: impl PgExecutor<'_>) -> sqlx::Result<Counts> {
    let (queued, running, failed, done, oldest_due_secs): (i64, i64, i64, i64, f64) =
        sqlx::query_as(
            "SELECT count(*) FILTER (WHERE state = 'queued'),
                    count(*) FILTER (WHERE state = 'running'),
                    count(*) FILTER (WHERE state = 'failed'),
                    count(*) FILTER (WHERE state = 'done'),
                    COALESCE(EXTRACT(EPOCH FROM now() - min(run_at)
                             FILTER (WHERE state = 'queued' AND run_at <= now())), 0)::float8
               FROM jobs",
        )
        .fetch_one(db)
        .await?;
    Ok(Counts {
        queued,
        running,
        failed,
        done,
        oldest_due_secs,
    })
}

/// A failed job queued again with its attempts back to none; `false` if it wasn't failed.
pub async fn retry(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), finished_at = NULL
          WHERE id = $1 AND state = 'failed'",
    )
    .bind(id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// A failed or queued job thrown away; `false` if it was neither (running jobs can't be).
pub async fn discard(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM jobs WHERE id = $1 AND state IN ('failed', 'queued')")
            .bind(id)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}
