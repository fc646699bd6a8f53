//! Wiring: `App::build` turns `Settings` into a bound, ready server; `run_until_stopped`
//! runs it. Tests and `quire serve` go through the same two calls.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_session::{SessionMiddleware, config::PersistentSession};
use actix_web::cookie::{Key, SameSite};
use actix_web::{
    HttpServer,
    dev::{Server, ServerHandle},
    error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError},
    middleware::{Compress, DefaultHeaders, from_fn},
    web,
};
use anyhow::Context;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha512};
use sqlx::PgPool;

use crate::{
    accounts::{self, hasher::Hasher, session::RedisSessions},
    api,
    assets::Assets,
    cache, comments,
    config::Settings,
    db,
    error::{Error, error_pages},
    kv::Kv,
    media,
    metrics::Metrics,
    middleware, posts, search,
    site::SiteAssets,
    state::AppState,
    telemetry,
};

pub struct App {
    port: u16,
    server: Server,
    /// Flushed once more when the server stops.
    views: (Arc<crate::stats::Views>, sqlx::PgPool),
    /// This instance's job workers, unless `jobs.enabled` is off.
    runner: Option<crate::jobs::Runner>,
    /// Its live-update sockets, closed before the server stops.
    hub: crate::ws::Hub,
    /// Every background loop the wiring started, stopped after the server.
    loops: Loops,
}

/// Stops a running `App`: every live-update socket is sent a close frame, then the server
/// stops (`graceful`: as on SIGTERM, in-flight requests finish).
#[derive(Clone)]
pub struct Stopper {
    server: ServerHandle,
    hub: crate::ws::Hub,
    loops: Loops,
}

impl Stopper {
    /// Asks at once; the future ends when the server has stopped.
    pub fn stop(&self, graceful: bool) -> impl Future<Output = ()> + use<> {
        self.hub.close_all();
        self.server.stop(graceful)
    }

    /// Background loops of this app still running (none once `run_until_stopped` is done).
    pub fn loops_running(&self) -> Vec<&'static str> {
        self.loops.running()
    }
}

/// The background loops the wiring starts (Redis's watch, the settings' and the live hub's
/// listeners, the local page cache's, the view and API-call flushes, Meilisearch's probe):
/// named, so shutdown stops each and a test can see none is left.
#[derive(Clone, Default)]
struct Loops(Arc<std::sync::Mutex<Vec<Loop>>>);

