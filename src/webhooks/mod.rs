//! Webhooks: admins register URLs for events; each event is delivered as a signed JSON POST.
//!
//! - **Events** are recorded by triggers in the same transaction as the change
//!   (`webhook_events`; migration `20261217000000_create_webhooks.sql`), whoever made it, so
//!   none is lost; scheduled posts going live by the clock are found by `webhooks.scan`,
//!   every minute. The `webhooks.fanout` job turns each event into one delivery per webhook
//!   listening, and a `webhook.deliver` job each, and, with a message broker configured,
//!   records its message for the brokers too (`crate::events`). Fan-outs take turns (an
//!   advisory lock), so the brokers get events in the order they were taken.
//! - **Signing**: `Quire-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!   The timestamp is inside what is signed, so a receiver that refuses old timestamps
//!   (five minutes, say) can't be fed a recorded delivery again. `Quire-Delivery` names the
//!   delivery (the same on every retry), so a receiver can drop repeats.
//! - **Delivery**: only to public addresses unless `webhooks.allow_private` (see `guard`),
//!   redirects never followed, `webhooks.timeout_secs` to answer, at most
//!   `webhooks.max_response_bytes` read. A non-2xx answer or no answer is retried with the
//!   runner's backoff, 8 attempts in all; every attempt is in the log on `/admin/webhooks`.

pub mod admin;
pub mod guard;
pub mod repo;

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{
    events,
    jobs::{BackgroundJob, NewJob, Outcome, Permanent, Run},
};

/// Every event a webhook can listen for, with what it means.
pub const EVENTS: [(&str, &str); 6] = [
    (
        "post.published",
        "a post goes live (saved published, or its scheduled time comes)",
    ),
    ("post.updated", "a live post is saved again"),
    (
        "post.unpublished",
        "a live post goes back to draft or is scheduled for later",
    ),
    ("post.deleted", "a live post is moved to the trash"),
    ("comment.created", "someone comments"),
    ("user.created", "an account is made"),
];

/// Deliveries per event: the first attempt and seven retries (backoff from 1 s to an hour).
const ATTEMPTS: i32 = 8;

/// The signature header's value for `body` at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

/// A new webhook's secret: 32 random bytes, hex.
pub fn new_secret() -> String {
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("whsec_{hex}")
}

/// What a receiver gets about the subject of `event`, read now (in the fan-out's
/// transaction: it holds the only connection the fan-out uses).
async fn describe(
    conn: &mut sqlx::PgConnection,
    base: &str,
    event: &str,
    subject: i64,
) -> sqlx::Result<Option<serde_json::Value>> {
    let sql = match event.split('.').next() {
        Some("post") => {
            "SELECT jsonb_build_object(
                'id', p.id, 'title', p.title, 'slug', p.slug,
                'url', $2 || '/posts/' || p.slug, 'status', p.status::text,
                'published_at', p.published_at, 'updated_at', p.updated_at,
                'tags', COALESCE((SELECT jsonb_agg(t->>'name') FROM jsonb_array_elements(p.tag_list) t), '[]'),
                'author', jsonb_build_object('username', u.username, 'name', u.display_name))
               FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id = $1"
        }
        Some("comment") => {
            "SELECT jsonb_build_object(
                'id', c.id, 'body', c.body_markdown, 'held', c.approved_at IS NULL,
                'url', $2 || '/posts/' || p.slug || '#comment-' || c.id,
                'post', jsonb_build_object('id', p.id, 'slug', p.slug, 'title', p.title),
                'author', jsonb_build_object('username', u.username,
                    'name', COALESCE(u.display_name, c.guest_name), 'guest', c.author_id IS NULL),
                'created_at', c.created_at)
               FROM comments c JOIN posts p ON p.id = c.post_id
               LEFT JOIN users u ON u.id = c.author_id
              WHERE c.id = $1"
        }
        Some("user") => {
            "SELECT jsonb_build_object(
                'id', u.id, 'username', u.username, 'name', u.display_name,
                'role', u.role::text, 'url', $2 || '/authors/' || u.username,
                'created_at', u.created_at)
               FROM users u WHERE u.id = $1"
        }
        _ => return Ok(None),
    };
    sqlx::query_scalar(sql)
        .bind(subject)
        .bind(base)
        .fetch_optional(&mut *conn)
        .await
}

