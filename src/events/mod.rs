//! Quire's events on message brokers (issue 30; README "Events"): the events webhooks get,
//! in the same JSON, published to RabbitMQ (`amqp`) and NATS JetStream (`nats`), each one on
//! when its URL is set (`events.amqp_url`, `events.nats_url`).
//!
//! - **Nothing lost.** Triggers record each event in the change's own transaction
//!   (`webhook_events`; while a broker is announced, every event, whether or not a webhook
//!   listens: `announce`). The `webhooks.fanout` job copies each one's message into
//!   `broker_events` in the transaction that takes it (`record`), and queues a publishing job
//!   per broker. That job (`events.amqp`, `events.nats`) runs on one worker at a time (an
//!   advisory lock held by its own connection), reads the unsent rows oldest first, publishes
//!   each and waits for the broker's confirmation (a publisher confirm, a JetStream PubAck)
//!   before stamping it (`amqp_at`, `nats_at`). A broker away, slow or refusing: the rows
//!   wait, and the job comes back after half as long as the oldest has waited (a second at
//!   first, a minute at most); nothing is parked as failed, however long the outage. Each
//!   minute, a job is queued for a broker whose rows wait if none is on its way.
//! - **At least once, in order per post.** Fan-outs take one after the other and a post's
//!   changes commit in the order of their ids, so sending in id order, one message at a time,
//!   keeps each post's events in order. A message whose confirmation was lost is sent again,
//!   after it and before anything later, under the same id (`quire-evt-<uuid>`, also the
//!   JSON's `"id"`): consumers drop repeats by it, and NATS drops them itself within the
//!   stream's duplicate window (`Nats-Msg-Id`).
//! - **Kept a week.** `events.prune`, hourly, deletes rows older than 7 days that every
//!   configured broker confirmed; a broker taken out of the settings holds nothing back.
//! - **Seen.** `/admin/jobs` shows how many events wait for each configured broker, and
//!   `/metrics` has `quire_events_waiting{broker}` and
//!   `quire_events_oldest_waiting_seconds{broker}` (`backlog`).

pub mod amqp;
pub mod nats;
pub mod repo;

use std::{future::Future, time::Duration};

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::{
    config::EventsSettings,
    jobs::{self, BackgroundJob, Outcome, Run},
};

/// Events one pass reads.
const BATCH: i64 = 100;
/// Waits between attempts while a broker is away: at least, and at most.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MOST: Duration = Duration::from_secs(60);
/// How long confirmed events are kept.
const KEEP_DAYS: i32 = 7;
/// Rows one prune statement deletes at most.
const PRUNE_BATCH: i64 = 1000;

/// A message broker events go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    Amqp,
    Nats,
}

impl Broker {
    /// The broker's name in the settings, the metrics and `event_brokers`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Amqp => "amqp",
            Self::Nats => "nats",
        }
    }

    /// The broker as people call it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Amqp => "RabbitMQ",
            Self::Nats => "NATS",
        }
    }

    /// `pg_try_advisory_lock`'s key: "one publisher for this broker".
    fn lock(self) -> i64 {
        match self {
            Self::Amqp => 0x5155_4952_4545_0001,
            Self::Nats => 0x5155_4952_4545_0002,
        }
    }

    /// The brokers `settings` configure, in this order.
    pub fn configured(settings: &EventsSettings) -> Vec<Self> {
        let mut brokers = Vec::new();
        if settings.amqp().is_some() {
            brokers.push(Self::Amqp);
        }
        if settings.nats().is_some() {
            brokers.push(Self::Nats);
        }
        brokers
    }
}

/// The message id of a new event: unique across sites and databases (each one's event ids
/// start at 1, and NATS drops a message whose id it saw within its window), and kept with
/// the row, so every attempt sends the same one.
fn new_message_id() -> String {
    format!("quire-evt-{}", uuid::Uuid::now_v7())
}

/// The message of event `id` (`event`, recorded at `created_at`, about `data` as `describe`
/// found it): the JSON a webhook gets, its `"id"` the message id.
pub fn message(
    message_id: &str,
    event: &str,
    created_at: OffsetDateTime,
    data: &serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "id": message_id,
        "event": event,
        "created_at": created_at.unix_timestamp(),
        "data": data,
    })
}

