//! The reader queries use indexes, not sequential scans, at 100,000 posts.

use quire::posts::repo::sql;

use crate::harness::TestDb;

/// Fill the database with 100k published posts by 50 authors over 20 tags, in SQL, and let
/// the planner see realistic statistics. Triggers are off for the bulk load (one row-level
/// refresh per link would take a minute), so the copies they keep are filled in directly.
async fn hundred_thousand_posts(db: &sqlx::PgPool) {
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         INSERT INTO users (username, email, display_name)
           SELECT 'author' || i, 'author' || i || '@example.com', 'Author ' || i
             FROM generate_series(1, 50) i;
         INSERT INTO tags (slug, name) SELECT 'tag-' || i, 'Tag ' || i FROM generate_series(1, 20) i;
         INSERT INTO posts (author_id, title, slug, excerpt, body_markdown, body_html, status, published_at)
           SELECT (SELECT min(id) FROM users) + i % 50, 'Post ' || i, 'post-' || i, 'Excerpt', 'Body',
                  '<p>Body</p>', CASE WHEN i % 10 = 0 THEN 'draft' ELSE 'published' END::post_status,
                  CASE WHEN i % 10 = 0 THEN NULL ELSE now() - make_interval(mins => i) END
             FROM generate_series(1, 100000) i;
         INSERT INTO post_tags (post_id, tag_id, published_at)
           SELECT p.id, t.id, p.published_at FROM posts p JOIN tags t ON t.slug = 'tag-' || (1 + p.id % 20)
         UNION
           SELECT p.id, t.id, p.published_at FROM posts p JOIN tags t ON t.slug = 'tag-' || (1 + (p.id * 7) % 20);
         UPDATE posts SET search_head = setweight(to_tsvector('english', title), 'A')
                                        || setweight(to_tsvector('english', excerpt), 'C');
         UPDATE posts SET search_doc = search_head || setweight(to_tsvector('english', body_markdown), 'D');
         SET session_replication_role = DEFAULT;
         -- The triggers were off: count the listed posts as the migration does.
         UPDATE post_totals SET listed = (SELECT count(*) FROM posts
           WHERE deleted_at IS NULL AND status <> 'draft' AND published_at IS NOT NULL);
         ANALYZE;",
    )
    .execute(db)
    .await
    .unwrap();
}

/// The planner's estimated total cost of a plan (its first line's `cost=…..N`): reading
/// all 100,000 posts costs about 60,000.
fn total_cost(plan: &str) -> f64 {
    plan.split("..")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::MAX)
}

/// `explain` (`EXPLAIN …`) of one of the search page statements, for `word` from `offset`.
async fn explain_search(
    db: &sqlx::PgPool,
    explain: &str,
    statement: &str,
    word: &str,
    offset: i64,
) -> String {
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("{explain} {statement}")))
        .bind(word)
        .bind(11_i64)
        .bind(offset)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(4_000_i32)
        .bind(config(db).await)
        .fetch_all(db)
        .await
        .unwrap()
        .join("\n")
}

/// The text-search configuration's oid, which the search statements take.
async fn config(db: &sqlx::PgPool) -> sqlx::postgres::types::Oid {
    sqlx::query_scalar("SELECT language::oid FROM search_settings")
        .fetch_one(db)
        .await
        .unwrap()
}

