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
use futures_util::StreamExt;
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
        let live = self.clone();
        tokio::spawn(async move {
            loop {
                live.healthy.store(false, Ordering::Release);
                if let Err(e) = live.subscribe(&db).await {
                    tracing::debug!(error = %e, "settings subscription ended");
                }
                live.healthy.store(false, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    async fn subscribe(&self, db: &PgPool) -> anyhow::Result<()> {
        let timeout = Duration::from_millis(500);
        let pubsub = tokio::time::timeout(timeout, self.redis.pubsub()).await??;
        let (mut sink, mut stream) = pubsub.split();
        tokio::time::timeout(timeout, sink.subscribe(&self.channel)).await??;
        // Subscribed first, then read: no save can fall between the two.
        if let Some(settings) = repo::load(db).await? {
            self.heard.fetch_max(settings.version, Ordering::AcqRel);
            self.hold(settings);
        }
        self.healthy.store(true, Ordering::Release);
        let second = Duration::from_secs(1);
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else {
                        anyhow::bail!("subscription closed");
                    };
                    let version: i64 = message.get_payload()?;
                    self.heard.fetch_max(version, Ordering::AcqRel);
                    self.redis.acknowledge(&self.ack_key(version)).await;
                }
                _ = ping.tick() => {
                    tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await??;
                }
            }
        }
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