/// Record event `id` for the brokers, in the fan-out's transaction.
pub async fn record(
    conn: &mut PgConnection,
    id: i64,
    event: &str,
    created_at: OffsetDateTime,
    data: &serde_json::Value,
) -> sqlx::Result<()> {
    let message_id = new_message_id();
    let payload = message(&message_id, event, created_at, data);
    repo::insert(&mut *conn, id, event, &message_id, &payload, created_at).await
}

/// A publishing job for each of `brokers`, unless one waits already (after the fan-out's
/// commit it takes what the fan-out recorded).
pub async fn publish_soon(conn: &mut PgConnection, brokers: &[Broker]) -> sqlx::Result<()> {
    for broker in brokers {
        match broker {
            Broker::Amqp => jobs::queue_once::<ToAmqp>(&mut *conn).await?,
            Broker::Nats => jobs::queue_once::<ToNats>(&mut *conn).await?,
        }
    }
    Ok(())
}

/// Tell the event triggers that this worker publishes to the brokers `settings` configure,
/// for the hour ahead: at start-up, and each minute (`tick`). Nothing without a broker.
pub async fn announce(db: &PgPool, settings: &EventsSettings) -> sqlx::Result<()> {
    let brokers = Broker::configured(settings);
    if brokers.is_empty() {
        return Ok(());
    }
    repo::announce(db, &brokers).await
}

/// Each minute, on instances that run jobs: `announce` again, and queue a publishing job for
/// a broker whose events wait when none is on its way (one discarded, say).
pub async fn tick(db: PgPool, brokers: Vec<Broker>) -> sqlx::Result<()> {
    if brokers.is_empty() {
        return Ok(());
    }
    repo::announce(&db, &brokers).await?;
    for broker in brokers {
        let kind = match broker {
            Broker::Amqp => ToAmqp::KIND,
            Broker::Nats => ToNats::KIND,
        };
        if repo::any_waiting(&db, broker).await? && !jobs::repo::on_its_way(&db, kind).await? {
            let mut conn = db.acquire().await?;
            publish_soon(&mut conn, &[broker]).await?;
        }
    }
    Ok(())
}

/// How many events wait for each configured broker, and the oldest one's wait in seconds
/// (`/admin/jobs`, `/metrics`).
pub async fn backlog(
    db: &PgPool,
    settings: &EventsSettings,
) -> sqlx::Result<Vec<(Broker, i64, f64)>> {
    let mut waiting = Vec::new();
    for broker in Broker::configured(settings) {
        let (n, oldest) = repo::backlog(db, broker).await?;
        waiting.push((broker, n, oldest));
    }
    Ok(waiting)
}

/// A broker's client: publishes one message and waits for the broker to confirm it. `Err`
/// says why not (the broker away, slow, or refusing), for the log and `/admin/jobs`.
pub trait Publisher: Send + Sync {
    fn publish(&self, message: &repo::Waiting) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// `events.amqp` (queued by the fan-out, and each minute while events wait): the events
/// RabbitMQ has not confirmed, published to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ToAmqp {}

impl BackgroundJob for ToAmqp {
    const KIND: &'static str = "events.amqp";
    const TITLE: &'static str = "Events to RabbitMQ";
    /// The instance's RabbitMQ client, when configured: one connection, kept between jobs.
    type Context = Option<amqp::Amqp>;

    async fn run(&self, run: &Run<'_>, cx: &Self::Context) -> anyhow::Result<Outcome> {
        match cx {
            Some(client) => publish(run, Broker::Amqp, client).await,
            // Not configured here (any more): the rows wait for a worker that has it.
            None => Ok(Outcome::Done),
        }
    }
}

/// `events.nats`: likewise, to NATS JetStream.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ToNats {}

impl BackgroundJob for ToNats {
    const KIND: &'static str = "events.nats";
    const TITLE: &'static str = "Events to NATS";
    /// The instance's NATS client, when configured: one connection, kept between jobs.
    type Context = Option<nats::Nats>;

