//! The workers of one process: a loop that claims due jobs while it has room for them
//! (`jobs.concurrency`), a task per running job, a heartbeat that renews their leases and
//! takes back other workers' expired ones, and the periodic chores' schedule.
//!
//! Shutdown (`Runner::shutdown`, on SIGTERM): nothing more is claimed; running jobs see
//! `Ctx::stopping` and get `jobs.shutdown_grace_secs` to finish or hand over; what is still
//! running then is stopped and returned to the queue, its attempt not counted.

use std::{sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
};

use super::{Job, Outcome, Permanent, kinds, repo};
use crate::{cache::Pages, config::Settings, metrics::Metrics};

/// What a job's code can reach.
#[derive(Clone)]
pub struct Ctx {
    pub db: PgPool,
    pub settings: Arc<Settings>,
    pub pages: Pages,
    pub mailer: Arc<crate::mail::Mailer>,
    /// Becomes `true` when the process is stopping: a long job hands over between steps.
    pub stopping: watch::Receiver<bool>,
    /// This worker's name, which it holds jobs under.
    pub worker: Arc<str>,
}

impl Ctx {
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Mark `job` done in the transaction that did its work (see `repo::finish_in`).
    pub async fn finish_in(&self, conn: &mut sqlx::PgConnection, job: &Job) -> sqlx::Result<bool> {
        repo::finish_in(conn, job, &self.worker).await
    }
}

/// The running workers of this process.
pub struct Runner {
    stop: watch::Sender<bool>,
    main: tokio::task::JoinHandle<()>,
}

impl Runner {
    /// Start working through the queue.
    pub fn start(
        db: PgPool,
        settings: Arc<Settings>,
        pages: Pages,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        let mailer = Arc::new(crate::mail::Mailer::new(&settings.mail)?);
        let (stop, stopping) = watch::channel(false);
        let worker: Arc<str> = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
        .into();
        let ctx = Ctx {
            db,
            settings,
            pages,
            mailer,
            stopping,
            worker,
        };
        let main = tokio::spawn(run(ctx, metrics));
        Ok(Self { stop, main })
    }

    /// Stop claiming, let running jobs finish within the grace period, give back the rest.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.main.await {
            tracing::error!(error = %e, "the job runner stopped badly");
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().chars().take(64).collect())
        .unwrap_or_else(|| "quire".into())
}

async fn run(ctx: Ctx, metrics: Metrics) {
    let cfg = ctx.settings.jobs.clone();
    let permits = Arc::new(Semaphore::new(cfg.concurrency));
    let mut running = JoinSet::new();
    let mut stopping = ctx.stopping.clone();
    let heartbeat = tokio::spawn(heartbeat(ctx.clone()));
    let schedule = tokio::spawn(super::chores::schedule(ctx.clone()));
    let mut listener = listen(&ctx.db).await;
    let poll = Duration::from_millis(cfg.poll_ms);
    tracing::info!(worker = %ctx.worker, concurrency = cfg.concurrency, "job runner started");

    while !ctx.is_stopping() {
        // Room for one job at least, before claiming any.
        let Ok(first) = permits.clone().acquire_owned().await else {
            break;
        };
        let room = 1 + permits.available_permits();
        let claimed = match repo::claim(&ctx.db, &ctx.worker, room as i64, cfg.lease()).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed; trying again");
                drop(first);
                pause(&mut stopping, poll).await;
                continue;
            }
        };
        let full = claimed.len() == room;
        let mut first = Some(first);
        for job in claimed {
            let permit = match first.take() {
                Some(p) => p,
                None => match permits.clone().try_acquire_owned() {
                    Ok(p) => p,
                    // Claimed with room counted: a permit is there. Should it not be, the job
                    // goes back rather than running over the limit.
                    Err(_) => {
                        let _ = repo::release(&ctx.db, job.id, &ctx.worker, Duration::ZERO).await;
                        continue;
                    }
                },
            };
            let ctx = ctx.clone();
            let metrics = metrics.clone();
            running.spawn(async move {
                attempt(&ctx, &metrics, job).await;
                drop(permit);
            });
        }
        // Reap what finished, so the set doesn't grow.
        while running.try_join_next().is_some() {}
        if full {
            continue;
        }
        drop(first);
        // Nothing (more) due: wait for a notification, the poll interval, or shutdown.
        match &mut listener {
            Some(l) => {
                tokio::select! {
                    got = l.try_recv() => {
                        if got.is_err() {
                            listener = None;
                        }
                    }
                    _ = tokio::time::sleep(poll) => {}
                    _ = stopping.changed() => {}
                }
            }
            None => {
                pause(&mut stopping, poll).await;
                listener = listen(&ctx.db).await;
            }
        }
    }

    // Shutdown: the running jobs see `stopping`; wait for them within the grace period.
    let grace = Duration::from_secs(cfg.shutdown_grace_secs);
    let drained = tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
    heartbeat.abort();
    schedule.abort();
    match repo::release_all(&ctx.db, &ctx.worker).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "stopping: unfinished jobs returned to the queue"),
        Err(e) => tracing::warn!(
            error = %e,
            "stopping: unfinished jobs could not be returned; they are queued again when their lease ends"
        ),
    }
    tracing::info!(worker = %ctx.worker, "job runner stopped");
}

