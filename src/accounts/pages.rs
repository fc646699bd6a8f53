//! The pages people find about accounts: an author's page, and the forms to set up the
//! site, register, log in and log out.

use std::time::Duration;

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    CreateUserError, LogIn,
    model::{Author, Email, NewUser, Password, PasswordPolicy, Role, Username, parse_display_name},
    oauth::{self, ProviderButton},
    repo,
    session::AuthSession,
};
use crate::render::page::personal as render;
use crate::render::page::{in_minutes, safe_next, see_other, too_many};
use crate::{
    db::{PageQuery, Reads},
    error::Error,
    extract::{ClientIp, CsrfForm, SignedIn, TokenOnly, Viewer, Visitor},
    posts::{self, model::PostSummary, pages::Listing},
    render::{Layout, form::FormErrors, page, page::Pager},
    state::AppState,
};

// ---- an author's page ----

#[derive(Template)]
#[template(path = "accounts/author.html")]
struct AuthorPage {
    layout: Layout,
    images: crate::media::images::Images,
    author: Author,
    posts: Vec<PostSummary>,
    pager: Pager,
    followers: i64,
    /// `Some(following?)` for a signed-in viewer who is not this author.
    follow: Option<bool>,
}

/// `GET /authors/{username}`: an author's bio and their published posts, newest first.
pub async fn author(
    state: web::Data<AppState>,
    reads: Reads,
    visitor: Visitor,
    username: web::Path<Username>,
    query: web::Query<PageQuery>,
    keys: crate::cache::Keys,
) -> Result<HttpResponse, Error> {
    let author = repo::find_author(&reads, &username)
        .await?
        .ok_or(Error::NotFound)?;
    let viewer = visitor.user.as_ref().map(|u| u.id);
    let profile = repo::public_profile(&reads, author.username.as_str(), viewer)
        .await?
        .ok_or(Error::NotFound)?;
    let follow = viewer
        .filter(|v| *v != author.id)
        .map(|_| profile.following);
    let number = query.number();
    let rows =
        posts::repo::list_published_by_author(&reads, author.id, number, state.site().per_page)
            .await?;
    let path = format!("/authors/{}", author.username);
    let title = format!("Posts by {}", author.display_name);
    keys.add(author.id)
        .add(crate::cache::Key::Posts)
        .add_all(rows.iter().map(|p| p.id));
    let listing = Listing::new(&state.site(), &path, &title, &author.bio, rows, number)?;
    let images = listing
        .images(&reads, &state, author.avatar_url.as_deref().as_slice())
        .await?;
    let Listing {
        layout,
        posts,
        pager,
    } = listing;
    page(AuthorPage {
        layout: layout.header(visitor.header),
        images,
        posts,
        pager,
        author,
        followers: profile.followers,
        follow,
    })
}

/// `POST /authors/{username}/follow` and `/unfollow`, then back to the author's page.
pub async fn set_following(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    path: web::Path<(Username, String)>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let (username, action) = path.into_inner();
    let author = repo::find_author(&state.db, &username)
        .await?
        .ok_or(Error::NotFound)?;
    let on = match action.as_str() {
        "follow" => true,
        "unfollow" => false,
        _ => return Err(Error::NotFound),
    };
    match super::set_following(&state.db, user.id, author.id, on).await {
        Ok(()) => {}
        Err(super::FollowError::Yourself) => {
            return Err(Error::BadRequest("You can't follow yourself.".into()));
        }
        Err(super::FollowError::Db(e)) => return Err(e.into()),
    }
    Ok(see_other(&format!("/authors/{}", author.username)))
}

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
    /// `/setup` only: the site's title and description (the site settings').
    #[serde(default)]
    pub site_title: String,
    #[serde(default)]
    pub site_description: String,
}

