//! `/api/tags`: every tag in use on a published post.

use actix_web::HttpResponse;

use crate::{db::Reads, error::ApiError, tags};

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TagsBody {
    pub tags: Vec<String>,
}

/// `GET /api/tags`: names, sorted.
#[utoipa::path(get, path = "/tags", tag = "Tags", operation_id = "GetTags", summary = "Get tags",
    responses((status = 200, description = "Every tag in use", body = TagsBody),
              (status = 422, description = "Unexpected error", body = crate::api::openapi::GenericErrorModel)))]
pub async fn index(reads: Reads, keys: crate::cache::Keys) -> Result<HttpResponse, ApiError> {
    // The tags in use: those of published posts.
    keys.add(crate::cache::Key::Tags)
        .add(crate::cache::Key::Posts);
    let tags = tags::repo::names_in_use(&reads).await?;
    Ok(HttpResponse::Ok().json(TagsBody { tags }))
}
