//! The workers of one process: a loop that claims due jobs while it has room for them
//! (`jobs.concurrency`), a task per running job, a heartbeat that renews their leases and
//! takes back other workers' expired ones, and the registry's schedule (every minute). What a
//! job does is the registry's business: this file names no kind and no feature.
//!
//! A job that panics fails its attempt with the panic's message, like an error (retried with
//! backoff, parked as failed after the last). Only the leases of jobs this process still holds
//! (`Held`: waiting for a slot, running, or finished and not yet recorded) are renewed, so a
//! job whose task died anyway is taken back when its lease ends instead of staying `running`
//! for as long as the process lives (issue 24).
//!
//! Shutdown (`Runner::shutdown`, on SIGTERM): nothing more is claimed; running jobs see
//! `Ctx::is_stopping` and get `jobs.shutdown_grace_secs` to finish or hand over; what is still
//! running then is stopped and returned to the queue, its attempt not counted.

use std::{
    collections::HashSet,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::FutureExt;

use sqlx::{PgPool, postgres::PgListener};
use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
};

use super::{
    context::Ctx,
    job::{Job, Outcome, Permanent, backoff},
    registry::Registry,
    repo,
};
use crate::{config::Settings, metrics::Metrics};

/// The running workers of this process.
pub struct Runner {
    stop: watch::Sender<bool>,
    main: tokio::task::JoinHandle<()>,
}

impl Runner {
    /// Start working through the queue: the jobs `registry` knows, and its schedule.
    pub fn start(
        db: PgPool,
        settings: Arc<Settings>,
        metrics: Metrics,
        registry: Registry,
    ) -> anyhow::Result<Self> {
        if let [kind, ..] = registry.registered_twice() {
            anyhow::bail!("two job types are registered as “{kind}”");
        }
        let (stop, stopping) = watch::channel(false);
        let worker: Arc<str> = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
        .into();
        let ctx = Ctx {
            books: crate::db::unhurried_pool(&db, 2),
            db,
            settings,
            stopping,
            worker,
        };
        let main = tokio::spawn(run(ctx, metrics, Arc::new(registry)));
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

/// Jobs claimed per statement, per unit of `jobs.concurrency`: claimed jobs wait here, under
/// their lease, for a free slot. Fewer statements per job when the queue is long.
const PREFETCH: usize = 4;

async fn run(ctx: Ctx, metrics: Metrics, registry: Arc<Registry>) {
    let cfg = ctx.settings.jobs.clone();
    let permits = Arc::new(Semaphore::new(cfg.concurrency));
    let mut running = JoinSet::new();
    let mut stopping = ctx.stopping.clone();
    let held = Held::default();
    let heartbeat = tokio::spawn(heartbeat(ctx.clone(), held.clone()));
    let schedule = tokio::spawn(schedule(ctx.db.clone(), registry.clone()));
    let (finished, finisher) = Finisher::start(ctx.clone());
    let mut listener = listen(&ctx.db).await;
    let poll = Duration::from_millis(cfg.poll_ms);
    let mut waiting: std::collections::VecDeque<(Job, Hold)> = std::collections::VecDeque::new();
    tracing::info!(worker = %ctx.worker, concurrency = cfg.concurrency, "job runner started");

    while !ctx.is_stopping() {
        if waiting.is_empty() {
            let want = (cfg.concurrency * PREFETCH) as i64;
            match repo::claim(&ctx.books, &ctx.worker, want, cfg.lease()).await {
                Ok(jobs) => waiting.extend(jobs.into_iter().map(|job| {
                    let hold = held.hold(job.id);
                    (job, hold)
                })),
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; trying again");
                    pause(&mut stopping, poll).await;
                    continue;
                }
            }
        }
        // Reap what finished, so the set doesn't grow.
        while running.try_join_next().is_some() {}
        let Some((job, hold)) = waiting.pop_front() else {
            // Nothing due: wait for a notification, the poll interval, or shutdown.
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
            continue;
        };
        // Requests come first: while they keep coming (one in the last 100 ms), each job starts
        // a moment later (`jobs.yield_ms`), which keeps the pages' latency whatever the queue
        // holds; an idle instance drains at full speed.
        if cfg.yield_ms > 0 && metrics.busy(Duration::from_millis(100)) {
            tokio::time::sleep(Duration::from_millis(cfg.yield_ms)).await;
        }
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stopping.changed() => {
                waiting.push_front((job, hold));
                break;
            }
        };
        let ctx = ctx.clone();
        let metrics = metrics.clone();
        let finished = finished.clone();
        let registry = registry.clone();
        running.spawn(async move {
            attempt(&ctx, &registry, &metrics, &finished, job, hold).await;
            drop(permit);
        });
    }
    // Claimed but never started: straight back to the queue.
    for (job, _hold) in waiting {
        let _ = repo::release(&ctx.books, job.id, &ctx.worker, Duration::ZERO).await;
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
    drop(finished);
    let _ = finisher.await;
    heartbeat.abort();
    schedule.abort();
    match repo::release_all(&ctx.books, &ctx.worker).await {
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

/// The jobs this worker holds and means to see through: claimed and waiting for a slot,
/// running in a live task, or done and waiting for the `Finisher`. Their leases, and only
/// theirs, are renewed.
#[derive(Clone, Default)]
struct Held(Arc<Mutex<HashSet<i64>>>);

impl Held {
    fn hold(&self, id: i64) -> Hold {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        Hold {
            id,
            held: self.clone(),
        }
    }

    fn ids(&self) -> Vec<i64> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.iter().copied().collect()
    }
}

/// One job in `Held`, let go when this is dropped: whether its task ended, panicked or was
/// aborted, its lease is renewed no longer.
struct Hold {
    id: i64,
    held: Held,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.held
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// Jobs that ended well, marked done together: one statement for many short jobs. A crash
/// before a batch is written runs those jobs again (at least once).
#[derive(Clone)]
struct Finisher(tokio::sync::mpsc::UnboundedSender<Hold>);

impl Finisher {
    fn start(ctx: Ctx) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Hold>();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(256);
            // Until every sender is gone (the runner stopped), then what is left.
            while rx.recv_many(&mut batch, 256).await > 0 {
                // Let a burst gather for a moment: fewer, bigger statements.
                tokio::time::sleep(Duration::from_millis(5)).await;
                while batch.len() < 1024
                    && futures_util::FutureExt::now_or_never(rx.recv_many(&mut batch, 256))
                        .is_some_and(|n| n > 0)
                {}
                let ids: Vec<i64> = batch.iter().map(|hold| hold.id).collect();
                if let Err(e) = repo::finish_many(&ctx.books, &ids, &ctx.worker).await {
                    tracing::warn!(error = %e, jobs = batch.len(), "finished jobs not recorded; they run again after their lease");
                }
                // Recorded (or not): their leases are let go.
                batch.clear();
            }
        });
        (Self(tx), task)
    }

