//! `/subscribe` (the form and the confirmation link), `/unsubscribe/{token}`, and the
//! subscription on `/account`.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{Confirmation, repo};
use crate::{
    accounts::{address_form::AddressForm, session::AuthSession, verify},
    error::Error,
    extract::{ClientIp, CsrfForm, SignedIn},
    render::{
        Layout,
        form::FormErrors,
        page::{personal as render, see_other},
    },
    state::AppState,
};

#[derive(Template)]
#[template(path = "newsletter/subscribe.html")]
struct SubscribePage {
    layout: Layout,
    csrf_token: String,
    email: String,
    errors: FormErrors,
    sent: bool,
    mail: bool,
}

fn subscribe_page(
    state: &AppState,
    session: &AuthSession,
    email: String,
    errors: FormErrors,
    sent: bool,
) -> SubscribePage {
    let site = state.site();
    let description = format!("New posts from {} by email.", site.settings.title);
    SubscribePage {
        layout: Layout::new(&site, "Subscribe", &description, "/subscribe"),
        csrf_token: session.csrf_token(),
        email,
        errors,
        sent,
        mail: state.settings.mail.is_configured(),
    }
}

#[derive(Debug, Deserialize)]
pub struct SubscribeQuery {
    /// From the footer's or a post's form (a GET: those pages are cached, so they carry no
    /// session and no CSRF token; this page does).
    #[serde(default)]
    email: String,
    #[serde(default)]
    sent: Option<String>,
}

/// `GET /subscribe?email=`
pub async fn form(
    state: web::Data<AppState>,
    session: AuthSession,
    query: web::Query<SubscribeQuery>,
) -> Result<HttpResponse, Error> {
    let email: String = query.email.trim().chars().take(254).collect();
    let page = subscribe_page(
        &state,
        &session,
        email,
        FormErrors::default(),
        query.sent.is_some(),
    );
    render(StatusCode::OK, page)
}

#[derive(Debug, Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    email: String,
    /// A field people never see (hidden by CSS); naive bots fill every field.
    #[serde(default)]
    website: String,
}

/// `POST /subscribe`: the same answer whether the address was new, waiting or subscribed.
pub async fn subscribe(
    state: web::Data<AppState>,
    session: AuthSession,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<SubscribeForm>,
) -> Result<HttpResponse, Error> {
    // A bot is refused as one, whatever else it sent.
    if !form.website.is_empty() {
        return Err(Error::BadRequest(
            "the form was filled in by a program".into(),
        ));
    }
    let again = |errors| subscribe_page(&state, &session, form.email.clone(), errors, false);
    let flow = AddressForm {
        sent: "/subscribe?sent=1",
        too_many: "Too many sign-ups from here or for that address.",
    };
    flow.answer(&state, &form.email, again, async |email| {
        super::ask(&state, ip, email.as_str()).await
    })
    .await
}

#[derive(Template)]
#[template(path = "newsletter/result.html")]
struct ResultPage {
    layout: Layout,
    heading: &'static str,
    message: String,
    /// The button's target and words, when asking (unsubscribe, confirm).
    action: Option<String>,
    button: &'static str,
    /// Where to subscribe again (a link that no longer works).
    again: Option<String>,
}

fn result(
    state: &AppState,
    status: StatusCode,
    heading: &'static str,
    message: impl Into<String>,
    action: Option<String>,
) -> Result<HttpResponse, Error> {
    let layout = Layout::new(&state.site(), heading, "", "/subscribe").noindex();
    render(
        status,
        ResultPage {
            layout,
            heading,
            message: message.into(),
            action,
            button: "Unsubscribe",
            again: None,
        },
    )
}

/// A question with one button that POSTs to `action`.
fn result_with_button(
    state: &AppState,
    heading: &'static str,
    message: &'static str,
    action: String,
    button: &'static str,
) -> Result<HttpResponse, Error> {
    let layout = Layout::new(&state.site(), heading, "", "/subscribe").noindex();
    render(
        StatusCode::OK,
        ResultPage {
            layout,
            heading,
            message: message.into(),
            action: Some(action),
            button,
            again: None,
        },
    )
}

/// A confirmation link that no longer works: why, and the way to a new one.
fn subscribe_again(
    state: &AppState,
    heading: &'static str,
    message: String,
    email: &str,
) -> Result<HttpResponse, Error> {
    let layout = Layout::new(&state.site(), heading, "", "/subscribe").noindex();
    let email: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    let again = if email.is_empty() {
        "/subscribe".to_owned()
    } else {
        format!("/subscribe?email={email}")
    };
    render(
        StatusCode::GONE,
        ResultPage {
            layout,
            heading,
            message,
            action: None,
            button: "",
            again: Some(again),
        },
    )
}