    async fn run(&self, run: &Run<'_>, cx: &Self::Context) -> anyhow::Result<Outcome> {
        match cx {
            Some(client) => publish(run, Broker::Nats, client).await,
            None => Ok(Outcome::Done),
        }
    }
}

/// Publish what waits for `broker`, oldest first, one message at a time (so a message that
/// must be sent again never comes after a later one), stamping those confirmed.
async fn publish(
    run: &Run<'_>,
    broker: Broker,
    client: &impl Publisher,
) -> anyhow::Result<Outcome> {
    // Its own connection, closed at the end: the lock lives exactly as long as this job.
    let Some(mut conn) = crate::db::try_advisory_lock(&run.db, broker.lock()).await? else {
        return Ok(Outcome::Later(Duration::from_secs(1)));
    };
    loop {
        if run.is_stopping() {
            return Ok(Outcome::Later(Duration::ZERO));
        }
        let batch = repo::waiting(&mut conn, broker, BATCH).await?;
        if batch.is_empty() {
            return Ok(Outcome::Done);
        }
        let mut confirmed = Vec::with_capacity(batch.len());
        let mut failed = None;
        for message in &batch {
            match client.publish(message).await {
                Ok(()) => confirmed.push(message.id),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        repo::confirmed(&mut conn, broker, &confirmed).await?;
        if let Some(e) = failed {
            return away(run, broker, &format!("{e:#}")).await;
        }
        tracing::debug!(
            broker = broker.name(),
            sent = confirmed.len(),
            "events published"
        );
    }
}

/// `broker` could not take a message: the rows wait. Another job for it queued already
/// takes them; otherwise this one comes back after half the oldest row's wait (within the
/// bounds), the error noted for `/admin/jobs`.
async fn away(run: &Run<'_>, broker: Broker, error: &str) -> anyhow::Result<Outcome> {
    let (waiting, oldest) = repo::backlog(&run.db, broker).await?;
    tracing::warn!(
        broker = broker.title(),
        error,
        waiting,
        waited_secs = oldest.round(),
        "events not published; they wait"
    );
    jobs::repo::note(&run.db, run.id(), error).await?;
    let kind = match broker {
        Broker::Amqp => ToAmqp::KIND,
        Broker::Nats => ToNats::KIND,
    };
    if jobs::repo::another_queued(&run.db, kind, run.id()).await? {
        return Ok(Outcome::Done);
    }
    Ok(Outcome::Later(retry_after(Duration::from_secs_f64(
        oldest.max(0.0),
    ))))
}

/// The wait before the next attempt, after the oldest event has waited `waited`.
fn retry_after(waited: Duration) -> Duration {
    (waited / 2).clamp(RETRY_FIRST, RETRY_MOST)
}

/// `events.prune`, hourly: events older than a week that every configured broker confirmed,
/// deleted in batches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Prune {}

impl BackgroundJob for Prune {
    const KIND: &'static str = "events.prune";
    const TITLE: &'static str = "Clean-up of published events";
    type Context = ();

    async fn run(&self, run: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        let events = &run.settings.events;
        loop {
            let gone = repo::prune(
                &run.db,
                events.amqp().is_some(),
                events.nats().is_some(),
                KEEP_DAYS,
                PRUNE_BATCH,
            )
            .await?;
            if gone < PRUNE_BATCH as u64 {
                return Ok(Outcome::Done);
            }
            if run.is_stopping() {
                return Ok(Outcome::Later(Duration::ZERO));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_half_the_oldest_wait_within_bounds() {
        assert_eq!(retry_after(Duration::ZERO), RETRY_FIRST);
        assert_eq!(retry_after(Duration::from_secs(10)), Duration::from_secs(5));
        assert_eq!(retry_after(Duration::from_secs(3600)), RETRY_MOST);
    }

    #[test]
    fn message_ids_are_new_each_time_and_say_what_they_are() {
        let (a, b) = (new_message_id(), new_message_id());
        assert!(
            a.starts_with("quire-evt-") && a.len() == "quire-evt-".len() + 36,
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn a_message_is_the_webhook_body_with_the_message_id() {
        let at = OffsetDateTime::from_unix_timestamp(1_764_720_000).expect("a time");
        let data = serde_json::json!({"id": 7, "slug": "hello"});
        let m = message("quire-evt-x", "post.published", at, &data);
        assert_eq!(
            m,
            serde_json::json!({
                "id": "quire-evt-x",
                "event": "post.published",
                "created_at": 1_764_720_000,
                "data": {"id": 7, "slug": "hello"},
            })
        );
    }
}
