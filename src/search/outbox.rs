//! The search outbox and the job that applies it to Meilisearch.
//!
//! Triggers queue a post in `search_outbox` in the same transaction as any change to it
//! (migration `20261202000000_create_search_outbox.sql`), so no update is lost whatever
//! happens to the process or to Meilisearch afterwards, and queue a `search.sync` job for the
//! job runner (coalesced: one waits at a time). The job (`sync`):
//! - runs on one worker at a time (a PostgreSQL advisory lock held by its own connection;
//!   another worker finding it taken comes back a second later);
//! - takes the oldest rows, reads each post as it is *now*, and sends it, or its removal
//!   when readers may no longer see it;
//! - deletes a row only after Meilisearch confirms the task, and only if the post was not
//!   queued again meanwhile (`seq`), so the newer change is sent too: at least once;
//! - while Meilisearch is unreachable or refusing, hands the job back to run again two
//!   seconds later (the rows wait; nothing is parked as failed for an outage, however long).

use std::{sync::Arc, time::Duration};

use sqlx::{PgConnection, PgPool, Row};

use super::{
    SearchError,
    meili::{Document, Meili},
};
use crate::{
    jobs::{BackgroundJob, Outcome, Run},
    posts::{model::PostId, repo},
};

/// Rows sent to Meilisearch in one task.
const BATCH: i64 = 500;
/// `pg_try_advisory_lock`'s key: "one outbox worker".
const LOCK: i64 = 0x5155_4952_4530_0001;

/// Is nothing waiting to be sent? (Until then, searches answer from PostgreSQL.)
pub async fn is_empty(db: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM search_outbox)")
        .fetch_one(db)
        .await
}

/// How many posts wait, and the oldest wait in seconds (`/readyz`, `/metrics`).
pub async fn pending(db: &PgPool) -> sqlx::Result<(i64, f64)> {
    let row = sqlx::query(
        "SELECT count(*) AS n,
                COALESCE(EXTRACT(EPOCH FROM now() - min(queued_at)), 0)::float8 AS age
           FROM search_outbox",
    )
    .fetch_one(db)
    .await?;
    Ok((row.try_get("n")?, row.try_get("age")?))
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub indexed: usize,
    pub removed: usize,
}

impl Sent {
    pub fn total(&self) -> usize {
        self.indexed + self.removed
    }
}

