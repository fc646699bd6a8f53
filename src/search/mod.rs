//! Search over every published post, through one of two backends behind `Backend`:
//! PostgreSQL full-text search (`postgres`, the default) and Meilisearch (`meili`, when
//! `MEILI_URL` is set). `Search` picks one per query:
//!
//! - Meilisearch answers only while it is known to be current: reachable, and with nothing
//!   waiting in the outbox (`outbox`). Otherwise PostgreSQL answers, which is always
//!   current, so a change shows in the very next search whichever backend answers, and
//!   readers see no error while Meilisearch is away.
//! - Either way the cards come from PostgreSQL's `published_posts`, the visibility rule.

pub mod estimate;
pub mod meili;
pub mod outbox;
pub mod pages;
pub mod passage;
pub mod postgres;

use std::{net::IpAddr, sync::Arc, time::Duration};

use sqlx::PgPool;

use crate::{
    error::{ApiError, Error},
    posts::model::PostSummary,
    render::markdown::Highlighted,
    state::AppState,
};

/// Why a search, or a sync of the outbox, failed. Callers tell the two apart: a database
/// failure is a 503 like on any page (and fails a sync job), while Meilisearch away or
/// refusing is ridden out (PostgreSQL answers; the sync comes back later).
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Meilisearch did not answer in time, or refused.
    #[error("{0:#}")]
    Engine(anyhow::Error),
}

impl crate::db::replica::FromDatabase for SearchError {
    fn database(&self) -> Option<&sqlx::Error> {
        match self {
            SearchError::Database(e) => Some(e),
            SearchError::Engine(_) => None,
        }
    }
}

impl From<SearchError> for Error {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Database(e) => e.into(),
            SearchError::Engine(e) => Error::Internal(e),
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        Error::from(e).into()
    }
}

/// A search engine: one page of published posts matching `query`, best first.
pub trait Backend {
    fn search(
        &self,
        db: &PgPool,
        query: &Query,
        limit: i64,
        offset: i64,
    ) -> impl Future<Output = Result<Results, SearchError>> + Send;
}

/// Which backend answered (the `X-Search-Backend` header says, for operators and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Postgres,
    Meilisearch,
}

impl Answered {
    pub fn as_str(self) -> &'static str {
        match self {
            Answered::Postgres => "postgres",
            Answered::Meilisearch => "meilisearch",
        }
    }
}

/// The site's search: PostgreSQL, and Meilisearch in front of it when configured.
#[derive(Clone, Default)]
pub struct Search {
    pub meili: Option<Arc<meili::Meili>>,
    /// Searches counted against `search.requests_per_minute` (see `over_allowance`).
    pub counted: Arc<crate::ratelimit::Batched>,
}

impl Search {
    pub fn new(settings: &crate::config::SearchSettings) -> anyhow::Result<Self> {
        Ok(Self {
            meili: meili::Meili::new(settings)?.map(Arc::new),
            counted: Arc::default(),
        })
    }

    /// One page of results, and which backend found them.
    pub async fn search(
        &self,
        db: &PgPool,
        query: &Query,
        limit: i64,
        offset: i64,
    ) -> Result<(Results, Answered), SearchError> {
        if let Some(meili) = &self.meili
            && !meili.is_down()
            && outbox::is_empty(db).await?
        {
            // A failure was logged (once) by the backend; PostgreSQL answers instead.
            if let Ok(results) = meili.search(db, query, limit, offset).await {
                return Ok((results, Answered::Meilisearch));
            }
        }
        let results = postgres::Postgres.search(db, query, limit, offset).await?;
        Ok((results, Answered::Postgres))
    }
}

/// Count one search by the client at `ip` against `search.requests_per_minute`: the site's
/// `/search` and the API's `?q=` share the allowance, so neither door opens the other
/// (issue 24). `Some(seconds to wait)` once over. Shared by every instance through Redis,
/// in batches as the API's calls are (`ratelimit::Batched`: a Redis round trip per search
/// was a tenth of Quire's time at 1,000 searches a second); while Redis is away, searches
/// aren't counted.
pub async fn over_allowance(state: &AppState, search: &Search, ip: Option<IpAddr>) -> Option<u64> {
    let limiter = state.limiter(
        "search",
        state.settings.search.requests_per_minute,
        Duration::from_secs(60),
    );
    let id = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let hit = limiter.hit_batched(&search.counted, &id).await.ok()?;
    hit.over().then_some(hit.reset_secs)
}

/// The longest query searched, in characters; longer ones are cut, not refused.
pub const MAX_QUERY_CHARS: usize = 200;

/// What a reader asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The words, in web-search syntax: `"a phrase"`, `-excluded`, `this or that`.
    pub text: String,
    /// Only posts with this tag (slug).
    pub tag: Option<String>,
    /// Only posts by this author (username).
    pub author: Option<String>,
}

impl Query {
    /// `text` cleaned (see `clean`).
    pub fn new(text: &str) -> Self {
        Self {
            text: clean(text),
            ..Self::default()
        }
    }
}

/// What a reader typed, as searched: control characters dropped, cut to
/// `MAX_QUERY_CHARS`, trimmed.
pub fn clean(text: &str) -> String {
    let text: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_QUERY_CHARS)
        .collect();
    text.trim().to_owned()
}

/// One result: the post's card, with its title and a snippet of its text highlighted.
#[derive(Debug, Clone)]
pub struct Hit {
    pub post: PostSummary,
    pub title: Highlighted,
    pub snippet: Highlighted,
}

/// One page of results and how many there are in all.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub total: i64,
    /// A query spelled like this one that finds something, when this one found nothing
    /// by its words (the hits are then titles with words like the query's).
    pub suggestion: Option<String>,
    /// The hits are titles spelled like the query, not posts containing its words.
    pub approximate: bool,
    /// How `total` was reached.
    pub counted: Counted,
}

/// How a search's total was reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Counted {
    /// Every match was counted.
    #[default]
    Exactly,
    /// Counting stopped at the cap (`postgres::COUNTED_AT_MOST`): there are more than
    /// `total` - 1.
    MoreThan,
    /// So many match that counting them would cost more than the search itself: `total`
    /// is PostgreSQL's estimate (`postgres::ESTIMATED_FROM`).
    About,
}
