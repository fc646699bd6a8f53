//! Site settings: what admins change in `/admin/settings` (title, description, posts per
//! page, footer, accent colour, registrations, new accounts' role, comments), stored in
//! PostgreSQL. The config file's values fill them when the site is new. A save takes
//! effect on the next request of every instance (`live`).

pub mod admin;
pub mod live;
pub mod model;
pub mod navigation;
pub mod repo;

use actix_web::web;

use crate::state::{read, resource};

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
