//! The Meilisearch backend, used when `MEILI_URL` is set. The index holds every post that is
//! or will be public (scheduled ones too, filtered by `published_at` at query time, so a post
//! appears at its time without a write); the outbox worker (`outbox`) keeps it current.
//!
//! Meilisearch reads at most 65,536 word positions of an attribute, about 400 KB of prose,
//! and its arrays share one attribute's positions. A body is therefore sent as an object of
//! 16 KiB parts (`body.p000`, `body.p001`, …): each part is an attribute of its own, so a
//! word deep in a 1 MiB post is still found, and `body` names them all in the settings.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::Context;
use meilisearch_sdk::{
    client::Client,
    indexes::Index,
    search::{MatchingStrategies, Selectors},
    settings::{Settings as IndexSettings, TypoToleranceSettings},
    tasks::Task,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{Backend, Hit, Query, Results, SearchError, postgres};
use crate::{
    config::SearchSettings, posts::model::PostId, posts::repo, render::markdown::Highlighted,
};

/// The most text one body part holds. Even text of one-letter words between full stops
/// (a word, then 8 positions for each sentence break) stays under the 65,536 positions.
const PART_BYTES: usize = 12 * 1024;

/// Searchable, in this order of weight: as the PostgreSQL backend weighs them.
const SEARCHABLE: [&str; 4] = ["title", "tags", "excerpt", "body"];

/// One post as the index holds it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Document {
    pub id: i64,
    pub title: String,
    pub excerpt: String,
    /// Tag names, searched.
    pub tags: Vec<String>,
    /// Tag slugs, for the `tag` filter.
    pub tag_slugs: Vec<String>,
    /// The author's username, for the `author` filter.
    pub author: String,
    /// Seconds since the epoch: only posts at or before the moment of a search are found.
    pub published_at: i64,
    pub body: BTreeMap<String, String>,
}

impl Document {
    pub fn new(post: repo::SearchDocument) -> Self {
        Self {
            id: post.id.0,
            tags: post.tags.0.iter().map(|t| t.name.clone()).collect(),
            tag_slugs: post.tags.0.iter().map(|t| t.slug.clone()).collect(),
            title: post.title,
            excerpt: post.excerpt,
            author: post.author_username,
            published_at: post.published_at.unix_timestamp(),
            body: parts(&post.body_text),
        }
    }
}

/// `text` cut into parts of at most `PART_BYTES`, at whitespace where there is some.
fn parts(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let mut end = rest.len().min(PART_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end < rest.len()
            && let Some(space) = rest[..end].rfind(char::is_whitespace)
            && space > PART_BYTES / 2
        {
            end = space;
        }
        out.insert(format!("p{:03}", out.len()), rest[..end].to_owned());
        rest = rest[end..].trim_start();
    }
    out
}

