//! Who is calling: `Authorization: Token <jwt>` (RealWorld's form) or `Bearer <jwt>`,
//! checked against the account on every request.

use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};

use super::jwt::Tokens;
use crate::{
    accounts::{model::CurrentUser, repo},
    error::ApiError,
    state::AppState,
};

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A caller with a valid token for an active account; 401 otherwise.
pub struct ApiUser {
    pub user: CurrentUser,
    /// The token it came with, which `GET /api/user` hands back.
    pub token: String,
    /// When that token was made (Unix seconds).
    pub issued_at: i64,
}

/// A caller who may or may not send a token; a token sent must be valid (401 otherwise).
pub struct MaybeApiUser(pub Option<ApiUser>);

impl MaybeApiUser {
    pub fn user(&self) -> Option<&CurrentUser> {
        self.0.as_ref().map(|a| &a.user)
    }
}

/// The token of the `Authorization` header: `Ok(None)` without one.
pub(super) fn token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::token_invalid())?
        .trim();
    let (scheme, token) = value.split_once(' ').ok_or_else(ApiError::token_invalid)?;
    if !scheme.eq_ignore_ascii_case("token") && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::token_invalid());
    }
    match token.trim() {
        "" => Ok(None),
        token => Ok(Some(token.to_owned())),
    }
}

/// The account behind `token`, if it is ours, unexpired, and its account is active and
/// still in the epoch the token was made in (a password change starts a new one).
async fn authenticate(
    state: &AppState,
    tokens: &Tokens,
    token: String,
) -> Result<ApiUser, ApiError> {
    let verified = tokens.verify(&token).ok_or_else(ApiError::token_invalid)?;
    let user = repo::find_current(&state.db, verified.user)
        .await?
        .filter(|u| u.session_epoch == verified.epoch)
        .ok_or_else(ApiError::token_invalid)?;
    Ok(ApiUser {
        user,
        token,
        issued_at: verified.issued_at,
    })
}

impl FromRequest for MaybeApiUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let tokens = req.app_data::<web::Data<Tokens>>().cloned();
        Box::pin(async move {
            let Some(token) = token? else {
                return Ok(MaybeApiUser(None));
            };
            let (Some(state), Some(tokens)) = (state, tokens) else {
                return Err(anyhow::anyhow!("no app state or API tokens").into());
            };
            Ok(MaybeApiUser(Some(
                authenticate(&state, &tokens, token).await?,
            )))
        })
    }
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let maybe = MaybeApiUser::from_request(req, payload);
        Box::pin(async move { maybe.await?.0.ok_or_else(ApiError::token_missing) })
    }
}
