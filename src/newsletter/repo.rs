//! Every statement on `subscribers`, `newsletter_sends` and `newsletter_deliveries`.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

use crate::{accounts::model::UserId, posts::model::PostId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    pub unsubscribed_at: Option<OffsetDateTime>,
    pub username: Option<String>,
}

const SELECT: &str = "SELECT s.id, s.email, s.status, s.created_at, s.confirmed_at,
        s.unsubscribed_at, u.username
   FROM subscribers s LEFT JOIN users u ON u.id = s.user_id";

/// The subscriber with this address (any status), made pending if new. An unsubscribed one
/// asking again becomes pending again: confirmation is asked anew.
pub async fn upsert_pending(
    db: impl PgExecutor<'_>,
    email: &str,
    user: Option<UserId>,
) -> sqlx::Result<Subscriber> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH s AS (
            INSERT INTO subscribers (email, user_id) VALUES ($1, $2)
            ON CONFLICT (lower(email)) DO UPDATE
               SET status = CASE WHEN subscribers.status = 'unsubscribed' THEN 'pending'
                                 ELSE subscribers.status END,
                   user_id = COALESCE(subscribers.user_id, EXCLUDED.user_id)
            RETURNING *)
         {}",
        SELECT.replace("FROM subscribers s", "FROM s")
    )))
    .bind(email.trim())
    .bind(user)
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Subscriber>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The subscription of the account's address, if any.
pub async fn of_address(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<Subscriber>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE lower(s.email) = lower($1)"
    )))
    .bind(email.trim())
    .fetch_optional(db)
    .await
}

/// A pending subscriber confirmed (`false`: not pending; confirming never brings back one
/// who unsubscribed: they ask again, and get a new link).
pub async fn confirm(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE subscribers SET status = 'confirmed', confirmed_at = now(), unsubscribed_at = NULL
          WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

pub async fn unsubscribe(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = now()
          WHERE id = $1 AND status <> 'unsubscribed'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Subscribers in `status` ("" for all), newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    status: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Subscriber>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($1 = '' OR s.status = $1) ORDER BY s.id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// (pending, confirmed, unsubscribed)
pub async fn counts(db: impl PgExecutor<'_>) -> sqlx::Result<(i64, i64, i64)> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending'),
                count(*) FILTER (WHERE status = 'confirmed'),
                count(*) FILTER (WHERE status = 'unsubscribed')
           FROM subscribers",
    )
    .fetch_one(db)
    .await
}

/// The author's choice for `post`: `send` false records "published without sending" (unless
/// it went already); true takes that back.
pub async fn choose(db: impl PgExecutor<'_>, post: PostId, send: bool) -> sqlx::Result<()> {
    let sql = if send {
        "DELETE FROM newsletter_sends WHERE post_id = $1 AND skipped"
    } else {
        "INSERT INTO newsletter_sends (post_id, skipped) VALUES ($1, true)
         ON CONFLICT (post_id) DO NOTHING"
    };
    sqlx::query(sql).bind(post).execute(db).await?;
    Ok(())
}

/// How `post`'s newsletter stands: `None` (not yet), or (skipped, recipients, finished).
pub async fn send_state(
    db: impl PgExecutor<'_>,
    post: PostId,
) -> sqlx::Result<Option<(bool, i32, Option<OffsetDateTime>)>> {
    sqlx::query_as(
        "SELECT skipped, recipients, finished_at FROM newsletter_sends WHERE post_id = $1",
    )
    .bind(post)
    .fetch_optional(db)
    .await
}

/// Who gets a post: the subscribers confirmed when its sending starts (`prepare`), and
/// the number the editor names before publishing (`confirmed_count`).
const RECIPIENTS: &str = "SELECT id FROM subscribers WHERE status = 'confirmed'";

/// `newsletter.window_hours` as the SQL function `newsletter_due` takes it.
fn window(hours: u32) -> i32 {
    i32::try_from(hours).unwrap_or(48)
}

/// Published posts that the rule `newsletter_due` (the migration of that name) says are
/// due get their newsletter record now; returns their ids, for a `newsletter.send` job
/// each (in the same transaction).
pub async fn claim_new_posts(
    conn: &mut PgConnection,
    window_hours: u32,
) -> sqlx::Result<Vec<PostId>> {
    sqlx::query_scalar(
        "INSERT INTO newsletter_sends (post_id)
         SELECT p.id FROM published_posts p
          WHERE newsletter_due(p.published_at,
                               EXISTS (SELECT 1 FROM newsletter_sends s WHERE s.post_id = p.id),
                               $1)
         ON CONFLICT (post_id) DO NOTHING
         RETURNING post_id",
    )
    .bind(window(window_hours))
    .fetch_all(&mut *conn)
    .await
}

