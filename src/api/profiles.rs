//! `/api/profiles/{username}` and following.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::{
    Profile,
    auth::{ApiUser, MaybeApiUser},
};
use crate::{
    accounts::repo,
    error::ApiError,
    state::{AppState, resource},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/profiles/{username}").route(web::get().to(show)))
        .service(
            resource("/profiles/{username}/follow")
                .route(web::post().to(follow))
                .route(web::delete().to(unfollow)),
        );
}

#[derive(Debug, Serialize)]
pub struct ProfileBody {
    pub profile: Profile,
}

async fn find(
    state: &AppState,
    username: &str,
    viewer: Option<crate::accounts::model::UserId>,
) -> Result<repo::PublicProfile, ApiError> {
    if username.len() > 64 {
        return Err(ApiError::NotFound("profile"));
    }
    repo::public_profile(&state.db, username, viewer)
        .await?
        .ok_or(ApiError::NotFound("profile"))
}

/// `GET /api/profiles/{username}`.
pub async fn show(
    state: web::Data<AppState>,
    viewer: MaybeApiUser,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let profile = find(&state, &username, viewer.user().map(|u| u.id)).await?;
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
    let them = find(state, username, Some(me)).await?;
    match on {
        true if them.id == me => return Err(ApiError::invalid("profile", "can't follow yourself")),
        true => repo::follow(&state.db, me, them.id).await?,
        false => repo::unfollow(&state.db, me, them.id).await?,
    }
    let profile = find(state, username, Some(me)).await?;
    Ok(HttpResponse::Ok().json(ProfileBody {
        profile: profile.into(),
    }))
}

/// `POST /api/profiles/{username}/follow` (following again changes nothing).
pub async fn follow(
    state: web::Data<AppState>,
    caller: ApiUser,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_following(&state, caller, &username, true).await
}

/// `DELETE /api/profiles/{username}/follow`.
pub async fn unfollow(
    state: web::Data<AppState>,
    caller: ApiUser,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_following(&state, caller, &username, false).await
}