/// `webhooks.fanout` (queued by the event triggers): each waiting event becomes a delivery
/// (and a job) per webhook listening, in the transaction that takes the event.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fanout {}

impl BackgroundJob for Fanout {
    const KIND: &'static str = "webhooks.fanout";
    const TITLE: &'static str = "Webhook events";
    type Context = ();

    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        fanout(ctx).await
    }
}

async fn fanout(ctx: &Run<'_>) -> anyhow::Result<Outcome> {
    // The brokers this worker publishes to (README "Events"): each event's message is recorded
    // for them beside its deliveries.
    let brokers = events::Broker::configured(&ctx.settings.events);
    let base = ctx.settings.http.base();
    loop {
        let mut tx = ctx.db.begin().await?;
        // One fan-out after the other, so the brokers get events in the order they are taken.
        // Another one running takes these events too, or this one comes back in a moment.
        if !repo::one_fanout_at_a_time(&mut tx).await? {
            tx.rollback().await?;
            return Ok(Outcome::Later(Duration::from_millis(200)));
        }
        let taken = repo::take_events(&mut tx, 200).await?;
        if taken.is_empty() {
            // Now, not when the connection is next used: the lock goes with the transaction.
            tx.rollback().await?;
            return Ok(Outcome::Done);
        }
        let mut recorded = false;
        for e in &taken {
            let webhooks = repo::listeners(&mut tx, &e.event).await?;
            if webhooks.is_empty() && brokers.is_empty() {
                continue;
            }
            let Some(data) = describe(&mut tx, &base, &e.event, e.subject_id).await? else {
                continue;
            };
            let payload = serde_json::json!({
                "event": e.event,
                "created_at": e.created_at.unix_timestamp(),
                "data": data,
            });
            for webhook in webhooks {
                queue_delivery(&mut tx, webhook, &e.event, &payload).await?;
            }
            if !brokers.is_empty() {
                events::record(&mut tx, e.id, &e.event, e.created_at, &data).await?;
                recorded = true;
            }
        }
        if recorded {
            events::publish_soon(&mut tx, &brokers).await?;
        }
        tx.commit().await?;
    }
}

/// A delivery of `payload` to `webhook`, and its job.
pub async fn queue_delivery(
    conn: &mut sqlx::PgConnection,
    webhook: i64,
    event: &str,
    payload: &serde_json::Value,
) -> sqlx::Result<i64> {
    let id = repo::insert_delivery(&mut *conn, webhook, event, payload).await?;
    NewJob::of(&Deliver { delivery: id })
        .key(format!("delivery:{id}"))
        .enqueue(&mut *conn)
        .await?;
    Ok(id)
}

/// `webhooks.scan`, every minute (the registry's schedule): scheduled posts that went live
/// by the clock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scan {}

impl BackgroundJob for Scan {
    const KIND: &'static str = "webhooks.scan";
    const TITLE: &'static str = "Webhook deliveries";
    type Context = ();

    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        scan(ctx).await
    }
}

