//! A job as a type: the `BackgroundJob` trait every job implements, and queuing by type, so
//! a kind is written once, on its type (see the module doc of `jobs`).

use std::future::Future;

use serde::{Serialize, de::DeserializeOwned};

use super::{
    context::Run,
    job::{NewJob, Outcome},
    repo,
};

/// A kind of job: the type's value is its payload, `KIND` its name in the `jobs` table.
///
/// Jobs run at least once, so `run` must do no harm the second time (see the module doc).
pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind, as the `jobs` table and `/admin/jobs` show it (`^[a-z][a-z0-9_.]{0,63}$`).
    /// Never rename one that may be queued: rows and migrations name it.
    const KIND: &'static str;

    /// What people call this kind of job ("Newsletter issue"): `/admin/jobs` shows it
    /// instead of the kind.
    const TITLE: &'static str;

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

    /// This job named for people, for `/admin/jobs`: the title, or the title with what the
    /// job is about when that helps tell two apart ("Newsletter: Hello"). May read the
    /// database; a row it can't find leaves the title alone.
    fn describe(&self, db: &sqlx::PgPool) -> impl Future<Output = String> + Send {
        let _ = db;
        std::future::ready(Self::TITLE.to_owned())
    }

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