async fn listen(db: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(db)
        .await
        .inspect_err(|e| tracing::debug!(error = %e, "jobs: LISTEN unavailable; polling"))
        .ok()?;
    listener.listen("quire_jobs").await.ok()?;
    Some(listener)
}

async fn pause(stopping: &mut watch::Receiver<bool>, wait: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = stopping.changed() => {}
    }
}

/// Run one job and record how it went.
async fn attempt(ctx: &Ctx, metrics: &Metrics, job: Job) {
    let cfg = &ctx.settings.jobs;
    let started = std::time::Instant::now();
    let ran = tokio::time::timeout(Duration::from_secs(cfg.timeout_secs), kinds::run(ctx, &job))
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "it ran longer than jobs.timeout_secs ({} s)",
                cfg.timeout_secs
            ))
        });
    let took = started.elapsed();
    let recorded = match ran {
        Ok(Outcome::Done) => {
            metrics.job_finished(&job.kind, "done", took);
            repo::finish(&ctx.db, job.id, &ctx.worker).await.map(drop)
        }
        Ok(Outcome::Later(wait)) => {
            metrics.job_finished(&job.kind, "later", took);
            repo::release(&ctx.db, job.id, &ctx.worker, wait).await
        }
        Err(e) => {
            let permanent = e.downcast_ref::<Permanent>().is_some();
            let last = permanent || job.attempts >= job.max_attempts;
            metrics.job_finished(&job.kind, if last { "failed" } else { "retry" }, took);
            let error = format!("{e:#}");
            if last {
                tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %error, "job failed");
            } else {
                tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %error, "job attempt failed; retrying");
            }
            let wait = super::backoff(
                Duration::from_millis(cfg.backoff_base_ms),
                Duration::from_secs(cfg.backoff_max_secs),
                job.attempts,
                job.id,
            );
            repo::fail(&ctx.db, job.id, &ctx.worker, &error, wait, permanent).await
        }
    };
    if let Err(e) = recorded {
        // The lease runs out and the job is queued again: at least once.
        tracing::warn!(job = job.id, error = %e, "a job's end could not be recorded");
    }
}

/// Every third of the lease: renew this worker's leases, and take back expired ones.
async fn heartbeat(ctx: Ctx) {
    let lease = ctx.settings.jobs.lease();
    let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = repo::renew(&ctx.db, &ctx.worker, lease).await {
            tracing::warn!(error = %e, "jobs: leases not renewed");
        }
        match repo::reap(&ctx.db).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "jobs whose worker stopped were queued again"),
            Err(e) => tracing::debug!(error = %e, "jobs: reaping failed"),
        }
    }
}
