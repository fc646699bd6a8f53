//! The PostgreSQL backend: `posts.search_doc` (title A, tag names B, excerpt C, body D; kept
//! by a trigger) under a GIN index, `websearch_to_tsquery` for the reader's syntax,
//! `ts_rank_cd` for the order; the snippets and title highlights are cut in `passage` from
//! the stored text, with the stemming asked of PostgreSQL.

use std::collections::{BTreeSet, HashMap, HashSet};

use sqlx::{FromRow, PgExecutor, PgPool, Row, postgres::types::Oid};

use super::{
    Backend, Counted, Hit, Query, Results, SearchError,
    estimate::{self, Estimate},
    passage,
};
use crate::{
    posts::model::{PostId, PostSummary},
    render::markdown::Highlighted,
};

/// How much of a body a page statement returns to cut the snippet from: a post may hold
/// 1 MiB; for a match further in, `Searching::passages` reads the whole text of that post.
const SNIPPET_SOURCE_CHARS: i32 = 4_000;

/// How many titles spelled like a query's words the typo fallback orders: a word like one
/// in many titles ("postgres" at 100,000 posts: 3,333 titles with "PostgreSQL") read every
/// one of them from the heap to rank them (40 ms); the first found are as good a guess.
pub const SIMILAR_AT_MOST: i64 = 200;

/// Published posts whose title has a word like one of `words` (pg_trgm's word similarity,
/// served by the trigram index on titles), most alike first, among the first
/// `SIMILAR_AT_MOST` found.
async fn similar_titles(
    db: impl PgExecutor<'_>,
    query: &Query,
    words: &[String],
    limit: i64,
    offset: i64,
) -> sqlx::Result<Results> {
    let word = |i: usize| words.get(i).cloned();
    let rows = sqlx::query(sql::SIMILAR_TITLES)
        .bind(limit)
        .bind(offset)
        .bind(&query.tag)
        .bind(&query.author)
        .bind(word(0))
        .bind(word(1))
        .bind(word(2))
        .bind(word(3))
        .bind(word(4))
        .bind(SIMILAR_AT_MOST + 1)
        .fetch_all(db)
        .await?;
    let mut results = Results::default();
    for row in &rows {
        results.total = row.try_get("total")?;
        if results.total > SIMILAR_AT_MOST {
            results.counted = Counted::MoreThan;
        }
        let post = PostSummary::from_row(row)?;
        results.hits.push(Hit {
            title: Highlighted::from_marked(&post.title),
            snippet: Highlighted::from_marked(&post.excerpt),
            post,
        });
    }
    Ok(results)
}

/// "Did you mean": each of `words` replaced by the most alike word of the titles found
/// (when one is alike enough), if that changes anything.
pub(super) async fn suggestion(
    db: impl PgExecutor<'_>,
    words: &[String],
    found: &Results,
) -> sqlx::Result<Option<String>> {
    let mut candidates: Vec<String> = found
        .hits
        .iter()
        .flat_map(|h| h.post.title.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    candidates.sort();
    candidates.dedup();
    if candidates.is_empty() {
        return Ok(None);
    }
    let corrected: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(COALESCE(best.word, q.word), ' ' ORDER BY q.n)
           FROM unnest($1::text[]) WITH ORDINALITY AS q(word, n)
           LEFT JOIN LATERAL (
                SELECT c AS word FROM unnest($2::text[]) c
                 WHERE similarity(c, q.word) >= 0.3
                 ORDER BY similarity(c, q.word) DESC, c LIMIT 1) best ON true",
    )
    .bind(words)
    .bind(&candidates)
    .fetch_one(db)
    .await?;
    Ok(corrected.filter(|c| *c != words.join(" ")))
}

