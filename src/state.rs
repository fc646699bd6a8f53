//! What every handler reaches (`AppState`): infrastructure only — the database pools, Redis,
//! configuration, metrics, the password hasher and the site settings as they are now. It
//! names no feature: a feature's own singleton (the live hub, search, API tokens, view
//! counts, OAuth providers) is its own `web::Data<T>`, registered by the wiring (`app.rs`).

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    accounts::hasher::Hasher, config::Settings, db::replica::Replica, kv::Kv, metrics::Metrics,
    site,
};

/// What every handler can reach. Cheap to clone: pools and `Arc`s.
#[derive(Clone)]
pub struct AppState {
    /// This worker's own pool (see `app.rs`): never shared between HTTP workers.
    pub db: PgPool,
    /// The read replica, if one is configured: this worker's pool to it and what the
    /// instance knows of it. Public read handlers reach it through `db::Reads`.
    pub replica: Replica,
    /// Sessions, counters and caches: every call has a deadline (see `kv`).
    pub redis: Kv,
    /// Password hashing, bounded in concurrency and memory.
    pub hasher: Arc<Hasher>,
    pub settings: Arc<Settings>,
    /// The site settings as they are now (`settings::live` in the app); read through `site()`.
    pub site_now: Arc<dyn site::Current>,
    pub metrics: Metrics,
}

impl AppState {
    /// The site settings and facts pages show, fresh for this request.
    pub fn site(&self) -> Arc<site::Site> {
        self.site_now.site()
    }

    /// The newest site-settings version this instance knows of (see `site::Current`).
    pub fn site_version(&self) -> i64 {
        self.site_now.version()
    }

    /// Counters under `name` in the shared Redis, `limit` hits per `window` each.
    pub fn limiter(
        &self,
        name: &'static str,
        limit: u32,
        window: std::time::Duration,
    ) -> crate::ratelimit::Limiter<'_> {
        crate::ratelimit::Limiter {
            redis: &self.redis,
            prefix: &self.settings.redis.key_prefix,
            name,
            limit,
            window,
        }
    }
}
