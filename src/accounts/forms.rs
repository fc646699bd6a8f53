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
use crate::render::page::{safe_next, see_other};
use crate::{
    error::Error,
    extract::{ClientIp, CsrfForm, TokenOnly, Viewer},
    ratelimit::Limiter,
    render::{Layout, form::FormErrors},
    state::AppState,
};

// ---- registration and first-run setup share one form ----

#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub password: String,
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
/// Limited per client address (`accounts.registrations_per_hour`).
pub async fn register(
    state: web::Data<AppState>,
    session: AuthSession,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, Error> {
    let user = match form.parse(state.settings.accounts.default_role) {
        Ok(user) => user,
        Err(errors) => {
            let page = account_page(&state, &session, "/register", form, errors);
            return render(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let limiter = Limiter {
        redis: &state.redis,
        prefix: &state.settings.redis.key_prefix,
        name: "register:address",
        limit: state.settings.accounts.registrations_per_hour,
        window: Duration::from_secs(3600),
    };
    if let Some(seconds) = limiter.over(&ip.to_string()).await? {
        let errors = FormErrors::general(format!(
            "Too many new accounts from your network. Try again in {}.",
            in_minutes(seconds)
        ));
        let page = account_page(&state, &session, "/register", form, errors);
        return too_many(page, seconds);
    }
    let hash = match &user.password {
        Some(p) => Some(state.hasher.hash(p).await?),
        None => None,
    };
    match super::create_user_with_hash(&state.db, &user, hash.as_deref()).await {
        Ok(id) => {
            super::start_session(&state.db, &session, id).await?;
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
    let Some(password) = &user.password else {
        return Err(Error::BadRequest("the first admin needs a password".into()));
    };
    let hash = state.hasher.hash(password).await?;
    match super::create_first_admin(&state.db, &user, &hash).await? {
        Some(id) => {
            super::start_session(&state.db, &session, id).await?;
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
    pub login: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub next: String,
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
    let next = safe_next(&query.next);
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

/// "3 minutes", "1 minute": how long to wait, rounded up.
fn in_minutes(seconds: u64) -> String {
    let minutes = seconds.div_ceil(60);
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

/// A form page answered 429, with `Retry-After`.
fn too_many<T: Template>(page: T, seconds: u64) -> Result<HttpResponse, Error> {
    let mut res = render(StatusCode::TOO_MANY_REQUESTS, page)?;
    res.headers_mut()
        .insert(header::RETRY_AFTER, seconds.into());
    Ok(res)
}

/// `POST /login`. Every attempt is counted before it is judged (Redis, shared by every
/// instance), against three limits, as OWASP recommends:
/// - per account *and* client address (`accounts.login_attempts` per window): a guesser is
///   stopped after a few tries without locking the owner out from elsewhere;
/// - per account from everywhere (`accounts.account_attempts_per_hour`): slower, for
///   guessing spread over many addresses;
/// - per client address over all accounts (`accounts.address_attempts`): password spraying.
///
/// Accounts are counted by id, so a username and an email are one account. The password is
/// then checked with a bounded hasher: when it is busy the answer is 503, not a queue.
pub async fn log_in(
    state: web::Data<AppState>,
    session: AuthSession,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, Error> {
    let settings = &state.settings.accounts;
    let next = safe_next(&form.next);
    let user = repo::find_for_login(&state.db, &form.login).await?;
    // Unknown names are counted too (by what was typed), so probing costs the same.
    let account = match &user {
        Some(u) => format!("id:{}", u.id.0),
        None => {
            let typed: String = form.login.trim().to_lowercase().chars().take(254).collect();
            format!("name:{typed}")
        }
    };
    let limiter = |name, limit, window| Limiter {
        redis: &state.redis,
        prefix: &state.settings.redis.key_prefix,
        name,
        limit,
        window,
    };
    let window = Duration::from_secs(settings.login_window_secs);
    let here = limiter("login:account-address", settings.login_attempts, window);
    let here_key = format!("{account}:{ip}");
    let checks = [
        (&here, here_key.as_str()),
        (
            &limiter(
                "login:account",
                settings.account_attempts_per_hour,
                Duration::from_secs(3600),
            ),
            account.as_str(),
        ),
        (
            &limiter("login:address", settings.address_attempts, window),
            &ip.to_string(),
        ),
    ];
    let mut wait = None;
    for (limiter, key) in checks {
        if let Some(seconds) = limiter.over(key).await? {
            wait = wait.max(Some(seconds));
        }
    }
    if let Some(seconds) = wait {
        let errors = FormErrors::general(format!(
            "Too many attempts. Try again in {}.",
            in_minutes(seconds)
        ));
        let page = login_page(&state, &session, form.login.clone(), next, errors);
        return too_many(page, seconds);
    }

    // Verify even when there is no account, against a fixed hash, so timing tells nothing.
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verified = state
        .hasher
        .verify(&form.password, hash.unwrap_or(Password::dummy_hash()))
        .await?;
    match user {
        Some(u) if verified && !u.disabled && u.password_hash.is_some() => {
            here.reset(&here_key).await?;
            session.log_in(u.id, u.session_epoch)?;
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