/// How many subscribers a post published at `published_at` would be emailed to, now, by
/// the same rule as `claim_new_posts` (`recorded`: the post will have a newsletter record
/// after the save); `None` when it would not be emailed at all.
pub async fn would_reach(
    db: impl PgExecutor<'_>,
    published_at: Option<OffsetDateTime>,
    recorded: bool,
    window_hours: u32,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CASE WHEN newsletter_due($1, $2, $3)
                     THEN (SELECT count(*) FROM ({RECIPIENTS}) r) END"
    )))
    .bind(published_at)
    .bind(recorded)
    .bind(window(window_hours))
    .fetch_one(db)
    .await
}

/// How a post's newsletter is getting on, for its editor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Progress {
    /// Published without sending.
    pub skipped: bool,
    /// Fixed when sending starts (0 before).
    pub recipients: i32,
    pub started: bool,
    pub finished: bool,
    pub sent: i64,
}

pub async fn progress(db: impl PgExecutor<'_>, post: PostId) -> sqlx::Result<Option<Progress>> {
    sqlx::query_as(
        "SELECT n.skipped, n.recipients, n.started_at IS NOT NULL AS started,
                n.finished_at IS NOT NULL AS finished,
                (SELECT count(*) FROM newsletter_deliveries d
                  WHERE d.post_id = n.post_id AND d.state = 'sent') AS sent
           FROM newsletter_sends n WHERE n.post_id = $1",
    )
    .bind(post)
    .fetch_optional(db)
    .await
}

/// Fix the recipients of `post` (the confirmed subscribers now), once; deliveries a dead
/// attempt left 'sending' go back to the queue. Returns false for a skipped post.
pub async fn prepare(conn: &mut PgConnection, post: PostId) -> sqlx::Result<bool> {
    let started: Option<(bool, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT skipped, started_at FROM newsletter_sends WHERE post_id = $1 FOR UPDATE",
    )
    .bind(post)
    .fetch_optional(&mut *conn)
    .await?;
    match started {
        None | Some((true, _)) => Ok(false),
        Some((false, Some(_))) => {
            sqlx::query(
                "UPDATE newsletter_deliveries SET state = 'queued'
                  WHERE post_id = $1 AND state = 'sending'",
            )
            .bind(post)
            .execute(&mut *conn)
            .await?;
            Ok(true)
        }
        Some((false, None)) => {
            let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO newsletter_deliveries (post_id, subscriber_id)
                 SELECT $1, r.id FROM ({RECIPIENTS}) r"
            )))
            .bind(post)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE newsletter_sends SET started_at = now(), recipients = $2
                  WHERE post_id = $1",
            )
            .bind(post)
            .bind(i32::try_from(n).unwrap_or(i32::MAX))
            .execute(&mut *conn)
            .await?;
            Ok(true)
        }
    }
}

/// A delivery to make: who, and the address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub subscriber_id: i64,
    pub email: String,
}

/// The next `limit` queued deliveries of `post`, marked 'sending' (committed before anything
/// is sent). A subscriber who left meanwhile is dropped, not sent to.
pub async fn next_batch(
    db: impl PgExecutor<'_>,
    post: PostId,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(
        "UPDATE newsletter_deliveries d SET state = 'sending', attempts = d.attempts + 1
           FROM subscribers s
          WHERE s.id = d.subscriber_id AND s.status = 'confirmed'
            AND (d.post_id, d.subscriber_id) IN (
                SELECT post_id, subscriber_id FROM newsletter_deliveries
                 WHERE post_id = $1 AND state = 'queued'
                 ORDER BY subscriber_id LIMIT $2
                 FOR UPDATE SKIP LOCKED)
         RETURNING d.subscriber_id, s.email",
    )
    .bind(post)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deliveries whose subscriber left before their turn: not sent, never will be.
pub async fn drop_departed(db: impl PgExecutor<'_>, post: PostId) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM newsletter_deliveries d USING subscribers s
          WHERE d.post_id = $1 AND d.state = 'queued' AND s.id = d.subscriber_id
            AND s.status <> 'confirmed'",
    )
    .bind(post)
    .execute(db)
    .await?
    .rows_affected())
}

pub async fn mark(
    db: impl PgExecutor<'_>,
    post: PostId,
    subscriber: i64,
    state: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE newsletter_deliveries
            SET state = $3, last_error = left($4, 1000),
                sent_at = CASE WHEN $3 = 'sent' THEN now() END
          WHERE post_id = $1 AND subscriber_id = $2",
    )
    .bind(post)
    .bind(subscriber)
    .bind(state)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether every delivery of `post` is sent or failed; if so, the send is marked finished.
pub async fn finish_if_done(db: impl PgExecutor<'_> + Copy, post: PostId) -> sqlx::Result<bool> {
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM newsletter_deliveries
          WHERE post_id = $1 AND state IN ('queued', 'sending')",
    )
    .bind(post)
    .fetch_one(db)
    .await?;
    if left == 0 {
        sqlx::query("UPDATE newsletter_sends SET finished_at = now() WHERE post_id = $1")
            .bind(post)
            .execute(db)
            .await?;
    }
    Ok(left == 0)
}
