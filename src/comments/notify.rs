//! A post's author is told of each new comment on it, by email (`mail.comment` jobs), unless
//! they turned it off on `/account` or with the one-click unsubscribe link every such email
//! carries (`List-Unsubscribe`, RFC 8058: mail clients POST to it).

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::{
    accounts::{model::UserId, verify},
    error::Error,
    jobs::{BackgroundJob, NewJob, Outcome, Run},
    mail::{Email, Mailer, Site},
    render::{Layout, page::personal as render},
    state::AppState,
};

/// Queue the notification of comment `id` (once: keyed by the comment).
pub async fn queue(db: impl sqlx::PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    NewJob::of(&CommentMail { comment: id })
        .key(format!("comment:{id}"))
        .enqueue(db)
        .await?;
    Ok(())
}

/// `mail.comment`: the post's author is told of a new comment.
#[derive(Serialize, Deserialize)]
pub struct CommentMail {
    comment: i64,
}

impl BackgroundJob for CommentMail {
    const KIND: &'static str = "mail.comment";
    const TITLE: &'static str = "Email: new comment";
    type Context = std::sync::Arc<Mailer>;

    async fn run(&self, ctx: &Run<'_>, mailer: &Self::Context) -> anyhow::Result<Outcome> {
        send(ctx, mailer, self.comment).await
    }
}

/// What the email needs, read when it is sent.
#[derive(sqlx::FromRow)]
struct Notice {
    post_title: String,
    post_slug: String,
    author_id: UserId,
    author_name: String,
    author_email: String,
    commenter_name: String,
    body_markdown: String,
    held: bool,
}

#[derive(Template)]
#[template(path = "mail/comment.txt")]
struct CommentText<'a> {
    site: &'a Site,
    n: &'a Notice,
    excerpt: &'a str,
    link: &'a str,
    unsubscribe: &'a str,
}

#[derive(Template)]
#[template(path = "mail/comment.html")]
struct CommentHtml<'a> {
    site: &'a Site,
    n: &'a Notice,
    excerpt: &'a str,
    link: &'a str,
    unsubscribe: &'a str,
}

/// The one-click unsubscribe link of `user`'s comment notifications (signed: no login).
fn unsubscribe_link(settings: &crate::config::Settings, user: UserId) -> String {
    let id = user.0.to_string();
    let mac = verify::sign(settings, "unsubscribe-comments", &[&id]);
    format!("{}/unsubscribe/comments/{id}.{mac}", settings.http.base())
}

/// The `mail.comment` job. Nothing is sent for a comment gone since, by the post's own
/// author, or to an author who turned notifications off or is disabled.
async fn send(ctx: &Run<'_>, mailer: &Mailer, comment: i64) -> anyhow::Result<Outcome> {
    let notice: Option<Notice> = sqlx::query_as(
        "SELECT p.title AS post_title, p.slug AS post_slug, a.id AS author_id,
                a.display_name AS author_name, a.email AS author_email,
                COALESCE(c_author.display_name, c.guest_name) AS commenter_name, c.body_markdown,
                c.approved_at IS NULL AS held
           FROM comments c
           JOIN posts p ON p.id = c.post_id
           JOIN users a ON a.id = p.author_id
           LEFT JOIN users c_author ON c_author.id = c.author_id
          WHERE c.id = $1 AND c.hidden_at IS NULL AND c.author_id IS DISTINCT FROM p.author_id
            AND a.notify_comments AND a.disabled_at IS NULL AND c_author.disabled_at IS NULL",
    )
    .bind(comment)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(n) = notice else {
        return Ok(Outcome::Done);
    };
    let site = Site::load(&ctx.db, &ctx.settings.http.base()).await?;
    let excerpt = crate::render::markdown::truncate_words(&n.body_markdown, 600);
    let link = if n.held {
        site.url("/admin/comments?status=pending")
    } else {
        site.url(&format!("/posts/{}#comment-{comment}", n.post_slug))
    };
    let unsubscribe = unsubscribe_link(&ctx.settings, n.author_id);
    let subject = if n.held {
        format!("A comment waits for your approval on “{}”", n.post_title)
    } else {
        format!("New comment on “{}”", n.post_title)
    };
    let mut email = Email::render(
        crate::mail::mailbox(&n.author_name, &n.author_email)?,
        subject,
        &CommentText {
            site: &site,
            n: &n,
            excerpt: &excerpt,
            link: &link,
            unsubscribe: &unsubscribe,
        },
        &CommentHtml {
            site: &site,
            n: &n,
            excerpt: &excerpt,
            link: &link,
            unsubscribe: &unsubscribe,
        },
    )?;
    email.unsubscribe = Some(unsubscribe);
    mailer.send(email).await?;
    Ok(Outcome::Done)
}

#[derive(Template)]
#[template(path = "comments/unsubscribed.html")]
struct UnsubscribePage {
    layout: Layout,
    /// Done (after the POST), or asking (the GET: a mail scanner opening it changes nothing).
    done: bool,
    ok: bool,
    action: String,
}

/// The account a signed unsubscribe token names.
fn check(settings: &crate::config::Settings, token: &str) -> Option<UserId> {
    let (id, mac) = token.split_once('.')?;
    let user = id.parse::<i64>().ok()?;
    verify::signed(settings, "unsubscribe-comments", &[id], mac).then_some(UserId(user))
}

fn page(state: &AppState, token: &str, done: bool, ok: bool) -> UnsubscribePage {
    UnsubscribePage {
        layout: Layout::new(&state.site(), "Comment notifications", "", "/account").noindex(),
        done,
        ok,
        action: format!("/unsubscribe/comments/{}", if ok { token } else { "" }),
    }
}

/// `GET /unsubscribe/comments/{token}`: a button that stops the emails (no login needed).
pub async fn confirm(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let ok = check(&state.settings, &token).is_some();
    let status = if ok { StatusCode::OK } else { StatusCode::GONE };
    render(status, page(&state, &token, false, ok))
}

/// `POST /unsubscribe/comments/{token}`: the button, or a mail client's one-click request
/// (`List-Unsubscribe=One-Click`). The signed link is the credential, so no CSRF token: it
/// only ever turns emails off.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let Some(user) = check(&state.settings, &token) else {
        return render(StatusCode::GONE, page(&state, &token, true, false));
    };
    crate::accounts::repo::set_notify_comments(&state.db, user, false).await?;
    render(StatusCode::OK, page(&state, &token, true, true))
}
