//! Reader statistics without tracking people: each published post's views per day.
//!
//! - A view is a post page served to a reader with a 200 or 304, from the page cache or
//!   made afresh (`count_views` sits outside the cache, so it sees both). Nothing about the
//!   reader is read or stored but the `User-Agent`, and only to leave out bots; no cookie,
//!   no address, no fingerprint. The post's author reading it is not counted (the post page
//!   marks that response `NOT_COUNTED`).
//! - Counting is a map increment in this process (`Views::count`, no I/O on the hot path);
//!   every `stats.flush_ms`, and once more when it stops, each instance hands its counts to
//!   the job runner as a `stats.add` job, whose worker adds them to `post_views` and marks
//!   the job done in one transaction (counted once, whichever worker takes it). A crash
//!   loses at most that instance's last interval.
//! - Days are UTC days.

pub mod admin;
pub mod repo;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{
    Error as ActixError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header},
    middleware::Next,
    web,
};
use sqlx::PgPool;
use time::{Date, OffsetDateTime};

use serde::{Deserialize, Serialize};

use crate::{
    jobs::{BackgroundJob, Outcome, Run},
    state::AppState,
};

/// A response header a handler sets on a view that must not count (the author's own); the
/// middleware removes it.
pub const NOT_COUNTED: &str = "x-quire-not-counted";

/// Views counted here since the last flush, by UTC day and post slug.
#[derive(Default)]
pub struct Views {
    pending: Mutex<HashMap<(Date, String), i64>>,
}

impl Views {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Date, String), i64>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One view of the post at `slug`, today.
    pub fn count(&self, slug: &str) {
        let today = OffsetDateTime::now_utc().date();
        let mut pending = self.lock();
        // A flood of made-up slugs can't grow the map without bound (only served posts
        // count, but a slug is cheap to vary with the cache's help): past this, wait for
        // the flush.
        if pending.len() >= 100_000 && !pending.contains_key(&(today, slug.to_owned())) {
            return;
        }
        *pending.entry((today, slug.to_owned())).or_insert(0) += 1;
    }

    /// Queue what was counted here as a `stats.add` job; returns how many views went. A
    /// failed flush puts its counts back for the next one.
    pub async fn flush(&self, db: &PgPool) -> u64 {
        let taken: Vec<((Date, String), i64)> = self.lock().drain().collect();
        if taken.is_empty() {
            return 0;
        }
        let went: u64 = taken.iter().map(|(_, n)| n.unsigned_abs()).sum();
        let job = AddViews { views: taken };
        match job.enqueue(db).await {
            Ok(_) => went,
            Err(e) => {
                tracing::warn!(error = %e, "reader statistics not flushed; kept for the next try");
                let mut pending = self.lock();
                for (key, n) in job.views {
                    *pending.entry(key).or_insert(0) += n;
                }
                0
            }
        }
    }

    /// Flush every `every` for as long as these `Views` live.
    pub fn spawn(self: &Arc<Self>, db: PgPool, every: Duration) -> tokio::task::JoinHandle<()> {
        let views = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(views) = views.upgrade() else {
                    return;
                };
                views.flush(&db).await;
            }
        })
    }
}

/// `stats.add`: one instance's flush of reader statistics, by day and slug.
#[derive(Serialize, Deserialize)]
pub struct AddViews {
    views: Vec<((Date, String), i64)>,
}

impl BackgroundJob for AddViews {
    const KIND: &'static str = "stats.add";
    const TITLE: &'static str = "View counts";
    type Context = ();

    /// The views added and the job done, in one transaction.
    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        let mut tx = ctx.db.begin().await?;
        repo::add(&mut *tx, &self.views).await?;
        if ctx.finish_in(&mut tx).await? {
            tx.commit().await?;
        }
        Ok(Outcome::Done)
    }
}

/// Whether a `User-Agent` is a crawler, a feed reader's fetcher, a link previewer or a
/// script rather than a person's browser. No agent at all counts as a bot.
pub fn is_bot(agent: Option<&str>) -> bool {
    const MARKS: &[&str] = &[
        "bot",
        "crawl",
        "spider",
        "slurp",
        "fetch",
        "preview",
        "scan",
        "monitor",
        "check",
        "curl",
        "wget",
        "httpie",
        "python",
        "go-http-client",
        "java/",
        "okhttp",
        "libwww",
        "headless",
        "lighthouse",
        "facebookexternalhit",
        "embedly",
        "feed",
        "rss",
        "wrk",
        "oha",
        "k6/",
        "ab/",
    ];
    let Some(agent) = agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return true;
    };
    let agent = agent.to_ascii_lowercase();
    MARKS.iter().any(|mark| agent.contains(mark))
}

/// The slug of a post page's path (`/posts/{slug}`), if it is one.
fn post_slug(path: &str) -> Option<&str> {
    let slug = path.strip_prefix("/posts/")?;
    (!slug.is_empty() && slug.len() <= 200 && !slug.contains('/')).then_some(slug)
}

/// Middleware, outside the page cache: counts a post page served to a reader.
pub async fn count_views(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, ActixError> {
    let candidate = req.method() == Method::GET && post_slug(req.path()).is_some();
    let bot = candidate
        && is_bot(
            req.headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        );
    let views = candidate
        .then(|| req.app_data::<web::Data<AppState>>())
        .flatten()
        .filter(|s| s.settings.stats.enabled)
        .and_then(|_| req.app_data::<web::Data<Views>>().cloned());
    let mut res = next.call(req).await?.map_into_boxed_body();
    let not_counted = res.headers_mut().remove(NOT_COUNTED).next().is_some();
    let served = matches!(res.status(), StatusCode::OK | StatusCode::NOT_MODIFIED);
    if let Some(views) = views
        && served
        && !bot
        && !not_counted
        && let Some(slug) = post_slug(res.request().path())
    {
        views.count(slug);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_count_and_bots_do_not() {
        for person in [
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Safari/537.36",
        ] {
            assert!(!is_bot(Some(person)), "{person}");
        }
        for bot in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0)",
            "facebookexternalhit/1.1",
            "curl/8.5.0",
            "python-requests/2.32",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0 Safari",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html)",
            "",
            "   ",
        ] {
            assert!(is_bot(Some(bot)), "{bot}");
        }
        assert!(is_bot(None));
    }

    #[test]
    fn only_post_pages_are_counted() {
        assert_eq!(post_slug("/posts/hello"), Some("hello"));
        for other in ["/posts/", "/posts/a/favorite", "/", "/about", "/tags/x"] {
            assert_eq!(post_slug(other), None, "{other}");
        }
    }
}
