//! Account pages: first-run setup, registration, log in, log out.

use std::time::Duration;

use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;

use super::{
    CreateUserError,
    model::{Email, NewUser, Password, Role, Username},
    oauth::{self, ProviderButton},
    repo,
    session::AuthSession,
};
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    app::AppState,
    error::Error,
    extract::{ClientIp, CsrfForm, CsrfProtected, TokenOnly, Viewer},
    ratelimit::Limiter,
    render::{Layout, form::FormErrors},
};

/// Where to go after logging in: only a path on this site, never another host.
pub(crate) fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if local { next } else { "/" }
}

// ---- registration and first-run setup share one form ----

#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub password: String,
}

impl CsrfProtected for AccountForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl AccountForm {
    /// Parse into a `NewUser` with `role`, or say what is wrong with each field.
    fn parse(&self, role: Role) -> Result<NewUser, FormErrors> {
        let mut errors = FormErrors::default();
        let username = errors.check("username", Username::parse(&self.username));
        let email = errors.check("email", Email::parse(&self.email));
        let password = errors.check("password", Password::parse(&self.password));
        let display_name = self.display_name.trim();
        if display_name.chars().count() > 80 {
            errors.add(
                "display_name",
                "A display name can be at most 80 characters",
            );
        }
        if let (Some(u), Some(_)) = (&username, &password)
            && self.password.to_lowercase().contains(u.as_str())
        {
            errors.add("password", "A password must not contain the username");
        }
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(NewUser {
                display_name: if display_name.is_empty() {
                    username.as_str().to_owned()
                } else {
                    display_name.to_owned()
                },
                username,
                email,
                bio: String::new(),
                password: Some(password),
                role,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/register.html")]
struct AccountPage {
    layout: Layout,
    csrf_token: String,
    form: AccountForm,
    errors: FormErrors,
    /// "/register" or "/setup": the same form serves both.
    action: &'static str,
    /// "Continue with …" buttons (registration only: setup makes the admin a password).
    providers: Vec<ProviderButton>,
}

fn account_page(
    state: &AppState,
    session: &AuthSession,
    action: &'static str,
    form: AccountForm,
    errors: FormErrors,
) -> AccountPage {
    let (title, description) = if action == "/setup" {
        ("Set up your site", "Create the administrator account.")
    } else {
        ("Create an account", "Join to comment on posts.")
    };
    AccountPage {
        layout: Layout::new(&state.site, title, description, action).noindex(),
        csrf_token: session.csrf_token(),
        form: AccountForm {
            password: String::new(), // never echo a password back
            ..form
        },
        errors,
        action,
        providers: if action == "/register" {
            oauth::buttons(state, "/")
        } else {
            Vec::new()
        },
    }
}

/// `GET /register`
pub async fn register_form(
    state: web::Data<AppState>,
    session: AuthSession,
    viewer: Viewer,
) -> Result<HttpResponse, Error> {
    if viewer.0.is_some() {
        return Ok(see_other("/"));
    }
    let page = account_page(
        &state,
        &session,
        "/register",
        AccountForm::default(),
        FormErrors::default(),
    );
    render(StatusCode::OK, page)
}

/// `POST /register`: create a reader (or `accounts.default_role`) and log them in.
pub async fn register(
    state: web::Data<AppState>,
    session: AuthSession,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, Error> {
    let user = match form.parse(state.settings.accounts.default_role) {
        Ok(user) => user,
        Err(errors) => {
            let page = account_page(&state, &session, "/register", form, errors);
            return render(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    match super::create_user(&state.db, &user).await {
        Ok(id) => {
            session.log_in(id).map_err(|e| Error::Internal(e.into()))?;
            Ok(see_other("/"))
        }
        Err(e @ (CreateUserError::UsernameTaken(_) | CreateUserError::EmailTaken)) => {
            let mut errors = FormErrors::default();
            let field = if matches!(e, CreateUserError::EmailTaken) {
                "email"
            } else {
                "username"
            };
            errors.add(field, capitalise_first(&e.to_string()));
            let page = account_page(&state, &session, "/register", form, errors);
            render(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(CreateUserError::Other(e)) => Err(Error::Internal(e)),
    }
}

fn capitalise_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `GET /setup`: while no admin exists, the first visitor creates one (as Ghost does).
pub async fn setup_form(
    state: web::Data<AppState>,
    session: AuthSession,
) -> Result<HttpResponse, Error> {
    if repo::admin_exists(&state.db).await? {
        return Err(Error::NotFound);
    }
    let page = account_page(
        &state,
        &session,
        "/setup",
        AccountForm::default(),
        FormErrors::default(),
    );
    render(StatusCode::OK, page)
}

/// `POST /setup`
pub async fn setup(
    state: web::Data<AppState>,
    session: AuthSession,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, Error> {
    if repo::admin_exists(&state.db).await? {
        return Err(Error::NotFound);
    }
    let user = match form.parse(Role::Admin) {
        Ok(user) => user,
        Err(errors) => {
            let page = account_page(&state, &session, "/setup", form, errors);
            return render(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    match super::create_first_admin(&state.db, &user).await? {
        Some(id) => {
            session.log_in(id).map_err(|e| Error::Internal(e.into()))?;
            Ok(see_other("/"))
        }
        // Someone finished setup between our check and our insert.
        None => Err(Error::NotFound),
    }
}

// ---- log in and out ----

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub next: String,
}

impl CsrfProtected for LoginForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    pub next: String,
}

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    login: String,
    next: String,
    errors: FormErrors,
    providers: Vec<ProviderButton>,
}

fn login_page(
    state: &AppState,
    session: &AuthSession,
    login: String,
    next: String,
    errors: FormErrors,
) -> LoginPage {
    LoginPage {
        layout: Layout::new(&state.site, "Log in", "Log in to your account.", "/login").noindex(),
        csrf_token: session.csrf_token(),
        login,
        providers: oauth::buttons(state, &next),
        next,
        errors,
    }
}

/// `GET /login`
pub async fn login_form(
    state: web::Data<AppState>,
    session: AuthSession,
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, Error> {
    let next = safe_next(&query.next).to_owned();
    if viewer.0.is_some() {
        return Ok(see_other(&next));
    }
    render(
        StatusCode::OK,
        login_page(&state, &session, String::new(), next, FormErrors::default()),
    )
}

/// One wording for every failure, so a login never tells whether an account exists.
const BAD_LOGIN: &str = "Incorrect username or password.";

/// `POST /login`: rate limited per client address and per account (Redis counters shared
/// by every instance).
pub async fn log_in(
    state: web::Data<AppState>,
    session: AuthSession,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, Error> {
    let accounts = &state.settings.accounts;
    let limiter = |name| Limiter {
        redis: &state.redis,
        prefix: &state.settings.redis.key_prefix,
        name,
        limit: accounts.login_attempts,
        window: Duration::from_secs(accounts.login_window_secs),
    };
    let (by_ip, by_account) = (limiter("login:ip"), limiter("login:account"));
    let account_key = form.login.trim().to_lowercase();
    let ip_key = ip.to_string();
    let next = safe_next(&form.next).to_owned();
    let wait = match by_ip.exhausted(&ip_key).await? {
        Some(w) => Some(w),
        None => by_account.exhausted(&account_key).await?,
    };
    if let Some(seconds) = wait {
        let minutes = seconds.div_ceil(60);
        let errors = FormErrors::general(format!(
            "Too many failed attempts. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ));
        let page = login_page(&state, &session, form.login.clone(), next, errors);
        let mut res = render(StatusCode::TOO_MANY_REQUESTS, page)?;
        res.headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
        return Ok(res);
    }

    let user = repo::find_for_login(&state.db, &form.login).await?;
    let password = form.password.clone();
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // Verify even when there is no account, against a fixed hash, so timing tells nothing.
    let verified = web::block(move || {
        Password::verify(&password, hash.as_deref().unwrap_or(Password::dummy_hash()))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;

    match user {
        Some(u) if verified && !u.disabled && u.password_hash.is_some() => {
            by_account.reset(&account_key).await?;
            session
                .log_in(u.id)
                .map_err(|e| Error::Internal(e.into()))?;
            Ok(see_other(&next))
        }
        Some(u) if verified && u.disabled => {
            let errors = FormErrors::general("This account has been disabled.");
            render(
                StatusCode::FORBIDDEN,
                login_page(&state, &session, form.login.clone(), next, errors),
            )
        }
        _ => {
            by_ip.hit(&ip_key).await?;
            by_account.hit(&account_key).await?;
            let errors = FormErrors::general(BAD_LOGIN);
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                login_page(&state, &session, form.login.clone(), next, errors),
            )
        }
    }
}

/// `POST /logout`: the session is destroyed in Redis, not just forgotten by the browser.
pub async fn log_out(session: AuthSession, CsrfForm(_): CsrfForm<TokenOnly>) -> HttpResponse {
    session.log_out();
    see_other("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(safe_next("/posts/x"), "/posts/x");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "",
            "javascript:x",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
