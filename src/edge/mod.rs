//! Purging the edge cache in front of Quire (issue 29, item 4; README "Edge cache").
//!
//! Pages tell the edge what they show (`cache::edge`). Whatever changes something (the
//! admin, the API, an importer, the command line, psql), triggers record the keys it makes
//! stale in `edge_purges`, in the change's own transaction (migration
//! `20261231000000_record_edge_purges.sql`), and queue an `edge.purge` job, once. The job:
//! - takes the oldest rows, keys once each (just `site` when that is among them: it is on
//!   every page);
//! - makes sure a refetch finds the change: the page cache's copies are made stale first, and
//!   with a read replica the newest write is noted before that (`cache::Pages::noting`,
//!   `db::replica::Writes::note`), so the pages made for the refetch read a copy that has it;
//! - sends `edge.purge_method` to `edge.purge_url` with the keys in `edge.purge_header`
//!   (`Fastly-Soft-Purge: 1` too for a soft purge), a request per 128 keys;
//! - deletes the rows only once the edge has answered 2xx. While it is away or refusing, the
//!   rows wait and the job comes back later, after half as long as the oldest row has waited
//!   (one second at first, a minute at most), so nothing is lost however long the outage and
//!   the edge hears soon after it returns; nothing is parked as failed. One such job waits at
//!   a time: another that fails while one waits leaves it to that one.
//!
//! Without `edge.purge_url` the job only empties the table.

use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use sqlx::PgPool;

use crate::{
    cache::Pages,
    config::EdgeSettings,
    jobs::{self, BackgroundJob, Outcome, Run},
};

/// Rows one pass takes.
const BATCH: i64 = 1000;
/// Keys one purge request names (Fastly takes 256 at most).
const KEYS_PER_REQUEST: usize = 128;
/// Waits between attempts while the edge is away: at least, and at most.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MOST: Duration = Duration::from_secs(60);
/// The key on every page (`cache::edge::Key::Site`).
const SITE: &str = "site";

/// `edge.purge`: the recorded keys, purged at the edge.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Purge {}

/// What the job needs: the page cache (made stale before each purge) and the edge's address.
pub struct Context {
    pages: Pages,
    edge: Option<Edge>,
}

impl Context {
    pub fn new(settings: &EdgeSettings, pages: Pages) -> anyhow::Result<Self> {
        Ok(Self {
            pages,
            edge: Edge::new(settings)?,
        })
    }
}

impl BackgroundJob for Purge {
    const KIND: &'static str = "edge.purge";
    const TITLE: &'static str = "Edge cache purge";
    type Context = Context;

    async fn run(&self, run: &Run<'_>, cx: &Context) -> anyhow::Result<Outcome> {
        purge(run, cx).await
    }
}

async fn purge(run: &Run<'_>, cx: &Context) -> anyhow::Result<Outcome> {
    loop {
        if run.is_stopping() {
            return Ok(Outcome::Later(Duration::ZERO));
        }
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, key FROM edge_purges ORDER BY id LIMIT $1")
                .bind(BATCH)
                .fetch_all(&run.db)
                .await?;
        if rows.is_empty() {
            return Ok(Outcome::Done);
        }
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        if let Some(edge) = &cx.edge {
            let keys = coalesce(rows.into_iter().map(|(_, key)| key));
            // Whatever the edge's refetch reads must show the change already: the page
            // cache's copies are made stale, after the newest write is noted (`Pages::noting`:
            // no instance reads the replica until it has replayed it).
            cx.pages.stale().await;
            for chunk in keys.chunks(KEYS_PER_REQUEST) {
                if let Err(e) = edge.purge(chunk).await {
                    return away(run, &e).await;
                }
            }
            tracing::debug!(keys = keys.len(), "edge purged");
        }
        sqlx::query("DELETE FROM edge_purges WHERE id = ANY ($1)")
            .bind(&ids)
            .execute(&run.db)
            .await?;
    }
}

/// Each key once, in order; only `site` when it is among them.
fn coalesce(keys: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let keys: Vec<String> = keys.filter(|k| seen.insert(k.clone())).collect();
    match seen.contains(SITE) {
        true => vec![SITE.to_owned()],
        false => keys,
    }
}

