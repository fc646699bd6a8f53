//! What every job's code can reach from the runner: infrastructure only (the pools, the
//! settings, whether the process is stopping, the worker's name) and the attempt it is on.
//! What a feature's jobs need besides (the mailer, Meilisearch, the page cache) is their
//! type's `BackgroundJob::Context`, given by the wiring when it registers them: this file,
//! like the rest of `jobs/`, names no feature.

use std::{ops::Deref, sync::Arc};

use sqlx::PgPool;
use tokio::sync::watch;

use super::{job::Job, repo};
use crate::config::Settings;

/// The runner's infrastructure, shared by every job of this process.
#[derive(Clone)]
pub struct Ctx {
    pub db: PgPool,
    /// The runner's own bookkeeping (claims, leases, completions): its commits don't wait for
    /// the disk (`db::unhurried_pool`). A job's work goes through `db`.
    pub(super) books: PgPool,
    pub settings: Arc<Settings>,
    /// Becomes `true` when the process is stopping: a long job hands over between steps.
    pub stopping: watch::Receiver<bool>,
    /// This worker's name, which it holds jobs under.
    pub worker: Arc<str>,
}

impl Ctx {
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }
}

/// One attempt at one job: the runner's `Ctx` (through `Deref`), and which attempt this is.
pub struct Run<'a> {
    ctx: &'a Ctx,
    job: &'a Job,
}

impl<'a> Run<'a> {
    pub(super) fn new(ctx: &'a Ctx, job: &'a Job) -> Self {
        Self { ctx, job }
    }

    /// The job's id (its row in `jobs`).
    pub fn id(&self) -> i64 {
        self.job.id
    }

    /// Which attempt this is, counting this one (the first is 1).
    pub fn attempt(&self) -> i32 {
        self.job.attempts
    }

    /// Whether a failure now parks the job as failed.
    pub fn is_last_attempt(&self) -> bool {
        self.job.attempts >= self.job.max_attempts
    }

    /// Mark the job done in the transaction that did its work (see `repo::finish_in`):
    /// `false` when it is no longer this worker's, and the caller rolls back.
    pub async fn finish_in(&self, conn: &mut sqlx::PgConnection) -> sqlx::Result<bool> {
        repo::finish_in(conn, self.job, &self.ctx.worker).await
    }
}

impl Deref for Run<'_> {
    type Target = Ctx;

    fn deref(&self) -> &Ctx {
        self.ctx
    }
}
