//! Newsletters: readers subscribe by email, as Ghost's members do, and each new post is
//! emailed to them once.
//!
//! - **Subscribing** is double opt-in: `/subscribe` queues a `mail.subscribe` job that mails
//!   a signed confirmation link; the subscriber counts once they follow it. The link names
//!   when it was made: it works for `newsletter.confirm_ttl_hours`, only on a pending
//!   subscriber, and never one made before they last unsubscribed (an old email must not
//!   subscribe someone who left, issue 24). A reader with an
//!   account and a verified address subscribes from `/account` at once. The answer never
//!   says whether an address was subscribed already, and asking is rate limited per address
//!   and per client.
//! - **Sending**: a `newsletter.scan` job (queued when a post is saved, and every minute)
//!   gives each post published within `newsletter.window_hours` its `newsletter_sends` row,
//!   once (edits and republishing find it there), and queues a `newsletter.send` job for it.
//!   That job fixes the recipients (the confirmed subscribers at that moment) and sends in
//!   batches at `newsletter.per_minute`. Each delivery is marked 'sending' (committed) before
//!   its message goes and 'sent' after, so a worker that dies mid-send is resumed by another
//!   that sends only what was not sent; the one message in flight when it died is sent
//!   again, with the same Message-ID (SMTP can't say whether a message whose answer never
//!   came was taken).
//! - Every message carries `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058) and a
//!   visible unsubscribe link; the author can publish without sending (`choose`).

pub mod admin;
pub mod pages;
pub mod repo;

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use askama::Template;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    accounts::{model::UserId, verify},
    config::Settings,
    error::Error,
    jobs::{self, BackgroundJob, NewJob, Outcome, Permanent, Run},
    mail::{Asked, Email, Mailer, Site},
    posts::model::PostId,
    state::AppState,
};

pub use repo::choose;

/// Confirmation emails one address may get per hour, and sign-ups one client may make.
pub(crate) const LIMITS: crate::mail::AddressLimits = crate::mail::AddressLimits {
    client: "subscribe:client",
    address: "subscribe:address",
    per_client: 20,
    per_address: 3,
};
/// A sending job hands over after this long, well inside `jobs.timeout_secs`.
const TURN: Duration = Duration::from_secs(60);

/// The link that confirms `subscriber` at `email`, made at `made`:
/// `/subscribe/confirm/{id}.{made, unix ms}.{mac}`, the MAC over all three and the address.
pub fn confirm_link(
    settings: &Settings,
    subscriber: i64,
    email: &str,
    made: OffsetDateTime,
) -> String {
    let id = subscriber.to_string();
    let made = (made.unix_timestamp_nanos() / 1_000_000).to_string();
    let mac = verify::sign(settings, "subscribe", &[&id, &email.to_lowercase(), &made]);
    format!(
        "{}/subscribe/confirm/{id}.{made}.{mac}",
        settings.http.base()
    )
}

/// "7 days", "36 hours": how long a confirmation link works.
pub fn confirm_ttl(settings: &Settings) -> String {
    let hours = settings.newsletter.confirm_ttl_hours;
    let (n, unit) = if hours.is_multiple_of(24) {
        (hours / 24, "day")
    } else {
        (hours, "hour")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub fn unsubscribe_link(settings: &Settings, subscriber: i64) -> String {
    let id = subscriber.to_string();
    let mac = verify::sign(settings, "unsubscribe", &[&id]);
    format!("{}/unsubscribe/{id}.{mac}", settings.http.base())
}

/// What following a confirmation link did (or, only looking, would do).
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Subscribed now.
    Confirmed,
    /// Would subscribe: the link is good and the subscriber pending (looking only).
    Ready,
    /// Subscribed before (the link was used).
    Already,
    /// Made before the subscriber last unsubscribed: it subscribes nobody any more.
    Used { email: String },
    /// Older than `newsletter.confirm_ttl_hours`.
    Expired { email: String },
    /// Not a link this site made: altered, cut short, or for an address since changed.
    Invalid,
}

/// Follow a confirmation link: a pending subscriber it was made for, within its time and
/// since they last unsubscribed, is confirmed (when `apply`; otherwise only `Ready`: opening
/// the link shows a button, so a mail scanner opening it subscribes nobody).
pub async fn confirm(state: &AppState, token: &str, apply: bool) -> sqlx::Result<Confirmation> {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(made), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(Confirmation::Invalid);
    };
    let (Ok(sub), Ok(made_ms)) = (id.parse::<i64>(), made.parse::<i64>()) else {
        return Ok(Confirmation::Invalid);
    };
    let Some(found) = repo::find(&state.db, sub).await? else {
        return Ok(Confirmation::Invalid);
    };
    let email = found.email.to_lowercase();
    if !verify::signed(&state.settings, "subscribe", &[id, &email, made], mac) {
        return Ok(Confirmation::Invalid);
    }
    let ms = |t: OffsetDateTime| t.unix_timestamp_nanos() / 1_000_000;
    let made_ms = i128::from(made_ms);
    if found.status == "confirmed" {
        return Ok(Confirmation::Already);
    }
    if found.status != "pending" || found.unsubscribed_at.is_some_and(|left| ms(left) > made_ms) {
        return Ok(Confirmation::Used { email });
    }
    let ttl = i128::from(state.settings.newsletter.confirm_ttl_hours) * 3_600_000;
    if ms(OffsetDateTime::now_utc()) > made_ms + ttl {
        return Ok(Confirmation::Expired { email });
    }
    if !apply {
        return Ok(Confirmation::Ready);
    }
    Ok(match repo::confirm(&state.db, sub).await? {
        true => Confirmation::Confirmed,
        // Confirmed a moment ago by another click, or gone since.
        false => Confirmation::Already,
    })
}

