//! What each kind of job does: the one table the runner dispatches on. Each kind's code lives
//! with the module it serves; a kind is listed here, with its payload's shape.

use std::time::Duration;

use serde::Deserialize;

use super::{Job, Outcome, Permanent, runner::Ctx};

/// Run `job` once.
pub async fn run(ctx: &Ctx, job: &Job) -> anyhow::Result<Outcome> {
    match job.kind.as_str() {
        // `{}`: does nothing (the benchmark's jobs).
        "noop" => Ok(Outcome::Done),
        // `{fail, sleep_ms, panic}`: a probe of the runner itself (retries, leases, shutdown,
        // panics): takes `sleep_ms`, and fails its first `fail` attempts (panicking, if
        // `panic`).
        "probe" => probe(job).await,
        // `{views: [[day, slug, n], …]}`: one instance's flush of reader statistics.
        "stats.add" => crate::stats::apply(ctx, job).await,
        // `{}`: work through queued tag renames and merges (`tag_jobs`).
        "tags.work" => {
            crate::tags::jobs::run(&ctx.db, &ctx.pages).await?;
            Ok(Outcome::Done)
        }
        // `{address}`: a password reset link to the account with that address, if any.
        "mail.reset" => crate::accounts::reset::send(ctx, job).await,
        // `{user}`: the link that verifies the account's address.
        "mail.verify" => crate::accounts::verify::send(ctx, job).await,
        // `{user, old, new}`: the old address is told the account's address changed.
        "mail.address_changed" => crate::accounts::address::send(ctx, job).await,
        // `{comment}`: the post's author is told of a new comment.
        "mail.comment" => crate::comments::notify::send(ctx, job).await,
        // `{subscriber}`: the link that confirms a newsletter subscription.
        "mail.subscribe" => crate::newsletter::send_confirmation(ctx, job).await,
        // `{}`, every minute and after saves: newly published posts get their newsletter.
        "newsletter.scan" => crate::newsletter::scan(ctx).await,
        // `{post}`: the post to its subscribers, in batches, each of them once.
        "newsletter.send" => crate::newsletter::send(ctx, job).await,
        // `{}`: waiting webhook events become deliveries.
        "webhooks.fanout" => crate::webhooks::fanout(ctx).await,
        // `{}`, every minute: scheduled posts that went live by the clock.
        "webhooks.scan" => crate::webhooks::scan(ctx).await,
        // `{delivery}`: one signed POST to a webhook.
        "webhook.deliver" => crate::webhooks::deliver(ctx, job).await,
        // `{}`: the search outbox sent to Meilisearch (when configured), one worker at a time.
        "search.sync" => crate::search::outbox::sync(ctx).await,
        // `{}`, hourly: finished jobs, and posts 30 days in the trash, deleted.
        "chores.purge" => super::chores::purge(ctx).await,
        other => {
            Err(Permanent(format!("no job of kind “{other}” is known to this version")).into())
        }
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    fail: i32,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    panic: bool,
}

async fn probe(job: &Job) -> anyhow::Result<Outcome> {
    let Probe {
        fail,
        sleep_ms,
        panic,
    } = job.payload()?;
    tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    if job.attempts <= fail {
        let failure = format!("probe: attempt {} of the {fail} that fail", job.attempts);
        if panic {
            panic!("{failure}");
        }
        anyhow::bail!(failure);
    }
    Ok(Outcome::Done)
}