/// `GET /subscribe/confirm/{token}`: the link from the confirmation email, as a button
/// (mail scanners open links: opening one subscribes nobody), or why it no longer works.
pub async fn confirm_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let verdict = super::confirm(&state, &token, false).await?;
    confirmation(&state, &token, verdict)
}

/// `POST /subscribe/confirm/{token}`: the button. The signed link is the credential (it
/// reached the address), so, like unsubscribing, no CSRF token.
pub async fn confirm(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let verdict = super::confirm(&state, &token, true).await?;
    confirmation(&state, &token, verdict)
}

fn confirmation(
    state: &AppState,
    token: &str,
    verdict: Confirmation,
) -> Result<HttpResponse, Error> {
    match verdict {
        Confirmation::Ready => result_with_button(
            state,
            "Confirm your subscription",
            "Get new posts from this site by email? Every email has a link to unsubscribe.",
            format!("/subscribe/confirm/{token}"),
            "Confirm my subscription",
        ),
        Confirmation::Confirmed => result(
            state,
            StatusCode::OK,
            "You're subscribed",
            "New posts will come to your inbox. Every email has a link to unsubscribe.",
            None,
        ),
        Confirmation::Already => result(
            state,
            StatusCode::OK,
            "You're subscribed already",
            "This link was used before: new posts come to your inbox.",
            None,
        ),
        Confirmation::Used { email } => subscribe_again(
            state,
            "This link was used already",
            "It is from before you unsubscribed, so it doesn't subscribe you again. To get new \
             posts by email once more, subscribe again: we'll send a new link."
                .into(),
            &email,
        ),
        Confirmation::Expired { email } => subscribe_again(
            state,
            "This link has expired",
            format!(
                "Confirmation links work for {}. Subscribe again to get a new one.",
                super::confirm_ttl(&state.settings)
            ),
            &email,
        ),
        Confirmation::Invalid => subscribe_again(
            state,
            "This link doesn't work",
            "It was copied incompletely, or belongs to an address that has changed. Subscribe \
             again to get a new one."
                .into(),
            "",
        ),
    }
}

/// `GET /unsubscribe/{token}`: a button (a mail scanner opening the link changes nothing).
pub async fn unsubscribe_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, Error> {
    match super::check_unsubscribe(&state.settings, &token) {
        Some(_) => result(
            &state,
            StatusCode::OK,
            "Unsubscribe",
            "Stop getting new posts by email?",
            Some(format!("/unsubscribe/{token}")),
        ),
        None => dead_unsubscribe(&state),
    }
}

fn dead_unsubscribe(state: &AppState) -> Result<HttpResponse, Error> {
    result(
        state,
        StatusCode::GONE,
        "This link doesn't work",
        "It was copied incompletely. Use the link in a more recent email, or ask the site's administrators.",
        None,
    )
}

/// `POST /unsubscribe/{token}`: the button, or a mail client's one-click request (RFC
/// 8058). The signed link is the credential; it only ever stops emails, so no CSRF token.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let Some(sub) = super::check_unsubscribe(&state.settings, &token) else {
        return dead_unsubscribe(&state);
    };
    repo::unsubscribe(&state.db, sub).await?;
    result(
        &state,
        StatusCode::OK,
        "Unsubscribed",
        "You won't get new posts by email any more. Changed your mind? Subscribe again any time.",
        None,
    )
}

#[derive(Debug, Deserialize)]
pub struct AccountForm {
    /// "on" to subscribe, anything else to unsubscribe.
    #[serde(default)]
    subscribe: String,
}

/// `POST /account/newsletter`: the account's own address, in or out.
pub async fn account(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, Error> {
    let profile = crate::accounts::repo::profile(&state.db, user.id)
        .await?
        .ok_or(Error::NotFound)?;
    if form.subscribe == "on" {
        if !state.settings.mail.is_configured() {
            return Err(Error::BadRequest(
                "This site can't send email, so there is no newsletter.".into(),
            ));
        }
        let limiter = state.limiter(
            super::LIMITS.address,
            super::LIMITS.per_address,
            std::time::Duration::from_secs(3600),
        );
        if let Some(wait_secs) = limiter.over(&profile.email.to_lowercase()).await? {
            return Err(Error::TooMany(format!(
                "The confirmation was sent several times in the last hour; try again in {} minutes.",
                wait_secs.div_ceil(60)
            )));
        }
        let verified = verify::is_verified(&state.db, user.id).await?;
        super::subscribe_account(&state, user.id, &profile.email, verified).await?;
        Ok(see_other(if verified {
            "/account?saved=subscribed"
        } else {
            "/account?saved=confirm-subscription"
        }))
    } else {
        if let Some(sub) = repo::of_address(&state.db, &profile.email).await? {
            repo::unsubscribe(&state.db, sub.id).await?;
        }
        Ok(see_other("/account?saved=unsubscribed"))
    }
}