/// A filter value as a Meilisearch string literal.
fn literal(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What a search brings back of each hit: its id, and the highlighted fields.
#[derive(Debug, Deserialize)]
struct Found {
    id: i64,
}

pub struct Meili {
    client: Client,
    index: Index,
    /// The longest any call may take; a search waits `search_timeout` instead.
    timeout: Duration,
    search_timeout: Duration,
    /// The last call failed: searches answer from PostgreSQL until one succeeds again.
    down: AtomicBool,
    /// The index settings were applied by this client (`search.sync` does it once, before
    /// its first send: searching an index without them would rank and filter wrongly).
    configured: AtomicBool,
}

impl Meili {
    /// A client for the configured server and index; nothing connects yet.
    pub fn new(settings: &SearchSettings) -> anyhow::Result<Option<Self>> {
        let Some(url) = &settings.meili_url else {
            return Ok(None);
        };
        let key = settings
            .meili_master_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned());
        let host = url.as_str().trim_end_matches('/').to_owned();
        let client = Client::new(host, key).context("search.meili_url")?;
        let index = client.index(&settings.meili_index);
        Ok(Some(Self {
            client,
            index,
            timeout: Duration::from_secs(settings.meili_timeout_secs),
            search_timeout: Duration::from_millis(settings.meili_search_timeout_ms),
            down: AtomicBool::new(false),
            configured: AtomicBool::new(false),
        }))
    }

    pub fn index_name(&self) -> &str {
        &self.index.uid
    }

    /// `configure`, unless this client did already.
    pub async fn configure_once(&self) -> anyhow::Result<()> {
        if self.configured.load(Ordering::Relaxed) {
            return Ok(());
        }
        let configured = self.configure().await;
        self.mark(&configured);
        configured?;
        self.configured.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Is Meilisearch known to be out of reach (the last call failed)?
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Record how the last call went; a change is logged once, not per request.
    pub fn mark<T, E: std::fmt::Display>(&self, result: &Result<T, E>) {
        let ok = result.is_ok();
        let was_down = self.down.swap(!ok, Ordering::Relaxed);
        match result {
            Err(e) if !was_down => tracing::warn!(
                error = %e,
                "meilisearch is unreachable: searching with PostgreSQL until it returns"
            ),
            Ok(_) if was_down => tracing::info!("meilisearch is reachable again"),
            _ => {}
        }
    }

    async fn within<T>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<T, meilisearch_sdk::errors::Error>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => Ok(result?),
            Err(_) => anyhow::bail!("meilisearch did not answer within {timeout:?}"),
        }
    }

    /// Wait for a task to end; an error unless it succeeded.
    async fn finish(&self, task: meilisearch_sdk::task_info::TaskInfo) -> anyhow::Result<()> {
        let task = self
            .within(
                self.timeout + Duration::from_secs(1),
                task.wait_for_completion(
                    &self.client,
                    Some(Duration::from_millis(20)),
                    Some(self.timeout),
                ),
            )
            .await?;
        match task {
            Task::Succeeded { .. } => Ok(()),
            Task::Failed { content } => anyhow::bail!(
                "meilisearch task {} failed: {}",
                content.task.uid,
                content.error.error_message
            ),
            _ => anyhow::bail!("meilisearch task did not finish"),
        }
    }

    /// Create the index if needed and apply its settings: what is searched, filtered and
    /// sorted, the ranking rules and typo tolerance. Run at start-up (and by `quire reindex`).
    pub async fn configure(&self) -> anyhow::Result<()> {
        let settings = IndexSettings::new()
            .with_searchable_attributes(SEARCHABLE)
            .with_filterable_attributes(["tag_slugs", "author", "published_at"])
            .with_sortable_attributes(["published_at"])
            .with_displayed_attributes(["id", "title", "tags", "excerpt", "body"])
            // Relevance first, then the newest: as the PostgreSQL backend orders results.
            .with_ranking_rules([
                "words",
                "typo",
                "proximity",
                "attribute",
                "sort",
                "exactness",
                "published_at:desc",
            ])
            // Meilisearch's tokenizer, like PostgreSQL's parser, drops what follows `<` as
            // markup (a post about `<script>alert(1)</script>` would lose "alert"): here
            // they only separate words.
            .with_separation_tokens(["<", ">", "&"])
            .with_typo_tolerance(TypoToleranceSettings {
                enabled: Some(true),
                ..Default::default()
            });
        // Creating an index that exists fails its task, harmlessly: the settings task
        // below creates the index too, so the first one's outcome doesn't matter.
        let created = self
            .within(
                self.timeout,
                self.client.create_index(&self.index.uid, Some("id")),
            )
            .await?;
        let _ = self.finish(created).await;
        let task = self
            .within(self.timeout, self.index.set_settings(&settings))
            .await?;
        self.finish(task).await
    }

    /// Put `documents` in the index and take `removed` out, and wait until Meilisearch says
    /// both are done.
    pub async fn apply(&self, documents: &[Document], removed: &[i64]) -> anyhow::Result<()> {
        if !documents.is_empty() {
            let task = self
                .within(
                    self.timeout,
                    self.index.add_or_replace(documents, Some("id")),
                )
                .await?;
            self.finish(task).await?;
        }
        if !removed.is_empty() {
            let task = self
                .within(self.timeout, self.index.delete_documents(removed))
                .await?;
            self.finish(task).await?;
        }
        Ok(())
    }

    /// Remove every document (`quire reindex` sends them all again).
    pub async fn clear(&self) -> anyhow::Result<()> {
        let task = self
            .within(self.timeout, self.index.delete_all_documents())
            .await?;
        self.finish(task).await
    }

    /// Ids of the index's documents from `after` on, a batch at a time (`quire reindex`
    /// removes those PostgreSQL no longer has).
    pub async fn ids(&self, offset: usize, limit: usize) -> anyhow::Result<Vec<i64>> {
        let mut query = meilisearch_sdk::documents::DocumentsQuery::new(&self.index);
        query
            .with_fields(["id"])
            .with_offset(offset)
            .with_limit(limit);
        let found = self.within(self.timeout, query.execute::<Found>()).await?;
        Ok(found.results.into_iter().map(|f| f.id).collect())
    }

    /// Is the server up? (`/readyz`.)
    pub async fn healthy(&self) -> bool {
        let ok = self.within(self.search_timeout, self.client.health()).await;
        self.mark(&ok);
        ok.is_ok()
    }

    async fn find(
        &self,
        db: &PgPool,
        query: &Query,
        limit: i64,
        offset: i64,
    ) -> Result<Results, SearchError> {
        let mut filter = format!(
            "published_at <= {}",
            time::OffsetDateTime::now_utc().unix_timestamp()
        );
        if let Some(tag) = &query.tag {
            filter.push_str(&format!(" AND tag_slugs = {}", literal(tag)));
        }
        if let Some(author) = &query.author {
            filter.push_str(&format!(" AND author = {}", literal(author)));
        }
        let limit = usize::try_from(limit.max(1)).unwrap_or(1);
        let page = usize::try_from(offset.max(0)).unwrap_or(0) / limit + 1;
        let found = self
            .within(
                self.search_timeout,
                self.index
                    .search()
                    .with_query(&query.text)
                    .with_filter(&filter)
                    .with_page(page)
                    .with_hits_per_page(limit)
                    // Every word must match, as with PostgreSQL's websearch syntax.
                    .with_matching_strategy(MatchingStrategies::ALL)
                    .with_attributes_to_retrieve(Selectors::Some(&["id"]))
                    // Not the body: its snippet comes from PostgreSQL (`postgres::snippets`).
                    .with_attributes_to_highlight(Selectors::Some(&["title", "tags", "excerpt"]))
                    // Control characters, as in the PostgreSQL backend: no text holds them.
                    .with_highlight_pre_tag("\u{1}")
                    .with_highlight_post_tag("\u{2}")
                    .execute::<Found>(),
            )
            .await
            .map_err(SearchError::Engine)?;
        let ids: Vec<PostId> = found.hits.iter().map(|h| PostId(h.result.id)).collect();
        // The cards come from PostgreSQL, through the view readers' queries use: whatever
        // the index holds, nothing readers may not see is shown.
        let mut cards = repo::summaries_by_ids(db, &ids).await?;
        let snippets = postgres::snippets(db, query, &ids).await?;
        let mut results = Results {
            total: i64::try_from(found.total_hits.unwrap_or(0)).unwrap_or(i64::MAX),
            ..Results::default()
        };
        let mut matched = Vec::new();
        for hit in &found.hits {
            if let Some(formatted) = &hit.formatted_result {
                for value in formatted.values() {
                    marked_words(value, &mut matched);
                }
            }
        }
        for hit in found.hits {
            let Some(at) = cards.iter().position(|c| c.id.0 == hit.result.id) else {
                continue;
            };
            let post = cards.swap_remove(at);
            let formatted = hit.formatted_result.unwrap_or_default();
            let text = |name: &str| formatted.get(name).and_then(|v| v.as_str());
            let title = text("title").unwrap_or(&post.title).to_owned();
            // The passage around the first match, else the excerpt's highlights (words
            // Meilisearch found spelled like the query's).
            let snippet = snippets
                .get(&post.id)
                .and_then(|s| s.marked.clone())
                .unwrap_or_else(|| {
                    Highlighted::from_marked(text("excerpt").unwrap_or(&post.excerpt))
                });
            results.hits.push(Hit {
                title: Highlighted::from_marked(&title),
                snippet,
                post,
            });
        }
        // Typo tolerance found words other than the reader's: say so, and suggest the
        // spelling found, as the PostgreSQL backend does. A post with the words in its body
        // (Meilisearch marks none there: PostgreSQL's `contains`) was found by them.
        let words = postgres::typo_words(&query.text);
        let as_typed = |w: &String| {
            matched
                .iter()
                .any(|m: &String| m.starts_with(w.as_str()) || w.starts_with(m.as_str()))
        };
        let contains = snippets.values().any(|s| s.contains);
        if !results.hits.is_empty() && !contains && !words.iter().all(as_typed) {
            results.approximate = true;
            results.suggestion = postgres::suggestion(db, &words, &results).await?;
        }
        Ok(results)
    }
}