    fn done(&self, hold: Hold) {
        let _ = self.0.send(hold);
    }
}

/// Run one job and record how it went. A panic in the job's code is a failed attempt.
async fn attempt(
    ctx: &Ctx,
    registry: &Registry,
    metrics: &Metrics,
    finished: &Finisher,
    job: Job,
    hold: Hold,
) {
    let cfg = &ctx.settings.jobs;
    let started = std::time::Instant::now();
    // The job's state is its rows, not this future's: nothing half-done is seen after a panic.
    let run = AssertUnwindSafe(registry.run(ctx, &job)).catch_unwind();
    let ran = match tokio::time::timeout(Duration::from_secs(cfg.timeout_secs), run).await {
        Ok(Ok(ran)) => ran,
        Ok(Err(panic)) => Err(anyhow::anyhow!("it panicked: {}", panic_message(&*panic))),
        Err(_) => Err(anyhow::anyhow!(
            "it ran longer than jobs.timeout_secs ({} s)",
            cfg.timeout_secs
        )),
    };
    let took = started.elapsed();
    let recorded = match ran {
        Ok(Outcome::Done) => {
            metrics.job_finished(&job.kind, "done", took);
            finished.done(hold);
            Ok(())
        }
        Ok(Outcome::Later(wait)) => {
            metrics.job_finished(&job.kind, "later", took);
            repo::release(&ctx.books, job.id, &ctx.worker, wait).await
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
            let wait = backoff(
                Duration::from_millis(cfg.backoff_base_ms),
                Duration::from_secs(cfg.backoff_max_secs),
                job.attempts,
                job.id,
            );
            repo::fail(&ctx.books, job.id, &ctx.worker, &error, wait, permanent).await
        }
    };
    if let Err(e) = recorded {
        // The lease runs out and the job is queued again: at least once.
        tracing::warn!(job = job.id, error = %e, "a job's end could not be recorded");
    }
}

/// What a panic said: its message when it has one (`panic!` with a literal or a format).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Every minute (the first at once): the registry's schedule, queued.
async fn schedule(db: PgPool, registry: Arc<Registry>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        registry.tick(&db).await;
    }
}

/// Every third of the lease: renew the leases of the jobs this worker holds, and take back
/// expired ones.
async fn heartbeat(ctx: Ctx, held: Held) {
    let lease = ctx.settings.jobs.lease();
    let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ids = held.ids();
        if !ids.is_empty()
            && let Err(e) = repo::renew(&ctx.books, &ctx.worker, &ids, lease).await
        {
            tracing::warn!(error = %e, "jobs: leases not renewed");
        }
        match repo::reap(&ctx.books).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "jobs whose worker stopped were queued again"),
            Err(e) => tracing::debug!(error = %e, "jobs: reaping failed"),
        }
    }
}
