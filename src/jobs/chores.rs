//! The runner's own jobs: `chores.purge` (finished jobs past their keeping time, hourly),
//! and the two that exercise the runner itself, `noop` (the benchmark's) and `probe` (the
//! tests'). They touch the `jobs` table only; each feature's own chores (posts in the trash,
//! old reset links) are its own jobs, in its own module.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{background::BackgroundJob, context::Run, job::Outcome, repo};

/// Rows one purge statement deletes at most: short transactions, few locks.
const BATCH: i64 = 500;

/// `chores.purge`, hourly: finished jobs past `jobs.keep_done_hours`, failed ones past 30
/// days, deleted in batches; hands over between batches when the process stops.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Purge {}

impl BackgroundJob for Purge {
    const KIND: &'static str = "chores.purge";
    const TITLE: &'static str = "Clean-up of finished jobs";
    type Context = ();

    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        loop {
            let jobs = repo::purge(&ctx.db, ctx.settings.jobs.keep_done_hours, BATCH).await?;
            if jobs < BATCH as u64 {
                return Ok(Outcome::Done);
            }
            if ctx.is_stopping() {
                return Ok(Outcome::Later(Duration::ZERO));
            }
        }
    }
}

/// `noop`: does nothing (the benchmark's jobs, `bench/jobs.sh`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Noop {}

impl BackgroundJob for Noop {
    const KIND: &'static str = "noop";
    const TITLE: &'static str = "Test job";
    type Context = ();

    async fn run(&self, _: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        Ok(Outcome::Done)
    }
}

/// `probe`: a probe of the runner itself (retries, leases, shutdown, panics): takes
/// `sleep_ms`, and fails its first `fail` attempts (panicking, if `panic`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Probe {
    #[serde(default)]
    pub fail: i32,
    #[serde(default)]
    pub sleep_ms: u64,
    #[serde(default)]
    pub panic: bool,
}

impl BackgroundJob for Probe {
    const KIND: &'static str = "probe";
    const TITLE: &'static str = "Queue check";
    type Context = ();

    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        if ctx.attempt() <= self.fail {
            let failure = format!(
                "probe: attempt {} of the {} that fail",
                ctx.attempt(),
                self.fail
            );
            if self.panic {
                panic!("{failure}");
            }
            anyhow::bail!(failure);
        }
        Ok(Outcome::Done)
    }
}