/// A loop's name and its task.
type Loop = (&'static str, tokio::task::JoinHandle<()>);

impl Loops {
    fn add(&self, name: &'static str, task: tokio::task::JoinHandle<()>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, task));
    }

    fn running(&self) -> Vec<&'static str> {
        let loops = self.0.lock().unwrap_or_else(|e| e.into_inner());
        loops
            .iter()
            .filter(|(_, task)| !task.is_finished())
            .map(|(name, _)| *name)
            .collect()
    }

    /// Abort every loop and wait until each has ended.
    async fn stop(&self) {
        let tasks = {
            let loops = self.0.lock().unwrap_or_else(|e| e.into_inner());
            loops
                .iter()
                .map(|(_, t)| t.abort_handle())
                .collect::<Vec<_>>()
        };
        for task in &tasks {
            task.abort();
        }
        while tasks.iter().any(|t| !t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The Content-Security-Policy of every response. `form-action` covers where a form's
/// redirects may lead, too: "Link GitHub" on /account POSTs, then redirects to the
/// provider, so the enabled providers' authorization origins are allowed, and nothing else.
fn content_security_policy(settings: &Settings) -> String {
    let mut form_action = String::from("'self'");
    let github = &settings.oauth.github;
    let google = &settings.oauth.google;
    let enabled = [
        (
            matches!(github.credentials(), Ok(Some(_))),
            &github.authorize_url,
        ),
        (
            matches!(google.credentials(), Ok(Some(_))),
            &google.authorize_url,
        ),
    ];
    for (_, url) in enabled.into_iter().filter(|(on, _)| *on) {
        form_action.push(' ');
        form_action.push_str(&url.origin().ascii_serialization());
    }
    // Live updates (`ws`): the site's own origin as ws:// or wss://, which not every browser
    // counts as 'self'.
    let base = &settings.http.base_url;
    let sockets = format!(
        "{}://{}",
        if base.scheme() == "https" {
            "wss"
        } else {
            "ws"
        },
        base.host_str().unwrap_or("localhost")
    ) + &base.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; \
         connect-src 'self' {sockets}; object-src 'none'; base-uri 'self'; \
         frame-ancestors 'none'; form-action {form_action}"
    )
}

impl App {
    /// Connect (lazily) to the database and bind the listener; nothing is served yet.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = db::pool(&settings.database)?;
        Self::build_with_pool(settings, db).await
    }

    pub async fn build_with_pool(settings: Settings, db: PgPool) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind((settings.http.host, settings.http.port)).with_context(|| {
                format!(
                    "cannot listen on {}:{}",
                    settings.http.host, settings.http.port
                )
            })?;
        Self::build_on(settings, db, listener).await
    }

    /// Serve on a listener bound beforehand: tests bind port 0 first, so `http.base_url`
    /// (and with it OAuth callback URLs) can name the real port.
    pub async fn build_on(
        settings: Settings,
        db: PgPool,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        // Nothing connects to Redis yet: the site starts (and serves readers) without it.
        let redis = Kv::new(&settings.redis)?;
        let loops = Loops::default();
        loops.add("redis watch", redis.watch());
        let sessions = RedisSessions::new(redis.clone(), &settings.redis.key_prefix);
        // Any secret of 32+ characters becomes the 64-byte key the cookie crate needs.
        let key = Key::from(&Sha512::digest(
            settings.session.secret.expose_secret().as_bytes(),
        ));
        let session_ttl =
            actix_web::cookie::time::Duration::hours(i64::from(settings.session.ttl_hours));
        let port = listener.local_addr()?.port();
        let assets = web::Data::new(Assets::new());
        let site_assets = SiteAssets {
            css_url: assets.url("css/site.css"),
            highlight_css_url: assets.url("css/highlight.css"),
            favicon_url: assets.url("img/favicon.svg"),
            local_time_js: assets.url("js/local-time.js"),
            editor_js: assets.url("js/editor.js"),
            morphdom_js: assets.url("vendor/morphdom.min.js"),
            live_comments_js: assets.url("js/live-comments.js"),
            media_js: assets.url("js/media.js"),
            newsletter: settings.mail.is_configured(),
        };
        let defaults = crate::settings::model::SiteSettings::defaults(&settings);
        // Without the database (the site starts anyway), the config's values until it's back.
        let site_settings = crate::settings::repo::load_or_create(&db, &defaults)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "site settings unread: using the config's"))
            .unwrap_or(defaults);
        let live = Arc::new(crate::settings::live::Live::new(
            site_assets,
            settings.http.base(),
            site_settings,
        ));
        loops.add("settings listener", live.listen(db.clone()));
        let metrics = Metrics::new(settings.database.max_connections)?;
        let replica = db::replica::Replica::new(&settings.database, &settings.redis, &metrics)?;
        for (name, task) in replica.watch(db.clone(), redis.clone()) {
            loops.add(name, task);
        }
        let oauth = web::Data::new(accounts::oauth::Providers::new(&settings)?);
        let https = settings.is_https();
        let upload_limit = settings.uploads.max_bytes;
        let workers = match settings.http.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        // `database.max_connections` is the instance's: the workers share it out.
        let per_worker = (settings.database.max_connections / workers as u32).max(1);
        let settings_hash_concurrency = settings.accounts.hash_concurrency;
        let csp = content_security_policy(&settings);
        let deadlines = middleware::Deadlines {
            body: Duration::from_secs(settings.http.body_timeout_secs),
            work: settings.database.query_timeout(),
        };
        let shutdown = settings.http.shutdown_timeout_secs;
        let router = Arc::new(crate::router::Router::new(
            settings.api.cors_origins.clone(),
        ));
        // Made once from the table: what the cache may keep, and the API's document.
        let (cache_routes, api_document) = router.made()?;
        let cache_routes = web::Data::new(cache_routes);
        let api_document = web::Data::new(api_document);
        let search = web::Data::new(search::Search::new(&settings.search)?);
        let graphql_schema = web::Data::new(crate::graphql::schema(&settings.graphql));
        loops.add(
            "search-count flush",
            search.counted.clone().spawn(redis.clone()),
        );
        if let Some(meili) = &search.meili {
            // The outbox itself is the job runner's (`search.sync`); this instance watches
            // for Meilisearch coming back after a failed search.
            loops.add(
                "meilisearch probe",
                search::outbox::spawn_probe(meili.clone()),
            );
        }
        let local_pages = web::Data::new(cache::Local::new(
            if settings.cache.enabled {
                settings.cache.local_max_bytes
            } else {
                0
            },
            Duration::from_millis(settings.cache.local_ttl_ms),
        ));
        let pages = cache::Pages::new(&redis, &settings.redis);
        let generations = local_pages.clone().into_inner().listen(
            redis.clone(),
            pages.channel.clone(),
            pages.generation_key().to_owned(),
        );
        if let Some(task) = generations {
            loops.add("page generations", task);
        }
        let tokens = web::Data::new(api::jwt::Tokens::new(
            &settings.api,
            settings.session.secret.expose_secret(),
        ));
        let api_calls = web::Data::new(crate::ratelimit::Batched::default());
        loops.add(
            "api-call flush",
            api_calls.clone().into_inner().spawn(redis.clone()),
        );
        let hub = crate::ws::Hub::new(db.clone(), redis.clone(), &settings);
        // Each live feature, and what its sockets hear.
        hub.register(comments::live::Feed);
        hub.register(posts::live::Feed);
        let [hear, tick] = hub.listen();
        loops.add("live listener", hear);
        loops.add("live tick", tick);
        let views = Arc::new(crate::stats::Views::default());
        loops.add(
            "view flush",
            views.spawn(db.clone(), Duration::from_millis(settings.stats.flush_ms)),
        );
        let settings = Arc::new(settings);
        // The job types this version runs: the runner dispatches on them, `/admin/jobs`
        // names queued ones with them.
        // Jobs that make pages stale note their writes first (`db::replica`).
        let job_pages = pages.clone().noting(replica.writes(&db, &redis));
        let registry = crate::job_registry::build(&settings, job_pages, search.meili.clone())?;
        // With a message broker configured, the event triggers record every event from now
        // on (the runner's schedule says so again each minute, here or on a worker).
        if let Err(e) = crate::events::announce(&db, &settings.events).await {
            tracing::warn!(error = %e, "events: brokers not announced yet; within a minute");
        }
        let runner = match settings.jobs.enabled {
            true => Some(crate::jobs::Runner::start(
                db.clone(),
                settings.clone(),
                metrics.clone(),
                registry.clone(),
            )?),
            false => None,
        };
        let registry = web::Data::new(registry);
        let media_store = web::Data::new(media::Store::from_settings(&settings.uploads)?);
        let shared = AppState {
            db,
            replica,
            redis,
            settings,
            site_now: live.clone(),
            metrics,
            hasher: Arc::new(Hasher::new(settings_hash_concurrency)),
        };
        let flush_at_stop = (views.clone(), shared.db.clone());
        // Each feature's own singleton, beside the state.
        let live = web::Data::from(live);
        let views = web::Data::from(views);
        let hub_data = web::Data::new(hub.clone());

        let server = HttpServer::new(move || {
            let db = db::worker_pool(&shared.db, per_worker);
            shared.metrics.watch_pool(&db);
            let state = web::Data::new(AppState {
                db,
                replica: shared.replica.for_worker(per_worker),
                ..shared.clone()
            });
            let mut headers = DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "strict-origin-when-cross-origin"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Content-Security-Policy", csp.clone()));
            if https {
                headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
            }
            actix_web::App::new()
                .app_data(state.clone())
                .app_data(live.clone())
                .app_data(oauth.clone())
                .app_data(search.clone())
                .app_data(graphql_schema.clone())
                .app_data(local_pages.clone())
                .app_data(tokens.clone())
                .app_data(api_calls.clone())
                .app_data(views.clone())
                .app_data(hub_data.clone())
                .app_data(registry.clone())
                .app_data(media_store.clone())
                .app_data(cache_routes.clone())
                .app_data(api_document.clone())
                .app_data(assets.clone())
                .app_data(path_config())
                .app_data(query_config())
                .app_data(form_config())
                .app_data(json_config())
                .app_data(deadlines)
                .app_data(media::admin::config(upload_limit))
                .wrap(from_fn(middleware::personal_pages))
                // Inside the page cache: a kept page needs no settings.
                .wrap(from_fn(crate::settings::live::refresh))
                .wrap(from_fn(middleware::reject_nul_in_query))
                .wrap(error_pages())
                // Inside the session (a writer's session keeps where they wrote) and the page
                // cache: every successful write is noted before the cache's bump
                // (`db::replica`).
                .wrap(from_fn(db::replica::after_writes))
                .wrap(
                    SessionMiddleware::builder(sessions.clone(), key.clone())
                        .cookie_name(cache::SESSION_COOKIE.into())
                        .cookie_secure(https)
                        .cookie_http_only(true)
                        .cookie_same_site(SameSite::Lax)
                        .session_lifecycle(PersistentSession::default().session_ttl(session_ttl))
                        .build(),
                )
                .wrap(from_fn(accounts::session::store_failures))
                // Inside the cache (which keeps no 404 and no redirect), outside the session:
                // `/?p=12` is answered before any session is read.
                .wrap(from_fn(crate::redirects::serve))
                // Outside the session: a kept page is served without touching it.
                .wrap(from_fn(cache::hot_pages))
                // Outside the cache: a kept page served is a view too.
                .wrap(from_fn(crate::stats::count_views))
                .wrap(Compress::default())
                .wrap(headers)
                .wrap(from_fn(telemetry::log_requests))
                .wrap(from_fn(middleware::in_flight))
                .configure(|cfg| router.register(cfg))
                .default_service(web::to(not_found))
        })
        .workers(workers)
        .shutdown_timeout(shutdown)
        // SIGTERM and SIGINT are ours (`run_until_stopped`): sockets are closed first.
        .disable_signals()
        .client_request_timeout(Duration::from_secs(10))
        .listen(listener)?;
        Ok(Self {
            port,
            server: server.run(),
            views: flush_at_stop,
            runner,
            hub,
            loops,
        })
    }

    /// The port actually bound (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What stops the server (see `Stopper`).
    pub fn handle(&self) -> Stopper {
        Stopper {
            server: self.server.handle(),
            hub: self.hub.clone(),
            loops: self.loops.clone(),
        }
    }

    /// Serve until SIGTERM/SIGINT (graceful: sockets are closed, in-flight requests finish)
    /// or `handle().stop()`; then the job workers stop (running jobs finish or go back to the
    /// queue).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopper = self.handle();
        let signals = tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping: closing live sockets, finishing requests");
            stopper.stop(true).await;
        });
        let served = self.server.await;
        signals.abort();
        // What readers did since the last flush is not lost with the process.
        let (views, db) = &self.views;
        views.flush(db).await;
        if let Some(runner) = self.runner {
            runner.shutdown().await;
        }
        self.loops.stop().await;
        served
    }
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn not_found() -> Result<actix_web::HttpResponse, Error> {
    Err(Error::NotFound)
}

