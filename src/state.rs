//! What handlers reach: the app's state (`AppState`), the site-wide facts every page shows
//! (`Site`), and the route helpers every module registers its routes with. Low in the house:
//! this module imports no handler module, and `app.rs` (the wiring) sits on top of it.

use std::sync::Arc;

use actix_web::{Route, guard, middleware::from_fn, web};
use sqlx::PgPool;

use crate::{
    accounts::{self, hasher::Hasher},
    config::Settings,
    kv::Kv,
    metrics::Metrics,
    middleware,
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
    pub site: Arc<Site>,
    pub metrics: Metrics,
    /// GitHub and Google login, when configured.
    pub oauth: Arc<accounts::oauth::Providers>,
    /// This instance's own copies of kept pages (see `cache::local`).
    pub local_pages: Arc<crate::cache::Local>,
    /// PostgreSQL full-text search, with Meilisearch in front when configured.
    pub search: crate::search::Search,
    /// Makes and checks the JSON API's tokens.
    pub tokens: Arc<crate::api::jwt::Tokens>,
    /// The API's per-caller allowances, counted here and flushed to Redis.
    pub api_calls: Arc<crate::ratelimit::Batched>,
}

impl AppState {
    /// The handle that makes kept pages stale (see `cache`).
    pub fn pages(&self) -> crate::cache::Pages {
        crate::cache::Pages::new(&self.redis, &self.settings.redis)
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

/// Site-wide facts every page shows, built once from the settings.
#[derive(Debug)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// `http.base_url` without the trailing slash.
    pub base: String,
    pub per_page: u32,
    pub css_url: String,
    /// Highlighted code's colours (`render::highlight`).
    pub highlight_css_url: String,
    pub favicon_url: String,
    pub local_time_js: String,
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
