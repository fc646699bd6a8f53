//! `/api/tags`: every tag in use on a published post.

use actix_web::{HttpResponse, web};

use crate::{
    error::ApiError,
    state::{AppState, resource},
    tags,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/tags").route(web::get().to(index)));
}

/// `GET /api/tags`: names, sorted.
pub async fn index(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let names = tags::repo::names_in_use(&state.db).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tags": names })))
}
