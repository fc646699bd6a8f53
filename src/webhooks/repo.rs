//! Every statement on `webhooks`, `webhook_events` and `webhook_deliveries`.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub created_at: OffsetDateTime,
}

pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Webhook>> {
    sqlx::query_as("SELECT id, url, events, secret, active, created_at FROM webhooks ORDER BY id")
        .fetch_all(db)
        .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Webhook>> {
    sqlx::query_as("SELECT id, url, events, secret, active, created_at FROM webhooks WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    url: &str,
    events: &[String],
    secret: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO webhooks (url, events, secret) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(url)
    .bind(events)
    .bind(secret)
    .fetch_one(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// `pg_advisory_xact_lock`'s key: "one fan-out".
const FANOUT_LOCK: i64 = 0x5155_4952_4557_0001;

/// Whether this is the only fan-out running: `false` while another one's transaction holds
/// the lock; once taken, it is held until the caller's transaction ends. Events are taken,
/// and reach `broker_events`, in order.
pub async fn one_fanout_at_a_time(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(FANOUT_LOCK)
        .fetch_one(&mut *conn)
        .await
}

/// An event waiting to be turned into deliveries.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub event: String,
    pub subject_id: i64,
    pub created_at: OffsetDateTime,
}

/// Take (delete, in the caller's transaction) up to `limit` waiting events, oldest first.
pub async fn take_events(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as(
        "DELETE FROM webhook_events WHERE id IN (
            SELECT id FROM webhook_events ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, event, subject_id, created_at",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// The active webhooks listening for `event`.
pub async fn listeners(conn: &mut PgConnection, event: &str) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM webhooks WHERE active AND $1 = ANY (events)")
        .bind(event)
        .fetch_all(&mut *conn)
        .await
}

pub async fn insert_delivery(
    db: impl PgExecutor<'_>,
    webhook: i64,
    event: &str,
    payload: &serde_json::Value,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (webhook_id, event, payload) VALUES ($1, $2, $3)
         RETURNING id",
    )
    .bind(webhook)
    .bind(event)
    .bind(payload)
    .fetch_one(db)
    .await
}

/// A delivery with its webhook, to send.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Outgoing {
    pub id: i64,
    pub event: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub state: String,
    pub url: String,
    pub secret: String,
    pub active: bool,
}

pub async fn outgoing(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Outgoing>> {
    sqlx::query_as(
        "SELECT d.id, d.event, d.payload, d.created_at, d.state, w.url, w.secret, w.active
           FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
          WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// One attempt's outcome, in the log.
pub async fn record(
    db: impl PgExecutor<'_>,
    id: i64,
    state: &str,
    status: Option<u16>,
    millis: i64,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries
            SET state = $2, attempts = attempts + 1, response_status = $3,
                response_ms = $4, error = left($5, 1000),
                finished_at = CASE WHEN $2 <> 'pending' THEN now() END
          WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(status.map(i32::from))
    .bind(i32::try_from(millis).unwrap_or(i32::MAX))
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Logged {
    pub id: i64,
    pub event: String,
    pub state: String,
    pub attempts: i32,
    pub response_status: Option<i32>,
    pub response_ms: Option<i32>,
    pub error: Option<String>,
    pub created_at: OffsetDateTime,
}

pub async fn log(db: impl PgExecutor<'_>, webhook: i64, limit: i64) -> sqlx::Result<Vec<Logged>> {
    sqlx::query_as(
        "SELECT id, event, state, attempts, response_status, response_ms, error, created_at
           FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(webhook)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Scheduled posts that went live by the clock since the last scan (the scan's row locked
/// and moved on in the caller's transaction).
pub async fn newly_live(conn: &mut PgConnection) -> sqlx::Result<Vec<i64>> {
    let since: OffsetDateTime = sqlx::query_scalar("SELECT at FROM webhook_scan FOR UPDATE")
        .fetch_one(&mut *conn)
        .await?;
    let ids = sqlx::query_scalar(
        "SELECT id FROM published_posts
          WHERE status = 'scheduled' AND published_at > $1 AND published_at <= now()",
    )
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("UPDATE webhook_scan SET at = now()")
        .execute(&mut *conn)
        .await?;
    Ok(ids)
}