/// The most rows any step of an `EXPLAIN ANALYZE` read from `posts` (or its indexes).
fn most_rows_read(plan: &str) -> u64 {
    let number = |line: &str, after: &str| -> Option<u64> {
        let rest = line.split(after).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let mut most = 0;
    let mut last_read = 0;
    for line in plan.lines() {
        if line.contains(" on posts") || line.contains("Bitmap Index Scan") {
            last_read = number(line, "actual rows=").unwrap_or(0);
            most = most.max(last_read);
        }
        // Rows a scan read and threw away count as read.
        if let Some(removed) = number(line, "Rows Removed by Filter: ") {
            most = most.max(last_read + removed);
        }
    }
    most
}

/// What a list's third parameter names: an author's id or a tag's slug.
#[derive(Clone, Copy)]
enum Filter {
    Id(i64),
    Slug(&'static str),
}

async fn plan(db: &sqlx::PgPool, sql: &str, offset: i64, filter: Option<Filter>) -> String {
    let explain = format!("EXPLAIN {sql}");
    let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(explain))
        .bind(11_i64)
        .bind(offset);
    match filter {
        Some(Filter::Id(id)) => q = q.bind(id),
        Some(Filter::Slug(slug)) => q = q.bind(slug),
        None => {}
    }
    q.fetch_all(db).await.unwrap().join("\n")
}

#[tokio::test]
async fn reader_lists_use_indexes_at_a_hundred_thousand_posts() {
    let db = TestDb::new().await;
    hundred_thousand_posts(&db.pool).await;
    let author: i64 = sqlx::query_scalar("SELECT min(id) FROM users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    for (name, sql, filter) in [
        ("home", sql::HOME, None),
        ("home, first page", sql::HOME_FIRST, Some(Filter::Id(3))),
        ("tag", sql::BY_TAG, Some(Filter::Slug("tag-3"))),
        ("author", sql::BY_AUTHOR, Some(Filter::Id(author))),
    ] {
        for offset in [0, 100] {
            let plan = plan(&db.pool, sql, offset, filter).await;
            assert!(
                !plan.contains("Seq Scan on posts"),
                "{name} page at offset {offset}:\n{plan}"
            );
            assert!(plan.contains("Index"), "{name}:\n{plan}");
        }
    }
    let plan =
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {}", sql::SHOW)))
            .bind("post-77")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .join("\n");
    assert!(plan.contains("posts_slug_key"), "post page:\n{plan}");
    // Run, not only planned: the way onward (previous, next, related posts sharing tags of
    // 9,000 posts each) reads a few hundred rows, off indexes.
    let plan = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) {}",
        sql::SHOW
    )))
    .bind("post-50001")
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .join("\n");
    for table in ["posts", "post_tags"] {
        assert!(
            !plan.contains(&format!("Seq Scan on {table} ")),
            "post page:\n{plan}"
        );
    }
    assert!(
        plan.contains("posts_visible_published_at_idx"),
        "post page:\n{plan}"
    );
    assert!(
        plan.contains("post_tags_tag_published_idx"),
        "post page:\n{plan}"
    );
    assert!(most_rows_read(&plan) <= 1_000, "post page:\n{plan}");
    let onward: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT onward FROM ({}) s",
        sql::SHOW
    )))
    .bind("post-50001")
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(onward["previous"]["title"], "Post 50002", "{onward}");
    assert_eq!(onward["next"]["title"], "Post 49999", "{onward}");
    assert_eq!(
        onward["related"].as_array().map(Vec::len),
        Some(3),
        "{onward}"
    );

    // The API's whole-list count: one row and the scheduled posts, not every post.
    let plan = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) {}",
        sql::LISTED_NOW
    )))
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .join("\n");
    assert!(most_rows_read(&plan) < 100, "articles count:\n{plan}");
    let listed: i64 = sqlx::query_scalar(sql::LISTED_NOW)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(listed, 90_000);

    // Search: the GIN index for words, the trigram index for a misspelled title word.
    let explain = |sql: &str| format!("EXPLAIN {sql}");
    let plan = explain_search(
        &db.pool,
        "EXPLAIN",
        quire::search::postgres::sql::FULL_TEXT,
        "quokka",
        0,
    )
    .await;
    assert!(plan.contains("posts_search_idx"), "search:\n{plan}");
    assert!(!plan.contains("Seq Scan on posts"), "search:\n{plan}");
    // The capped count, for a rare word and for one in every post.
    for word in ["quokka", "post", "body"] {
        let plan = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(explain(
            quire::search::postgres::sql::COUNT,
        )))
        .bind(word)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(1_001_i64)
        .bind(config(&db.pool).await)
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .join("\n");
        // A rare word through the GIN index; a word in every post may be counted by
        // reading posts in order, which stops at the cap: either way, never the whole table.
        if word == "quokka" {
            assert!(plan.contains("posts_search_idx"), "count {word}:\n{plan}");
        }
        assert!(total_cost(&plan) < 5_000.0, "count {word}:\n{plan}");
    }
    // Too many to rank: a word in every title walks the date index and stops after a page;
    // a word in every body but no title or excerpt finds no heads through their index, then
    // walks. Run, not only planned: no step reads more than a few pages' worth of posts.
    use quire::search::postgres::sql as search_sql;
    for (name, statement, word) in [
        ("heads, newest", search_sql::HEAD_NEWEST, "post"),
        ("heads, ranked", search_sql::HEAD_RANKED, "body"),
        ("body only, many", search_sql::BODY_MANY, "body"),
        ("body only, few", search_sql::BODY_FEW, "quokka"),
    ] {
        for offset in [0_i64, 100] {
            let explain = "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF)";
            let plan = explain_search(&db.pool, explain, statement, word, offset).await;
            assert!(!plan.contains("Seq Scan on posts"), "{name}:\n{plan}");
            assert!(
                most_rows_read(&plan) <= 2_000,
                "{name} at {offset}:\n{plan}"
            );
        }
    }
    let plan = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(explain(
        quire::search::postgres::sql::SIMILAR_TITLES,
    )))
    .bind(11_i64)
    .bind(0_i64)
    .bind(None::<String>)
    .bind(None::<String>)
    .bind("pots")
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(quire::search::postgres::SIMILAR_AT_MOST + 1)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .join("\n");
    assert!(
        plan.contains("posts_title_trgm_idx"),
        "typo search:\n{plan}"
    );
}

