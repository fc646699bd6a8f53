//! Site settings: what admins change in `/admin/settings` (title, description, posts per
//! page, footer, accent colour, registrations, new accounts' role, comments), stored in
//! PostgreSQL. The config file's values fill them when the site is new. Any change, by
//! whoever makes it, takes effect on the next request of every instance (`live`).

pub mod admin;
pub mod live;
pub mod model;
pub mod navigation;
pub mod repo;

use actix_web::web;
use serde::Deserialize;

use crate::state::{read, resource};

/// `?saved=1` on a settings screen after a save (the redirect's way of saying so).
#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

impl SavedQuery {
    pub fn saved(&self) -> bool {
        self.saved.is_some()
    }
}

/// After a save: every instance holds `saved` on its next request. Kept pages (which show
/// the settings) are keyed by the settings' version, so none shows the old ones.
pub async fn apply(live: &live::Live, saved: model::SiteSettings) {
    live.saved(saved).await;
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/admin/settings")
            .route(read().to(admin::edit))
            .route(web::post().to(admin::update)),
    )
    .service(
        resource("/admin/navigation")
            .route(read().to(navigation::edit))
            .route(web::post().to(navigation::update)),
    )
    .service(resource("/theme.css").route(read().to(admin::theme_css)));
}
