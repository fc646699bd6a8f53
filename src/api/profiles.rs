//! `/api/profiles/{username}` and following.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::{
    Profile,
    auth::{ApiUser, MaybeApiUser},
};
use crate::{
    accounts::{model::Username, repo},
    api::openapi::GenericErrorModel,
    error::ApiError,
    state::AppState,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileBody {
    pub profile: Profile,
}

async fn find(
    db: impl sqlx::PgExecutor<'_>,
    username: &str,
    viewer: Option<crate::accounts::model::UserId>,
) -> Result<repo::PublicProfile, ApiError> {
    // Parsed, so a NUL or any other byte no username has never reaches SQL.
    let username = Username::parse(username).map_err(|_| ApiError::NotFound("profile"))?;
    repo::public_profile(db, username.as_str(), viewer)
        .await?
        .ok_or(ApiError::NotFound("profile"))
}

/// `GET /api/profiles/{username}`.
#[utoipa::path(get, path = "/profiles/{username}", tag = "Profile",
    operation_id = "GetProfileByUsername", security((), ("Token" = [])), params(("username" = String, Path, description = "Username of the profile")),
    responses((status = 200, description = "The profile", body = ProfileBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 404, description = "No such profile", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn show(
    reads: crate::db::Reads,
    viewer: MaybeApiUser,
    username: web::Path<String>,
    keys: crate::cache::Keys,
) -> Result<HttpResponse, ApiError> {
    let profile = find(&reads, &username, viewer.user().map(|u| u.id)).await?;
    keys.add(profile.id);
    Ok(HttpResponse::Ok().json(ProfileBody {
        profile: profile.into(),
    }))
}

/// Follow (`on`) or unfollow `username`; their profile as the caller now sees it.
async fn set_following(
    state: &AppState,
    caller: ApiUser,
    username: &str,
    on: bool,
) -> Result<HttpResponse, ApiError> {
    let me = caller.user.id;
    let them = find(&state.db, username, Some(me)).await?;
    match crate::accounts::set_following(&state.db, me, them.id, on).await {
        Ok(()) => {}
        Err(crate::accounts::FollowError::Yourself) => {
            return Err(ApiError::invalid("profile", "can't follow yourself"));
        }
        Err(crate::accounts::FollowError::Db(e)) => return Err(e.into()),
    }
    let profile = find(&state.db, username, Some(me)).await?;
    Ok(HttpResponse::Ok().json(ProfileBody {
        profile: profile.into(),
    }))
}

/// `POST /api/profiles/{username}/follow` (following again changes nothing).
#[utoipa::path(post, path = "/profiles/{username}/follow", tag = "Profile",
    operation_id = "FollowUserByUsername", security(("Token" = [])), params(("username" = String, Path, description = "Username of the profile")),
    responses((status = 200, description = "The profile, followed", body = ProfileBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 404, description = "No such profile", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn follow(
    state: web::Data<AppState>,
    caller: ApiUser,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_following(&state, caller, &username, true).await
}

/// `DELETE /api/profiles/{username}/follow`.
#[utoipa::path(delete, path = "/profiles/{username}/follow", tag = "Profile",
    operation_id = "UnfollowUserByUsername", security(("Token" = [])), params(("username" = String, Path, description = "Username of the profile")),
    responses((status = 200, description = "The profile, unfollowed", body = ProfileBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 404, description = "No such profile", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn unfollow(
    state: web::Data<AppState>,
    caller: ApiUser,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_following(&state, caller, &username, false).await
}