async fn scan(ctx: &Run<'_>) -> anyhow::Result<Outcome> {
    let mut tx = ctx.db.begin().await?;
    for post in repo::newly_live(&mut tx).await? {
        sqlx::query("SELECT webhook_event('post.published', $1)")
            .bind(post)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// `webhook.deliver`: one signed POST to a webhook.
#[derive(Serialize, Deserialize)]
pub struct Deliver {
    delivery: i64,
}

impl BackgroundJob for Deliver {
    const KIND: &'static str = "webhook.deliver";
    const TITLE: &'static str = "Webhook delivery";
    const MAX_ATTEMPTS: i32 = ATTEMPTS;
    type Context = ();

    async fn describe(&self, db: &sqlx::PgPool) -> String {
        let url: Option<String> = sqlx::query_scalar(
            "SELECT w.url FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
              WHERE d.id = $1",
        )
        .bind(self.delivery)
        .fetch_optional(db)
        .await
        .ok()
        .flatten();
        // The host is what tells two webhooks apart; the path may hold a secret.
        let host = url.and_then(|u| url::Url::parse(&u).ok()?.host_str().map(str::to_owned));
        host.map_or_else(
            || Self::TITLE.to_owned(),
            |h| format!("Webhook delivery to {h}"),
        )
    }

    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        deliver(ctx, self.delivery).await
    }
}

/// One attempt, logged; anything but a 2xx is retried.
async fn deliver(ctx: &Run<'_>, delivery: i64) -> anyhow::Result<Outcome> {
    let Some(out) = repo::outgoing(&ctx.db, delivery).await? else {
        return Ok(Outcome::Done);
    };
    if out.state != "pending" {
        return Ok(Outcome::Done);
    }
    if !out.active {
        repo::record(
            &ctx.db,
            delivery,
            "failed",
            None,
            0,
            Some("the webhook was turned off"),
        )
        .await?;
        return Ok(Outcome::Done);
    }
    let last = ctx.is_last_attempt();
    let started = Instant::now();
    let sent = post(ctx, &out).await;
    let millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match sent {
        Ok(status) if (200..300).contains(&status) => {
            repo::record(&ctx.db, delivery, "delivered", Some(status), millis, None).await?;
            Ok(Outcome::Done)
        }
        Ok(status) => {
            let error = format!("the receiver answered {status}");
            let state = if last { "failed" } else { "pending" };
            repo::record(&ctx.db, delivery, state, Some(status), millis, Some(&error)).await?;
            Err(anyhow::anyhow!(error))
        }
        Err(e) => {
            let error = format!("{e:#}");
            let permanent = e.downcast_ref::<Permanent>().is_some();
            let state = if last || permanent {
                "failed"
            } else {
                "pending"
            };
            repo::record(&ctx.db, delivery, state, None, millis, Some(&error)).await?;
            Err(e)
        }
    }
}

/// POST the delivery; the receiver's status code.
async fn post(ctx: &Run<'_>, out: &repo::Outgoing) -> anyhow::Result<u16> {
    let settings = &ctx.settings.webhooks;
    let url = url::Url::parse(&out.url).map_err(|e| Permanent(format!("the URL: {e}")))?;
    // A name that doesn't resolve may next time; a private address never becomes public.
    let address = guard::resolve(&url, settings.allow_private)
        .await
        .map_err(|e| match e {
            guard::Refused::Unresolved(_) => anyhow::Error::new(e),
            refused => Permanent(refused.to_string()).into(),
        })?;
    // When the event happened (as the brokers' messages say it, `crate::events`); a test ping
    // happened when it was queued.
    let happened = out
        .payload
        .get("created_at")
        .cloned()
        .unwrap_or_else(|| out.created_at.unix_timestamp().into());
    let body = serde_json::to_vec(&serde_json::json!({
        "id": out.id,
        "event": out.event,
        "created_at": happened,
        "data": out.payload.get("data").cloned().unwrap_or(out.payload.clone()),
    }))?;
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let host = url.host_str().unwrap_or_default().to_owned();
    // Connect to the address that was checked, whatever the name resolves to a moment later.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(settings.timeout_secs))
        .connect_timeout(Duration::from_secs(settings.timeout_secs.min(5)))
        .resolve(&host, address)
        .user_agent("Quire-Webhooks/1")
        .build()?;
    let mut res = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Quire-Event", &out.event)
        .header("Quire-Delivery", out.id.to_string())
        .header("Quire-Signature", signature(&out.secret, timestamp, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("no answer: {}", without_url(&e)))?;
    let status = res.status().as_u16();
    if res.status().is_redirection() {
        return Err(anyhow::anyhow!(
            "the receiver answered {status} (a redirect): redirects are not followed"
        ));
    }
    // Read a little of the answer (receivers often say why), and never more.
    let mut read = 0usize;
    while read < settings.max_response_bytes {
        match tokio::time::timeout(Duration::from_secs(settings.timeout_secs), res.chunk()).await {
            Ok(Ok(Some(chunk))) => read += chunk.len(),
            _ => break,
        }
    }
    Ok(status)
}

/// reqwest's error, without the URL (it may carry a token the admin put in it).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}
