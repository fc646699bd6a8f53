//! Render threads: a few, shared fairly. Turning a post's Markdown into HTML can take a
//! second or more of CPU (a 1 MiB body of many small code blocks), and authors ask for it
//! often (live preview, autosave, saves, API writes). Two rules keep readers fast and one
//! author from starving the rest (issue 24):
//!
//! - Every render runs on the blocking pool behind one small semaphore (`off_thread`): at
//!   most half the cores render at once, whatever arrives, so readers keep the others.
//! - Each account has a budget of render-thread time per minute, in milliseconds
//!   (`posts.render_ms_per_minute`), shared by all its front doors and all instances
//!   (counted in Redis). A front door asks `Budget::admit` first and runs its work in
//!   `Meter::measure`, which charges the time its renders actually took: cheap renders cost
//!   almost nothing, expensive ones a lot, whatever their count.

use std::{
    cell::Cell,
    future::Future,
    sync::LazyLock,
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;

use crate::{ratelimit::Limiter, state::AppState};

/// Renders at once in this process: half the cores, at least one.
static THREADS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Semaphore::new((cores / 2).max(1))
});

tokio::task_local! {
    /// Render-thread time spent so far by the front door being measured.
    static SPENT: Cell<Duration>;
}

/// Run `work` on a render thread (waiting for one), and count the time it took against the
/// `Meter` measuring this task, if any. `None` if the work panicked (a parser bug).
pub async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = THREADS.acquire().await.ok()?;
    let (out, took) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let out = work();
        (out, start.elapsed())
    })
    .await
    .ok()?;
    let _ = SPENT.try_with(|spent| spent.set(spent.get() + took));
    Some(out)
}

/// An account's render allowance: `limit` milliseconds per minute.
pub struct Budget<'a> {
    pub limiter: Limiter<'a>,
}

/// Over budget: how many seconds until the allowance starts again.
#[derive(Debug, Clone, Copy)]
pub struct Spent {
    pub retry_after: u64,
}

impl<'a> Budget<'a> {
    /// Each account's share of the render threads, as configured.
    pub fn of(state: &'a AppState) -> Self {
        Self {
            limiter: state.limiter(
                "render",
                state.settings.posts.render_ms_per_minute,
                Duration::from_secs(60),
            ),
        }
    }

    /// May `account` render now? Without Redis the answer is yes (the semaphore still holds
    /// every render to its share of the cores).
    pub async fn admit(self, account: i64) -> Result<Meter<'a>, Spent> {
        let id = account.to_string();
        match self.limiter.add(&id, 0).await {
            Ok(hit) if hit.count >= hit.limit => Err(Spent {
                retry_after: hit.reset_secs,
            }),
            Ok(_) => Ok(Meter { budget: self, id }),
            Err(e) => {
                tracing::warn!(error = %e, "render budget unavailable; rendering anyway");
                Ok(Meter { budget: self, id })
            }
        }
    }
}

/// One admitted front door's work, measured.
pub struct Meter<'a> {
    budget: Budget<'a>,
    id: String,
}

impl Meter<'_> {
    /// Run `work`, then charge its renders' time to the account.
    pub async fn measure<T>(self, work: impl Future<Output = T>) -> T {
        let (out, spent) = SPENT
            .scope(Cell::new(Duration::ZERO), async {
                let out = work.await;
                (out, SPENT.with(Cell::get))
            })
            .await;
        let ms = u64::try_from(spent.as_millis()).unwrap_or(u64::MAX).max(1);
        if let Err(e) = self.budget.limiter.add(&self.id, ms).await {
            tracing::warn!(error = %e, "could not charge the render budget");
        }
        out
    }
}
