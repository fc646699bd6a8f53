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
    /// The site settings as they are now (see `settings::live`); read through `site()`.
    pub live: Arc<crate::settings::live::Live>,
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
    /// Post views counted here, flushed to PostgreSQL (`stats`).
    pub views: Arc<crate::stats::Views>,
    /// This instance's live-update sockets (`ws`).
    pub hub: crate::ws::Hub,
}

impl AppState {
    /// The site settings and facts pages show, fresh for this request.
    pub fn site(&self) -> Arc<Site> {
        self.live.current()
    }

    /// The newest site-settings version this instance knows of: kept pages are keyed by it,
    /// so a change of the settings, by anyone, makes them anew (see `cache`).
    pub fn site_version(&self) -> i64 {
        self.live.version()
    }

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

    /// Each account's share of the render threads (`render::budget`).
    pub fn render_budget(&self) -> crate::render::budget::Budget<'_> {
        crate::render::budget::Budget {
            limiter: self.limiter(
                "render",
                self.settings.posts.render_ms_per_minute,
                std::time::Duration::from_secs(60),
            ),
        }
    }
}

/// The static files every page links (content-hashed URLs).
#[derive(Debug, Clone)]
pub struct SiteAssets {
    pub css_url: String,
    /// Highlighted code's colours (`render::highlight`).
    pub highlight_css_url: String,
    pub favicon_url: String,
    pub local_time_js: String,
    /// The editor's enhancements, and the library they patch the preview with.
    pub editor_js: String,
    pub morphdom_js: String,
    /// New comments on the post page as they are posted (`ws`).
    pub live_comments_js: String,
    /// The site sends email (`mail.smtp_host`), so readers may subscribe to new posts.
    pub newsletter: bool,
}

/// Site-wide facts every page shows: the site settings (`settings`) as they are now, and the
/// address and assets, which never change while the process runs.
#[derive(Debug)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// `http.base_url` without the trailing slash.
    pub base: String,
    pub per_page: u32,
    pub footer_text: String,
    pub navigation: crate::settings::navigation::Navigation,
    /// The header shows it instead of the title when set.
    pub logo_url: Option<String>,
    /// The site's own icon is SVG; an admin's may be anything.
    pub favicon_is_svg: bool,
    /// `/theme.css?v=N` when an admin chose an accent colour.
    pub theme_css_url: Option<String>,
    pub css_url: String,
    pub highlight_css_url: String,
    pub favicon_url: String,
    pub local_time_js: String,
    pub editor_js: String,
    pub morphdom_js: String,
    pub live_comments_js: String,
    pub newsletter: bool,
    pub settings: crate::settings::model::SiteSettings,
}

impl Site {
    pub fn new(
        assets: &SiteAssets,
        base: &str,
        settings: crate::settings::model::SiteSettings,
    ) -> Self {
        Self {
            title: settings.title.clone(),
            description: settings.description.clone(),
            base: base.to_owned(),
            per_page: u32::try_from(settings.posts_per_page.max(1)).unwrap_or(10),
            footer_text: settings.footer_text.clone(),
            navigation: settings.navigation.0.clone(),
            logo_url: Some(settings.logo_url.clone()).filter(|u| !u.is_empty()),
            favicon_is_svg: settings.icon_url.is_empty(),
            theme_css_url: (!settings.accent_color.is_empty())
                .then(|| format!("/theme.css?v={}", settings.version)),
            css_url: assets.css_url.clone(),
            highlight_css_url: assets.highlight_css_url.clone(),
            favicon_url: match settings.icon_url.as_str() {
                "" => assets.favicon_url.clone(),
                icon => icon.to_owned(),
            },
            local_time_js: assets.local_time_js.clone(),
            editor_js: assets.editor_js.clone(),
            morphdom_js: assets.morphdom_js.clone(),
            live_comments_js: assets.live_comments_js.clone(),
            newsletter: assets.newsletter,
            settings,
        }
    }

    /// Whether readers may comment now.
    pub fn comments_open(&self) -> bool {
        self.settings.comments != crate::settings::model::CommentsMode::Off
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