/// The subscriber a signed unsubscribe token names.
pub fn check_unsubscribe(settings: &Settings, token: &str) -> Option<i64> {
    let (id, mac) = token.split_once('.')?;
    let sub = id.parse::<i64>().ok()?;
    verify::signed(settings, "unsubscribe", &[id], mac).then_some(sub)
}

/// Subscribe `email` (already checked), from the site's form.
pub async fn ask(state: &AppState, ip: IpAddr, email: &str) -> Result<Asked, Error> {
    if let Some(wait_secs) = LIMITS.over(state, ip, email).await? {
        return Ok(Asked::TooMany { wait_secs });
    }
    let mut tx = state.db.begin().await?;
    let sub = repo::upsert_pending(&mut *tx, email, None).await?;
    if sub.status == "pending" {
        queue_confirmation(&mut *tx, sub.id).await?;
    }
    tx.commit().await?;
    Ok(Asked::Done)
}

/// From `/account`: a verified address is subscribed at once; another gets the
/// confirmation email like anyone.
pub async fn subscribe_account(
    state: &AppState,
    user: UserId,
    email: &str,
    verified: bool,
) -> Result<(), Error> {
    let mut tx = state.db.begin().await?;
    let sub = repo::upsert_pending(&mut *tx, email, Some(user)).await?;
    if sub.status == "pending" {
        if verified {
            repo::confirm(&mut *tx, sub.id).await?;
        } else {
            queue_confirmation(&mut *tx, sub.id).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn queue_confirmation(db: impl sqlx::PgExecutor<'_>, subscriber: i64) -> sqlx::Result<()> {
    ConfirmMail { subscriber }.enqueue(db).await?;
    Ok(())
}

/// How many subscribers publishing a post emails (issue 27, item 6), asked by the editor
/// before it publishes: for its button's label and its confirmation step. `None` when the
/// post would not be emailed: no mail configured, a page, not coming out now, sent before, or
/// the author's choice `send` is "publish without sending".
///
/// The answer is the send's own rule (`newsletter_due`, which `repo::claim_new_posts` asks
/// of every published post) applied to the post as the save will leave it: published at
/// `published_at`, with a newsletter record unless the save takes a "without sending" one
/// back (`choose`).
pub async fn audience(
    state: &AppState,
    post: Option<PostId>,
    kind: crate::posts::model::PostKind,
    published_at: Option<OffsetDateTime>,
    send: bool,
) -> sqlx::Result<Option<i64>> {
    // Pages are never in `published_posts`, which the scan reads.
    if !state.settings.mail.is_configured() || kind == crate::posts::model::PostKind::Page {
        return Ok(None);
    }
    let recorded = !send
        || match post {
            Some(id) => repo::progress(&state.db, id)
                .await?
                .is_some_and(|p| !p.skipped),
            None => false,
        };
    repo::would_reach(
        &state.db,
        published_at,
        recorded,
        state.settings.newsletter.window_hours,
    )
    .await
}

/// Look for newly published posts now (after a save that may have published one), and every
/// minute (the registry's schedule): scheduled posts come out without anyone saving.
pub async fn scan_soon(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    jobs::queue_once::<Scan>(db).await
}

/// `mail.subscribe`: the link that confirms a newsletter subscription.
#[derive(Serialize, Deserialize)]
pub struct ConfirmMail {
    subscriber: i64,
}

impl BackgroundJob for ConfirmMail {
    const KIND: &'static str = "mail.subscribe";
    const TITLE: &'static str = "Email: subscription confirmation";
    type Context = std::sync::Arc<Mailer>;

    async fn run(&self, ctx: &Run<'_>, mailer: &Self::Context) -> anyhow::Result<Outcome> {
        send_confirmation(ctx, mailer, self.subscriber).await
    }
}

/// `newsletter.scan`: newly published posts get their newsletter (`scan`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scan {}

impl BackgroundJob for Scan {
    const KIND: &'static str = "newsletter.scan";
    const TITLE: &'static str = "Newsletter check";
    type Context = ();

    async fn run(&self, ctx: &Run<'_>, _: &()) -> anyhow::Result<Outcome> {
        scan(ctx).await
    }
}

/// `newsletter.send`: the post to its subscribers, in batches, each of them once.
#[derive(Serialize, Deserialize)]
pub struct SendIssue {
    post: i64,
}

impl BackgroundJob for SendIssue {
    const KIND: &'static str = "newsletter.send";
    const TITLE: &'static str = "Newsletter issue";
    const MAX_ATTEMPTS: i32 = 20;
    type Context = std::sync::Arc<Mailer>;

    async fn describe(&self, db: &sqlx::PgPool) -> String {
        let title: Option<String> = sqlx::query_scalar("SELECT title FROM posts WHERE id = $1")
            .bind(self.post)
            .fetch_optional(db)
            .await
            .ok()
            .flatten();
        title.map_or_else(|| Self::TITLE.to_owned(), |t| format!("Newsletter: {t}"))
    }

    async fn run(&self, ctx: &Run<'_>, mailer: &Self::Context) -> anyhow::Result<Outcome> {
        send(ctx, mailer, PostId(self.post)).await
    }
}

#[derive(Template)]
#[template(path = "mail/subscribe.txt")]
struct ConfirmText<'a> {
    site: &'a Site,
    link: &'a str,
    ttl: &'a str,
}

#[derive(Template)]
#[template(path = "mail/subscribe.html")]
struct ConfirmHtml<'a> {
    site: &'a Site,
    link: &'a str,
    ttl: &'a str,
}

/// The `mail.subscribe` job: the confirmation link, if the subscriber still waits for one.
async fn send_confirmation(
    ctx: &Run<'_>,
    mailer: &Mailer,
    subscriber: i64,
) -> anyhow::Result<Outcome> {
    let Some(sub) = repo::find(&ctx.db, subscriber).await? else {
        return Ok(Outcome::Done);
    };
    if sub.status != "pending" {
        return Ok(Outcome::Done);
    }
    let site = Site::load(&ctx.db, &ctx.settings.http.base()).await?;
    let link = confirm_link(&ctx.settings, sub.id, &sub.email, OffsetDateTime::now_utc());
    let ttl = confirm_ttl(&ctx.settings);
    let email = Email::render(
        crate::mail::mailbox("", &sub.email)?,
        format!("Confirm your subscription to {}", site.title),
        &ConfirmText {
            site: &site,
            link: &link,
            ttl: &ttl,
        },
        &ConfirmHtml {
            site: &site,
            link: &link,
            ttl: &ttl,
        },
    )?;
    mailer.send(email).await?;
    Ok(Outcome::Done)
}

/// The `newsletter.scan` job: a record and a `newsletter.send` job for each post published
/// since the last scan (within the window), in one transaction.
async fn scan(ctx: &Run<'_>) -> anyhow::Result<Outcome> {
    let mut tx = ctx.db.begin().await?;
    let posts = repo::claim_new_posts(&mut tx, ctx.settings.newsletter.window_hours).await?;
    for post in &posts {
        NewJob::of(&SendIssue { post: post.0 })
            .key(format!("post:{}", post.0))
            .enqueue(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// What the email shows of the post, read when sending starts.
#[derive(Debug, sqlx::FromRow)]
struct Issue {
    title: String,
    slug: String,
    body_html: crate::render::SafeHtml,
    body_text: String,
    author_name: String,
    cover_image: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/newsletter.txt")]
struct IssueText<'a> {
    site: &'a Site,
    issue: &'a Issue,
    url: &'a str,
    unsubscribe: &'a str,
    email: &'a str,
}

#[derive(Template)]
#[template(path = "mail/newsletter.html")]
struct IssueHtml<'a> {
    site: &'a Site,
    issue: &'a Issue,
    body: crate::render::SafeHtml,
    cover: Option<String>,
    url: &'a str,
    unsubscribe: &'a str,
    email: &'a str,
}

/// The `newsletter.send` job: the post to each of its recipients, once.
async fn send(ctx: &Run<'_>, mailer: &Mailer, post: PostId) -> anyhow::Result<Outcome> {
    let mut tx = ctx.db.begin().await?;
    let go = repo::prepare(&mut tx, post).await?;
    tx.commit().await?;
    if !go {
        return Ok(Outcome::Done);
    }
    let issue: Option<Issue> = sqlx::query_as(
        "SELECT p.title, p.slug, p.body_html, p.body_text,
                u.display_name AS author_name, p.cover_image
           FROM published_posts p JOIN users u ON u.id = p.author_id
          WHERE p.id = $1",
    )
    .bind(post)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(issue) = issue else {
        // Unpublished or deleted since: nobody else gets it.
        sqlx::query(
            "UPDATE newsletter_deliveries SET state = 'failed', last_error = 'the post was unpublished'
              WHERE post_id = $1 AND state IN ('queued', 'sending')",
        )
        .bind(post)
        .execute(&ctx.db)
        .await?;
        repo::finish_if_done(&ctx.db, post).await?;
        return Ok(Outcome::Done);
    };
    let site = Site::load(&ctx.db, &ctx.settings.http.base()).await?;
    let url = site.url(&format!("/posts/{}", issue.slug));
    let body = issue.body_html.with_absolute_links(&site.base_url);
    let cover = issue.cover_image.as_deref().map(|c| {
        if c.starts_with('/') {
            site.url(c)
        } else {
            c.to_owned()
        }
    });
    let host = url::Url::parse(&site.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "quire.invalid".into());
    let settings = &ctx.settings.newsletter;
    let pause = Duration::from_secs(60) / settings.per_minute.max(1);
    let started = Instant::now();
    loop {
        if ctx.is_stopping() || started.elapsed() > TURN {
            return Ok(Outcome::Later(Duration::ZERO));
        }
        let batch = repo::next_batch(&ctx.db, post, i64::from(settings.batch_size)).await?;
        if batch.is_empty() {
            repo::drop_departed(&ctx.db, post).await?;
            repo::finish_if_done(&ctx.db, post).await?;
            return Ok(Outcome::Done);
        }
        for d in batch {
            let unsubscribe = unsubscribe_link(&ctx.settings, d.subscriber_id);
            let mut email = Email::render(
                crate::mail::mailbox("", &d.email)?,
                issue.title.clone(),
                &IssueText {
                    site: &site,
                    issue: &issue,
                    url: &url,
                    unsubscribe: &unsubscribe,
                    email: &d.email,
                },
                &IssueHtml {
                    site: &site,
                    issue: &issue,
                    body: body.clone(),
                    cover: cover.clone(),
                    url: &url,
                    unsubscribe: &unsubscribe,
                    email: &d.email,
                },
            )?;
            email.unsubscribe = Some(unsubscribe);
            // The same id however often it is sent: a repeat is recognisably the same message.
            email.message_id = Some(format!("<post{}.sub{}@{host}>", post.0, d.subscriber_id));
            match mailer.send(email).await {
                Ok(()) => repo::mark(&ctx.db, post, d.subscriber_id, "sent", None).await?,
                Err(e) if e.downcast_ref::<Permanent>().is_some() => {
                    let error = format!("{e:#}");
                    repo::mark(&ctx.db, post, d.subscriber_id, "failed", Some(&error)).await?;
                }
                Err(e) => {
                    // Back in the queue; the job is retried with backoff (the server is away).
                    repo::mark(&ctx.db, post, d.subscriber_id, "queued", None).await?;
                    return Err(e);
                }
            }
            tokio::time::sleep(pause).await;
        }
    }
}
