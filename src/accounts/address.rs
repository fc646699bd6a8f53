//! An account's address changed: the old address is told (whoever changed it may not be its
//! owner: a stolen token, say), and the new one is asked to verify itself.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::model::UserId;
use crate::{
    jobs::{BackgroundJob, Outcome, Run},
    mail::{Email, Mailer, Site},
};

/// `mail.address_changed`: the old address is told the account's address changed.
#[derive(Serialize, Deserialize)]
pub struct AddressChangedMail {
    user: i64,
    old: String,
    new: String,
}

impl BackgroundJob for AddressChangedMail {
    const KIND: &'static str = "mail.address_changed";
    const TITLE: &'static str = "Email: address changed";
    type Context = std::sync::Arc<Mailer>;

    async fn run(&self, ctx: &Run<'_>, mailer: &Self::Context) -> anyhow::Result<Outcome> {
        send(ctx, mailer, self).await
    }
}

/// `user`'s address went from `old` to `new`: queue the notice to `old`, and the
/// verification of `new` (in the caller's transaction, if it has one).
pub async fn changed(
    db: &mut sqlx::PgConnection,
    user: UserId,
    old: &str,
    new: &str,
) -> sqlx::Result<()> {
    let notice = AddressChangedMail {
        user: user.0,
        old: old.to_owned(),
        new: new.to_owned(),
    };
    notice.enqueue(&mut *db).await?;
    super::verify::queue(&mut *db, user).await
}

#[derive(Template)]
#[template(path = "mail/address_changed.txt")]
struct NoticeText<'a> {
    site: &'a Site,
    username: &'a str,
    new: &'a str,
}

#[derive(Template)]
#[template(path = "mail/address_changed.html")]
struct NoticeHtml<'a> {
    site: &'a Site,
    username: &'a str,
    new: &'a str,
}

/// The `mail.address_changed` job: tell the old address, by the account's name as it is now.
async fn send(
    ctx: &Run<'_>,
    mailer: &Mailer,
    AddressChangedMail { user, old, new }: &AddressChangedMail,
) -> anyhow::Result<Outcome> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT username, display_name FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(&ctx.db)
            .await?;
    let Some((username, name)) = row else {
        return Ok(Outcome::Done);
    };
    let site = Site::load(&ctx.db, &ctx.settings.http.base()).await?;
    let message = Email::render(
        crate::mail::mailbox(&name, old)?,
        format!("Your email address on {} was changed", site.title),
        &NoticeText {
            site: &site,
            username: &username,
            new,
        },
        &NoticeHtml {
            site: &site,
            username: &username,
            new,
        },
    )?;
    mailer.send(message).await?;
    Ok(Outcome::Done)
}
