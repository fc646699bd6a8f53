//! `/api/tags`: every tag in use on a published post.

use actix_web::{HttpResponse, web};

use crate::{error::ApiError, state::AppState, tags};

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TagsBody {
    pub tags: Vec<String>,
}

/// `GET /api/tags`: names, sorted.
#[utoipa::path(get, path = "/tags", tag = "Tags", operation_id = "GetTags", summary = "Get tags",
    responses((status = 200, description = "Every tag in use", body = TagsBody),
              (status = 422, description = "Unexpected error", body = crate::api::openapi::GenericErrorModel)))]
pub async fn index(
    state: web::Data<AppState>,
    keys: crate::cache::Keys,
) -> Result<HttpResponse, ApiError> {
    // The tags in use: those of published posts.
    keys.add(crate::cache::Key::Tags)
        .add(crate::cache::Key::Posts);
    let tags = tags::repo::names_in_use(&state.db).await?;
    Ok(HttpResponse::Ok().json(TagsBody { tags }))
}
