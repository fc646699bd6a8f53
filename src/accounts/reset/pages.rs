//! `/password/forgot` and `/password/reset/{token}`.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{Reset, hash, repo};
use crate::{
    accounts::{address_form::AddressForm, model::Password, session::AuthSession},
    error::Error,
    extract::{ClientIp, CsrfForm},
    render::{
        Layout,
        form::FormErrors,
        page::{personal as render, see_other},
    },
    state::AppState,
};

#[derive(Template)]
#[template(path = "accounts/forgot.html")]
struct ForgotPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    errors: FormErrors,
    /// Asked just now: say what happens next.
    sent: bool,
    /// Without SMTP there is nothing to send: ask an admin.
    mail: bool,
    ttl: String,
}

fn forgot_page(
    state: &AppState,
    session: &AuthSession,
    email: String,
    errors: FormErrors,
    sent: bool,
) -> ForgotPage {
    ForgotPage {
        layout: Layout::new(
            &state.site(),
            "Forgot your password?",
            "Get a link to choose a new password.",
            "/password/forgot",
        )
        .noindex(),
        csrf_token: session.csrf_token(),
        email,
        errors,
        sent,
        mail: state.settings.mail.is_configured(),
        ttl: super::ttl_words(state.settings.mail.reset_ttl_minutes),
    }
}

#[derive(Debug, Deserialize)]
pub struct SentQuery {
    #[serde(default)]
    sent: Option<String>,
}

/// `GET /password/forgot`
pub async fn forgot_form(
    state: web::Data<AppState>,
    session: AuthSession,
    query: web::Query<SentQuery>,
) -> Result<HttpResponse, Error> {
    let sent = query.sent.is_some();
    render(
        StatusCode::OK,
        forgot_page(&state, &session, String::new(), FormErrors::default(), sent),
    )
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// `POST /password/forgot`: the same answer whether or not an account has the address.
pub async fn forgot(
    state: web::Data<AppState>,
    session: AuthSession,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<HttpResponse, Error> {
    let again = |errors| forgot_page(&state, &session, form.email.clone(), errors, false);
    let flow = AddressForm {
        sent: "/password/forgot?sent=1",
        too_many: "Too many requests for a reset link.",
    };
    flow.answer(&state, &form.email, again, async |email| {
        super::ask(&state, ip, email.as_str()).await
    })
    .await
}

#[derive(Template)]
#[template(path = "accounts/reset.html")]
struct ResetPage {
    layout: Layout,
    csrf_token: String,
    /// The account it resets; `None`: the link doesn't work (any more).
    username: Option<String>,
    action: String,
    errors: FormErrors,
}

fn reset_page(
    state: &AppState,
    session: &AuthSession,
    token: &str,
    username: Option<String>,
    errors: FormErrors,
) -> ResetPage {
    let title = if username.is_some() {
        "Choose a new password"
    } else {
        "This link doesn't work"
    };
    // The token stays out of the canonical URL, the one address pages print about themselves.
    // (Like every page with a session, these are sent `private, no-store`.)
    ResetPage {
        layout: Layout::new(&state.site(), title, "", "/password/forgot").noindex(),
        csrf_token: session.csrf_token(),
        username,
        action: format!("/password/reset/{}", token_for_path(token)),
        errors,
    }
}

/// What of a token the form may send back to: its own shape, or nothing.
fn token_for_path(token: &str) -> &str {
    if hash(token).is_some() { token } else { "" }
}

/// `GET /password/reset/{token}`: the form, or why the link doesn't work (410).
pub async fn reset_form(
    state: web::Data<AppState>,
    session: AuthSession,
    token: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let username = match hash(&token) {
        Some(stored) => repo::find_valid(&state.db, &stored).await?,
        None => None,
    };
    let status = if username.is_some() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    let page = reset_page(&state, &session, &token, username, FormErrors::default());
    render(status, page)
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

/// `POST /password/reset/{token}`: set the password, end every other session, log in here.
pub async fn reset(
    state: web::Data<AppState>,
    session: AuthSession,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<HttpResponse, Error> {
    let mut errors = FormErrors::default();
    let Some(password) = errors.check(
        "password",
        Password::parse(&form.password, &state.settings.accounts.password_policy()),
    ) else {
        let username = match hash(&token) {
            Some(stored) => repo::find_valid(&state.db, &stored).await?,
            None => None,
        };
        // A dead link says so, whatever was typed.
        let (status, errors) = match username {
            Some(_) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
            None => (StatusCode::GONE, FormErrors::default()),
        };
        let page = reset_page(&state, &session, &token, username, errors);
        return render(status, page);
    };
    match super::complete(&state, &token, &password).await? {
        Reset::Done { user, epoch } => {
            session.log_in(user, epoch)?;
            Ok(see_other("/account?saved=password"))
        }
        Reset::Dead => {
            let page = reset_page(&state, &session, &token, None, FormErrors::default());
            render(StatusCode::GONE, page)
        }
    }
}
