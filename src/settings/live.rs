//! The settings every instance holds, fresh after any change, whoever made it.
//!
//! A trigger on `site_settings` (migration `20261219000000_notify_settings_changes.sql`)
//! makes every change a new version and sends it on PostgreSQL's `quire_settings` channel,
//! so a save on any instance, `quire seed`, an importer or plain SQL reach every instance
//! alike, and no writer has to remember to announce anything (issue 24). Each instance
//! LISTENs; a version newer than the one it holds makes its next request read the row again.
//! While the listener is not known to be healthy (starting, reconnecting, the database away),
//! every request reads the row: correct, one query dearer. A listener that (re)connects reads
//! the row once, since it may have missed changes while it was away.
//!
//! PostgreSQL sends a change to every listener at its commit; a save here waits (at most
//! `HEAR_WAIT`) until this instance has heard its own, so by the time the admin sees the
//! saved page the other instances have been told too. Kept pages are keyed by the newest
//! version an instance knows of (`version`), so they never outlive the settings they show.

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use actix_web::{
    Error as ActixError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use anyhow::Context;
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::watch;

use super::{model::SiteSettings, repo};
use crate::{
    site::{self, Site, SiteAssets},
    state::AppState,
};

/// How long a save waits to hear its own change back.
pub const HEAR_WAIT: Duration = Duration::from_millis(250);

/// The channel the trigger sends each new version on.
const CHANNEL: &str = "quire_settings";

pub struct Live {
    assets: SiteAssets,
    base: String,
    current: RwLock<Arc<Site>>,
    /// The newest version announced; meaningful only while `healthy`.
    heard: watch::Sender<i64>,
    healthy: AtomicBool,
}

impl Live {
    pub fn new(assets: SiteAssets, base: String, settings: SiteSettings) -> Self {
        let site = Arc::new(Site::new(&assets, &base, settings));
        crate::render::page::set_display_zone(&site.settings.timezone);
        Self {
            heard: watch::Sender::new(site.settings.version),
            current: RwLock::new(site),
            assets,
            base,
            healthy: AtomicBool::new(false),
        }
    }

    /// The settings held now (`refresh` has made them fresh for this request).
    pub fn current(&self) -> Arc<Site> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The newest version this instance knows of: held, or announced and not read yet.
    pub fn version(&self) -> i64 {
        self.current().settings.version.max(*self.heard.borrow())
    }

    /// Hold `settings` (read from the row), unless a newer version is held already.
    pub fn hold(&self, settings: SiteSettings) -> Arc<Site> {
        let site = Arc::new(Site::new(&self.assets, &self.base, settings));
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        // Never back to an older version than one already held.
        if site.settings.version >= current.settings.version {
            if site.settings.timezone != current.settings.timezone {
                crate::render::page::set_display_zone(&site.settings.timezone);
            }
            *current = site;
        }
        current.clone()
    }

    fn heard(&self, version: i64) {
        self.heard.send_if_modified(|newest| {
            let newer = version > *newest;
            if newer {
                *newest = version;
            }
            newer
        });
    }

    /// The settings, read again if a newer version was announced or announcements can't be
    /// trusted. A failed read keeps what is held.
    pub async fn fresh(&self, db: &PgPool) -> Arc<Site> {
        let held = self.current();
        let trusted =
            self.healthy.load(Ordering::Acquire) && *self.heard.borrow() <= held.settings.version;
        if trusted {
            return held;
        }
        // A site that started without its database may have no row yet.
        match repo::load_or_create(db, &held.settings).await {
            Ok(settings) => self.hold(settings),
            Err(_) => held,
        }
    }

    /// After a save here: hold `saved`, and wait until this instance hears the change back
    /// (the trigger announced it to every instance at commit).
    pub async fn saved(&self, saved: SiteSettings) {
        let version = saved.version;
        self.hold(saved);
        if !self.healthy.load(Ordering::Acquire) {
            // Every instance reads the row on each request meanwhile.
            return;
        }
        let mut heard = self.heard.subscribe();
        let back = matches!(
            tokio::time::timeout(HEAR_WAIT, heard.wait_for(|v| *v >= version)).await,
            Ok(Ok(_))
        );
        if !back {
            tracing::warn!(version, "a settings change was not heard back in time");
        }
    }

    /// Follow changes until the returned task is stopped, reconnecting as needed.
    pub fn listen(self: &Arc<Self>, db: PgPool) -> tokio::task::JoinHandle<()> {
        let live = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = live.follow(&db).await {
                    tracing::debug!(error = %e, "settings: listening ended; again shortly");
                }
                live.healthy.store(false, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    async fn follow(&self, db: &PgPool) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(db).await?;
        listener.listen(CHANNEL).await?;
        loop {
            // Listening first, then read: no change can fall between the two.
            if let Some(settings) = repo::load(db).await? {
                self.heard(settings.version);
                self.hold(settings);
            }
            self.healthy.store(true, Ordering::Release);
            // `None`: the connection dropped, and the listener has connected and listened
            // again; what changed meanwhile is read above.
            while let Some(change) = listener.try_recv().await? {
                let version = change
                    .payload()
                    .parse()
                    .with_context(|| format!("a settings version: {:?}", change.payload()))?;
                self.heard(version);
            }
            self.healthy.store(false, Ordering::Release);
        }
    }
}

impl site::Current for Live {
    fn site(&self) -> Arc<Site> {
        self.current()
    }

    fn version(&self) -> i64 {
        Live::version(self)
    }
}

/// Middleware: the settings are fresh before a handler reads them (`AppState::site`).
pub async fn refresh(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, ActixError> {
    if let (Some(state), Some(live)) = (
        req.app_data::<web::Data<AppState>>(),
        req.app_data::<web::Data<Live>>(),
    ) {
        live.fresh(&state.db).await;
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
