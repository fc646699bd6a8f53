//! The settings every instance holds, fresh on the next request after any instance saves.
//!
//! Like the page cache's memory layer (`cache::local`): each instance subscribes to a Redis
//! channel; a save publishes the new version and waits (at most `ACK_WAIT`) until every
//! subscriber has acknowledged it, so by the time the admin sees the saved page, every
//! instance knows its copy is old and reads the row again on its next request. While the
//! subscription is not known to be healthy (starting, Redis away), every request reads the
//! row: correct, one query dearer.

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicI64, Ordering},
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
use sqlx::PgPool;

use super::{model::SiteSettings, repo};
use crate::{
    kv::Kv,
    state::{AppState, Site, SiteAssets},
};

/// How long a save waits for every instance to acknowledge it.
pub const ACK_WAIT: Duration = Duration::from_millis(250);

pub struct Live {
    assets: SiteAssets,
    base: String,
    current: RwLock<Arc<Site>>,
    /// The newest version announced; meaningful only while `healthy`.
    heard: AtomicI64,
    healthy: AtomicBool,
    redis: Kv,
    channel: String,
}

impl Live {
    pub fn new(
        assets: SiteAssets,
        base: String,
        settings: SiteSettings,
        redis: Kv,
        key_prefix: &str,
    ) -> Self {
        let site = Arc::new(Site::new(&assets, &base, settings));
        crate::render::page::set_display_zone(&site.settings.timezone);
        Self {
            heard: AtomicI64::new(site.settings.version),
            current: RwLock::new(site),
            assets,
            base,
            healthy: AtomicBool::new(false),
            redis,
            channel: format!("{key_prefix}settings:changes"),
        }
    }

    /// The settings held now (`refresh` has made them fresh for this request).
    pub fn current(&self) -> Arc<Site> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn hold(&self, settings: SiteSettings) -> Arc<Site> {
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

    /// The settings, read again if a newer version was announced or announcements can't be
    /// trusted. A failed read keeps what is held.
    pub async fn fresh(&self, db: &PgPool) -> Arc<Site> {
        let held = self.current();
        let trusted = self.healthy.load(Ordering::Acquire)
            && self.heard.load(Ordering::Acquire) <= held.settings.version;
        if trusted {
            return held;
        }
        // A site that started without its database may have no row yet.
        match repo::load_or_create(db, &held.settings).await {
            Ok(settings) => self.hold(settings),
            Err(_) => held,
        }
    }

    /// After a save: hold `saved` here, and tell every instance, waiting for each to hear.
    pub async fn announce(&self, saved: SiteSettings) {
        let version = saved.version;
        self.hold(saved);
        let publish = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(version)
            .clone();
        let Ok(listeners) = self.redis.cmd::<u64>(&publish).await else {
            return;
        };
        if listeners > 0
            && !self
                .redis
                .acknowledged(&self.ack_key(version), listeners, ACK_WAIT)
                .await
        {
            tracing::warn!(
                version,
                listeners,
                "not every instance acknowledged new settings"
            );
        }
    }

    fn ack_key(&self, version: i64) -> String {
        format!("{}:ack:{version}", self.channel)
    }

    /// Listen for saves until the process ends, reconnecting as needed.
    pub fn listen(self: &Arc<Self>, db: PgPool) {
        let follower = Arc::new(Saves {
            live: self.clone(),
            db,
        });
        crate::kv::follow(self.redis.clone(), self.channel.clone(), follower);
    }
}

/// The settings' side of `kv::follow`.
struct Saves {
    live: Arc<Live>,
    db: PgPool,
}

impl crate::kv::Follower for Saves {
    type Payload = i64;

    fn set_healthy(&self, healthy: bool) {
        self.live.healthy.store(healthy, Ordering::Release);
    }

    async fn ready(&self) -> anyhow::Result<()> {
        if let Some(settings) = repo::load(&self.db).await? {
            self.live
                .heard
                .fetch_max(settings.version, Ordering::AcqRel);
            self.live.hold(settings);
        }
        Ok(())
    }

    async fn heard(&self, version: i64) {
        self.live.heard.fetch_max(version, Ordering::AcqRel);
        self.live
            .redis
            .acknowledge(&self.live.ack_key(version))
            .await;
    }
}

/// Middleware: the settings are fresh before a handler reads them (`AppState::site`).
pub async fn refresh(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, ActixError> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        state.live.fresh(&state.db).await;
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
