//! The admins' user management: list and search, change roles, disable and enable.
//! A disabled user's sessions end at once: `Viewer` reloads the account on every request.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    ManageError,
    model::{CurrentUser, Role, UserId},
    repo::{self, UserRow},
    session::AuthSession,
};
use crate::extract::TokenOnly;
use crate::render::confirm::Confirm;
use crate::render::page::personal as render;
use crate::{
    authz::{self, Action},
    db::{Page, PageNumber},
    error::Error,
    extract::{CsrfForm, SignedIn, header},
    render::{Layout, form::FormErrors, page::Pager},
    state::AppState,
};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    pub page: Option<PageNumber>,
}

#[derive(Template)]
#[template(path = "accounts/admin/index.html")]
struct IndexPage {
    layout: Layout,
    users: Vec<UserRow>,
    pager: Pager,
    q: String,
    me: UserId,
    errors: FormErrors,
}

const PER_PAGE: u32 = 50;

async fn index_page(
    state: &AppState,
    session: &AuthSession,
    user: CurrentUser,
    q: String,
    number: PageNumber,
    errors: FormErrors,
) -> Result<IndexPage, Error> {
    let rows = repo::list(
        &state.db,
        q.trim(),
        Page::<()>::limit(PER_PAGE),
        number.offset(PER_PAGE),
    )
    .await?;
    let list = Page::from_overfetch(rows, number, PER_PAGE);
    let path = if q.is_empty() {
        "/admin/users".to_owned()
    } else {
        format!(
            "/admin/users?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    };
    Ok(IndexPage {
        layout: Layout::new(&state.site(), "Users", "", "/admin/users")
            .noindex()
            .header(Some(header(&user, session))),
        pager: Pager::new(&path, &list),
        users: list.items,
        q,
        me: user.id,
        errors,
    })
}

/// `GET /admin/users?q=`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageUsers)?;
    let query = query.into_inner();
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let page = index_page(
        &state,
        &session,
        user,
        query.q,
        number,
        FormErrors::default(),
    )
    .await?;
    render(StatusCode::OK, page)
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    pub role: String,
}

/// Apply a change, or show the list again with why it was refused.
async fn apply(
    state: &AppState,
    session: &AuthSession,
    user: CurrentUser,
    id: UserId,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<HttpResponse, Error> {
    match super::manage(&state.db, id, role, disabled).await {
        Ok(()) => {
            // A disabled account's comments leave the pages open now (the trigger on
            // `users`, migration `announce_live_changes`).
            Ok(crate::render::page::see_other("/admin/users"))
        }
        Err(ManageError::NotFound) => Err(Error::NotFound),
        Err(e @ ManageError::LastAdmin) => {
            let mut message = e.to_string();
            message[..1].make_ascii_uppercase();
            let page = index_page(
                state,
                session,
                user,
                String::new(),
                PageNumber::FIRST,
                FormErrors::general(format!("{message}.")),
            )
            .await?;
            render(StatusCode::CONFLICT, page)
        }
        Err(ManageError::Other(e)) => Err(e.into()),
    }
}

/// `POST /admin/users/{id}/role`
pub async fn change_role(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageUsers)?;
    let role = form.role.parse::<Role>().map_err(Error::BadRequest)?;
    apply(&state, &session, user, UserId(*id), Some(role), None).await
}

/// `GET /admin/users/{id}/disable`: whose account, and what disabling does; changes nothing.
pub async fn confirm_disable(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageUsers)?;
    let target = repo::find_row(&state.db, UserId(*id))
        .await?
        .ok_or(Error::NotFound)?;
    let layout = Layout::new(&state.site(), "Disable account", "", "/admin/users")
        .noindex()
        .header(Some(header(&user, &session)));
    let page = Confirm::new(
        layout,
        session.csrf_token(),
        format!("Disable {} (@{})?", target.display_name, target.username),
    )
    .says(
        "They are logged out everywhere at once and can't log in again until an admin \
         enables the account. Their posts and comments stay.",
    )
    .button(
        "Disable account",
        &format!("/admin/users/{}/disable", target.id.0),
        "/admin/users",
    );
    render(StatusCode::OK, page)
}

/// `POST /admin/users/{id}/disable`: the user's sessions end at once.
pub async fn disable(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageUsers)?;
    apply(&state, &session, user, UserId(*id), None, Some(true)).await
}

/// `POST /admin/users/{id}/enable`
pub async fn enable(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageUsers)?;
    apply(&state, &session, user, UserId(*id), None, Some(false)).await
}

#[derive(Template)]
#[template(path = "accounts/admin/reset_link.html")]
struct ResetLinkPage {
    layout: Layout,
    username: String,
    link: String,
    ttl: String,
}

/// `POST /admin/users/{id}/reset-link`: a one-time link for the user to choose a new password
/// (what "Forgot your password?" would have emailed), shown once to the admin.
pub async fn reset_link(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageUsers)?;
    let target = repo::find_row(&state.db, UserId(*id))
        .await?
        .ok_or(Error::NotFound)?;
    if target.disabled {
        return Err(Error::Conflict(format!(
            "@{} is disabled: enable the account first, then make the link.",
            target.username
        )));
    }
    let link = super::reset::make_link(&state.db, &state.settings, target.id, "admin").await?;
    let page = ResetLinkPage {
        layout: Layout::new(&state.site(), "Reset link", "", "/admin/users")
            .noindex()
            .header(Some(header(&user, &session))),
        username: target.username,
        link,
        ttl: super::reset::ttl_words(state.settings.mail.reset_ttl_minutes),
    };
    // Sent `private, no-store`, as every page with a session.
    render(StatusCode::OK, page)
}