/// `post_totals` follows every way a post enters or leaves the list: created published,
/// draft or scheduled, published later, trashed, restored, deleted, many at once.
#[tokio::test]
async fn the_listed_count_follows_every_change() {
    let db = TestDb::new().await;
    let check = async |what: &str| {
        let kept: i64 = sqlx::query_scalar(sql::LISTED_NOW)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let counted: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM posts
              WHERE deleted_at IS NULL AND status <> 'draft' AND published_at <= now()",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(kept, counted, "after {what}");
        kept
    };
    let run = async |sql: &str| {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&db.pool)
            .await
            .unwrap();
    };
    run("INSERT INTO users (username, email, display_name) VALUES ('ada', 'ada@example.com', 'Ada')")
        .await;
    let insert = |slug: &str, status: &str, at: &str| {
        format!(
            "INSERT INTO posts (author_id, title, slug, excerpt, body_markdown, body_html, status, published_at)
             VALUES ((SELECT id FROM users), '{slug}', '{slug}', '', '', '', '{status}', {at})"
        )
    };
    assert_eq!(check("nothing").await, 0);
    run(&insert("one", "published", "now() - interval '1 minute'")).await;
    run(&insert("two", "draft", "NULL")).await;
    run(&insert("three", "scheduled", "now() + interval '1 day'")).await;
    assert_eq!(check("a published, a draft, a scheduled post").await, 1);
    run("UPDATE posts SET status = 'published', published_at = now() WHERE slug = 'two'").await;
    assert_eq!(check("publishing the draft").await, 2);
    run("UPDATE posts SET published_at = now() - interval '1 second' WHERE slug = 'three'").await;
    assert_eq!(check("the scheduled time passing").await, 3);
    run("UPDATE posts SET title = 'One, edited' WHERE slug = 'one'").await;
    assert_eq!(check("an edit").await, 3);
    run("UPDATE posts SET deleted_at = now() WHERE slug IN ('one', 'two')").await;
    assert_eq!(check("trashing two").await, 1);
    run("UPDATE posts SET deleted_at = NULL WHERE slug = 'one'").await;
    assert_eq!(check("a restore").await, 2);
    run("UPDATE posts SET status = 'draft', published_at = NULL WHERE slug = 'three'").await;
    assert_eq!(check("unpublishing").await, 1);
    run("DELETE FROM posts WHERE slug IN ('one', 'two')").await;
    assert_eq!(check("deleting for good").await, 0);
    run(
        "INSERT INTO posts (author_id, title, slug, excerpt, body_markdown, body_html, status, published_at)
         SELECT (SELECT id FROM users), 'Bulk ' || i, 'bulk-' || i, '', '', '',
                CASE WHEN i % 4 = 0 THEN 'draft' ELSE 'published' END::post_status,
                CASE WHEN i % 4 = 0 THEN NULL ELSE now() - make_interval(secs => i) END
           FROM generate_series(1, 1000) i",
    )
    .await;
    assert_eq!(check("a bulk insert").await, 750);
}