/// The query, the parameter `$text` in the configuration `$config`: `query`; `words`, any
/// one word of it (its ANDs made ORs, what it excludes left out), which a body must match
/// to be searched for a passage; and `lexemes`, the words it looks for (those of
/// `querytree`), which the highlights are cut around (`passage`).
macro_rules! query_cte {
    ($text:literal, $config:literal) => {
        concat!(
            "WITH q AS (
                 SELECT query, CASE WHEN t IN ('', 'T') THEN query
                                    ELSE replace(t, ' & ', ' | ')::tsquery END AS words,
                        (SELECT coalesce(array_agg(DISTINCT replace(m[1], '''''', '''')), '{}')
                           FROM regexp_matches(t, '''((?:[^'']|'''')+)''', 'g') m) AS lexemes
                   FROM websearch_to_tsquery(",
            $config,
            "::oid::regconfig, ",
            $text,
            ") query, querytree(query) t)"
        )
    };
}

/// What the highlights of the post `hits` (its `id`, `title` and `excerpt`) are cut from:
/// `body_start`, the first `$chars` characters of its body, and `body_longer`, whether there
/// is more. The body is read for the page's rows only, and only its start: a post may hold
/// 1 MiB (a match further in is found by `Searching::passages`).
macro_rules! snippet_source {
    ($chars:literal) => {
        concat!(
            "CROSS JOIN LATERAL (
                 SELECT left(t.body_text, ",
            $chars,
            ") AS body_start,
                        octet_length(t.body_text) > octet_length(left(t.body_text, ",
            $chars,
            ")) AS body_longer
                   FROM posts t WHERE t.id = hits.id) b"
        )
    };
}

/// Matches of `$1` (`$matches`, a condition on `p`), filtered by
/// tag `$4` and author `$5`, in `$order`, one page (`$2` rows from `$3`), then what the
/// page's highlights are cut from (`$6` characters of each body, `snippet_source`).
/// The tsquery is written inline (`websearch_to_tsquery(…)`) where the planner should see
/// the words to tell a common one, or as `q.query` where it should not walk the date index.
/// `$rank` is the vector ranked by, `$outer_order` the order again over `hits`.
macro_rules! hits {
    ($rank:literal, $matches:literal, $order:literal, $outer_order:literal) => {
        concat!(
            query_cte!("$1", "$7"),
            ",
             hits AS (
                 SELECT p.id, p.author_id, p.slug, p.title, p.excerpt, p.reading_minutes,
                        p.cover_image, p.published_at, u.username AS author_username,
                        u.display_name AS author_name, p.tag_list AS tags,
                        ts_rank_cd(",
            $rank,
            ", q.query) AS rank
                   FROM published_posts p
                   JOIN users u ON u.id = p.author_id
                  CROSS JOIN q
                  WHERE ",
            $matches,
            " AND ($4::text IS NULL
                       OR p.tag_list @> jsonb_build_array(jsonb_build_object('slug', $4::text)))
                    AND ($5::text IS NULL OR u.username = $5)
                  ORDER BY ",
            $order,
            " LIMIT $2 OFFSET $3)
             SELECT hits.*, b.body_start, b.body_longer, q.lexemes
               FROM hits CROSS JOIN q ",
            snippet_source!("$6"),
            " ORDER BY ",
            $outer_order
        )
    };
}

/// How many posts match `$matches`, counting at most `$4` ($1 words, $2 tag, $3 author):
/// a GIN bitmap scan (or, for a word in most posts, a read in order) that stops at the cap.
macro_rules! count {
    ($matches:literal) => {
        concat!(
            "SELECT count(*) FROM (
                 SELECT 1
                   FROM published_posts p
                   JOIN users u ON u.id = p.author_id
                  WHERE ",
            $matches,
            " AND ($2::text IS NULL
                       OR p.tag_list @> jsonb_build_array(jsonb_build_object('slug', $2::text)))
                    AND ($3::text IS NULL OR u.username = $3)
                  LIMIT $4) m"
        )
    };
}

/// Queries that match more posts than this are not ranked as a whole: ranking reads every
/// match's whole vector from TOAST (about 13 µs each here: 534 matches took 7 ms). Their
/// results are the posts matched in the title, tags or excerpt (ranked by those when there
/// are at most `COUNTED_AT_MOST`, else newest first), then those matched only in the body,
/// newest first.
pub const RANKED_AT_MOST: i64 = 100;

/// Matches are counted up to this; beyond, the page says "More than 1,000".
pub const COUNTED_AT_MOST: i64 = 1_000;

/// When the estimate (`estimate`: PostgreSQL's rule, from its statistics) says more posts
/// than this match in their head, none are counted: counting even to `COUNTED_AT_MOST` read
/// about 3,400 posts' heads for a word in a third of 100,000 posts (8.7 ms, the bulk of such
/// a search), and "About 48,000" tells a reader as much. The statistics keep the commonest
/// words, so a rare word is estimated low, and counted.
pub const ESTIMATED_FROM: i64 = 10_000;

/// The statements, public so the index test can `EXPLAIN` exactly these. Each page
/// statement takes $1 query text, $2 limit, $3 offset, $4 tag slug, $5 author username,
/// $6 snippet source length, $7 the text-search configuration's oid; each count $1 query text, $2 tag, $3 author, $4 cap,
/// $5 the configuration's oid.
pub mod sql {
    /// Every match ranked by its whole vector: for at most `RANKED_AT_MOST` matches.
    pub const FULL_TEXT: &str = hits!(
        "p.search_doc",
        "p.search_doc @@ q.query",
        "rank DESC, p.published_at DESC, p.id DESC",
        "hits.rank DESC, hits.published_at DESC, hits.id DESC"
    );
    pub const COUNT: &str = count!("p.search_doc @@ websearch_to_tsquery($5::oid::regconfig, $1)");
    pub const COUNT_HEAD: &str =
        count!("p.search_head @@ websearch_to_tsquery($5::oid::regconfig, $1)");
    pub const COUNT_BODY_ONLY: &str = count!(
        "p.search_doc @@ websearch_to_tsquery($5::oid::regconfig, $1)
         AND NOT p.search_head @@ websearch_to_tsquery($5::oid::regconfig, $1)"
    );
    /// At most `COUNTED_AT_MOST` head matches, ranked by the head (small: stored inline).
    pub const HEAD_RANKED: &str = hits!(
        "p.search_head",
        "p.search_head @@ q.query",
        "rank DESC, p.published_at DESC, p.id DESC",
        "hits.rank DESC, hits.published_at DESC, hits.id DESC"
    );
    /// Many head matches, newest first: the date index is walked and stops after a page
    /// (the words are common, so a page is found within a few hundred posts).
    pub const HEAD_NEWEST: &str = hits!(
        "p.search_head",
        "p.search_head @@ websearch_to_tsquery($7::oid::regconfig, $1)",
        "p.published_at DESC, p.id DESC",
        "hits.published_at DESC, hits.id DESC"
    );
    /// At most `COUNTED_AT_MOST` matches only in the body, newest first, found by the GIN
    /// index (the order is an expression the date index can't serve, so it isn't walked).
    pub const BODY_FEW: &str = hits!(
        "p.search_head",
        "p.search_doc @@ q.query AND NOT p.search_head @@ q.query",
        "p.published_at + interval '0' DESC, p.id DESC",
        "hits.published_at DESC, hits.id DESC"
    );
    /// Many matches only in the body, newest first, walking the date index.
    pub const BODY_MANY: &str = hits!(
        "p.search_head",
        "p.search_doc @@ websearch_to_tsquery($7::oid::regconfig, $1)
         AND NOT p.search_head @@ websearch_to_tsquery($7::oid::regconfig, $1)",
        "p.published_at DESC, p.id DESC",
        "hits.published_at DESC, hits.id DESC"
    );
    /// A search's first statement: the configuration's oid, the words the query looks for
    /// (`lexemes`: those of `querytree`, which leaves out what the query excludes), whether
    /// any one of them is enough (`any`: the query has an `or`), and, set for the rest of
    /// the transaction, plans made for each statement's words (see `search`). $1 query text.
    pub const START: &str = "SELECT s.language::oid AS config,
                (SELECT coalesce(array_agg(DISTINCT replace(m[1], '''''', '''')), '{}')
                   FROM regexp_matches(t, '''((?:[^'']|'''')+)''', 'g') m) AS lexemes,
                strpos(t, ' | ') > 0 AS any,
                set_config('plan_cache_mode', 'force_custom_plan', true) AS plan_cache_mode
           FROM search_settings s, querytree(websearch_to_tsquery(s.language, $1)) t";
    /// What the snippets of the posts `$2` (ids) are cut from, as the page statements give
    /// it, and whether each contains the query's words as PostgreSQL reads them: $1 query
    /// text, $3 snippet source length, $4 the configuration's oid.
    pub const SNIPPETS: &str = concat!(
        query_cte!("$1", "$4"),
        " SELECT hits.id, hits.title, hits.excerpt, b.body_start, b.body_longer, q.lexemes,
                 hits.search_doc @@ q.query AS contains
           FROM posts hits CROSS JOIN q ",
        snippet_source!("$3"),
        " WHERE hits.id = ANY($2)"
    );
    /// The whole text of those of the posts `$1` whose body matches the query `$2` ($3 the
    /// configuration's oid).
    pub const BODIES: &str = concat!(
        query_cte!("$2", "$3"),
        " SELECT id, body_text FROM posts CROSS JOIN q
           WHERE id = ANY($1) AND search_body @@ q.words"
    );
    /// Which of the words `$1` are forms of the lexemes `$3` ($2 the configuration's oid).
    pub const FORMS_OF: &str = "SELECT w FROM unnest($1::text[]) w
          WHERE tsvector_to_array(to_tsvector($2::oid::regconfig, w)) && $3::text[]";
    /// $1 limit, $2 offset, $3 tag slug, $4 author username, $5–$9 words, $10 how many
    /// titles to consider (`SIMILAR_AT_MOST` + 1).
    pub const SIMILAR_TITLES: &str = "WITH candidates AS (
             SELECT p.id, p.author_id, p.slug, p.title, p.excerpt, p.reading_minutes,
                    p.cover_image, p.published_at, u.username AS author_username,
                    u.display_name AS author_name, p.tag_list AS tags,
                    (SELECT max(word_similarity(w, lower(p.title)))
                       FROM unnest(ARRAY[$5::text, $6, $7, $8, $9]) w) AS likeness
               FROM published_posts p
               JOIN users u ON u.id = p.author_id
              WHERE ($5::text <% lower(p.title) OR $6::text <% lower(p.title)
                     OR $7::text <% lower(p.title) OR $8::text <% lower(p.title)
                     OR $9::text <% lower(p.title))
                AND ($3::text IS NULL
                     OR p.tag_list @> jsonb_build_array(jsonb_build_object('slug', $3::text)))
                AND ($4::text IS NULL OR u.username = $4)
              LIMIT $10)
         SELECT *, count(*) OVER () AS total
           FROM candidates
          ORDER BY likeness DESC, published_at DESC, id DESC
          LIMIT $1 OFFSET $2";
}

/// Make the index use PostgreSQL's text-search configuration `language`; when it was
/// another, every post's vector is rebuilt (true). An unknown name stops start-up.
pub async fn apply_language(db: &PgPool, language: &str) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "UPDATE search_settings SET language = $1::regconfig WHERE language <> $1::regconfig",
    )
    .bind(language)
    .execute(&mut *tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("42704") => anyhow::anyhow!(
            "search.language: PostgreSQL has no text search configuration named {language:?}"
        ),
        e => e.into(),
    })?
    .rows_affected()
        > 0;
    if changed {
        // `title = title` fires the trigger, which rebuilds the rest of the vector.
        sqlx::query(
            "UPDATE posts SET search_body = search_body_vector(search_language(), body_text),
                              title = title",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// The PostgreSQL full-text backend.
pub struct Postgres;

impl Backend for Postgres {
    async fn search(
        &self,
        db: &PgPool,
        query: &Query,
        limit: i64,
        offset: i64,
    ) -> Result<Results, SearchError> {
        Ok(search(db, query, limit, offset).await?)
    }
}

/// One page of published posts matching `query`, best first (then newest).
pub async fn search(db: &PgPool, query: &Query, limit: i64, offset: i64) -> sqlx::Result<Results> {
    if query.text.is_empty() {
        return Ok(Results::default());
    }
    let mut tx = db.begin().await?;
    // Plans made for these words (`plan_cache_mode = force_custom_plan`, set by `START` for
    // this transaction): a prepared statement's generic plan can't tell a word in half the
    // posts from a rare one, and picked a plan that read 30,000 of them for a page. The
    // estimate below decides which statement runs, but each is still planned for its words:
    // their tag and author conditions drop out, and the planner picks the GIN index or the
    // date index by how common the words are. `START` itself is planned once (it runs
    // before the setting takes effect).
    let (config, lexemes, any): (Oid, Vec<String>, bool) = sqlx::query_as(sql::START)
        .bind(&query.text)
        .fetch_one(&mut *tx)
        .await?;
    // A filter makes the estimate (of the words alone) too high: those are counted.
    let estimate = match (&query.tag, &query.author) {
        (None, None) => {
            let database = db.connect_options().get_database().unwrap_or("").to_owned();
            estimate::stats(&mut *tx, &database)
                .await?
                .estimate(&lexemes, any)
        }
        _ => Estimate::default(),
    };
    let mut q = Searching { tx, query, config };
    // A word so common that counting would cost more than the page: the estimate stands.
    if estimate.heads > ESTIMATED_FROM {
        let mut results = q.many(i64::MAX, limit, offset).await?;
        results.total = estimate.matches.max(estimate.heads);
        results.counted = Counted::About;
        return Ok(results);
    }
    // Heads first: their vectors are small, and when more than can be counted match, so
    // does the whole, which need not be counted then.
    let heads = q.count(sql::COUNT_HEAD, COUNTED_AT_MOST + 1).await?;
    let matches = match heads > COUNTED_AT_MOST {
        true => heads,
        false => q.count(sql::COUNT, COUNTED_AT_MOST + 1).await?,
    };
    if matches > RANKED_AT_MOST {
        let mut results = q.many(heads, limit, offset).await?;
        results.total = matches;
        if matches > COUNTED_AT_MOST {
            results.counted = Counted::MoreThan;
        }
        return Ok(results);
    }
    if matches > 0 {
        let mut results = q.page(sql::FULL_TEXT, limit, offset).await?;
        results.total = matches;
        return Ok(results);
    }
    // Nothing: perhaps a word is misspelled. Titles with a word like each of the query's.
    let words = typo_words(&query.text);
    if words.is_empty() {
        return Ok(Results::default());
    }
    // In the transaction, so planned for these words: a generic plan can't drop the
    // absent words' conditions and read every title (24 ms at 100,000 posts).
    let mut results = similar_titles(&mut *q.tx, query, &words, limit, offset).await?;
    results.approximate = true;
    results.suggestion = suggestion(&mut *q.tx, &words, &results).await?;
    Ok(results)
}

/// A post's snippet for a query (see `snippets`).
#[derive(Debug, Clone)]
pub struct Snippet {
    /// The passage around the first matched word of the excerpt or body; `None` when neither
    /// has one as PostgreSQL reads the words (then the excerpt says more).
    pub marked: Option<Highlighted>,
    /// The post contains the query's words as PostgreSQL reads them (stemmed): found by
    /// them, not by words spelled like them.
    pub contains: bool,
}

/// The snippets of the posts `ids` for `query`, cut as this backend cuts its own: how
/// Meilisearch's hits get theirs (one rule for both backends; having Meilisearch crop every
/// 12 KiB part of a body took it 250 ms for a 2 MiB one, near its search timeout).
pub async fn snippets(
    db: &PgPool,
    query: &Query,
    ids: &[PostId],
) -> sqlx::Result<HashMap<PostId, Snippet>> {
    let mut tx = db.begin().await?;
    let config = config(&mut *tx).await?;
    let raw: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let rows = sqlx::query(sql::SNIPPETS)
        .bind(&query.text)
        .bind(&raw)
        .bind(SNIPPET_SOURCE_CHARS)
        .bind(config)
        .fetch_all(&mut *tx)
        .await?;
    let mut sources = Vec::with_capacity(rows.len());
    let mut contains = Vec::with_capacity(rows.len());
    for row in &rows {
        sources.push(Source::from_row(row)?);
        contains.push(row.try_get::<bool, _>("contains")?);
    }
    let mut q = Searching { tx, query, config };
    let marked = q.highlights(&sources).await?;
    Ok(sources
        .iter()
        .zip(marked)
        .zip(contains)
        .map(|((source, marked), contains)| {
            let snippet = Snippet {
                marked: marked.snippet.as_deref().map(Highlighted::from_marked),
                contains,
            };
            (source.id, snippet)
        })
        .collect())
}

/// What a post's highlights are cut from (a row of a page statement or of `sql::SNIPPETS`).
#[derive(FromRow)]
struct Source {
    id: PostId,
    title: String,
    excerpt: String,
    /// The body's first `SNIPPET_SOURCE_CHARS` characters.
    body_start: String,
    /// The body goes on past `body_start`.
    body_longer: bool,
    /// The query's lexemes (the same on every row).
    lexemes: Vec<String>,
}

impl Source {
    /// The text the snippet is cut from: the excerpt (unless it was cut from the body's
    /// start), then the body's start.
    fn snippet_text(&self) -> String {
        let same_start = self
            .excerpt
            .chars()
            .take(40)
            .eq(self.body_start.chars().take(40));
        match same_start {
            true => self.body_start.clone(),
            false => format!("{}\n{}", self.excerpt, self.body_start),
        }
    }
}

/// A post's highlights, marked with `\u{1}` and `\u{2}` (see `Highlighted::from_marked`).
struct Marked {
    title: String,
    /// `None`: no matched word in the excerpt or the body (then the excerpt says more).
    snippet: Option<String>,
}

/// The text-search configuration's oid, bound into the statements: written as a constant
/// the query's words are parsed once per statement, not once per row as a call to
/// `search_language()` is, and the planner sees them to judge how common they are.
async fn config(db: impl PgExecutor<'_>) -> sqlx::Result<Oid> {
    sqlx::query_scalar("SELECT language::oid FROM search_settings")
        .fetch_one(db)
        .await
}

/// One search's statements, in one transaction, with what each binds.
struct Searching<'a> {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    query: &'a Query,
    config: Oid,
}

impl Searching<'_> {
    /// A page of a query with more than `RANKED_AT_MOST` matches: head matches, then the
    /// rest. `heads` is how many match in their head, counted up to `COUNTED_AT_MOST` + 1.
    async fn many(&mut self, heads: i64, limit: i64, offset: i64) -> sqlx::Result<Results> {
        if heads > COUNTED_AT_MOST {
            // Many heads: newest first, walking the date index. Where they end, the
            // body-only matches follow (their count is exact only then: paging that far is
            // rare).
            let mut results = self.page(sql::HEAD_NEWEST, limit, offset).await?;
            let shown = results.hits.len() as i64;
            if shown == limit {
                return Ok(results);
            }
            let heads = match shown {
                0 => self.count(sql::COUNT_HEAD, i64::MAX).await?,
                _ => offset + shown,
            };
            let rest = self
                .body_only(limit - shown, (offset + shown - heads).max(0))
                .await?;
            results.hits.extend(rest.hits);
            return Ok(results);
        }
        let mut results = Results::default();
        if offset < heads {
            results = self.page(sql::HEAD_RANKED, limit, offset).await?;
        }
        let shown = results.hits.len() as i64;
        if shown < limit {
            let rest = self
                .body_only(limit - shown, (offset - heads).max(0))
                .await?;
            results.hits.extend(rest.hits);
        }
        Ok(results)
    }

    /// Matches only in the body, newest first, by the statement that suits how many.
    async fn body_only(&mut self, limit: i64, offset: i64) -> sqlx::Result<Results> {
        let found = self
            .count(sql::COUNT_BODY_ONLY, COUNTED_AT_MOST + 1)
            .await?;
        let statement = match found <= COUNTED_AT_MOST {
            true => sql::BODY_FEW,
            false => sql::BODY_MANY,
        };
        self.page(statement, limit, offset).await
    }

    /// How many posts match `statement` (one of the counts), up to `cap`.
    async fn count(&mut self, statement: &'static str, cap: i64) -> sqlx::Result<i64> {
        sqlx::query_scalar(statement)
            .bind(&self.query.text)
            .bind(&self.query.tag)
            .bind(&self.query.author)
            .bind(cap)
            .bind(self.config)
            .fetch_one(&mut *self.tx)
            .await
    }

    /// One page of `statement` (one of the page statements), with its highlights.
    async fn page(
        &mut self,
        statement: &'static str,
        limit: i64,
        offset: i64,
    ) -> sqlx::Result<Results> {
        let rows = sqlx::query(statement)
            .bind(&self.query.text)
            .bind(limit)
            .bind(offset)
            .bind(&self.query.tag)
            .bind(&self.query.author)
            .bind(SNIPPET_SOURCE_CHARS)
            .bind(self.config)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut sources = Vec::with_capacity(rows.len());
        let mut posts = Vec::with_capacity(rows.len());
        for row in &rows {
            sources.push(Source::from_row(row)?);
            posts.push(PostSummary::from_row(row)?);
        }
        let marked = self.highlights(&sources).await?;
        let mut results = Results::default();
        for (post, marked) in posts.into_iter().zip(marked) {
            results.hits.push(Hit {
                title: Highlighted::from_marked(&marked.title),
                // No match in the excerpt or body (only in the title or tags): the excerpt
                // says more than the text's first few words.
                snippet: Highlighted::from_marked(
                    marked.snippet.as_deref().unwrap_or(&post.excerpt),
                ),
                post,
            });
        }
        Ok(results)
    }

    /// The highlights of `sources`: one statement to learn which of their words are forms
    /// of the query's (none when no word could be), and for a post whose only matches are
    /// past its body's start, those of `passages`.
    async fn highlights(&mut self, sources: &[Source]) -> sqlx::Result<Vec<Marked>> {
        let Some(lexemes) = sources.first().map(|s| &s.lexemes) else {
            return Ok(Vec::new());
        };
        let texts: Vec<String> = sources.iter().map(Source::snippet_text).collect();
        let mut candidates = BTreeSet::new();
        for (source, text) in sources.iter().zip(&texts) {
            passage::candidates(&source.title, lexemes, &mut candidates);
            passage::candidates(text, lexemes, &mut candidates);
        }
        let forms = self.forms(candidates, lexemes).await?;
        let mut marked: Vec<Marked> = sources
            .iter()
            .zip(&texts)
            .map(|(source, text)| Marked {
                title: passage::mark_all(&source.title, &forms),
                snippet: passage::cut(text, &forms),
            })
            .collect();
        let deeper: Vec<PostId> = sources
            .iter()
            .zip(&marked)
            .filter(|(source, marked)| marked.snippet.is_none() && source.body_longer)
            .map(|(source, _)| source.id)
            .collect();
        if !deeper.is_empty() {
            let passages = self.passages(&deeper, lexemes).await?;
            for (source, marked) in sources.iter().zip(&mut marked) {
                if let Some(passage) = passages.get(&source.id) {
                    marked.snippet = Some(passage.clone());
                }
            }
        }
        Ok(marked)
    }

    /// Which of `candidates` are forms of `lexemes`, as PostgreSQL stems them.
    async fn forms(
        &mut self,
        candidates: BTreeSet<String>,
        lexemes: &[String],
    ) -> sqlx::Result<HashSet<String>> {
        if candidates.is_empty() {
            return Ok(HashSet::new());
        }
        let candidates: Vec<String> = candidates.into_iter().collect();
        Ok(sqlx::query_scalar(sql::FORMS_OF)
            .bind(&candidates)
            .bind(self.config)
            .bind(lexemes)
            .fetch_all(&mut *self.tx)
            .await?
            .into_iter()
            .collect())
    }

    /// The passage around the first matched word of each of the bodies of `ids` that match
    /// the query (see `passage`), read whole: two statements, whatever the number of posts.
    async fn passages(
        &mut self,
        ids: &[PostId],
        lexemes: &[String],
    ) -> sqlx::Result<HashMap<PostId, String>> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        let bodies: Vec<(PostId, String)> = sqlx::query_as(sql::BODIES)
            .bind(&ids)
            .bind(&self.query.text)
            .bind(self.config)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut candidates = BTreeSet::new();
        for (_, body) in &bodies {
            passage::candidates(body, lexemes, &mut candidates);
        }
        let forms = self.forms(candidates, lexemes).await?;
        Ok(bodies
            .iter()
            .filter_map(|(id, body)| Some((*id, passage::cut(body, &forms)?)))
            .collect())
    }
}

/// The words a typo fallback looks for: letters and digits, three or more, at most five.
pub(super) fn typo_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !matches!(*w, "or" | "and" | "not"))
        .map(str::to_lowercase)
        .take(5)
        .collect()
}
