//! `/api/articles/{slug}/comments`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{
    ApiJson, Profile,
    auth::{ApiUser, MaybeApiUser},
    iso,
};
use crate::{
    api::openapi::GenericErrorModel,
    authz::{self, Action},
    comments::{self, AddError, DeleteError, repo},
    error::ApiError,
    posts,
    slug::Slug,
    state::AppState,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub body: String,
    pub author: Profile,
}

impl From<repo::ApiComment> for Comment {
    fn from(c: repo::ApiComment) -> Self {
        Comment {
            id: c.id,
            created_at: iso(c.created_at),
            updated_at: iso(c.updated_at),
            body: c.body_markdown,
            author: Profile {
                username: c.author_username,
                bio: (!c.author_bio.is_empty()).then_some(c.author_bio),
                image: c.author_image,
                following: c.following,
            },
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommentBody {
    pub comment: Comment,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommentsBody {
    pub comments: Vec<Comment>,
}

#[derive(Debug, Deserialize)]
pub struct NewComment {
    pub body: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Wrapped {
    #[serde(default, deserialize_with = "super::object")]
    pub comment: Option<NewComment>,
}

/// The published post at `slug` (comments belong to what readers can see).
async fn published(
    db: impl sqlx::PgExecutor<'_>,
    slug: &str,
) -> Result<posts::model::Post, ApiError> {
    // Parsed, so a NUL or any other byte no slug has never reaches SQL.
    let slug = Slug::parse(slug).map_err(|_| ApiError::NotFound("article"))?;
    posts::repo::find_published(db, slug.as_str())
        .await?
        .ok_or(ApiError::NotFound("article"))
}

/// `GET /api/articles/{slug}/comments`: oldest first, hidden ones left out.
#[utoipa::path(get, path = "/articles/{slug}/comments", tag = "Comments",
    operation_id = "GetArticleComments", summary = "Get comments for an article", security((), ("Token" = [])), params(("slug" = String, Path, description = "Slug of the article")),
    responses((status = 200, description = "Oldest first", body = CommentsBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 404, description = "No such article", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn index(
    reads: crate::db::Reads,
    viewer: MaybeApiUser,
    slug: web::Path<String>,
    keys: crate::cache::Keys,
) -> Result<HttpResponse, ApiError> {
    let post = published(&reads, &slug).await?;
    let list = repo::visible_on(&reads, post.summary.id, viewer.user().map(|u| u.id)).await?;
    keys.add(post.summary.id)
        .add_all(list.iter().filter_map(|c| c.author_id));
    let comments: Vec<Comment> = list.into_iter().map(Comment::from).collect();
    Ok(HttpResponse::Ok().json(CommentsBody { comments }))
}

/// `POST /api/articles/{slug}/comments`: 201, through the same use-case as the site's form.
#[utoipa::path(post, path = "/articles/{slug}/comments", tag = "Comments",
    operation_id = "CreateArticleComment", summary = "Create a comment for an article", security(("Token" = [])), params(("slug" = String, Path, description = "Slug of the article")),
    request_body = super::openapi::NewCommentRequest,
    responses((status = 201, description = "The new comment", body = CommentBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 403, description = "Comments are closed (Quire)", body = GenericErrorModel), (status = 404, description = "No such article", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiUser,
    slug: web::Path<String>,
    ApiJson(body): ApiJson<Wrapped>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    let post = published(&state.db, &slug).await?;
    if !authz::can(&user, Action::Comment) {
        return Err(ApiError::Forbidden("comment"));
    }
    let text = body
        .comment
        .ok_or_else(|| ApiError::invalid("comment", "is missing"))?
        .body
        .unwrap_or_default();
    let id = match comments::add(
        &state,
        &user,
        post.summary.id,
        post.summary.author_id,
        &text,
    )
    .await
    {
        Ok(id) => id,
        Err(AddError::Invalid(_)) if text.trim().is_empty() => {
            return Err(ApiError::invalid("body", "can't be blank"));
        }
        Err(AddError::Invalid(message)) => return Err(ApiError::invalid("body", message)),
        Err(AddError::TooFast) => return Err(ApiError::TooMany { retry_after: 60 }),
        Err(AddError::Closed) => {
            return Err(ApiError::Refused {
                key: "comment",
                message: "comments are closed on this site",
            });
        }
        Err(AddError::Unverified) => {
            return Err(ApiError::Refused {
                key: "email",
                message: "must be verified before commenting: follow the link we emailed you",
            });
        }
        Err(AddError::Redis(e)) => return Err(e.into()),
        Err(AddError::Db(e)) => return Err(e.into()),
    };
    let comment = repo::api_comment(&state.db, id, Some(user.id))
        .await?
        .ok_or(ApiError::NotFound("comment"))?;
    Ok(HttpResponse::Created().json(CommentBody {
        comment: comment.into(),
    }))
}

/// `DELETE /api/articles/{slug}/comments/{id}`: its author, the post's author, editors
/// and admins (`comments::CommentDeletion`, the site's rule too).
#[utoipa::path(delete, path = "/articles/{slug}/comments/{id}", tag = "Comments",
    operation_id = "DeleteArticleComment", summary = "Delete a comment for an article", security(("Token" = [])),
    params(("slug" = String, Path, description = "Slug of the article"),
           ("id" = i64, Path, description = "ID of the comment")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 403, description = "The role may not", body = GenericErrorModel), (status = 404, description = "No such comment", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: ApiUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (slug, id) = path.into_inner();
    let post = published(&state.db, &slug).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound("comment"))?;
    let comment = repo::find(&state.db, id)
        .await?
        .filter(|c| c.post_id == post.summary.id)
        .ok_or(ApiError::NotFound("comment"))?;
    match comments::delete(&state, &caller.user, &comment).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(DeleteError::Forbidden) => Err(ApiError::Forbidden("comment")),
        Err(DeleteError::Db(e)) => Err(e.into()),
    }
}
