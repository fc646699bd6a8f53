//! Work on a tag's posts that is too big for one request: refreshing their `tag_list` after a
//! rename, moving them to another tag in a merge (issue 9, section 7), and taking a deleted
//! tag off them (issue 27, item 9; they keep their other tags).
//!
//! A rename (by the admin page or by hand in psql) queues a `tag_jobs` row through a trigger;
//! a merge queues one through `repo::queue_merge`. The job is done in batches of [`BATCH`]
//! posts, each in its own short transaction, so no statement rewrites or locks thousands of
//! posts and an editor saving a post waits at most for one batch. The request that queued the
//! job does the first batch itself, so a tag on fewer posts than that is done before the page
//! answers; writing the `tag_jobs` row also queues a `tags.work` job (a trigger), which the
//! job runner works through on any instance, after a restart too. The `tag_jobs` row is the
//! record of progress, and the admin's tag list shows it while it lasts.

use sqlx::PgPool;

use super::{model::TagId, repo};
use crate::{
    cache::Pages,
    jobs::{BackgroundJob, Outcome, Run},
};

/// Posts per batch: a batch takes tens of milliseconds here.
pub const BATCH: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More batches remain.
    More,
    /// The job is done, or there was none.
    Finished,
}

/// One batch of the job on `tag`, in its own transaction.
pub async fn step(db: &PgPool, tag: TagId) -> sqlx::Result<Step> {
    let Some(queued) = repo::job(db, tag).await? else {
        return Ok(Step::Finished);
    };
    let mut tx = db.begin().await?;
    // The tag's row before the job's, in the order a rename takes them (its trigger writes the
    // job), so the two never deadlock. A merge holds it exclusively: no post gains the tag
    // while the batch runs, so a short batch means none are left.
    repo::lock(&mut tx, tag, queued.merge_into.is_some() || queued.deleting).await?;
    let Some(job) = repo::lock_job(&mut tx, tag).await? else {
        return Ok(Step::Finished);
    };
    let step = match job.merge_into {
        None if job.deleting => {
            let dropped = repo::drop_posts(&mut tx, tag, BATCH).await?;
            if dropped == BATCH {
                repo::advance_job(&mut tx, tag, 0, dropped).await?;
                Step::More
            } else {
                repo::delete(&mut tx, tag).await?;
                Step::Finished
            }
        }
        None => {
            let ids = repo::posts_after(&mut tx, tag, job.done_through, BATCH).await?;
            repo::refresh_tag_lists(&mut tx, &ids).await?;
            match ids.last() {
                Some(&last) if ids.len() as i64 == BATCH => {
                    repo::advance_job(&mut tx, tag, last, BATCH).await?;
                    Step::More
                }
                _ => {
                    repo::finish_job(&mut tx, tag).await?;
                    Step::Finished
                }
            }
        }
        Some(into) => {
            let moved = repo::move_posts(&mut tx, tag, into, BATCH).await?;
            if moved == BATCH {
                repo::advance_job(&mut tx, tag, 0, moved).await?;
                Step::More
            } else {
                repo::delete(&mut tx, tag).await?;
                Step::Finished
            }
        }
    };
    tx.commit().await?;
    Ok(step)
}

/// Do the first batch of the job on `tag` now; the `tags.work` job does the rest.
pub async fn start(db: &PgPool, tag: TagId) -> sqlx::Result<Step> {
    step(db, tag).await
}

/// Work through every queued job, oldest first, until none is left (the `tags.work` job).
/// Two runs at once (two renames in a row) take turns, batch by batch: the job row's lock.
/// Kept pages go stale after each batch: they show the posts it changed.
pub async fn run(db: &PgPool, pages: &Pages) -> sqlx::Result<()> {
    while let Some(tag) = repo::next_job(db).await? {
        loop {
            let more = step(db, tag).await? == Step::More;
            pages.stale().await;
            if !more {
                break;
            }
        }
    }
    Ok(())
}

/// `tags.work` (queued by a trigger on `tag_jobs`): every queued rename and merge worked
/// through (`run`). The page cache's handle is its context: kept pages go stale per batch.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Work {}

impl BackgroundJob for Work {
    const KIND: &'static str = "tags.work";
    const TITLE: &'static str = "Tag changes";
    type Context = Pages;

    async fn run(&self, ctx: &Run<'_>, pages: &Pages) -> anyhow::Result<Outcome> {
        run(&ctx.db, pages).await?;
        Ok(Outcome::Done)
    }
}