/// Send the oldest `limit` queued posts to Meilisearch; rows are deleted once it confirms.
pub async fn send_batch(
    conn: &mut PgConnection,
    meili: &Meili,
    limit: i64,
) -> Result<Sent, SearchError> {
    let rows = sqlx::query("SELECT post_id, seq FROM search_outbox ORDER BY seq LIMIT $1")
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    if rows.is_empty() {
        return Ok(Sent::default());
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut seqs = Vec::with_capacity(rows.len());
    for row in &rows {
        ids.push(PostId(row.try_get("post_id")?));
        seqs.push(row.try_get::<i64, _>("seq")?);
    }
    let documents: Vec<Document> = repo::search_documents(&mut *conn, &ids)
        .await?
        .into_iter()
        .map(Document::new)
        .collect();
    let removed: Vec<i64> = ids
        .iter()
        .map(|id| id.0)
        .filter(|id| !documents.iter().any(|d| d.id == *id))
        .collect();
    let result = meili.apply(&documents, &removed).await;
    meili.mark(&result);
    result.map_err(SearchError::Engine)?;
    let raw: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query(
        "DELETE FROM search_outbox o
          USING unnest($1::bigint[], $2::bigint[]) AS d(post_id, seq)
          WHERE o.post_id = d.post_id AND o.seq = d.seq",
    )
    .bind(&raw)
    .bind(&seqs)
    .execute(&mut *conn)
    .await?;
    Ok(Sent {
        indexed: documents.len(),
        removed: removed.len(),
    })
}

/// Send everything queued now (tests and `quire reindex` use this; the worker loops on it).
pub async fn drain(db: &PgPool, meili: &Meili) -> anyhow::Result<Sent> {
    let mut conn = db.acquire().await?;
    let mut sent = Sent::default();
    loop {
        let pass = send_batch(&mut conn, meili, BATCH).await?;
        if pass.total() == 0 {
            return Ok(sent);
        }
        sent.indexed += pass.indexed;
        sent.removed += pass.removed;
    }
}

/// `quire reindex`: queue every post, and every document of the index whose post is gone
/// (the worker removes those), so the index is rebuilt from PostgreSQL by the same path as
/// any change. Safe while the site serves: the index is never emptied, and searches answer
/// from PostgreSQL until the outbox is empty again. Returns how many posts, and how many
/// documents of posts that are gone, were queued.
pub async fn queue_everything(db: &PgPool, meili: &Meili) -> anyhow::Result<(u64, u64)> {
    let posts = sqlx::query("SELECT search_outbox_queue(id) FROM posts")
        .execute(db)
        .await?
        .rows_affected();
    let mut orphans = 0;
    let mut offset = 0;
    loop {
        let ids = meili.ids(offset, 1_000).await?;
        if ids.is_empty() {
            break;
        }
        offset += ids.len();
        orphans += sqlx::query(
            "SELECT search_outbox_queue(gone)
               FROM unnest($1::bigint[]) AS gone
              WHERE NOT EXISTS (SELECT 1 FROM posts WHERE id = gone)",
        )
        .bind(&ids)
        .execute(db)
        .await?
        .rows_affected();
    }
    Ok((posts, orphans))
}

/// Drain the outbox here if no worker is running, else wait while a running one drains it;
/// `progress` is told how many remain. Returns when nothing is queued.
pub async fn drain_or_wait(
    db: &PgPool,
    meili: &Meili,
    progress: impl Fn(i64),
) -> anyhow::Result<()> {
    let mut leader = crate::db::try_advisory_lock(db, LOCK).await?;
    loop {
        let (left, _) = pending(db).await?;
        progress(left);
        if left == 0 {
            return Ok(());
        }
        if let Some(conn) = &mut leader {
            send_batch(conn, meili, BATCH).await?;
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// On every instance: after a failed search, ask Meilisearch again within a second of it
/// answering, whether or not anything is left to send (searches answer from PostgreSQL
/// meanwhile).
pub fn spawn_probe(meili: Arc<Meili>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if meili.is_down() {
                meili.healthy().await;
            }
        }
    })
}

/// How soon a sync that found Meilisearch away runs again.
const AGAIN: Duration = Duration::from_secs(2);

/// `search.sync` (queued by the outbox's triggers, and each minute while rows wait): the
/// outbox sent to Meilisearch, by one worker at a time.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SearchSync {}

impl BackgroundJob for SearchSync {
    const KIND: &'static str = "search.sync";
    const TITLE: &'static str = "Search index update";
    /// The instance's Meilisearch client, when configured (one client, so a failed sync and a
    /// failed search agree that it is down).
    type Context = Option<Arc<Meili>>;

    async fn run(&self, ctx: &Run<'_>, meili: &Self::Context) -> anyhow::Result<Outcome> {
        sync(ctx, meili.as_deref()).await
    }
}

/// A `search.sync` soon, if the outbox holds rows (one whose job was discarded, say): the
/// registry's schedule calls this every minute when Meilisearch is configured.
pub async fn sync_if_waiting(db: &PgPool) -> sqlx::Result<()> {
    if !is_empty(db).await? {
        crate::jobs::queue_once::<SearchSync>(db).await?;
    }
    Ok(())
}

async fn sync(ctx: &Run<'_>, meili: Option<&Meili>) -> anyhow::Result<Outcome> {
    let Some(meili) = meili else {
        // PostgreSQL answers searches here: nothing to send the outbox to.
        return Ok(Outcome::Done);
    };
    if let Err(e) = meili.configure_once().await {
        tracing::debug!(error = %e, "search sync: Meilisearch not configured yet; again soon");
        return Ok(Outcome::Later(AGAIN));
    }
    // Its own connection, closed at the end: the lock lives exactly as long as this job.
    let Some(mut conn) = crate::db::try_advisory_lock(&ctx.db, LOCK).await? else {
        return Ok(Outcome::Later(Duration::from_secs(1)));
    };
    loop {
        if ctx.is_stopping() {
            return Ok(Outcome::Later(Duration::ZERO));
        }
        // (`send_batch` tells `meili` how Meilisearch answered.)
        match send_batch(&mut conn, meili, BATCH).await {
            Ok(sent) if sent.total() == 0 => return Ok(Outcome::Done),
            Ok(_) => {}
            Err(SearchError::Database(e)) => return Err(e.into()),
            // Meilisearch away or refusing: the rows stay; the job comes back soon.
            Err(SearchError::Engine(e)) => {
                tracing::debug!(error = %e, "search sync: Meilisearch unavailable; again soon");
                return Ok(Outcome::Later(AGAIN));
            }
        }
    }
}
