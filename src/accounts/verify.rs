//! Verifying an account's email address: a link by email that proves the owner reads it.
//!
//! The link is signed, not stored: `/verify/{user}.{expires}.{mac}`, where the MAC (HMAC-
//! SHA256 under a key derived from `session.secret`) covers the account, its address as it is
//! now and the expiry. Changing the address kills the old links; nothing to clean up.
//! Accounts from a provider that verified the address are verified when they are made.

use std::time::Duration;

use actix_web::{http::StatusCode, web};

use askama::Template;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::PgPool;
use time::OffsetDateTime;

use super::model::UserId;
use crate::{
    config::Settings,
    jobs::{BackgroundJob, Outcome, Run},
    mail::{Email, Site},
};

/// How long a verification link works.
const TTL: Duration = Duration::from_secs(48 * 3600);
/// Links one account may ask to be sent again per hour.
pub const RESENDS_PER_HOUR: u32 = 3;

/// A keyed MAC over `parts`, for the signed links of `purpose` (verify, unsubscribe…).
pub fn sign(settings: &Settings, purpose: &str, parts: &[&str]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(settings.session.secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"quire-link\0");
    mac.update(purpose.as_bytes());
    for part in parts {
        mac.update(b"\0");
        mac.update(part.as_bytes());
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sign`'s answer, compared in constant time.
pub fn signed(settings: &Settings, purpose: &str, parts: &[&str], given: &str) -> bool {
    let expected = sign(settings, purpose, parts);
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The verification link of `user` with address `email`, working for 48 hours.
pub fn link(settings: &Settings, user: UserId, email: &str) -> String {
    let expires = (OffsetDateTime::now_utc() + TTL)
        .unix_timestamp()
        .to_string();
    let id = user.0.to_string();
    let mac = sign(settings, "verify", &[&id, &email.to_lowercase(), &expires]);
    format!("{}/verify/{id}.{expires}.{mac}", settings.http.base())
}

/// The account a link verifies, as its page shows it.
pub struct Verifiable {
    pub user: UserId,
    pub username: String,
    pub email: String,
}

/// Check a token from a link: the account it verifies, if it is signed for the address the
/// account has now and not expired.
pub async fn check(
    db: &PgPool,
    settings: &Settings,
    token: &str,
) -> sqlx::Result<Option<Verifiable>> {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(expires), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (Ok(user), Ok(until)) = (id.parse::<i64>(), expires.parse::<i64>()) else {
        return Ok(None);
    };
    if until < OffsetDateTime::now_utc().unix_timestamp() {
        return Ok(None);
    }
    let Some((username, email)) = address(db, UserId(user)).await? else {
        return Ok(None);
    };
    let ok = signed(
        settings,
        "verify",
        &[id, &email.to_lowercase(), expires],
        mac,
    );
    Ok(ok.then_some(Verifiable {
        user: UserId(user),
        username,
        email,
    }))
}

async fn address(db: &PgPool, user: UserId) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as("SELECT username, email FROM users WHERE id = $1 AND disabled_at IS NULL")
        .bind(user)
        .fetch_optional(db)
        .await
}

/// Whether `user` has verified their address.
pub async fn is_verified(db: impl sqlx::PgExecutor<'_>, user: UserId) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT email_verified FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(db)
        .await
        .map(|v| v.unwrap_or(false))
}

/// Queue the `mail.verify` job for `user`.
pub async fn queue(db: impl sqlx::PgExecutor<'_>, user: UserId) -> sqlx::Result<()> {
    VerifyMail { user: user.0 }.enqueue(db).await?;
    Ok(())
}

/// `mail.verify`: the link that verifies the account's address.
#[derive(Serialize, Deserialize)]
pub struct VerifyMail {
    user: i64,
}

impl BackgroundJob for VerifyMail {
    const KIND: &'static str = "mail.verify";
    const TITLE: &'static str = "Email: address check";
    type Context = std::sync::Arc<crate::mail::Mailer>;

    async fn run(&self, ctx: &Run<'_>, mailer: &Self::Context) -> anyhow::Result<Outcome> {
        send(ctx, mailer, self.user).await
    }
}

#[derive(Template)]
#[template(path = "mail/verify.txt")]
struct VerifyText<'a> {
    site: &'a Site,
    username: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/verify.html")]
struct VerifyHtml<'a> {
    site: &'a Site,
    username: &'a str,
    link: &'a str,
}

/// The `mail.verify` job: the link, to the account's address as it is now (nothing if it is
/// verified already, or gone). Run twice, it sends two working links: harmless.
async fn send(ctx: &Run<'_>, mailer: &crate::mail::Mailer, user: i64) -> anyhow::Result<Outcome> {
    let row: Option<(String, String, String, bool)> = sqlx::query_as(
        "SELECT username, display_name, email, email_verified FROM users
          WHERE id = $1 AND disabled_at IS NULL",
    )
    .bind(user)
    .fetch_optional(&ctx.db)
    .await?;
    let Some((username, name, email, false)) = row else {
        return Ok(Outcome::Done);
    };
    let site = Site::load(&ctx.db, &ctx.settings.http.base()).await?;
    let link = link(&ctx.settings, UserId(user), &email);
    let message = Email::render(
        crate::mail::mailbox(&name, &email)?,
        format!("Verify your email address for {}", site.title),
        &VerifyText {
            site: &site,
            username: &username,
            link: &link,
        },
        &VerifyHtml {
            site: &site,
            username: &username,
            link: &link,
        },
    )?;
    mailer.send(message).await?;
    Ok(Outcome::Done)
}

#[derive(Template)]
#[template(path = "accounts/verified.html")]
struct VerifiedPage {
    layout: crate::render::Layout,
    /// Before the button: the account and address the link is for.
    asking: Option<Verifiable>,
    ok: bool,
}

fn verified_page(
    state: &crate::state::AppState,
    asking: Option<Verifiable>,
    ok: bool,
) -> Result<actix_web::HttpResponse, crate::error::Error> {
    let (status, title) = match (&asking, ok) {
        (Some(_), _) => (StatusCode::OK, "Verify your address"),
        (None, true) => (StatusCode::OK, "Address verified"),
        (None, false) => (StatusCode::GONE, "This link doesn't work"),
    };
    let layout = crate::render::Layout::new(&state.site(), title, "", "/account").noindex();
    crate::render::page::personal(status, VerifiedPage { layout, asking, ok })
}

/// `GET /verify/{token}`: which account and address the link verifies, and a button. Mail
/// scanners open links: opening one changes nothing, or a scanner could verify an address
/// for an account someone else made with it (and a provider login by that address would
/// then lead into it).
pub async fn open(
    state: web::Data<crate::state::AppState>,
    token: web::Path<String>,
) -> Result<actix_web::HttpResponse, crate::error::Error> {
    let asking = check(&state.db, &state.settings, &token).await?;
    let ok = asking.is_some();
    verified_page(&state, asking, ok)
}

/// `POST /verify/{token}`: the button. The signed link is the credential (it reached the
/// address), so, like unsubscribing, no CSRF token: a forged POST needs the link itself.
pub async fn confirm(
    state: web::Data<crate::state::AppState>,
    token: web::Path<String>,
) -> Result<actix_web::HttpResponse, crate::error::Error> {
    let verified = check(&state.db, &state.settings, &token).await?;
    if let Some(account) = &verified {
        super::repo::set_email_verified(&state.db, account.user).await?;
    }
    verified_page(&state, None, verified.is_some())
}
