//! Tags: the tag pages readers browse.

pub mod admin;
pub mod jobs;
pub mod model;
pub mod pages;
pub mod repo;

use actix_web::web;

use crate::state::{read, resource};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/tags/{slug}").route(read().to(pages::show)));
    admin::routes(cfg);
}
