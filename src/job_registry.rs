//! Wiring: every job type this version runs, with what each needs, and the schedule. `app.rs`
//! (`quire serve`) and `cli.rs` (`quire worker`) start their runner with this registry, and
//! `tests/it/jobs.rs` checks that every kind SQL queues by name is in it.
//!
//! Adding a job: write its type beside the code it serves (`impl BackgroundJob`, with its
//! `KIND` and `Context`), and register it here. Each type's context is what it needs beyond
//! the runner's infrastructure, given here rather than through the runner, so `jobs/` names
//! no feature and a job can't reach what it wasn't given.

use std::sync::Arc;

use crate::{
    accounts,
    cache::Pages,
    comments,
    config::Settings,
    edge, events, import, jobs,
    jobs::{BackgroundJob, Registry},
    mail::Mailer,
    media, newsletter, posts, search, stats, tags, webhooks,
};

/// The registry of this process's job runner. `pages`: the page cache's handle (for jobs
/// that make kept pages stale); `meili`: the instance's Meilisearch client, when configured.
pub fn build(
    settings: &Settings,
    pages: Pages,
    meili: Option<Arc<search::meili::Meili>>,
) -> anyhow::Result<Registry> {
    let mailer = Arc::new(Mailer::new(&settings.mail)?);
    let mut registry = Registry::new()
        // The runner's own.
        .register::<jobs::chores::Noop>(())
        .register::<jobs::chores::Probe>(())
        .register::<jobs::chores::Purge>(())
        // Email.
        .register::<accounts::reset::ResetMail>(mailer.clone())
        .register::<accounts::verify::VerifyMail>(mailer.clone())
        .register::<accounts::address::AddressChangedMail>(mailer.clone())
        .register::<comments::notify::CommentMail>(mailer.clone())
        .register::<newsletter::ConfirmMail>(mailer.clone())
        .register::<newsletter::Scan>(())
        .register::<newsletter::SendIssue>(mailer)
        // Webhooks.
        .register::<webhooks::Fanout>(())
        .register::<webhooks::Scan>(())
        .register::<webhooks::Deliver>(())
        // The same events on message brokers (each client kept between jobs).
        .register::<events::ToAmqp>(events::amqp::Amqp::new(&settings.events))
        .register::<events::ToNats>(events::nats::Nats::new(&settings.events))
        .register::<events::Prune>(())
        // The edge cache in front of the site: purged after every change.
        .register::<edge::Purge>(edge::Context::new(&settings.edge, pages.clone())?)
        // Search, statistics, tags, the trash, reset links.
        .register::<search::outbox::SearchSync>(meili.clone())
        .register::<stats::AddViews>(())
        .register::<tags::jobs::Work>(pages.clone())
        .register::<posts::trash::PurgeTrash>(pages.clone())
        .register::<posts::Rerender>(pages.clone())
        .register::<import::job::RunImport>(pages.clone())
        .register::<accounts::reset::PurgeResets>(())
        .register::<media::direct::PurgeIncoming>(media::Store::from_settings(&settings.uploads)?)
        // Media: the store the files go to, and the pages that show them.
        .register::<media::job::Process>(media::job::Context {
            store: media::Store::from_settings(&settings.uploads)?,
            pages,
        });

    // The schedule, every minute on every instance (keys and `queue_once` keep each one job).
    registry = registry
        .hourly(jobs::chores::Purge {})
        .hourly(posts::trash::PurgeTrash {})
        .hourly(accounts::reset::PurgeResets {})
        .hourly(media::direct::PurgeIncoming {})
        .hourly(events::Prune {})
        // Scheduled posts go live by the clock, without a write to trigger anything.
        .each_minute(webhooks::Scan::KIND, |db| async move {
            jobs::queue_once::<webhooks::Scan>(&db).await
        })
        // Keys waiting and no purge on its way (a purge job discarded): one more.
        .each_minute(edge::Purge::KIND, |db| async move {
            edge::purge_if_waiting(&db).await
        });
    if meili.is_some() {
        // Rows in the outbox and no sync on its way (a sync whose job was discarded): one more.
        registry = registry.each_minute(search::outbox::SearchSync::KIND, |db| async move {
            search::outbox::sync_if_waiting(&db).await
        });
    }
    let brokers = events::Broker::configured(&settings.events);
    if !brokers.is_empty() {
        // The triggers told again that events go to brokers; events waiting and no job on
        // its way: one more.
        registry = registry
            .each_minute("events", move |db| events::tick(db, brokers.clone()))
            .backlog("Events waiting", {
                let settings = settings.events.clone();
                move |db| {
                    let settings = settings.clone();
                    async move {
                        let waiting = events::backlog(&db, &settings).await?;
                        Ok(waiting
                            .into_iter()
                            .map(|(broker, n, _)| (broker.title().to_owned(), n))
                            .collect())
                    }
                }
            });
    }
    if settings.mail.is_configured() {
        registry = registry.each_minute(newsletter::Scan::KIND, |db| async move {
            newsletter::scan_soon(&db).await
        });
    }
    Ok(registry)
}
