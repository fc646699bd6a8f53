//! Log in with GitHub or Google, and link or unlink them from `/account`.
//!
//! `GET /auth/{provider}` starts the authorization-code flow (PKCE, and a state bound to the
//! session); `GET /auth/{provider}/callback` finishes it. Linking starts with a CSRF-checked
//! POST from `/account`, so no other site can link an identity to someone's account.

pub mod provider;

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::{
    NextQuery, ProviderDone, ProviderFailure as Failure, UnlinkError,
    model::constant_time_eq,
    model::{Provider, UserId},
    session::AuthSession,
};
use crate::{
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, Viewer, header},
    render::{
        Layout,
        page::{personal, safe_next, see_other},
    },
    state::AppState,
};
pub use provider::{Providers, Upstream};

/// A "Continue with …" button: the login and register pages show one per enabled provider.
pub struct ProviderButton {
    pub label: &'static str,
    pub href: String,
}

pub fn buttons(state: &AppState, next: &str) -> Vec<ProviderButton> {
    provider::enabled(&state.settings)
        .into_iter()
        .map(|p| ProviderButton {
            label: p.label(),
            href: start_href(p, next),
        })
        .collect()
}

/// `/auth/github?next=…`: a login with `provider` that ends at `next`.
fn start_href(provider: Provider, next: &str) -> String {
    match next {
        "" | "/" => format!("/auth/{}", provider.slug()),
        next => format!(
            "/auth/{}?next={}",
            provider.slug(),
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ),
    }
}

/// A provider named in the path that this site has credentials for; anything else is 404.
fn enabled(state: &AppState, slug: &str) -> Result<Provider, Error> {
    slug.parse::<Provider>()
        .ok()
        .filter(|p| provider::enabled(&state.settings).contains(p))
        .ok_or(Error::NotFound)
}

/// A login in progress, kept in the session between the redirect out and the callback.
#[derive(Serialize, Deserialize)]
struct Flow {
    provider: String,
    state: String,
    verifier: String,
    next: String,
    /// Set when a logged-in user is linking this provider to their account.
    link_to: Option<i64>,
}

/// Off to the provider, remembering the flow in the session.
fn redirect_to_provider(
    oauth: &Providers,
    session: &AuthSession,
    provider: Provider,
    next: &str,
    link_to: Option<UserId>,
) -> Result<HttpResponse, Error> {
    let auth = oauth.authorize(provider).ok_or(Error::NotFound)?;
    let flow = Flow {
        provider: provider.slug().to_owned(),
        state: auth.state,
        verifier: auth.verifier,
        next: next.to_owned(),
        link_to: link_to.map(|u| u.0),
    };
    session.begin_oauth(&flow)?;
    Ok(see_other(auth.url.as_str()))
}

