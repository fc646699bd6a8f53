//! Every statement on `broker_events` and `event_brokers` (migration
//! `20270101000000_create_broker_events.sql`).

use sqlx::{PgConnection, PgExecutor, Row};
use time::OffsetDateTime;

use super::Broker;

/// An event waiting for a broker.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    pub id: i64,
    pub event: String,
    pub message_id: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// Record an event's message, in the fan-out's transaction (once: a fan-out run again after
/// a crash took the event in a transaction that never committed). `created_at`: when the
/// event happened, which its wait is counted from.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: i64,
    event: &str,
    message_id: &str,
    payload: &serde_json::Value,
    created_at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO broker_events (id, event, message_id, payload, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(event)
    .bind(message_id)
    .bind(payload)
    .bind(created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The oldest `limit` events `broker` has not confirmed, in order.
pub async fn waiting(
    conn: &mut PgConnection,
    broker: Broker,
    limit: i64,
) -> sqlx::Result<Vec<Waiting>> {
    let sql = match broker {
        Broker::Amqp => {
            "SELECT id, event, message_id, payload, created_at FROM broker_events
              WHERE amqp_at IS NULL ORDER BY id LIMIT $1"
        }
        Broker::Nats => {
            "SELECT id, event, message_id, payload, created_at FROM broker_events
              WHERE nats_at IS NULL ORDER BY id LIMIT $1"
        }
    };
    sqlx::query_as(sql).bind(limit).fetch_all(&mut *conn).await
}

/// `broker` confirmed the events `ids`.
pub async fn confirmed(conn: &mut PgConnection, broker: Broker, ids: &[i64]) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = match broker {
        Broker::Amqp => "UPDATE broker_events SET amqp_at = now() WHERE id = ANY ($1)",
        Broker::Nats => "UPDATE broker_events SET nats_at = now() WHERE id = ANY ($1)",
    };
    sqlx::query(sql).bind(ids).execute(&mut *conn).await?;
    Ok(())
}

/// How many events wait for `broker`, and how long the oldest has waited, in seconds.
pub async fn backlog(db: impl PgExecutor<'_>, broker: Broker) -> sqlx::Result<(i64, f64)> {
    let sql = match broker {
        Broker::Amqp => {
            "SELECT count(*) AS n,
                    COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
               FROM broker_events WHERE amqp_at IS NULL"
        }
        Broker::Nats => {
            "SELECT count(*) AS n,
                    COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
               FROM broker_events WHERE nats_at IS NULL"
        }
    };
    let row = sqlx::query(sql).fetch_one(db).await?;
    Ok((row.try_get("n")?, row.try_get("age")?))
}

/// Whether anything waits for `broker`.
pub async fn any_waiting(db: impl PgExecutor<'_>, broker: Broker) -> sqlx::Result<bool> {
    let sql = match broker {
        Broker::Amqp => "SELECT EXISTS (SELECT 1 FROM broker_events WHERE amqp_at IS NULL)",
        Broker::Nats => "SELECT EXISTS (SELECT 1 FROM broker_events WHERE nats_at IS NULL)",
    };
    sqlx::query_scalar(sql).fetch_one(db).await
}

/// Events older than `keep_days` that every broker in `configured` confirmed (a broker not
/// configured any more holds nothing back), at most `limit` of them, deleted.
pub async fn prune(
    db: impl PgExecutor<'_>,
    amqp: bool,
    nats: bool,
    keep_days: i32,
    limit: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM broker_events WHERE id IN (
            SELECT id FROM broker_events
             WHERE created_at < now() - make_interval(days => $3)
               AND (NOT $1 OR amqp_at IS NOT NULL)
               AND (NOT $2 OR nats_at IS NOT NULL)
             LIMIT $4)",
    )
    .bind(amqp)
    .bind(nats)
    .bind(keep_days)
    .bind(limit)
    .execute(db)
    .await?
    .rows_affected())
}

/// Say that this worker publishes to `brokers` for the hour ahead (the event triggers record
/// every event meanwhile).
pub async fn announce(db: impl PgExecutor<'_>, brokers: &[Broker]) -> sqlx::Result<()> {
    let names: Vec<&str> = brokers.iter().map(|b| b.name()).collect();
    sqlx::query(
        "INSERT INTO event_brokers (broker, until)
         SELECT b, now() + interval '1 hour' FROM unnest($1::text[]) AS b
         ON CONFLICT (broker) DO UPDATE SET until = EXCLUDED.until",
    )
    .bind(&names)
    .execute(db)
    .await?;
    Ok(())
}
