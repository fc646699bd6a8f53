//! Password reset: "Forgot your password?" on the login page.
//!
//! - `/password/forgot` takes an address and always answers the same way, whether or not an
//!   account has it: the request only queues a `mail.reset` job with the address (the same
//!   work either way, so timing tells nothing either), and the job looks the account up.
//! - The emailed link carries a 256-bit random token; only its SHA-256 is stored. It works
//!   once, for `mail.reset_ttl_minutes`, and using it uses up every other link of the account
//!   and ends all its sessions (the session epoch moves on) before this browser logs in.
//! - Asking is rate limited per address and per client, across instances (Redis).
//! - Without SMTP the page says to ask an admin, who makes a one-time link on
//!   `/admin/users` (`make_link`).

pub mod pages;
pub mod repo;

use std::net::IpAddr;

use askama::Template;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::model::{Password, UserId};
use crate::{
    error::Error,
    jobs::{BackgroundJob, Outcome, Run},
    mail::{Asked, Email, Mailer, Site},
    state::AppState,
};

/// Reset emails one address may be sent per hour, and requests one client may make.
const LIMITS: crate::mail::AddressLimits = crate::mail::AddressLimits {
    client: "reset:client",
    address: "reset:address",
    per_client: 10,
    per_address: 3,
};

/// A link's secret, as it appears in the URL: 64 hex digits.
pub struct Token(String);

impl Token {
    fn new() -> Self {
        let bytes: [u8; 32] = rand::rng().random();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is stored of `token`; `None` for anything that isn't a token's shape.
pub fn hash(token: &str) -> Option<[u8; 32]> {
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Sha256::digest(token.to_ascii_lowercase().as_bytes()).into())
}

/// The path of the page a token opens.
pub fn path(token: &Token) -> String {
    format!("/password/reset/{}", token.as_str())
}

/// A new link for `user`, stored (hashed) now: `made_by` is "email" or "admin".
pub async fn make_link(
    db: &PgPool,
    settings: &crate::config::Settings,
    user: UserId,
    made_by: &str,
) -> sqlx::Result<String> {
    let token = Token::new();
    let stored = hash(token.as_str()).unwrap_or_default();
    repo::insert(db, &stored, user, made_by, settings.mail.reset_ttl_minutes).await?;
    Ok(format!("{}{}", settings.http.base(), path(&token)))
}

/// How long a link works, in words.
pub fn ttl_words(minutes: u32) -> String {
    match minutes {
        m if m % 1440 == 0 => plural(m / 1440, "day"),
        m if m % 60 == 0 => plural(m / 60, "hour"),
        m => plural(m, "minute"),
    }
}

fn plural(n: u32, unit: &str) -> String {
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// "Forgot your password?": count the request, then queue the email.
pub async fn ask(state: &AppState, ip: IpAddr, address: &str) -> Result<Asked, Error> {
    if let Some(wait_secs) = LIMITS.over(state, ip, address).await? {
        return Ok(Asked::TooMany { wait_secs });
    }
    let address = address.trim().to_lowercase();
    ResetMail { address }.enqueue(&state.db).await?;
    Ok(Asked::Done)
}

/// `mail.reset`: a password reset link to the account with this address, if any.
#[derive(Serialize, Deserialize)]
pub struct ResetMail {
    address: String,
}

impl BackgroundJob for ResetMail {
    const KIND: &'static str = "mail.reset";
    const TITLE: &'static str = "Email: password reset";
    type Context = std::sync::Arc<Mailer>;

    async fn run(&self, ctx: &Run<'_>, mailer: &Self::Context) -> anyhow::Result<Outcome> {
        send(ctx, mailer, &self.address).await
    }
}

/// `resets.purge`, hourly: reset links a day past their time, deleted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PurgeResets {}

impl BackgroundJob for PurgeResets {
    const KIND: &'static str = "resets.purge";
    const TITLE: &'static str = "Clean-up of reset links";
    type Context = ();

    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        repo::purge(&ctx.db).await?;
        Ok(Outcome::Done)
    }
}

#[derive(Template)]
#[template(path = "mail/reset.txt")]
struct ResetText<'a> {
    site: &'a Site,
    username: &'a str,
    link: &'a str,
    ttl: String,
}

#[derive(Template)]
#[template(path = "mail/reset.html")]
struct ResetHtml<'a> {
    site: &'a Site,
    username: &'a str,
    link: &'a str,
    ttl: String,
}

/// The `mail.reset` job: a link, made now, emailed to the account with the address, if
/// there is one. Run twice (a crash after sending), it sends a second link; both work, once.
async fn send(ctx: &Run<'_>, mailer: &Mailer, address: &str) -> anyhow::Result<Outcome> {
    let Some(to) = repo::recipient(&ctx.db, address).await? else {
        return Ok(Outcome::Done);
    };
    let site = Site::load(&ctx.db, &ctx.settings.http.base()).await?;
    let link = make_link(&ctx.db, &ctx.settings, to.id, "email").await?;
    let ttl = ttl_words(ctx.settings.mail.reset_ttl_minutes);
    let mailbox = crate::mail::mailbox(&to.display_name, &to.email)?;
    let email = Email::render(
        mailbox,
        format!("Reset your password on {}", site.title),
        &ResetText {
            site: &site,
            username: &to.username,
            link: &link,
            ttl: ttl.clone(),
        },
        &ResetHtml {
            site: &site,
            username: &to.username,
            link: &link,
            ttl,
        },
    )?;
    mailer.send(email).await?;
    Ok(Outcome::Done)
}

pub enum Reset {
    /// The password is set and every other session ended; log in under `epoch`.
    Done { user: UserId, epoch: i32 },
    /// Used, expired, altered or never made: the same answer.
    Dead,
}

/// Set the password through the link `token`, once.
pub async fn complete(state: &AppState, token: &str, password: &Password) -> Result<Reset, Error> {
    let Some(stored) = hash(token) else {
        return Ok(Reset::Dead);
    };
    // A dead link costs no password hash.
    if repo::find_valid(&state.db, &stored).await?.is_none() {
        return Ok(Reset::Dead);
    }
    // Hash before the transaction: it takes a while, and holds no lock meanwhile.
    let password_hash = state.hasher.hash(password).await?;
    let mut tx = state.db.begin().await?;
    let Some(user) = repo::use_up(&mut tx, &stored).await? else {
        return Ok(Reset::Dead);
    };
    let epoch = super::repo::set_password_hash(&mut *tx, user, &password_hash).await?;
    tx.commit().await?;
    Ok(Reset::Done { user, epoch })
}