// Actix's own extractors answer through these, so each rejection is one of our pages
// (and, under /api, our JSON) rather than actix's plain text.

/// A path that doesn't parse (a malformed slug, bytes that aren't UTF-8) names nothing: 404.
fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, _req| Error::NotFound.into())
}

/// A malformed query (`?page=abc`) is the client's mistake: 400 with what was wrong.
fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let detail = match err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        Error::BadRequest(detail).into()
    })
}

/// Forms go through `extract::CsrfForm`; a plain `web::Form` anywhere gets the same answers.
fn form_config() -> web::FormConfig {
    web::FormConfig::default().error_handler(|err, _req| match err {
        UrlencodedError::Overflow { limit, .. } => {
            Error::TooLarge(format!("This form can send at most {} KB.", limit / 1024)).into()
        }
        UrlencodedError::Payload(e) if timed_out(&e) => Error::RequestTimeout.into(),
        other => Error::BadRequest(format!("the form could not be read: {other}")).into(),
    })
}

/// JSON bodies (the API): too large is 413, anything unreadable 400 with the reason.
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(|err, _req| match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => {
            Error::TooLarge(format!("A JSON body can be at most {} KB.", limit / 1024)).into()
        }
        JsonPayloadError::Payload(e) if timed_out(&e) => Error::RequestTimeout.into(),
        other => Error::BadRequest(format!("the JSON body could not be read: {other}")).into(),
    })
}

/// The body deadline (`middleware::deadlines`) passed: 408, as the README says.
fn timed_out(e: &actix_web::error::PayloadError) -> bool {
    matches!(e, actix_web::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}
