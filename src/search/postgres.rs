//! The PostgreSQL backend: `posts.search_doc` (title A, tag names B, excerpt C, body D; kept
//! by a trigger) under a GIN index, `websearch_to_tsquery` for the reader's syntax,
//! `ts_rank_cd` for the order and `ts_headline` for the snippets.

use sqlx::{FromRow, PgExecutor, PgPool, Row};

use super::{Hit, Query, Results};
use crate::{posts::model::PostSummary, render::markdown::Highlighted};

/// How much of a body the snippet is cut from: `ts_headline` reads all the text it is given,
/// and a 1 MiB body would cost every result row a large parse.
const SNIPPET_SOURCE_CHARS: i32 = 20_000;

/// Highlight markers: control characters, which no stored text can contain (forms strip
/// them), so the text around them can be escaped and the markers turned into `<mark>`.
const OPTIONS: &str = "StartSel=\u{1},StopSel=\u{2},MaxFragments=2,MinWords=8,MaxWords=24,\
                       FragmentDelimiter=\u{3}";
const TITLE_OPTIONS: &str = "StartSel=\u{1},StopSel=\u{2},HighlightAll=true";

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

/// One page of published posts matching `query`, best first (then newest).
pub async fn search(
    db: impl PgExecutor<'_>,
    query: &Query,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Results> {
    if query.text.is_empty() {
        return Ok(Results::default());
    }
    let rows = sqlx::query(
        "WITH q AS (SELECT websearch_to_tsquery(search_language(), $1) AS query)
         SELECT p.id, p.author_id, p.slug, p.title, p.excerpt, p.reading_minutes,
                p.cover_image, p.published_at, u.username AS author_username,
                u.display_name AS author_name, p.tag_list AS tags,
                ts_headline(search_language(), search_display(p.title), q.query, $7)
                    AS title_marked,
                ts_headline(search_language(), search_display(
                                -- The excerpt, unless it was cut from the body's start.
                                CASE WHEN left(p.body_text, 40) = left(p.excerpt, 40)
                                     THEN '' ELSE p.excerpt || E'\\n' END
                                || left(p.body_text, $6)), q.query, $8)
                    AS snippet_marked,
                count(*) OVER () AS total
           FROM published_posts p
           JOIN users u ON u.id = p.author_id
          CROSS JOIN q
          WHERE p.search_doc @@ q.query
            AND ($4::text IS NULL
                 OR p.tag_list @> jsonb_build_array(jsonb_build_object('slug', $4::text)))
            AND ($5::text IS NULL OR u.username = $5)
          ORDER BY ts_rank_cd(p.search_doc, q.query) DESC, p.published_at DESC, p.id DESC
          LIMIT $2 OFFSET $3",
    )
    .bind(&query.text)
    .bind(limit)
    .bind(offset)
    .bind(&query.tag)
    .bind(&query.author)
    .bind(SNIPPET_SOURCE_CHARS)
    .bind(TITLE_OPTIONS)
    .bind(OPTIONS)
    .fetch_all(db)
    .await?;
    let mut results = Results::default();
    for row in &rows {
        results.total = row.try_get("total")?;
        let title: String = row.try_get("title_marked")?;
        let snippet: String = row.try_get("snippet_marked")?;
        let post = PostSummary::from_row(row)?;
        // No match in the text searched for snippets (only in the title or tags, or past
        // the snippet's source): the excerpt says more than the text's first few words.
        let snippet = match snippet.contains('\u{1}') {
            true => Highlighted::from_marked(&snippet.replace('\u{3}', " … ")),
            false => Highlighted::from_marked(&post.excerpt),
        };
        results.hits.push(Hit {
            title: Highlighted::from_marked(&title),
            snippet,
            post,
        });
    }
    Ok(results)
}