impl AccountForm {
    /// Parse into a `NewUser` with `role`, or say what is wrong with each field.
    fn parse(&self, role: Role, policy: &PasswordPolicy) -> Result<NewUser, FormErrors> {
        let mut errors = FormErrors::default();
        let username = errors.check("username", Username::parse(&self.username));
        let email = errors.check("email", Email::parse(&self.email));
        let password = errors.check("password", Password::parse(&self.password, policy));
        // Optional here: the username stands in for it.
        let display_name = match self.display_name.trim() {
            "" => None,
            name => errors.check("display_name", parse_display_name(name)),
        };
        if let (Some(u), Some(_)) = (&username, &password)
            && self.password.to_lowercase().contains(u.as_str())
        {
            errors.add("password", "A password must not contain the username");
        }
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(NewUser {
                display_name: display_name.unwrap_or_else(|| username.as_str().to_owned()),
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
        layout: Layout::new(&state.site(), title, description, action).noindex(),
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
    let errors = match state.site().settings.registrations_open {
        true => FormErrors::default(),
        false => FormErrors::general(CLOSED),
    };
    let page = account_page(
        &state,
        &session,
        "/register",
        AccountForm::default(),
        errors,
    );
    render(StatusCode::OK, page)
}

/// What the register page says while an admin has closed registrations.
const CLOSED: &str = "New accounts are closed on this site for now. Ask its owner for one.";

/// `POST /register`: create an account (the settings' role for new ones) and log them in.
/// Limited per client address (`accounts.registrations_per_hour`).
pub async fn register(
    state: web::Data<AppState>,
    session: AuthSession,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, Error> {
    if !state.site().settings.registrations_open {
        let errors = FormErrors::general(CLOSED);
        let page = account_page(&state, &session, "/register", form, errors);
        return render(StatusCode::FORBIDDEN, page);
    }
    let user = match form.parse(
        state.site().settings.default_role,
        &state.settings.accounts.password_policy(),
    ) {
        Ok(user) => user,
        Err(errors) => {
            let page = account_page(&state, &session, "/register", form, errors);
            return render(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let limiter = state.limiter(
        "register:address",
        state.settings.accounts.registrations_per_hour,
        Duration::from_secs(3600),
    );
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
            super::welcome(&state, id).await?;
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
    let site = state.site();
    let form = AccountForm {
        site_title: site.settings.title.clone(),
        site_description: site.settings.description.clone(),
        ..AccountForm::default()
    };
    let page = account_page(&state, &session, "/setup", form, FormErrors::default());
    render(StatusCode::OK, page)
}

/// `POST /setup`
pub async fn setup(
    state: web::Data<AppState>,
    live: web::Data<crate::settings::live::Live>,
    session: AuthSession,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, Error> {
    if repo::admin_exists(&state.db).await? {
        return Err(Error::NotFound);
    }
    let mut site = state.site().settings.clone();
    let mut errors = match form.parse(Role::Admin, &state.settings.accounts.password_policy()) {
        Ok(_) => FormErrors::default(),
        Err(errors) => errors,
    };
    site.title = form.site_title.trim().to_owned();
    site.description = form.site_description.trim().to_owned();
    if site.title.is_empty() || site.title.chars().count() > 120 {
        errors.add("site_title", "A site title is 1 to 120 characters");
    }
    if site.description.chars().count() > 300 {
        errors.add(
            "site_description",
            "A description is at most 300 characters",
        );
    }
    let user = match form.parse(Role::Admin, &state.settings.accounts.password_policy()) {
        Ok(user) if errors.is_empty() => user,
        _ => {
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
            let expected = site.version;
            if let Some(saved) = crate::settings::repo::update(&state.db, &site, expected).await? {
                live.saved(saved).await;
                crate::cache::Pages::of(&state).stale().await;
            }
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

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    login: String,
    next: String,
    errors: FormErrors,
    providers: Vec<ProviderButton>,
    /// No admin yet: the page points at /setup.
    unclaimed: bool,
}

fn login_page(
    state: &AppState,
    session: &AuthSession,
    login: String,
    next: String,
    errors: FormErrors,
) -> LoginPage {
    LoginPage {
        layout: Layout::new(&state.site(), "Log in", "Log in to your account.", "/login").noindex(),
        csrf_token: session.csrf_token(),
        login,
        providers: oauth::buttons(state, &next),
        next,
        errors,
        unclaimed: false,
    }
}

/// `GET /login`
pub async fn login_form(
    state: web::Data<AppState>,
    session: AuthSession,
    viewer: Viewer,
    query: web::Query<super::NextQuery>,
) -> Result<HttpResponse, Error> {
    let next = safe_next(&query.next);
    if viewer.0.is_some() {
        return Ok(see_other(&next));
    }
    // While nobody has claimed the site, the page points at /setup (`login.html`); it
    // still logs in whoever signed up before.
    let unclaimed = !repo::admin_exists(&state.db).await?;
    let mut page = login_page(&state, &session, String::new(), next, FormErrors::default());
    page.unclaimed = unclaimed;
    render(StatusCode::OK, page)
}

/// One wording for every failure, so a login never tells whether an account exists.
const BAD_LOGIN: &str = "Incorrect username or password.";

/// `POST /login`: the checks are `accounts::log_in`'s; this answers each outcome.
pub async fn log_in(
    state: web::Data<AppState>,
    session: AuthSession,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, Error> {
    let next = safe_next(&form.next);
    let again = |errors| login_page(&state, &session, form.login.clone(), next.clone(), errors);
    match super::log_in(&state, ip, &form.login, &form.password).await? {
        LogIn::Welcome { user, epoch } => {
            session.log_in(user, epoch)?;
            Ok(see_other(&next))
        }
        LogIn::TooMany { wait_secs } => {
            let errors = FormErrors::general(format!(
                "Too many attempts. Try again in {}.",
                in_minutes(wait_secs)
            ));
            too_many(again(errors), wait_secs)
        }
        LogIn::Disabled => render(
            StatusCode::FORBIDDEN,
            again(FormErrors::general("This account has been disabled.")),
        ),
        LogIn::Refused => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            again(FormErrors::general(BAD_LOGIN)),
        ),
    }
}

/// `POST /logout`: the session is destroyed in Redis, not just forgotten by the browser.
pub async fn log_out(session: AuthSession, CsrfForm(_): CsrfForm<TokenOnly>) -> HttpResponse {
    session.log_out();
    see_other("/")
}
