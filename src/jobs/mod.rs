//! One job runner for all work outside the request: emails, newsletters, webhooks, the search
//! outbox, the statistics flush, tag renames and merges, and periodic chores.
//!
//! Jobs are rows in PostgreSQL's `jobs` table (migration `20261213000000_create_jobs.sql`);
//! no new server to run. Existing crates that do this (apalis, underway, sqlxmq, graphile
//! worker ports) build on sqlx 0.8 or another driver, which would put a second PostgreSQL
//! client in the binary; the part Quire needs is a few statements, so it is here:
//! - a worker claims due jobs with `FOR UPDATE SKIP LOCKED` (any number of workers on any
//!   number of instances never take the same job at once) and holds them under a lease it
//!   renews; a worker that dies stops renewing, and its jobs are queued again when the lease
//!   ends (`repo::reap`);
//! - delivery is at least once: a job may run again after a crash, so every kind is written to
//!   do no harm the second time (its effects and its completion in one transaction, or a
//!   record of what was done); queuing with an idempotency key does nothing when that job
//!   exists already;
//! - a failed attempt is retried after an exponential backoff with a cap, and parked as
//!   `failed` with its error after `max_attempts`; `/admin/jobs` retries or discards it;
//! - workers wake on `LISTEN quire_jobs` when something is queued, and poll besides.
//!
//! **A job is a type** (issue 25, after crates.io's `crates_io_worker::BackgroundJob`): its
//! value is the payload (serde), [`BackgroundJob::KIND`] its name in the `jobs` table, and
//! its code lives in the module it serves (`accounts::reset::ResetMail`, `webhooks::Deliver`,
//! …). Queuing takes the kind from the type (`job.enqueue(db)`, `NewJob::of(&job).key(…)`),
//! so a kind is written once, on its type. The wiring (`crate::job_registry`) registers each
//! type in a [`Registry`], with the [`BackgroundJob::Context`] it needs (the mailer,
//! Meilisearch, the page cache), and the runner dispatches on the kind through it; a kind
//! nobody registered fails at once, for good. SQL that queues a job by name (the triggers'
//! `jobs_queue_once('search.sync')`) must name a registered kind: `tests/it/jobs.rs` reads
//! every such name in `migrations/`, `src/` and `bench/` and checks it.
//!
//! Nothing here names a feature: `runner` knows the infrastructure (`context::Ctx`), the
//! registry knows job types only through the trait.

pub mod admin;
pub mod chores;
pub mod context;
pub mod job;
pub mod registry;
pub mod repo;
pub mod runner;

use std::future::Future;

use serde::{Serialize, de::DeserializeOwned};

pub use admin::routes;
pub use context::{Ctx, Run};
pub use job::{Job, NewJob, Outcome, Permanent, backoff};
pub use registry::Registry;
pub use runner::Runner;

/// A kind of job: the type's value is its payload, `KIND` its name in the `jobs` table.
///
/// Jobs run at least once, so `run` must do no harm the second time (see the module doc).
pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind, as the `jobs` table and `/admin/jobs` show it (`^[a-z][a-z0-9_.]{0,63}$`).
    /// Never rename one that may be queued: rows and migrations name it.
    const KIND: &'static str;

    /// Attempts before the job is parked as failed (`NewJob::attempts` overrides).
    const MAX_ATTEMPTS: i32 = 10;

    /// What the job needs beyond the runner's infrastructure (a mailer, a search client, the
    /// page cache), given once when the wiring registers the type; `()` for nothing.
    type Context: Send + Sync + 'static;

    /// Do the job once. `run` has the pools, the settings and the attempt; `cx` is what the
    /// registry was given for this type.
    fn run(
        &self,
        run: &Run<'_>,
        cx: &Self::Context,
    ) -> impl Future<Output = anyhow::Result<Outcome>> + Send;

    /// Queue this job now, with the type's defaults; `None` never happens without a key.
    fn enqueue<'c>(
        &self,
        db: impl sqlx::PgExecutor<'c>,
    ) -> impl Future<Output = sqlx::Result<Option<i64>>> + Send {
        let job = NewJob::of(self);
        async move { repo::enqueue(db, &job).await }
    }
}

impl NewJob {
    /// `job`, to queue under its type's kind: add a key, a time or attempts, then `enqueue`.
    pub fn of<J: BackgroundJob>(job: &J) -> Self {
        Self::with_kind(J::KIND, job, J::MAX_ATTEMPTS)
    }

    /// Queue it; `None` when a job of its kind with its key exists already.
    pub async fn enqueue(&self, db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<Option<i64>> {
        repo::enqueue(db, self).await
    }
}

/// Queue a job of kind `J` unless one is queued and not started yet (`jobs_queue_once`: the
/// way triggers queue work that takes whatever is waiting). Its payload is `{}`, so `J` is a
/// type that reads one (`struct Scan {}`).
pub async fn queue_once<J: BackgroundJob>(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    repo::queue_once(db, J::KIND).await
}

/// Queue many jobs of one kind in one statement (the tests' batches).
pub async fn enqueue_many<J: BackgroundJob>(
    db: impl sqlx::PgExecutor<'_>,
    jobs: &[J],
) -> sqlx::Result<u64> {
    let payloads: Vec<serde_json::Value> = jobs
        .iter()
        .map(|j| serde_json::to_value(j).unwrap_or_default())
        .collect();
    repo::enqueue_many(db, J::KIND, &payloads).await
}
