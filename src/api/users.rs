//! `/api/users` (register), `/api/users/login`, `/api/user` (the caller's own account).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ApiJson, auth::ApiUser};
use crate::{
    accounts::{
        self, CreateUserError, LogIn,
        change::{Field, ProfileChange, ProfileFields},
        model::{Email, NewUser, Password, UserId, Username},
        repo,
    },
    api::openapi::GenericErrorModel,
    error::{ApiError, FieldErrors},
    extract::ClientIp,
    state::AppState,
};

/// `{"user": …}`, the wrapper of every user body.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Wrapped<T> {
    #[serde(default, deserialize_with = "super::object")]
    pub user: Option<T>,
}

impl<T> Wrapped<T> {
    fn into_inner(self) -> Result<T, ApiError> {
        self.user
            .ok_or_else(|| ApiError::invalid("user", "is missing"))
    }
}

#[derive(Debug, Deserialize)]
pub struct NewUserFields {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginFields {
    pub email: Option<String>,
    pub password: Option<String>,
}

/// Every field optional; `bio` and `image` may be `null` (or `""`) to clear them.
#[derive(Debug, Deserialize)]
pub struct UpdateFields {
    /// Left out: kept; `null`: 422 (the spec says string).
    #[serde(default, deserialize_with = "not_null")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub password: Option<String>,
    /// Needed to change `email` or `password`, unless the token is from a login just now
    /// (`api.recent_auth_minutes`): a token alone, leaked once, must not take the account.
    #[serde(default, rename = "currentPassword", deserialize_with = "not_null")]
    pub current_password: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub image: Option<Option<String>>,
}

/// A field that may be left out but not sent as `null`.
fn not_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    pub email: String,
    pub token: String,
    pub username: String,
    #[schema(required = true)]
    pub bio: Option<String>,
    #[schema(required = true)]
    pub image: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserBody {
    pub user: User,
}

/// Collects what is wrong with each field, RealWorld's way.
#[derive(Default)]
struct Problems(FieldErrors);

impl Problems {
    /// `value` parsed by `parse`, or its message noted under `field`; blank is "can't be blank".
    fn check<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match value.map(str::trim) {
            None | Some("") => {
                self.add(field, "can't be blank");
                None
            }
            Some(_) => match parse(value.unwrap_or_default()) {
                Ok(v) => Some(v),
                Err(message) => {
                    self.add(field, &message);
                    None
                }
            },
        }
    }

    fn add(&mut self, field: &str, message: &str) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }

    fn done(self) -> Result<(), ApiError> {
        match self.0.is_empty() {
            true => Ok(()),
            false => Err(ApiError::Invalid(self.0)),
        }
    }
}

async fn user_body(state: &AppState, id: UserId, token: String) -> Result<UserBody, ApiError> {
    let profile = repo::profile(&state.db, id)
        .await?
        .ok_or_else(ApiError::token_invalid)?;
    Ok(UserBody {
        user: User {
            email: profile.email,
            token,
            username: profile.username,
            bio: (!profile.bio.is_empty()).then_some(profile.bio),
            image: profile.avatar_url,
        },
    })
}

/// The taken field of a failed sign-up or change, as RealWorld's 409.
fn taken(e: CreateUserError) -> ApiError {
    match e {
        CreateUserError::UsernameTaken(_) => ApiError::Taken("username"),
        CreateUserError::EmailTaken => ApiError::Taken("email"),
        CreateUserError::Other(e) => ApiError::Internal(e),
    }
}

/// `POST /api/users`: register (rate limited per address, like the register page). The
/// account gets the site settings' role for new accounts; 403 while registrations are closed.
#[utoipa::path(post, path = "/users", tag = "User and Authentication",
    operation_id = "CreateUser", description = "Register a new user",
    request_body = super::openapi::NewUserRequest,
    responses((status = 201, description = "The new user, with a token", body = UserBody),
              (status = 403, description = "Registrations are closed (Quire)", body = GenericErrorModel),
              (status = 409, description = "Username or email taken", body = GenericErrorModel),
              (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel),
              (status = 429, description = "Too many registrations", body = GenericErrorModel)))]
