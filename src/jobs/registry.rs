//! Which job types this process runs, and what each needs: built by the wiring
//! (`crate::job_registry`), which registers every type with its `BackgroundJob::Context`, and
//! handed to the `Runner`, which dispatches each claimed job on its kind through it. A kind
//! nobody registered fails at once, for good (a newer version queued it, or its type is gone).
//!
//! The registry also holds the schedule: what is queued every minute (`each_minute`,
//! `hourly`). Each entry says itself whether it is due, so the runner names none of them.

use std::{collections::BTreeMap, future::Future, marker::PhantomData, pin::Pin, sync::Arc};

use sqlx::PgPool;
use time::OffsetDateTime;

use super::{
    background::BackgroundJob,
    context::{Ctx, Run},
    job::{Job, NewJob, Outcome, Permanent},
};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A registered type, its payload and context behind one signature.
trait Entry: Send + Sync {
    fn run<'a>(&'a self, ctx: &'a Ctx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<Outcome>>;
    fn describe<'a>(
        &'a self,
        db: &'a PgPool,
        payload: &'a serde_json::Value,
    ) -> BoxFuture<'a, String>;
}

struct Typed<J: BackgroundJob> {
    cx: J::Context,
    job: PhantomData<fn() -> J>,
}

impl<J: BackgroundJob> Entry for Typed<J> {
    fn run<'a>(&'a self, ctx: &'a Ctx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(async move {
            let payload: J = job.payload()?;
            payload.run(&Run::new(ctx, job), &self.cx).await
        })
    }

    fn describe<'a>(
        &'a self,
        db: &'a PgPool,
        payload: &'a serde_json::Value,
    ) -> BoxFuture<'a, String> {
        Box::pin(async move {
            match serde_json::from_value::<J>(payload.clone()) {
                Ok(job) => job.describe(db).await,
                Err(_) => J::TITLE.to_owned(),
            }
        })
    }
}

type Tick = Arc<dyn Fn(PgPool) -> BoxFuture<'static, sqlx::Result<()>> + Send + Sync>;
type Count =
    Arc<dyn Fn(PgPool) -> BoxFuture<'static, sqlx::Result<Vec<(String, i64)>>> + Send + Sync>;

/// Work that waits outside the queue for a job to send it (an outbox's rows), as
/// `/admin/jobs` shows it: what it is, and how much waits for each place it goes.
#[derive(Debug, Clone)]
pub struct Backlog {
    pub title: &'static str,
    pub parts: Vec<(String, i64)>,
}

/// Every job type of this process, by kind, and the schedule.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn Entry>>,
    /// Kinds registered twice (two types claiming one name): `Runner::start` refuses them.
    twice: Vec<&'static str>,
    minutely: Vec<(&'static str, Tick)>,
    backlogs: Vec<(&'static str, Count)>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// A job named for people (`BackgroundJob::describe`); a kind this process doesn't run
    /// keeps its kind.
    pub async fn describe(&self, db: &PgPool, kind: &str, payload: &serde_json::Value) -> String {
        match self.kinds.get(kind) {
            Some(entry) => entry.describe(db, payload).await,
            None => kind.to_owned(),
        }
    }

    /// Run jobs of type `J`, giving them `cx`.
    pub fn register<J: BackgroundJob>(mut self, cx: J::Context) -> Self {
        let entry: Arc<dyn Entry> = Arc::new(Typed::<J> {
            cx,
            job: PhantomData,
        });
        if self.kinds.insert(J::KIND, entry).is_some() {
            self.twice.push(J::KIND);
        }
        self
    }

    /// Every minute, on every instance, call `tick` (queue a scan, say; `what` names it in the
    /// log when it fails). Keyed or coalesced queuing keeps it one job however many run it.
    pub fn each_minute<F, Fut>(mut self, what: &'static str, tick: F) -> Self
    where
        F: Fn(PgPool) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = sqlx::Result<()>> + Send + 'static,
    {
        self.minutely
            .push((what, Arc::new(move |db| Box::pin(tick(db)))));
        self
    }

    /// Queue `job` once an hour: every instance tries each minute, under a key naming the
    /// hour, so each hour's is queued (and run) once.
    pub fn hourly<J: BackgroundJob + Clone>(self, job: J) -> Self {
        self.each_minute(J::KIND, move |db| {
            let now = OffsetDateTime::now_utc();
            let job = NewJob::of(&job).key(format!("{} {:02}h", now.date(), now.hour()));
            async move { job.enqueue(&db).await.map(drop) }
        })
    }

    /// Show on `/admin/jobs` what `count` finds waiting (by where it goes), under `title`.
    pub fn backlog<F, Fut>(mut self, title: &'static str, count: F) -> Self
    where
        F: Fn(PgPool) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = sqlx::Result<Vec<(String, i64)>>> + Send + 'static,
    {
        self.backlogs
            .push((title, Arc::new(move |db| Box::pin(count(db)))));
        self
    }

    /// Every backlog as it is now; one that can't be read is left out (and logged).
    pub async fn backlogs(&self, db: &PgPool) -> Vec<Backlog> {
        let mut all = Vec::with_capacity(self.backlogs.len());
        for (title, count) in &self.backlogs {
            match count(db.clone()).await {
                Ok(parts) => all.push(Backlog { title, parts }),
                Err(e) => tracing::warn!(error = %e, title, "backlog unread"),
            }
        }
        all
    }

    /// Whether jobs of `kind` run here.
    pub fn knows(&self, kind: &str) -> bool {
        self.kinds.contains_key(kind)
    }

    /// Every registered kind, in order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }

    /// Kinds that two types registered: a mistake the runner refuses to start with.
    pub fn registered_twice(&self) -> &[&'static str] {
        &self.twice
    }

    /// Run `job` once, by its kind's type.
    pub(super) async fn run(&self, ctx: &Ctx, job: &Job) -> anyhow::Result<Outcome> {
        match self.kinds.get(job.kind.as_str()) {
            Some(entry) => entry.run(ctx, job).await,
            None => Err(Permanent(format!(
                "no job of kind “{}” is known to this version",
                job.kind
            ))
            .into()),
        }
    }

    /// This minute's schedule: each entry called; a failure is logged and tried next minute.
    pub(super) async fn tick(&self, db: &PgPool) {
        for (what, tick) in &self.minutely {
            if let Err(e) = tick(db.clone()).await {
                tracing::debug!(error = %e, what, "not queued; next minute");
            }
        }
    }
}