/// The lower-cased words Meilisearch marked in `value` (a string, or arrays and objects of
/// them).
fn marked_words(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => {
            for piece in s.split('\u{1}').skip(1) {
                let word = piece.split('\u{2}').next().unwrap_or_default();
                out.push(word.to_lowercase());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| marked_words(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| marked_words(v, out)),
        _ => {}
    }
}

impl Backend for Meili {
    async fn search(
        &self,
        db: &PgPool,
        query: &Query,
        limit: i64,
        offset: i64,
    ) -> Result<Results, SearchError> {
        if query.text.is_empty() {
            return Ok(Results::default());
        }
        let found = self.find(db, query, limit, offset).await;
        self.mark(&found);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_cut_into_parts_at_spaces_and_nothing_is_lost() {
        let text = "lorem ipsum dolor ".repeat(5_000);
        let parts = parts(&text);
        assert!(parts.len() > 1);
        assert!(parts.values().all(|p| p.len() <= PART_BYTES));
        let joined: Vec<&str> = parts.values().map(String::as_str).collect();
        assert_eq!(joined.join(" "), text.trim());
        assert!(parts.contains_key("p000") && parts.contains_key("p001"));
    }

    #[test]
    fn a_part_never_splits_a_character() {
        let text = "é".repeat(20_000);
        let parts = parts(&text);
        assert_eq!(parts.values().map(String::len).sum::<usize>(), text.len());
    }

    #[test]
    fn filter_values_are_quoted_and_escaped() {
        assert_eq!(literal("rust"), "\"rust\"");
        assert_eq!(
            literal("a\" OR author = \"x\\"),
            "\"a\\\" OR author = \\\"x\\\\\""
        );
    }
}