pub async fn register(
    state: web::Data<AppState>,
    tokens: web::Data<super::jwt::Tokens>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Wrapped<NewUserFields>>,
) -> Result<HttpResponse, ApiError> {
    if !state.site().settings.registrations_open {
        return Err(ApiError::Forbidden("registration"));
    }
    let fields = body.into_inner()?;
    let policy = state.settings.accounts.password_policy();
    let mut problems = Problems::default();
    let username = problems.check("username", fields.username.as_deref(), Username::parse);
    let email = problems.check("email", fields.email.as_deref(), Email::parse);
    // Not trimmed: spaces in a password are the password's.
    let password = match fields.password.as_deref() {
        None | Some("") => {
            problems.add("password", "can't be blank");
            None
        }
        Some(p) => problems.check("password", Some(p), |_| Password::parse(p, &policy)),
    };
    problems.done()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(ApiError::invalid("user", "is incomplete"));
    };
    let limiter = state.limiter(
        "register:address",
        state.settings.accounts.registrations_per_hour,
        Duration::from_secs(3600),
    );
    if let Some(retry_after) = limiter.over(&ip.to_string()).await? {
        return Err(ApiError::TooMany { retry_after });
    }
    let hash = state.hasher.hash(&password).await?;
    let user = NewUser {
        display_name: username.as_str().to_owned(),
        username,
        email,
        bio: String::new(),
        password: Some(password),
        role: state.site().settings.default_role,
    };
    let id = accounts::create_user_with_hash(&state.db, &user, Some(&hash))
        .await
        .map_err(taken)?;
    accounts::welcome(&state, id).await?;
    let epoch = repo::session_epoch(&state.db, id).await?;
    let token = tokens.issue(id, epoch)?;
    Ok(HttpResponse::Created().json(user_body(&state, id, token).await?))
}

/// `POST /api/users/login`: by email and password, under the site's login limits.
#[utoipa::path(post, path = "/users/login", tag = "User and Authentication",
    operation_id = "Login", summary = "Existing user login",
    request_body = super::openapi::LoginUserRequest,
    responses((status = 200, description = "The user, with a token", body = UserBody),
              (status = 401, description = "Wrong email or password", body = GenericErrorModel),
              (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel),
              (status = 429, description = "Too many attempts", body = GenericErrorModel)))]
pub async fn log_in(
    state: web::Data<AppState>,
    tokens: web::Data<super::jwt::Tokens>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Wrapped<LoginFields>>,
) -> Result<HttpResponse, ApiError> {
    let fields = body.into_inner()?;
    let mut problems = Problems::default();
    let email = problems.check("email", fields.email.as_deref(), |s| Ok(s.to_owned()));
    // As typed: `check` trims only to tell a blank one.
    let password = problems.check("password", fields.password.as_deref(), |s| Ok(s.to_owned()));
    problems.done()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::invalid("user", "is incomplete"));
    };
    match accounts::log_in(&state, ip, &email, &password).await? {
        LogIn::Welcome { user, epoch } => {
            let token = tokens.issue(user, epoch)?;
            Ok(HttpResponse::Ok().json(user_body(&state, user, token).await?))
        }
        LogIn::TooMany { wait_secs } => Err(ApiError::TooMany {
            retry_after: wait_secs,
        }),
        // RealWorld's words exactly (spec 2.0.0: strict clients match them).
        LogIn::Disabled | LogIn::Refused => Err(ApiError::Unauthorized {
            key: "credentials",
            message: "invalid",
        }),
    }
}

/// `GET /api/user`: the caller's account, with the token it came with.
#[utoipa::path(get, path = "/user", tag = "User and Authentication",
    operation_id = "GetCurrentUser", summary = "Get current user", security(("Token" = [])),
    responses((status = 200, description = "The caller", body = UserBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn current(
    state: web::Data<AppState>,
    caller: ApiUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(user_body(&state, caller.user.id, caller.token).await?))
}

/// Was `caller`'s token made by a login within `api.recent_auth_minutes`?
fn recent_login(state: &AppState, caller: &ApiUser) -> bool {
    let minutes = i64::from(state.settings.api.recent_auth_minutes);
    let age = time::OffsetDateTime::now_utc().unix_timestamp() - caller.issued_at;
    minutes > 0 && age <= minutes * 60
}

/// Check `currentPassword` (422 keyed by it when missing or wrong), under the login's
/// per-account allowance so a token can't be used to guess the password.
async fn confirm_password(
    state: &AppState,
    user: UserId,
    given: Option<&str>,
) -> Result<(), ApiError> {
    let Some(given) = given.filter(|p| !p.is_empty()) else {
        return Err(ApiError::invalid(
            "currentPassword",
            "is needed to change the email or password (or log in again first)",
        ));
    };
    let limiter = state.limiter("api:current_password", 10, Duration::from_secs(3600));
    if let Some(retry_after) = limiter.over(&user.0.to_string()).await? {
        return Err(ApiError::TooMany { retry_after });
    }
    match accounts::password_matches(state, user, given).await? {
        true => Ok(()),
        false => Err(ApiError::invalid("currentPassword", "is incorrect")),
    }
}

/// `PUT /api/user`: change any of email, username, password, bio and image. A new password
/// ends every earlier token; the answer carries a new one. Changing the email or password
/// needs `currentPassword` unless the token is from a login in the last
/// `api.recent_auth_minutes`; a new email is told to the old address and must be verified.
#[utoipa::path(put, path = "/user", tag = "User and Authentication",
    operation_id = "UpdateCurrentUser", summary = "Update current user", security(("Token" = [])),
    request_body = super::openapi::UpdateUserRequest,
    responses((status = 200, description = "The caller, changed", body = UserBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 409, description = "Username or email taken", body = GenericErrorModel),
              (status = 422, description = "Invalid input, keyed by field (currentPassword: missing or wrong)", body = GenericErrorModel),
              (status = 429, description = "Too many wrong current passwords", body = GenericErrorModel)))]
