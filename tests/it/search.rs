//! Search (issue 11): the same tests against each backend, through the functions and pages
//! the site uses. PostgreSQL full-text search always runs; the Meilisearch copies run against
//! a real server when `MEILI_URL` is set at build time (`build.rs` sets `cfg(meili)`), and
//! are reported as skipped otherwise.

use std::time::Duration;

use quire::{
    posts::{model::PostStatus, repo},
    search::{Answered, Counted, MAX_QUERY_CHARS, Query, Results, Search},
};

use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, eventually, spawn_app_with};

/// Which backend a copy of a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Meili,
}

/// The app for `engine`: with Meilisearch, the server `MEILI_URL` names, and an index of
/// this test's own.
pub async fn spawn_for(engine: Engine) -> TestApp {
    spawn_app_with(|s| {
        if engine == Engine::Meili {
            meili_settings(s);
        }
    })
    .await
}

/// Point `settings` at the Meilisearch server of the environment, in a new index.
pub fn meili_settings(settings: &mut quire::config::Settings) {
    let url = std::env::var("MEILI_URL").expect("MEILI_URL is set for Meilisearch tests");
    settings.search.meili_url = Some(url.parse().expect("MEILI_URL is a URL"));
    settings.search.meili_master_key = std::env::var("MEILI_MASTER_KEY")
        .ok()
        .map(secrecy::SecretString::from);
    settings.search.meili_index = format!("quire_test_{}", uuid::Uuid::new_v4().simple());
}

/// The backend that should answer once the outbox is empty.
fn engine_of(app: &TestApp) -> Engine {
    match app.settings.search.meili_url {
        Some(_) => Engine::Meili,
        None => Engine::Postgres,
    }
}

/// Wait until the app's worker has sent every queued change to Meilisearch (no wait with
/// PostgreSQL, which is always current).
pub async fn settle(app: &TestApp) {
    if engine_of(app) == Engine::Postgres {
        return;
    }
    eventually(
        "the search outbox to drain",
        Duration::from_secs(15),
        || async {
            let (left, _) = quire::search::outbox::pending(&app.db)
                .await
                .expect("outbox");
            if left == 0 {
                Ok(())
            } else {
                Err(format!("{left} posts queued"))
            }
        },
    )
    .await
}

async fn find_page(app: &TestApp, query: Query, limit: i64, offset: i64) -> Results {
    settle(app).await;
    let search = Search::new(&app.settings.search).expect("search settings");
    let (results, answered) = search
        .search(&app.db, &query, limit, offset)
        .await
        .expect("search answers");
    let expected = match engine_of(app) {
        Engine::Postgres => Answered::Postgres,
        Engine::Meili => Answered::Meilisearch,
    };
    assert_eq!(answered, expected, "{query:?}");
    results
}

async fn find(app: &TestApp, query: Query) -> Results {
    find_page(app, query, 10, 0).await
}

async fn titles(app: &TestApp, text: &str) -> Vec<String> {
    find(app, Query::new(text))
        .await
        .hits
        .into_iter()
        .map(|h| h.post.title)
        .collect()
}

async fn post_id(app: &TestApp, slug: &str) -> quire::posts::model::PostId {
    sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .expect("post exists")
}

/// GET a search page once the outbox is empty: 200, answered by this test's backend.
async fn search_page(app: &TestApp, path: &str) -> crate::harness::Page {
    settle(app).await;
    let res = app.get(path).await;
    let backend = res
        .headers()
        .get("x-search-backend")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let expected = match engine_of(app) {
        Engine::Postgres => "postgres",
        Engine::Meili => "meilisearch",
    };
    assert_eq!(backend.as_deref(), Some(expected), "{path}");
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let body = res.text().await.expect("body");
    crate::harness::Page(scraper::Html::parse_document(&body), body)
}

/// Each test twice: `postgres::name` and `meilisearch::name` (skipped without `MEILI_URL`).
macro_rules! on_both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        mod postgres {
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                let $app = spawn_for(Engine::Postgres).await;
                $body
            })*
        }
        mod meilisearch {
            use super::*;
            $(#[tokio::test]
            #[cfg_attr(not(meili), ignore = "MEILI_URL is not set: no Meilisearch to test")]
            async fn $name() {
                let $app = spawn_for(Engine::Meili).await;
                $body
            })*
        }
    };
}

