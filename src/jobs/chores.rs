//! Periodic chores, queued by every runner with a key naming the period: however many
//! instances run, each period's chore is queued once (the key) and run once.

use std::time::Duration;

use time::OffsetDateTime;

use super::{NewJob, Outcome, repo, runner::Ctx};

/// Rows one purge statement deletes at most: short transactions, few locks (a post takes its
/// comments and revisions with it, so fewer of those).
const BATCH: i64 = 500;
const POSTS: i64 = 50;

/// Every minute: queue this hour's chores, unless queued already, and a newsletter scan.
pub async fn schedule(ctx: Ctx) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = OffsetDateTime::now_utc();
        let hour = format!("{} {:02}h", now.date(), now.hour());
        let job = NewJob::new("chores.purge", serde_json::json!({})).key(hour);
        if let Err(e) = repo::enqueue(&ctx.db, &job).await {
            tracing::debug!(error = %e, "chores not queued; next minute");
        }
        // Scheduled posts come out without anyone saving: look for them every minute.
        // A search outbox with rows and no sync on its way (a sync whose job was discarded):
        // one more.
        if ctx.meili.is_some()
            && let Err(e) = sqlx::query(
                "SELECT jobs_queue_once('search.sync') WHERE EXISTS (SELECT 1 FROM search_outbox)",
            )
            .execute(&ctx.db)
            .await
        {
            tracing::debug!(error = %e, "search sync not queued; next minute");
        }
        if let Err(e) = crate::jobs::repo::queue_once(&ctx.db, "webhooks.scan").await {
            tracing::debug!(error = %e, "webhooks scan not queued; next minute");
        }
        if ctx.settings.mail.is_configured()
            && let Err(e) = crate::newsletter::scan_soon(&ctx.db).await
        {
            tracing::debug!(error = %e, "newsletter scan not queued; next minute");
        }
    }
}

/// Finished jobs past their keeping time, posts 30 days in the trash and reset links a day
/// past their time, deleted in batches; hands over between batches when the process stops.
pub async fn purge(ctx: &Ctx) -> anyhow::Result<Outcome> {
    loop {
        let jobs = repo::purge(&ctx.db, ctx.settings.jobs.keep_done_hours, BATCH).await?;
        let posts = crate::posts::repo::purge_trash(&ctx.db, POSTS).await?;
        crate::accounts::reset::repo::purge(&ctx.db).await?;
        if posts > 0 {
            tracing::info!(posts, "posts 30 days in the trash deleted");
            ctx.pages.stale().await;
        }
        if jobs < BATCH as u64 && posts < POSTS as u64 {
            return Ok(Outcome::Done);
        }
        if ctx.is_stopping() {
            return Ok(Outcome::Later(Duration::ZERO));
        }
    }
}