/// `GET /auth/{provider}?next=/path`: someone logged in already has nothing to log in to;
/// linking another provider is done from /account.
pub async fn start(
    state: web::Data<AppState>,
    oauth: web::Data<Providers>,
    session: AuthSession,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, Error> {
    let provider = enabled(&state, &path)?;
    if viewer.0.is_some() {
        return Ok(see_other("/account"));
    }
    redirect_to_provider(&oauth, &session, provider, &safe_next(&query.next), None)
}

/// `POST /account/connections/{provider}`: link this provider to the logged-in account.
pub async fn start_link(
    state: web::Data<AppState>,
    oauth: web::Data<Providers>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let provider = enabled(&state, &path)?;
    redirect_to_provider(&oauth, &session, provider, "/account", Some(user.id))
}

/// `POST /account/connections/{provider}/unlink`, never the account's last way to log in.
pub async fn unlink(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    // A provider switched off since can still be unlinked.
    let provider: Provider = path.parse().map_err(|()| Error::NotFound)?;
    match super::unlink_identity(
        &state.db,
        user.id,
        provider,
        &provider::enabled(&state.settings),
    )
    .await
    {
        Ok(()) => Ok(see_other("/account?saved=unlinked")),
        Err(UnlinkError::LastWay) => {
            let errors = crate::render::form::FormErrors::general(format!(
                "{} is your only way to log in. Set a password or link another account first.",
                provider.label()
            ));
            let page = super::profile::page(&state, &session, user, "connections", errors, None);
            personal(StatusCode::UNPROCESSABLE_ENTITY, page.await?)
        }
        Err(UnlinkError::Db(e)) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/{provider}/callback?code=…&state=…`: where the provider sends people back.
pub async fn callback(
    state: web::Data<AppState>,
    oauth: web::Data<Providers>,
    session: AuthSession,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, Error> {
    let provider = enabled(&state, &path)?;
    let fail = |failure: Failure, flow: Option<&Flow>| {
        let viewer = Viewer(viewer.0.clone());
        failure_page(&state, &session, viewer, provider, flow, failure)
    };
    // The state must be the one this session sent: a code can't be planted from elsewhere.
    let flow = session.take_oauth::<Flow>().filter(|flow| {
        flow.provider == provider.slug()
            && query
                .state
                .as_deref()
                .is_some_and(|s| constant_time_eq(s.as_bytes(), flow.state.as_bytes()))
    });
    let Some(flow) = flow else {
        return fail(Failure::State, None);
    };
    if let Some(error) = query.error.as_deref() {
        let failure = match error {
            "access_denied" => Failure::Denied,
            other => Failure::Upstream(Upstream::Refused(other.chars().take(64).collect())),
        };
        return fail(failure, Some(&flow));
    }
    let Some(code) = query.code.clone().filter(|c| !c.is_empty()) else {
        return fail(Failure::MissingCode, Some(&flow));
    };
    // A link must finish in the account that asked for it.
    let link_to = flow.link_to.map(UserId);
    if link_to.is_some() && session.user_id() != link_to {
        return fail(Failure::State, None);
    }

    let verifier = flow.verifier.clone();
    match super::finish_provider_login(&state, &oauth, provider, code, verifier, link_to).await? {
        Ok(ProviderDone::LogIn(id)) => {
            super::start_session(&state.db, &session, id).await?;
            Ok(see_other(&safe_next(&flow.next)))
        }
        Ok(ProviderDone::Linked) => Ok(see_other("/account?saved=linked")),
        Err(failure) => fail(failure, Some(&flow)),
    }
}

impl Failure {
    /// Status, heading and explanation, in words for the person, naming the provider.
    fn explain(&self, provider: &str, site: &str) -> (StatusCode, String, String) {
        use StatusCode as S;
        let (status, heading, detail) = match self {
            Failure::State => (
                S::FORBIDDEN,
                "This sign-in could not be verified".to_owned(),
                "It did not start in this browser, or it was already used or has expired. \
                 Nothing was changed. Start again."
                    .to_owned(),
            ),
            Failure::Denied => (
                S::FORBIDDEN,
                "Sign-in cancelled".to_owned(),
                format!(
                    "You did not allow {site} to use your {provider} account, so you are not \
                     signed in and nothing was changed."
                ),
            ),
            Failure::MissingCode => (
                S::BAD_REQUEST,
                format!("{provider} sent you back without a code"),
                "Without it the sign-in can't be finished. Nothing was changed. Try again."
                    .to_owned(),
            ),
            Failure::Upstream(e) => (
                S::BAD_GATEWAY,
                format!("{provider} sign-in failed"),
                format!(
                    "{provider} {e}, so the sign-in could not be finished. Nothing was changed. \
                     This is usually brief: try again in a moment."
                ),
            ),
            Failure::Disabled => (
                S::FORBIDDEN,
                "This account has been disabled".to_owned(),
                format!(
                    "The account for this {provider} login is disabled. Ask the site's \
                     administrators if you think this is a mistake."
                ),
            ),
            Failure::RegistrationsClosed => (
                S::FORBIDDEN,
                "New accounts are closed".to_owned(),
                format!(
                    "Nobody here has linked this {provider} account, and new accounts are \
                     closed on this site for now. If you have an account, log in with its \
                     password. Nothing was created."
                ),
            ),
            Failure::EmailNotVerified => (
                S::FORBIDDEN,
                format!("{provider} has not verified your email"),
                format!(
                    "To create an account we need an email address that {provider} has \
                     verified. Verify your primary email at {provider} and try again, or create \
                     an account with a password. Nothing was created."
                ),
            ),
            Failure::EmailOwnerLinkedElsewhere => (
                S::CONFLICT,
                format!("Your email is linked to another {provider} account"),
                format!(
                    "An account here with your email address already has a different \
                     {provider} account linked. Log in with that one, or with your password."
                ),
            ),
            Failure::EmailOwnerMustLink => (
                S::CONFLICT,
                "An account with your email address already exists".to_owned(),
                format!(
                    "Log in to it with its password, then link {provider} on your account page; \
                     after that, \u{201c}Continue with {provider}\u{201d} logs you in to it. \
                     Nothing was changed."
                ),
            ),
            Failure::LinkedToAnother => (
                S::CONFLICT,
                format!("This {provider} account is linked to someone else"),
                "It already logs in to another account on this site. Log in there and unlink \
                 it first."
                    .to_owned(),
            ),
            Failure::AlreadyHasOne => (
                S::CONFLICT,
                format!("You already linked a {provider} account"),
                format!(
                    "Unlink it on your account page before linking another {provider} account."
                ),
            ),
        };
        (status, heading, detail)
    }
}

#[derive(Template)]
#[template(path = "accounts/oauth_failure.html")]
struct FailurePage {
    layout: Layout,
    status: u16,
    heading: String,
    detail: String,
    /// Where "Try again" goes, if trying again can help.
    retry: Option<String>,
    /// Back to where the flow began: /login, or /account when linking.
    back: (&'static str, &'static str),
}

fn failure_page(
    state: &AppState,
    session: &AuthSession,
    viewer: Viewer,
    provider: Provider,
    flow: Option<&Flow>,
    failure: Failure,
) -> Result<HttpResponse, Error> {
    tracing::info!(
        provider = provider.slug(),
        ?failure,
        "provider login refused"
    );
    let (status, heading, detail) = failure.explain(provider.label(), &state.site().title);
    let linking = flow.is_some_and(|f| f.link_to.is_some());
    let retryable = !matches!(
        failure,
        Failure::Disabled
            | Failure::EmailOwnerLinkedElsewhere
            | Failure::EmailOwnerMustLink
            | Failure::LinkedToAnother
            | Failure::AlreadyHasOne
    );
    let retry = (retryable && !linking).then(|| {
        start_href(
            provider,
            &flow.map_or_else(|| "/".to_owned(), |f| safe_next(&f.next)),
        )
    });
    let back = if linking || viewer.0.is_some() {
        ("/account", "Back to your account")
    } else {
        ("/login", "Log in another way")
    };
    let page = FailurePage {
        layout: Layout::new(&state.site(), &heading, &detail, "/login")
            .noindex()
            .header(viewer.0.as_ref().map(|u| header(u, session))),
        status: status.as_u16(),
        heading,
        detail,
        retry,
        back,
    };
    personal(status, page)
}