on_both_backends! {

async fn the_whole_post_is_searched_and_a_title_match_ranks_first(app) {
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Notes from the garden",
            body: "Tomatoes again. The **zucchini** took over the *whole* bed.",
            published_in_minutes: -10,
            ..Default::default()
        },
    )
    .await;
    app.post(
        ada,
        PostSpec {
            title: "Zucchini bread",
            body: "A recipe.",
            published_in_minutes: -5,
            ..Default::default()
        },
    )
    .await;
    // A word only deep inside a 1 MiB body, after a megabyte of other words.
    let filler = "lorem ipsum dolor sit amet consectetur ".repeat(1 << 15);
    let deep = format!("{filler}\n\nAt the very end: quokka.");
    assert!(deep.len() > 1 << 20);
    app.post(
        ada,
        PostSpec {
            title: "A long one",
            body: &deep,
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;

    // Stemming: "zucchinis" finds both; the title match comes first.
    assert_eq!(
        titles(&app, "zucchinis").await,
        ["Zucchini bread", "Notes from the garden"]
    );
    assert_eq!(titles(&app, "quokka").await, ["A long one"]);
    // Markup is not text: "strong" (the tag **…** renders to) finds nothing.
    assert!(titles(&app, "strong").await.is_empty());

    let hit = &find(&app, Query::new("zucchini")).await.hits[1];
    assert!(
        hit.snippet.as_str().contains("<mark>zucchini</mark>"),
        "{hit:?}"
    );
    assert!(!hit.snippet.as_str().contains("**"), "{hit:?}");
    let first = &find(&app, Query::new("zucchini")).await.hits[0];
    assert_eq!(first.title.as_str(), "<mark>Zucchini</mark> bread");
}

async fn only_what_readers_can_see_is_found_and_changes_count_at_once(app) {
    let ada = app.author("ada").await;
    let draft = app
        .post(
            ada,
            PostSpec {
                title: "Secret draft about walruses",
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    app.post(
        ada,
        PostSpec {
            title: "Walruses tomorrow",
            status: PostStatus::Scheduled,
            published_in_minutes: 60,
            ..Default::default()
        },
    )
    .await;
    let public = app
        .post(
            ada,
            PostSpec {
                title: "Walruses today",
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(titles(&app, "walrus").await, ["Walruses today"]);

    let id = post_id(&app, &public).await;
    assert!(repo::soft_delete(&app.db, id).await.unwrap());
    assert!(titles(&app, "walrus").await.is_empty());
    assert!(repo::restore(&app.db, id).await.unwrap());
    assert_eq!(titles(&app, "walrus").await, ["Walruses today"]);

    // Publishing the draft makes it findable on the next search.
    sqlx::query("UPDATE posts SET status = 'published', published_at = now() WHERE slug = $1")
        .bind(&draft)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        titles(&app, "walrus").await.len(),
        2,
        "{:?}",
        titles(&app, "walrus").await
    );
}

async fn filters_pages_and_the_total(app) {
    let ada = app.author("ada").await;
    let bob = app.author("bob").await;
    for i in 0..12 {
        app.post(
            if i % 3 == 0 { bob } else { ada },
            PostSpec {
                title: &format!("Kayak trip {i}"),
                tags: if i % 2 == 0 { &["Rivers"] } else { &["Lakes"] },
                published_in_minutes: -(i + 1),
                ..Default::default()
            },
        )
        .await;
    }
    let all = find(&app, Query::new("kayak")).await;
    assert_eq!((all.hits.len(), all.total), (10, 12));
    let second = find_page(&app, Query::new("kayak"), 10, 10).await;
    assert_eq!((second.hits.len(), second.total), (2, 12));

    let mut rivers = Query::new("kayak");
    rivers.tag = Some("rivers".into());
    assert_eq!(find(&app, rivers).await.total, 6);
    let mut bobs = Query::new("kayak");
    bobs.author = Some("bob".into());
    assert_eq!(find(&app, bobs).await.total, 4);
    let mut nobody = Query::new("kayak");
    nobody.author = Some("nobody".into());
    assert_eq!(find(&app, nobody).await.total, 0);
}

async fn hostile_queries_answer_and_snippets_stay_escaped(app) {
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Escaping <b>bold</b> & friends",
            body: "Write `<script>alert(1)</script>` in code, then \"quote\" it & go.",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    let long = "x".repeat(10 * 1024);
    for q in [
        "\"",
        "(",
        ")",
        ":*",
        "!!",
        "&|",
        "\\",
        "'",
        "%00",
        "\0",
        "🦀 crab",
        "a:* & !b",
        "-",
        "or",
        "\"unclosed phrase",
        long.as_str(),
        "\t\r\n",
    ] {
        let query = Query::new(q);
        assert!(query.text.chars().count() <= MAX_QUERY_CHARS);
        let search = Search::new(&app.settings.search).expect("search settings");
        search
            .search(&app.db, &query, 10, 0)
            .await
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    let hit = &find(&app, Query::new("script alert")).await.hits[0];
    let html = format!("{} {}", hit.title, hit.snippet);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;<mark>script</mark>&gt;"), "{html}");
    let marks = html.matches("<mark>").count();
    assert!(
        marks >= 1 && marks == html.matches("</mark>").count(),
        "{html}"
    );
    assert_eq!(
        html.replace("<mark>", "")
            .replace("</mark>", "")
            .matches('<')
            .count(),
        0
    );
}

async fn the_search_page_finds_highlights_and_pages(app) {
    let ada = app.author("ada").await;
    for i in 0..12 {
        app.post(
            ada,
            PostSpec {
                title: &format!("Lighthouse log {i}"),
                body: "The `<lamp>` & the lens, kept by hand.",
                tags: &["Coast"],
                published_in_minutes: -(i + 1),
                ..Default::default()
            },
        )
        .await;
    }

    // Every page's header has a labelled search form that lands here.
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(
        home.attr("header form[role=search]", "action").as_deref(),
        Some("/search")
    );
    assert_eq!(
        home.attr("header form[role=search] input", "name")
            .as_deref(),
        Some("q")
    );
    let id = home.attr("header form[role=search] input", "id").unwrap();
    assert_eq!(home.texts(&format!("label[for={id}]")).len(), 1);

    let empty = app.page("/search", StatusCode::OK).await;
    assert!(empty.texts(".result").is_empty());
    assert_eq!(empty.attr("#search-q", "value").as_deref(), Some(""));

    let first = search_page(&app, "/search?q=lighthouse").await;
    assert_eq!(first.text(".result-count"), "12 results for “lighthouse”");
    assert_eq!(first.texts(".result").len(), 10);
    assert_eq!(first.text(".result h2"), "Lighthouse log 0");
    assert!(first.contains("<mark>Lighthouse</mark> log 0"));
    assert!(first.contains("&lt;lamp&gt; &amp; the lens"));
    assert!(first.contains("<meta name=\"robots\" content=\"noindex\">"));
    let next = first.attr(".pager a[rel=next]", "href").unwrap();
    assert_eq!(next, "/search?q=lighthouse&page=2");
    let second = search_page(&app, &next).await;
    assert_eq!(second.texts(".result").len(), 2);
    assert!(second.attr(".pager a[rel=next]", "href").is_none());

    // Filters, a query with nothing found, a page past the end.
    let filtered = search_page(&app, "/search?q=lens&tag=coast&author=ada").await;
    assert!(filtered.text(".result-count").starts_with("12 results"));
    let none = search_page(&app, "/search?q=lighthouse&author=nobody").await;
    assert!(none.text(".empty").starts_with("No posts match"));
    app.page("/search?q=lighthouse&page=9", StatusCode::OK)
        .await;
}

async fn hostile_search_addresses_answer_with_a_page_never_a_500(app) {
    let long = format!("/search?q={}", "a".repeat(10 * 1024));
    for (path, status) in [
        ("/search?q=%22", StatusCode::OK),
        ("/search?q=(", StatusCode::OK),
        ("/search?q=%3A*", StatusCode::OK),
        ("/search?q=!!", StatusCode::OK),
        ("/search?q=%26%7C", StatusCode::OK),
        ("/search?q=%5C", StatusCode::OK),
        ("/search?q='", StatusCode::OK),
        ("/search?q=%F0%9F%A6%80", StatusCode::OK),
        ("/search?q=%FF%FE", StatusCode::OK),
        ("/search?q=a%00b", StatusCode::BAD_REQUEST),
        ("/search?q=x&page=0", StatusCode::BAD_REQUEST),
        ("/search?q=x&page=abc", StatusCode::BAD_REQUEST),
        ("/search?q=x&tag=%22%3E%3Cscript%3E", StatusCode::OK),
        (long.as_str(), StatusCode::OK),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("</html>"), "{path}: {body}");
        assert!(!body.contains("<script>"), "{path}");
    }
}

async fn a_result_matched_only_by_its_title_shows_its_excerpt(app) {
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Albatross",
            excerpt: "A seabird's long journey, told in five short chapters.",
            body: "Nothing here names the bird.",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    let hit = &find(&app, Query::new("albatross")).await.hits[0];
    assert_eq!(
        hit.snippet.as_str(),
        "A seabird&#39;s long journey, told in five short chapters."
    );
}

async fn a_misspelled_word_still_finds_the_title_and_suggests_the_spelling(app) {
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Zucchini bread",
            body: "A recipe.",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    app.post(
        ada,
        PostSpec {
            title: "Sourdough starter",
            body: "Flour and water.",
            published_in_minutes: -2,
            ..Default::default()
        },
    )
    .await;

    let results = find(&app, Query::new("zuchini")).await;
    assert!(results.approximate);
    assert_eq!(results.total, 1);
    assert_eq!(results.hits[0].post.title, "Zucchini bread");
    assert_eq!(results.suggestion.as_deref(), Some("zucchini"));
    // A correct query has no suggestion; a query like nothing finds nothing.
    let exact = find(&app, Query::new("zucchini")).await;
    assert!(!exact.approximate && exact.suggestion.is_none());
    let nothing = find(&app, Query::new("qwxzv")).await;
    assert_eq!((nothing.total, nothing.suggestion), (0, None));

    let page = search_page(&app, "/search?q=sourdogh+startr").await;
    assert_eq!(page.text(".suggestion a"), "sourdough starter");
    assert_eq!(
        page.attr(".suggestion a", "href").as_deref(),
        Some("/search?q=sourdough+starter")
    );
    assert_eq!(page.text(".result h2"), "Sourdough starter");
    assert!(page.text(".result-count").starts_with("No posts contain"));
}



// Issue 24: a word only deep in a body (past what either backend cut its snippets from)
// showed the post's first sentence, with nothing marked; on Meilisearch the post was even
// taken for a title spelled like the word.
async fn a_word_deep_in_a_body_shows_the_passage_around_it(app) {
    let ada = app.author("ada").await;
    // 42 KB of other words, with characters of two, three and four bytes near the cuts.
    let filler = "Light crosses the café wall — every morning ☕ 🦀. ".repeat(800);
    let body = format!(
        "{filler}Then the otters were running along the quay, past `<b>crabs</b>` & nets. {filler}"
    );
    app.post(
        ada,
        PostSpec {
            title: "Harbour days",
            body: &body,
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;

    let results = find(&app, Query::new("otters")).await;
    assert!(!results.approximate, "{results:?}");
    assert_eq!(results.suggestion, None);
    let snippet = results.hits[0].snippet.as_str();
    assert!(snippet.contains("<mark>otters</mark>"), "{snippet}");
    assert!(snippet.contains("along the quay"), "{snippet}");
    // Escaped, with only `<mark>` added.
    assert!(snippet.contains("&lt;b&gt;crabs&lt;/b&gt; &amp; nets"), "{snippet}");
    assert_eq!(
        snippet.replace("<mark>", "").replace("</mark>", "").matches('<').count(),
        0,
        "{snippet}"
    );
    assert!(snippet.len() < 1_000, "{snippet}");

    // Stemming: "run" marks "running" (Meilisearch, which doesn't stem, marks it as a
    // word starting with the query's last word).
    let snippet = find(&app, Query::new("run")).await.hits[0].snippet.clone();
    assert!(snippet.as_str().contains("<mark>run"), "{snippet}");
    assert!(snippet.as_str().contains("along the quay"), "{snippet}");
    if engine_of(&app) == Engine::Postgres {
        assert!(snippet.as_str().contains("<mark>running</mark>"), "{snippet}");
    }

    let page = search_page(&app, "/search?q=otters").await;
    assert_eq!(page.text(".result-count"), "1 result for “otters”");
    assert!(page.contains("<mark>otters</mark> were running"));
}
}

/// A misspelling like the titles of many posts: the fallback orders the first
/// `SIMILAR_AT_MOST` it finds, and says there are more.
#[tokio::test]
async fn a_misspelling_like_many_titles_ranks_a_bounded_number() {
    let app = spawn_for(Engine::Postgres).await;
    let ada = app.author("ada").await;
    sqlx::query(
        "INSERT INTO posts (author_id, title, slug, status, published_at)
         SELECT $1, 'Zucchini harvest ' || n, 'zucchini-' || n, 'published',
                now() - interval '1 day' + n * interval '1 second'
           FROM generate_series(1, 300) n",
    )
    .bind(ada.0)
    .execute(&app.db)
    .await
    .unwrap();
    let results = find(&app, Query::new("zuchini")).await;
    assert!(results.approximate);
    assert_eq!(results.hits.len(), 10);
    let most = quire::search::postgres::SIMILAR_AT_MOST;
    assert_eq!(
        (results.total, results.counted),
        (most + 1, Counted::MoreThan)
    );
    let page = search_page(&app, "/search?q=zuchini").await;
    assert_eq!(
        page.text(".result-count"),
        format!("No posts contain “zuchini”. More than {most} titles spelled like it:")
    );
}

#[tokio::test]
async fn searching_too_fast_is_a_429_page_with_the_form() {
    let app = spawn_app_with(|s| s.search.requests_per_minute = 3).await;
    // Each a new search: a result page the cache already holds is served without counting.
    for i in 0..3 {
        let res = app.get(&format!("/search?q=anything{i}")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = app.get("/search?q=anything-else").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let body = res.text().await.unwrap();
    assert!(body.contains("Try again in"), "{body}");
    assert!(body.contains("id=\"search-q\""), "{body}");
    // The empty form is never counted.
    assert_eq!(app.get("/search").await.status(), StatusCode::OK);
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn readyz(app: &TestApp) -> String {
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.expect("body")
}

/// Meilisearch configured but unreachable: every change waits in the outbox, searches are
/// answered by PostgreSQL with no error, and `/readyz` says search is degraded (still 200).
#[tokio::test]
async fn changes_queue_while_meilisearch_is_away_and_postgres_answers() {
    let app = spawn_app_with(|s| {
        s.search.meili_url = Some(
            format!("http://127.0.0.1:{}", closed_port())
                .parse()
                .expect("url"),
        );
        s.search.meili_search_timeout_ms = 100;
    })
    .await;
    let ada = app.author("ada").await;
    let mut slugs = Vec::new();
    for i in 0..3 {
        slugs.push(
            app.post(
                ada,
                PostSpec {
                    title: &format!("Heron sighting {i}"),
                    published_in_minutes: -1 - i,
                    ..Default::default()
                },
            )
            .await,
        );
    }
    let gone = post_id(&app, &slugs[2]).await;
    assert!(repo::soft_delete(&app.db, gone).await.unwrap());

    let res = app.get("/search?q=heron").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-search-backend"], "postgres");
    let page = crate::harness::Page(
        scraper::Html::parse_document(&res.text().await.unwrap()),
        String::new(),
    );
    assert_eq!(page.texts(".result").len(), 2);
    assert!(readyz(&app).await.contains("search: degraded"));

    // The worker keeps retrying; nothing it could not send is dropped. Time is the point:
    // a few of its tries go by.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (queued, _) = quire::search::outbox::pending(&app.db).await.unwrap();
    assert_eq!(queued, 3);
    // A later change to a queued post is one row still, with a newer sequence number.
    sqlx::query("UPDATE posts SET title = 'Heron, again' WHERE id = $1")
        .bind(post_id(&app, &slugs[0]).await)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(quire::search::outbox::pending(&app.db).await.unwrap().0, 3);
}

/// The same outage against a real server behind a proxy: changes made while it is cut off
/// are all in the index once it returns, and Meilisearch answers again.
#[tokio::test]
#[cfg_attr(not(meili), ignore = "MEILI_URL is not set: no Meilisearch to test")]
async fn the_outbox_drains_when_meilisearch_returns() {
    let url = std::env::var("MEILI_URL").expect("MEILI_URL");
    let proxy = crate::harness::TcpProxy::to_url(&url, 7700).await;
    let app = spawn_app_with(|s| {
        meili_settings(s);
        s.search.meili_url = Some(proxy.url_for(&url).parse().expect("url"));
        s.search.meili_search_timeout_ms = 200;
        s.search.meili_timeout_secs = 2;
    })
    .await;
    let ada = app.author("ada").await;
    let kept = app
        .post(
            ada,
            PostSpec {
                title: "Osprey at dawn",
                published_in_minutes: -10,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(titles(&app, "osprey").await, ["Osprey at dawn"]);

    proxy.cut();
    let removed = post_id(&app, &kept).await;
    assert!(repo::soft_delete(&app.db, removed).await.unwrap());
    for i in 0..5 {
        app.post(
            ada,
            PostSpec {
                title: &format!("Osprey nest {i}"),
                published_in_minutes: -1 - i,
                ..Default::default()
            },
        )
        .await;
    }
    let res = app.get("/search?q=osprey").await;
    assert_eq!(res.headers()["x-search-backend"], "postgres");
    // Time is the point: the worker tries meanwhile, and sends nothing.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(quire::search::outbox::pending(&app.db).await.unwrap().0, 6);
    assert!(readyz(&app).await.contains("search: degraded"));

    proxy.restore();
    // `titles` waits for the outbox to drain, then asks Meilisearch itself.
    let found = titles(&app, "osprey").await;
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(!found.contains(&"Osprey at dawn".to_owned()));
    assert!(readyz(&app).await.contains("search: meilisearch ok"));

    // A search that failed while nothing was queued: Meilisearch answers again soon after
    // it returns, with no write needed to notice.
    proxy.cut();
    let res = app.get("/search?q=nest").await;
    assert_eq!(res.headers()["x-search-backend"], "postgres");
    proxy.restore();
    // Each look is a search: spaced by the helper, well under the search allowance.
    eventually(
        "Meilisearch to answer again",
        Duration::from_secs(5),
        || async {
            let res = app.get("/search?q=nests").await;
            match res.headers().get("x-search-backend") {
                Some(backend) if backend == "meilisearch" => Ok(()),
                other => Err((res.status(), other.cloned())),
            }
        },
    )
    .await;
}

/// `quire reindex` rebuilds the index from PostgreSQL: a document whose post is gone from
/// the database is removed, and every post is sent again.
#[tokio::test]
#[cfg_attr(not(meili), ignore = "MEILI_URL is not set: no Meilisearch to test")]
async fn reindex_rebuilds_the_index_from_postgres() {
    let app = spawn_for(Engine::Meili).await;
    let ada = app.author("ada").await;
    app.posts(ada, 30, &["Birds"]).await;
    settle(&app).await;
    // A row removed behind the triggers' back: only a reindex can repair this.
    sqlx::query("ALTER TABLE posts DISABLE TRIGGER posts_search_outbox")
        .execute(&app.db)
        .await
        .unwrap();
    let gone: i64 =
        sqlx::query_scalar("DELETE FROM posts WHERE id = (SELECT min(id) FROM posts) RETURNING id")
            .fetch_one(&app.db)
            .await
            .unwrap();
    sqlx::query("ALTER TABLE posts ENABLE TRIGGER posts_search_outbox")
        .execute(&app.db)
        .await
        .unwrap();
    let meili = quire::search::meili::Meili::new(&app.settings.search)
        .unwrap()
        .unwrap();
    assert!(meili.ids(0, 100).await.unwrap().contains(&gone));

    // Off the test's runtime: the app's own outbox worker runs on it and drains the queue.
    let mut reindex = app.quire_command();
    reindex.arg("reindex");
    let out = tokio::task::spawn_blocking(move || reindex.output())
        .await
        .unwrap()
        .expect("quire reindex runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("reindexed 29 posts, removed 1 "));
    settle(&app).await;
    let ids = meili.ids(0, 100).await.unwrap();
    assert_eq!(ids.len(), 29);
    assert!(!ids.contains(&gone));
}

/// More matches than are ranked one by one: title matches first (ranked), then the posts
/// matched only in their body, newest first, and paging goes on across the two.
#[tokio::test]
async fn a_word_in_many_posts_lists_title_matches_first_then_the_newest_body_matches() {
    let app = spawn_for(Engine::Postgres).await;
    let ada = app.author("ada").await;
    app.posts(ada, 120, &[]).await;
    sqlx::query("UPDATE posts SET body_text = 'A grey heron stood still.'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE posts SET title = 'Heron ' || title WHERE title IN ('Post 5', 'Post 7')")
        .execute(&app.db)
        .await
        .unwrap();
    let first = find(&app, Query::new("herons")).await;
    assert!(first.total > quire::search::postgres::RANKED_AT_MOST);
    assert_eq!((first.total, first.counted), (120, Counted::Exactly));
    let titles: Vec<&str> = first.hits.iter().map(|h| h.post.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Heron Post 7",
            "Heron Post 5",
            "Post 120",
            "Post 119",
            "Post 118",
            "Post 117",
            "Post 116",
            "Post 115",
            "Post 114",
            "Post 113"
        ]
    );
    assert!(
        first.hits[2]
            .snippet
            .as_str()
            .contains("<mark>heron</mark>")
    );
    let second = find_page(&app, Query::new("herons"), 10, 10).await;
    assert_eq!(second.hits[0].post.title, "Post 112");
    assert_eq!(second.hits[9].post.title, "Post 103");
    let last = find_page(&app, Query::new("herons"), 10, 110).await;
    assert_eq!(last.hits.len(), 10);
    assert_eq!(last.hits[9].post.title, "Post 1");
    let page = search_page(&app, "/search?q=herons&page=12").await;
    assert_eq!(page.text(".result-count"), "120 results for “herons”");
}

/// A word in more posts than are worth counting: PostgreSQL's estimate is the total
/// ("About …"), and the page is still the newest title matches, with paging.
#[tokio::test]
async fn a_word_in_most_posts_is_estimated_not_counted() {
    let app = spawn_for(Engine::Postgres).await;
    let ada = app.author("ada").await;
    let posts = 12_000;
    sqlx::query(
        "INSERT INTO posts (author_id, title, slug, excerpt, status, published_at)
         SELECT $1, 'Kestrel sighting ' || n, 'kestrel-' || n, 'A bird.', 'published',
                now() - interval '1 day' + n * interval '1 second'
           FROM generate_series(1, $2) n",
    )
    .bind(ada.0)
    .bind(posts)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("ANALYZE posts").execute(&app.db).await.unwrap();

    let first = find(&app, Query::new("kestrels")).await;
    assert_eq!(first.counted, Counted::About);
    // An estimate from a sample: near, not exact.
    let total = first.total as f64;
    assert!(
        (total - f64::from(posts)).abs() < 0.2 * f64::from(posts),
        "{total}"
    );
    let titles: Vec<&str> = first.hits.iter().map(|h| h.post.title.as_str()).collect();
    assert_eq!(
        titles[..2],
        ["Kestrel sighting 12000", "Kestrel sighting 11999"]
    );

    let page = search_page(&app, "/search?q=kestrels&page=3").await;
    assert!(
        page.text(".result-count").starts_with("About "),
        "{}",
        page.text(".result-count")
    );
    assert_eq!(
        page.texts(".result h2")[0],
        format!("Kestrel sighting {}", posts - 20)
    );
    // A rare word beside it is still counted exactly.
    assert_eq!(
        find(&app, Query::new("kestrels 11999")).await.counted,
        Counted::Exactly
    );
}