/// The edge could not be told: the rows wait. Another `edge.purge` job queued already takes
/// them; otherwise this one comes back after half the oldest row's wait (within the bounds).
async fn away(run: &Run<'_>, error: &str) -> anyhow::Result<Outcome> {
    let oldest: f64 = sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(queued_at)), 0)::float8
           FROM edge_purges",
    )
    .fetch_one(&run.db)
    .await?;
    tracing::warn!(
        error,
        waited_secs = oldest.round(),
        "edge purge failed; the keys wait"
    );
    jobs::repo::note(&run.db, run.id(), error).await?;
    if jobs::repo::another_queued(&run.db, Purge::KIND, run.id()).await? {
        return Ok(Outcome::Done);
    }
    Ok(Outcome::Later(retry_after(Duration::from_secs_f64(
        oldest.max(0.0),
    ))))
}

/// The wait before the next attempt, after the oldest key has waited `waited`.
fn retry_after(waited: Duration) -> Duration {
    (waited / 2).clamp(RETRY_FIRST, RETRY_MOST)
}

/// An `edge.purge` soon if keys wait and no job is on its way (one was discarded, say): the
/// registry's schedule calls this every minute.
pub async fn purge_if_waiting(db: &PgPool) -> sqlx::Result<()> {
    let waiting: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM edge_purges)")
        .fetch_one(db)
        .await?;
    if waiting && !jobs::repo::on_its_way(db, Purge::KIND).await? {
        jobs::queue_once::<Purge>(db).await?;
    }
    Ok(())
}

/// Where purges go, and how they are said (`edge.*`).
struct Edge {
    client: reqwest::Client,
    url: url::Url,
    method: reqwest::Method,
    header: HeaderName,
    soft: bool,
    auth: Option<(HeaderName, HeaderValue)>,
}

impl Edge {
    fn new(settings: &EdgeSettings) -> anyhow::Result<Option<Self>> {
        let Some(url) = settings.purge_url.clone() else {
            return Ok(None);
        };
        let timeout = Duration::from_secs(settings.timeout_secs);
        let auth = match settings.purge_auth() {
            Some((name, value)) => {
                let mut value = HeaderValue::from_str(value)?;
                value.set_sensitive(true);
                Some((HeaderName::from_bytes(name.as_bytes())?, value))
            }
            None => None,
        };
        Ok(Some(Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .user_agent("Quire-Edge/1")
                .build()?,
            url,
            method: reqwest::Method::from_bytes(settings.purge_method.as_bytes())?,
            header: HeaderName::from_bytes(settings.purge_header.as_bytes())?,
            soft: settings.soft_purge,
            auth,
        }))
    }

    /// One purge request for `keys`; `Err` says why it did not take.
    async fn purge(&self, keys: &[String]) -> Result<(), String> {
        let mut req = self
            .client
            .request(self.method.clone(), self.url.clone())
            .header(self.header.clone(), keys.join(" "));
        if self.soft {
            req = req.header("Fastly-Soft-Purge", "1");
        }
        if let Some((name, value)) = &self.auth {
            req = req.header(name.clone(), value.clone());
        }
        let res = req
            .send()
            .await
            .map_err(|e| format!("no answer: {}", e.without_url()))?;
        let status = res.status();
        let said = res.text().await.unwrap_or_default();
        let said = said.trim().chars().take(200).collect::<String>();
        match status.is_success() {
            true => {
                tracing::debug!(keys = keys.len(), answer = said, "edge purge sent");
                Ok(())
            }
            false => Err(format!("the edge answered {status}: {said}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sent_once_and_site_stands_for_all() {
        let keys = |ks: &[&str]| coalesce(ks.iter().map(|k| (*k).to_owned()));
        assert_eq!(
            keys(&["post-1", "home", "post-1", "tag-3"]),
            ["post-1", "home", "tag-3"]
        );
        assert_eq!(keys(&["post-1", "site", "home", "site"]), ["site"]);
    }

    #[test]
    fn retries_wait_half_the_oldest_wait_within_bounds() {
        assert_eq!(retry_after(Duration::ZERO), RETRY_FIRST);
        assert_eq!(retry_after(Duration::from_secs(10)), Duration::from_secs(5));
        assert_eq!(retry_after(Duration::from_secs(3600)), RETRY_MOST);
    }
}
