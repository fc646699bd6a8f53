//! Tags: the tag pages readers browse.

pub mod admin;
pub mod jobs;
pub mod model;
pub mod pages;
pub mod repo;

use actix_web::web;

use crate::app::read;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tags/{slug}", read().to(pages::show));
    admin::routes(cfg);
}
