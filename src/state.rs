//! What every handler reaches (`AppState`): infrastructure only — the database pool, Redis,
//! configuration, metrics, the password hasher and the site settings as they are now — and
//! the route helpers every module registers its routes with. It names no feature: a
//! feature's own singleton (the live hub, search, API tokens, view counts, OAuth providers)
//! is its own `web::Data<T>`, registered by the wiring (`app.rs`).

use std::sync::Arc;

use actix_web::{Route, guard, middleware::from_fn, web};
use sqlx::PgPool;

use crate::{
    accounts::hasher::Hasher, config::Settings, kv::Kv, metrics::Metrics, middleware, site,
};

/// What every handler can reach. Cheap to clone: pools and `Arc`s.
#[derive(Clone)]
pub struct AppState {
    /// This worker's own pool (see `app.rs`): never shared between HTTP workers.
    pub db: PgPool,
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

/// A resource at `path`, with the request deadlines (`middleware::deadlines`) around its
/// handlers. Every route is registered through this, so other methods answer 405 and no
/// request outlives its deadline.
pub fn resource(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path).wrap(from_fn(middleware::deadlines))
}

/// A route for pages people read: GET, and HEAD (the same response without its body,
/// which actix-http drops for HEAD requests).
pub fn read() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
