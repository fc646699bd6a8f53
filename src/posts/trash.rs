//! The trash's end: posts 30 days in the trash are deleted for good, hourly (`posts.purge`,
//! a job the wiring schedules).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{
    cache::Pages,
    jobs::{BackgroundJob, Outcome, Run},
};

/// Posts one statement deletes at most: a post takes its comments and revisions with it, so
/// a short transaction holds few locks.
const BATCH: i64 = 50;

/// `posts.purge`, hourly: posts 30 days in the trash, deleted in batches; kept pages go
/// stale when any went (the page cache's handle is the job's context).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PurgeTrash {}

impl BackgroundJob for PurgeTrash {
    const KIND: &'static str = "posts.purge";
    const TITLE: &'static str = "Emptying the trash";
    type Context = Pages;

    async fn run(&self, ctx: &Run<'_>, pages: &Pages) -> anyhow::Result<Outcome> {
        loop {
            let posts = super::repo::purge_trash(&ctx.db, BATCH).await?;
            if posts > 0 {
                tracing::info!(posts, "posts 30 days in the trash deleted");
                pages.stale().await;
            }
            if posts < BATCH as u64 {
                return Ok(Outcome::Done);
            }
            if ctx.is_stopping() {
                return Ok(Outcome::Later(Duration::ZERO));
            }
        }
    }
}
