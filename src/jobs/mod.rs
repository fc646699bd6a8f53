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
//! registry knows job types only through the trait. The files stand in layers, each naming
//! only those below it: `job` (the row, `NewJob`, `Outcome`), `repo` (the SQL), `context`,
//! `background` (the trait, queuing), `registry`, `runner`; `chores` (the runner's own jobs)
//! and `admin` (the screen) on top.

pub mod admin;
pub mod background;
pub mod chores;
pub mod context;
pub mod job;
pub mod registry;
pub mod repo;
pub mod runner;

pub use background::{BackgroundJob, enqueue_many, queue_once};
pub use context::{Ctx, Run};
pub use job::{Job, NewJob, Outcome, Permanent, backoff};
pub use registry::Registry;
pub use runner::Runner;