pub async fn update(
    state: web::Data<AppState>,
    tokens: web::Data<super::jwt::Tokens>,
    caller: ApiUser,
    ApiJson(body): ApiJson<Wrapped<UpdateFields>>,
) -> Result<HttpResponse, ApiError> {
    let fields = body.into_inner()?;
    let id = caller.user.id;
    let now = repo::profile(&state.db, id)
        .await?
        .ok_or_else(ApiError::token_invalid)?;
    // The account's own rules (`accounts::change`, shared with /account); the API's are its
    // wire format (`null` clears bio and image) and RealWorld's "can't be blank".
    let sent = ProfileFields {
        username: fields.username.clone(),
        email: fields.email.clone(),
        password: fields.password.clone(),
        bio: fields.bio.clone().map(Option::unwrap_or_default),
        avatar_url: fields.image.clone().map(Option::unwrap_or_default),
        display_name: None,
    };
    let change = ProfileChange::parse(&sent, &state.settings.accounts.password_policy()).map_err(
        |found| {
            let mut problems = Problems::default();
            for (field, message) in found.iter() {
                let (key, value) = match field {
                    Field::Username => ("username", &sent.username),
                    Field::Email => ("email", &sent.email),
                    Field::Password => ("password", &sent.password),
                    Field::Bio => ("bio", &sent.bio),
                    Field::Avatar => ("image", &sent.avatar_url),
                    Field::DisplayName => ("displayName", &sent.display_name),
                };
                let blank = value.as_deref().is_some_and(|v| v.trim().is_empty());
                match field {
                    Field::Username | Field::Email | Field::Password if blank => {
                        problems.add(key, "can't be blank")
                    }
                    _ => problems.add(key, message),
                }
            }
            ApiError::Invalid(problems.0)
        },
    )?;
    let username = change
        .username
        .map_or_else(|| now.username.clone(), |u| u.as_str().to_owned());
    let email = change
        .email
        .map_or_else(|| now.email.clone(), |e| e.as_str().to_owned());
    let password = change.password;
    let bio = change.bio.unwrap_or_else(|| now.bio.clone());
    let image = change.avatar_url.unwrap_or_else(|| now.avatar_url.clone());
    let new_email = !email.eq_ignore_ascii_case(&now.email);
    if (new_email || password.is_some()) && !recent_login(&state, &caller) {
        confirm_password(&state, id, fields.current_password.as_deref()).await?;
    }
    let change = repo::AccountChange {
        username: &username,
        email: &email,
        bio: &bio,
        avatar_url: image.as_deref(),
    };
    let mut tx = state.db.begin().await?;
    match repo::update_account(&mut *tx, id, &change).await {
        // Told and asked by email, when the site sends email (as a new account is).
        Ok(()) if new_email && state.settings.mail.is_configured() => {
            accounts::address::changed(&mut tx, id, &now.email, &email).await?
        }
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_username_key") => {
            return Err(ApiError::Taken("username"));
        }
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_key") => {
            return Err(ApiError::Taken("email"));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    let token = match password {
        Some(password) => {
            let hash = state.hasher.hash(&password).await?;
            let epoch = repo::set_password_hash(&state.db, id, &hash).await?;
            tokens.issue(id, epoch)?
        }
        None => caller.token,
    };
    Ok(HttpResponse::Ok().json(user_body(&state, id, token).await?))
}
